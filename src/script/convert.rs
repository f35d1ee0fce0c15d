//! Script values <-> runtime types. Object maps become `runtime::Config` and
//! `runtime::ProcessSpec` through serde, with errors that name the key path.

use super::errors::{raise, without_position, OrRaise, ScriptResult};
use crate::runtime::config::CheckedConfig;
use crate::runtime::suggest::{did_you_mean, hint, suggest_from_serde_message};
use crate::runtime::{self, Config, ProcessSpec};
use rhai::serde::{to_dynamic, DynamicDeserializer};
use rhai::{Dynamic, EvalAltResult, LexError, Map, ParseErrorType};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// A config map, checked by serde and `Config::validate` before anything
/// touches the kernel. An Image value as `image` stands for its digest.
pub fn to_config(mut map: Map) -> ScriptResult<CheckedConfig> {
    if let Some(value) = map.get_mut("image") {
        if let Some(image) = value.clone().try_cast::<runtime::image::Image>() {
            *value = image.digest.to_string().into();
        }
    }
    // The config's own process is written like one for process().
    if let Some(process) = map.get_mut("process") {
        if let Some(mut spec) = process.clone().try_cast::<Map>() {
            rewrite_process(&mut spec)?;
            *process = spec.into();
        }
    }
    let config: Config = deserialize("config", map.into())?;
    config
        .validate()
        .map_err(|e| e.context("invalid config"))
        .or_raise()
}

/// The stdio values that are not a path.
const STDIO_KEYWORDS: [&str; 3] = ["inherit", "null", "pipe"];

/// A `process(#{...})` map. Two script conveniences are rewritten first:
/// a stdio path string becomes the `file` variant, and an integer `user`
/// (a uid) becomes its string form.
pub fn to_process_spec(mut map: Map) -> ScriptResult<ProcessSpec> {
    rewrite_process(&mut map)?;
    deserialize("process", map.into())
}

fn rewrite_process(map: &mut Map) -> ScriptResult<()> {
    for stream in ["stdin", "stdout", "stderr"] {
        if let Some(value) = map.get_mut(stream) {
            rewrite_stdio(stream, value)?;
        }
    }
    if let Some(user) = map.get_mut("user") {
        if let Ok(uid) = user.as_int() {
            *user = uid.to_string().into();
        }
    }
    Ok(())
}

/// A path string becomes `#{ file: path }`; keywords and maps (which
/// serde reads) stay; anything else is an error in the script's terms. A path must contain a '/' ("./out.log"), so that a
/// misspelt keyword ("pip") is an error, not a file.
fn rewrite_stdio(stream: &str, value: &mut Dynamic) -> ScriptResult<()> {
    let Some(text) = value
        .read_lock::<rhai::ImmutableString>()
        .map(|s| s.to_string())
    else {
        if value.is_map() {
            return Ok(());
        }
        return Err(raise(runtime::Error::config(format!(
            "invalid process: {stream}: expected \"inherit\", \"null\", \"pipe\" or a path with a '/', found {}",
            script_type_name(value.type_name())
        ))));
    };
    if STDIO_KEYWORDS.contains(&text.as_str()) {
        return Ok(());
    }
    if !text.contains('/') {
        let hint = did_you_mean(&text, &STDIO_KEYWORDS);
        return Err(raise(runtime::Error::config(format!(
            "invalid process: {stream}: unknown value `{text}`{hint}; \
             use \"inherit\", \"null\", \"pipe\" or a path with a '/'"
        ))));
    }
    let mut file = Map::new();
    file.insert("file".into(), text.into());
    *value = file.into();
    Ok(())
}

/// Any serialisable runtime value (config, devices) as a script value.
pub fn to_script<T: Serialize>(value: &T) -> ScriptResult<Dynamic> {
    to_dynamic(value).map_err(|e| {
        raise(runtime::Error::config(format!(
            "cannot convert to a script value: {}",
            serde_message(&e)
        )))
    })
}

/// A script map as JSON (for `update`, which merges it into the current
/// cgroups config before checking it).
pub fn to_json_map(map: Map) -> ScriptResult<serde_json::Map<String, serde_json::Value>> {
    deserialize("limits", map.into())
}

/// Strings from a script array, naming the index of a non-string element.
pub fn to_strings(array: rhai::Array, what: &str) -> ScriptResult<Vec<String>> {
    array
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            v.into_string().map_err(|found| {
                raise(runtime::Error::config(format!(
                    "{what}[{i}]: expected a string, found {found}"
                )))
            })
        })
        .collect()
}

pub fn deserialize<T: DeserializeOwned>(what: &str, value: Dynamic) -> ScriptResult<T> {
    serde_path_to_error::deserialize(DynamicDeserializer::new(&value)).map_err(|e| {
        let path = e.path().to_string();
        let message = serde_message(e.inner());
        let home = match what == "config" && message.starts_with("unknown field") {
            true => Config::home_of(&path),
            false => None,
        };
        let message = home.unwrap_or_else(|| with_suggestion(message));
        let message = if path == "." {
            format!("invalid {what}: {message}")
        } else {
            format!("invalid {what}: {path}: {message}")
        };
        raise(runtime::Error::config(message))
    })
}

/// serde's "unknown field `x`, expected one of ..." with the long list
/// replaced by the nearest name, when one is close.
fn with_suggestion(message: String) -> String {
    match suggest_from_serde_message(&message) {
        Some(best) => {
            let head = message.split(", expected").next().unwrap_or(&message);
            format!("{head}{}", hint(Some(best)))
        }
        None => message,
    }
}

