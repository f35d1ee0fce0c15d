//! A call of an API function that matches none of its signatures (`c.start([..])`,
//! `c.exec("ls")`, `c.state()`) is a `#{kind: "script"}` error that shows
//! the signatures there are, in the script's own type names, and a hint for
//! the usual mistakes. Other calls that match nothing keep Rhai's error.

use super::convert::script_type_name;
use super::{api, ApiEntry};
use crate::runtime::suggest::did_you_mean;
use rhai::{Dynamic, Engine, EvalAltResult, Map, Position};
use std::sync::OnceLock;

/// The API's signatures, read from an engine the first time they are
/// needed (making them at every start would slow down every script).
fn signatures(engine: impl FnOnce() -> Engine) -> &'static [ApiEntry] {
    static SIGNATURES: OnceLock<Vec<ApiEntry>> = OnceLock::new();
    SIGNATURES.get_or_init(|| api(&engine()))
}

pub fn register(engine: &mut Engine) {
    #[allow(deprecated)] // "volatile", not deprecated
    engine.on_missing_function(move |name, args, is_method, ctx| {
        // Rhai calls this after any failed native call. One that found its
        // function has taken its by-value arguments (they read `()` now):
        // it failed inside, and keeps its own error.
        if args.iter().any(|a| a.is_unit()) {
            return Ok(None);
        }
        let api = signatures(|| super::engine(vec![]));
        let given: Vec<String> = args.iter().map(|a| type_of(ctx.engine(), a)).collect();
        match hint(api, name, &given, is_method) {
            Some(message) => Err(script_error(message)),
            None => Ok(None),
        }
    });
}

/// Rhai's message for an error of the script, in the script's terms: the
/// argument types of a call that matched nothing as scripts name them
/// (not `&str | ImmutableString | String`), and a property that a type
/// lacks with the nearest one it has.
pub fn readable(message: &str) -> String {
    if let Some(rest) = message.strip_prefix("Function not found: ") {
        if let Some((name, types)) = rest.split_once(" (") {
            let types = types.strip_suffix(')').unwrap_or(types);
            let types: Vec<&str> = types.split(", ").map(script_type_name).collect();
            // An operator (`*`) has no misspelling to suggest for.
            let is_word = |n: &str| n.starts_with(|c: char| c.is_alphabetic() || c == '_');
            let suggestion = match is_word(name) {
                true => {
                    let names: Vec<&str> = signatures(|| super::engine(vec![]))
                        .iter()
                        .filter_map(|e| e.signature.split('(').next())
                        .filter(|n| is_word(n))
                        .collect();
                    did_you_mean(name, &names)
                }
                false => String::new(),
            };
            return format!("no function {name}({}){suggestion}", types.join(", "));
        }
    }
    let property = message
        .strip_prefix("Unknown property '")
        .and_then(|rest| rest.split_once("' - a getter is not registered for type '"));
    if let Some((property, ty)) = property {
        let ty = ty.trim_end_matches('\'');
        let prefix = format!("{ty}.");
        let members: Vec<&str> = signatures(|| super::engine(vec![]))
            .iter()
            .filter_map(|e| e.signature.strip_prefix(&prefix))
            .filter_map(|rest| rest.split(' ').next())
            .collect();
        return format!(
            "{ty} has no property '{property}'{}",
            did_you_mean(property, &members)
        );
    }
    message.to_string()
}

/// A script value's type as scripts name it ("int", "string", "Container").
fn type_of(engine: &Engine, value: &Dynamic) -> String {
    script_type_name(engine.map_type_name(value.type_name())).to_string()
}

fn script_error(message: String) -> Box<EvalAltResult> {
    let mut map = Map::new();
    map.insert("kind".into(), "script".into());
    map.insert("message".into(), message.into());
    EvalAltResult::ErrorRuntime(map.into(), Position::NONE).into()
}

