//! Runtime failures as catchable Rhai errors, and the text ctrsh prints for
//! an error that reached the top level.

use crate::runtime;
use rhai::{Dynamic, EvalAltResult, Map, Position, INT};

/// What every fallible native function returns (`RhaiResultOf` is private).
pub type ScriptResult<T> = Result<T, Box<EvalAltResult>>;

/// A runtime error thrown as `#{kind, message}`, so a script can branch on
/// `e.kind` in `catch (e)`. Rhai fills in the call position.
pub fn raise(err: runtime::Error) -> Box<EvalAltResult> {
    if err.kind == runtime::ErrorKind::Interrupted {
        return super::interrupt::from_runtime();
    }
    let mut map = Map::new();
    map.insert("kind".into(), err.kind.as_str().into());
    if let Some(errno) = err.errno() {
        map.insert("errno".into(), format!("{errno:?}").into());
    }
    map.insert("message".into(), err.message.into());
    EvalAltResult::ErrorRuntime(map.into(), Position::NONE).into()
}

/// The `kind` of a thrown `#{kind, message}` error, looking through the
/// function calls and imports it passed.
pub fn thrown_kind(err: &EvalAltResult) -> Option<String> {
    match err {
        EvalAltResult::ErrorInFunctionCall(_, _, inner, _)
        | EvalAltResult::ErrorInModule(_, inner, _) => thrown_kind(inner),
        EvalAltResult::ErrorRuntime(value, _) => value
            .read_lock::<Map>()?
            .get("kind")
            .map(|kind| kind.to_string()),
        _ => None,
    }
}

/// Gives Rhai's own errors, caught with `catch (e)`, the shape of every
/// other error: Rhai makes them a map of `message`, `error`, `line`,
/// `position` and `source`; this adds `kind: "script"` and puts the message
/// in the script's terms. Called when a variable is read (Rhai has no hook
/// at the catch), it changes a map only once.
pub fn give_kind(value: &mut Dynamic) {
    if !value.is_map() {
        return;
    }
    let Some(mut map) = value.write_lock::<Map>() else {
        return;
    };
    if map.contains_key("kind") || !map.contains_key("error") {
        return;
    }
    let text = map
        .get("message")
        .map(|m| m.to_string())
        .unwrap_or_default();
    // The innermost error's first line, without its " @ 'file' (line N,
    // position M)": the map's line and position say where it was caught.
    let first = text.lines().next().unwrap_or_default();
    let first = first.split(" @ '").next().unwrap_or(first);
    let first = first.rsplit_once(" (line ").map_or(first, |(head, _)| head);
    let message = super::hints::readable(first);
    map.insert("message".into(), message.into());
    map.insert("kind".into(), "script".into());
}

/// `.or_raise()` on a runtime result: the script-facing form of `?`.
pub trait OrRaise<T> {
    fn or_raise(self) -> ScriptResult<T>;
}

impl<T> OrRaise<T> for runtime::Result<T> {
    fn or_raise(self) -> ScriptResult<T> {
        self.map_err(raise)
    }
}

/// Scripts only have i64 integers: narrow one with an error naming `what`.
pub fn narrow<T: TryFrom<INT>>(value: INT, what: &str) -> ScriptResult<T> {
    T::try_from(value).map_err(|_| {
        raise(runtime::Error::config(format!(
            "{what}: {value} is out of range"
        )))
    })
}

/// `file:line:column: message` for an error that ended a script, followed by
/// one line per function call it passed through. Positions inside a function
/// from another file (an imported module) are reported against that file.
pub fn describe(source: &str, err: &EvalAltResult) -> String {
    let mut calls = Vec::new();
    let mut source = source.to_string();
    let mut inner = err;
    loop {
        match inner {
            EvalAltResult::ErrorInFunctionCall(name, fn_source, next, pos) => {
                let what = if name.starts_with("anon$") {
                    "in closure called".to_string()
                } else {
                    format!("in call to '{name}'")
                };
                calls.push(format!("{what} at {}", at(&source, *pos)));
                if !fn_source.is_empty() {
                    source = fn_source.clone();
                }
                inner = next;
            }
            EvalAltResult::ErrorInModule(name, next, pos) => {
                calls.push(format!(
                    "in module '{name}' imported at {}",
                    at(&source, *pos)
                ));
                if !name.is_empty() {
                    source = name.clone();
                }
                inner = next;
            }
            _ => break,
        }
    }
    let mut text = format!("{}: {}", at(&source, inner.position()), message(inner));
    // Innermost call first, like a backtrace.
    for call in calls.iter().rev() {
        text.push_str("\n  ");
        text.push_str(call);
    }
    text
}

fn at(source: &str, pos: Position) -> String {
    match (pos.line(), pos.position()) {
        (Some(line), Some(column)) => format!("{source}:{line}:{column}"),
        (Some(line), None) => format!("{source}:{line}"),
        _ => source.to_string(),
    }
}

/// The message alone: a thrown `#{message}` map or string prints as its
/// text, not as a map dump; Rhai's own errors without their position suffix.
fn message(err: &EvalAltResult) -> String {
    match err {
        EvalAltResult::ErrorRuntime(value, _) => thrown_message(value),
        EvalAltResult::ErrorParsing(kind, _) => format!("syntax error: {kind}"),
        other => super::hints::readable(&without_position(other)),
    }
}

/// Rhai's text for an error, minus the " (line N, position M)" it appends.
pub fn without_position(err: &EvalAltResult) -> String {
    let text = err.to_string();
    let suffix = format!(" ({})", err.position());
    match text.strip_suffix(&suffix) {
        Some(stripped) if !err.position().is_none() => stripped.to_string(),
        _ => text,
    }
}

fn thrown_message(value: &Dynamic) -> String {
    if let Some(map) = value.read_lock::<Map>() {
        if let Some(message) = map.get("message") {
            return message.to_string();
        }
    }
    value.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_system_error_has_its_errno_name() {
        let err = runtime::Error::sys("rmdir /x", std::io::Error::from_raw_os_error(libc::EBUSY));
        let EvalAltResult::ErrorRuntime(value, _) = *raise(err) else {
            panic!("not a runtime error");
        };
        let map = value.cast::<Map>();
        assert_eq!(map["kind"].to_string(), "system");
        assert_eq!(map["errno"].to_string(), "EBUSY");
        let EvalAltResult::ErrorRuntime(value, _) = *raise(runtime::Error::config("x")) else {
            panic!("not a runtime error");
        };
        assert!(!value.cast::<Map>().contains_key("errno"));
    }
}