/// The text of an error raised inside serde: rhai wraps custom serde
/// messages in a lexer error and reports type mismatches as its own error.
fn serde_message(err: &EvalAltResult) -> String {
    match err {
        EvalAltResult::ErrorParsing(
            ParseErrorType::BadInput(LexError::ImproperSymbol(_, m)),
            _,
        ) => m.clone(),
        EvalAltResult::ErrorMismatchOutputType(wanted, found, _) => format!(
            "expected {}, found {}",
            script_type_name(wanted),
            script_type_name(found)
        ),
        other => without_position(other),
    }
}

/// The script-side name of a Rust or Rhai type ("alloc::vec::Vec<..>" is
/// an array, "i64" an int, "&str | ImmutableString | String" a string to
/// the person who wrote the script).
pub fn script_type_name(rust: &str) -> &str {
    let last = rust.rsplit("::").next().unwrap_or(rust);
    match last {
        _ if rust.contains("ImmutableString") => "string",
        _ if rust.contains("Vec<u8>") => "blob",
        _ if rust.contains("Vec<") => "array",
        _ if rust.contains("Map<") => "map",
        "PathBuf" | "String" | "str" | "&str" | "ImmutableString" => "string",
        "i8" | "i16" | "i32" | "i64" | "u8" | "u16" | "u32" | "u64" | "usize" => "int",
        "f32" | "f64" => "float",
        _ => last,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::Stdio;

    fn engine() -> rhai::Engine {
        rhai::Engine::new()
    }

    fn map(code: &str) -> Map {
        engine().eval::<Map>(code).unwrap()
    }

    fn error_message(err: &EvalAltResult) -> String {
        match err {
            EvalAltResult::ErrorRuntime(v, _) => v.clone().cast::<Map>()["message"].to_string(),
            other => panic!("not a thrown map: {other}"),
        }
    }

    #[test]
    fn unknown_key_is_named_with_its_path_and_a_suggestion() {
        let err = deserialize::<Config>(
            "config",
            map(r#"#{ rootfs: "/", cgroups: #{ memroy: "1M" } }"#).into(),
        )
        .unwrap_err();
        let msg = error_message(&err);
        assert!(msg.contains("cgroups"), "{msg}");
        assert!(msg.contains("memroy"), "{msg}");
        assert!(msg.contains("did you mean 'memory'"), "{msg}");
    }

    #[test]
    fn wrong_type_is_named() {
        let err = deserialize::<Config>(
            "config",
            map(r#"#{ rootfs: "/", cgroups: #{ pids_limit: "x" } }"#).into(),
        )
        .unwrap_err();
        let msg = error_message(&err);
        assert!(msg.contains("cgroups.pids_limit"), "{msg}");
    }

    #[test]
    fn type_mismatch_uses_script_type_names() {
        let err = deserialize::<Config>("config", map(r#"#{ rootfs: 5 }"#).into()).unwrap_err();
        assert_eq!(
            error_message(&err),
            "invalid config: rootfs: expected string, found int"
        );
        let err = to_process_spec(map(r#"#{ args: "sh" }"#)).unwrap_err();
        assert_eq!(
            error_message(&err),
            "invalid process: args: expected array, found string"
        );
    }

    #[test]
    fn out_of_range_integer_is_an_error() {
        let err = deserialize::<Config>(
            "config",
            map(r#"#{ rootfs: "/", cgroups: #{ blkio_weight: 70000 } }"#).into(),
        )
        .unwrap_err();
        let msg = error_message(&err);
        assert!(msg.contains("cgroups.blkio_weight"), "{msg}");
    }

    #[test]
    fn config_round_trips_through_a_map() {
        let config: Config = deserialize(
            "config",
            map(
                r#"#{ rootfs: "/r", namespaces: ["pid", #{ type: "net", path: "/proc/1/ns/net" }],
                      cgroups: #{ memory: "256M", pids_limit: 64 } }"#,
            )
            .into(),
        )
        .unwrap();
        assert_eq!(config.namespace_list().len(), 2);
        assert_eq!(
            config.cgroups.as_ref().unwrap().memory.unwrap().0,
            256 << 20
        );
        let back: Config = deserialize("config", to_script(&config).unwrap()).unwrap();
        assert_eq!(back, config);
    }

    #[test]
    fn stdio_paths_and_numeric_users() {
        let spec = to_process_spec(map(
            r#"#{ args: ["/bin/true"], stdout: "/tmp/out", stderr: "pipe", stdin: "null", user: 1000 }"#,
        ))
        .unwrap();
        assert_eq!(spec.stdout, Stdio::File("/tmp/out".into()));
        assert_eq!(spec.stderr, Stdio::Pipe);
        assert_eq!(spec.stdin, Stdio::Null);
        assert_eq!(spec.user.as_deref(), Some("1000"));
    }

    #[test]
    fn misspelt_stdio_keyword_is_not_a_file() {
        let msg = error_message(
            &to_process_spec(map(r#"#{ args: ["/bin/true"], stdout: "pip" }"#)).unwrap_err(),
        );
        assert!(
            msg.starts_with("invalid process: stdout: unknown value `pip` (did you mean 'pipe'?)"),
            "{msg}"
        );
        let spec =
            to_process_spec(map(r#"#{ args: ["/bin/true"], stdout: "./out.log" }"#)).unwrap();
        assert_eq!(spec.stdout, Stdio::File("./out.log".into()));
    }

    #[test]
    fn process_unknown_key() {
        let msg = error_message(&to_process_spec(map(r#"#{ arsg: ["/bin/true"] }"#)).unwrap_err());
        assert!(msg.contains("did you mean 'args'"), "{msg}");
    }
}