/// The parameter types of "start(c: Container, p: Process)" (the return
/// type after ") -> " is not one).
fn parameter_types(signature: &str) -> Vec<&str> {
    let inside = signature
        .split_once('(')
        .and_then(|(_, rest)| rest.rsplit_once(')'))
        .map_or("", |(params, _)| params);
    inside
        .split(", ")
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once(": ").map_or(p, |(_, ty)| ty))
        .collect()
}

/// What to say about a call of `name` with arguments of types `given`
/// that no function took; None when the API has no `name` or when a
/// signature fits (the function itself failed).
fn hint(api: &[ApiEntry], name: &str, given: &[String], is_method: bool) -> Option<String> {
    let receiver = given.first().map_or("", String::as_str);
    let is_property = api
        .iter()
        .any(|e| e.signature.starts_with(&format!("{receiver}.{name} ->")));
    if is_method && is_property && given.len() == 1 {
        return Some(format!(
            "'{name}' is a property of {receiver}, not a method: write .{name} without ()"
        ));
    }
    let candidates: Vec<&str> = api
        .iter()
        .map(|e| e.signature.as_str())
        .filter(|s| s.split('(').next() == Some(name))
        .collect();
    if candidates.is_empty() {
        return None;
    }
    let fits = |sig: &&str| parameter_types(sig) == given;
    if candidates.iter().any(fits) {
        return None;
    }
    let call = format!("{name}({})", given.join(", "));
    let mut text = format!("no function {call}; there is {}", candidates.join(", "));
    if let Some(advice) = candidates.iter().find_map(|sig| advice(sig, given)) {
        text.push_str(&format!(" ({advice})"));
    }
    Some(text)
}

/// Advice for an argument of the wrong type where the usual mistake is
/// known: a string for an array, an array or map for a Process.
fn advice(signature: &str, given: &[String]) -> Option<&'static str> {
    let wanted = parameter_types(signature);
    if wanted.len() != given.len() {
        return None;
    }
    wanted
        .iter()
        .zip(given)
        .find_map(|(wanted, given)| match (*wanted, given.as_str()) {
            ("array", "string") => Some("put the words in an array: [\"ls\", \"-l\"]"),
            ("Process", "array" | "map") => {
                Some("make a Process first: process(#{ args: [\"/bin/sh\"] })")
            }
            _ => None,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(types: &[&str]) -> Vec<String> {
        types.iter().map(|t| t.to_string()).collect()
    }

    #[test]
    fn wrong_shapes_get_the_signatures_and_advice() {
        let api = api(&super::super::engine(vec![]));
        let hint = |name, types: &[&str], method| hint(&api, name, &strings(types), method);
        assert_eq!(
            hint("exec", &["Container", "string"], true).unwrap(),
            "no function exec(Container, string); there is \
             exec(c: Container, args: array) -> map (put the words in an array: [\"ls\", \"-l\"])"
        );
        let start = hint("start", &["Container", "array"], true).unwrap();
        assert!(start.contains("make a Process first"), "{start}");
        assert_eq!(
            hint("state", &["Container"], true).unwrap(),
            "'state' is a property of Container, not a method: write .state without ()"
        );
        // A call that fits failed inside the function; unknown names are
        // Rhai's to report.
        assert_eq!(hint("exec", &["Container", "array"], true), None);
        assert_eq!(hint("nope", &["int"], false), None);
        assert_eq!(parameter_types("wait(p: Process) -> int"), ["Process"]);
        assert!(parameter_types("factory() -> Factory").is_empty());
    }

    #[test]
    fn rhai_messages_in_script_terms() {
        assert_eq!(
            readable("Function not found: nope (i64, &str | ImmutableString | String, f64, blob)"),
            "no function nope(int, string, float, blob)"
        );
        assert_eq!(
            readable("Unknown property 'stat' - a getter is not registered for type 'Container'"),
            "Container has no property 'stat' (did you mean 'state'?)"
        );
        assert_eq!(
            readable("Function not found: lst (Factory)"),
            "no function lst(Factory) (did you mean 'list'?)"
        );
        assert_eq!(
            readable("Array index 3 out of bounds"),
            "Array index 3 out of bounds"
        );
    }
}
