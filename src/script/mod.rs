//! The Rhai face of the runtime: builds the engine, registers the script API
//! (the contract docs/api.md describes) and runs scripts. No syscalls here.

mod builtins;
mod checkpoint;
mod container;
mod convert;
mod errors;
mod factory;
mod files;
mod hints;
mod image;
pub mod interrupt;
pub mod made;
mod network;
mod oci;
mod process;
mod run;
pub mod stdlib;

pub use errors::describe;
pub use run::{ending, exit_status, run_script, Ending};

use rhai::{Engine, FuncRegistration};

/// Nesting limits set explicitly: rhai's defaults differ between debug and
/// release builds, and scripts must behave the same in both.
const MAX_CALL_LEVELS: usize = 64;
const MAX_EXPR_DEPTH: usize = 64;
const MAX_FN_EXPR_DEPTH: usize = 64;

/// An engine with the whole script API registered; `args` become `ARGS`.
pub fn engine(args: Vec<String>) -> Engine {
    let mut engine = Engine::new();
    engine.set_max_call_levels(MAX_CALL_LEVELS);
    engine.set_max_expr_depths(MAX_EXPR_DEPTH, MAX_FN_EXPR_DEPTH);
    builtins::register(&mut engine, args);
    factory::register(&mut engine);
    container::register(&mut engine);
    process::register(&mut engine);
    checkpoint::register(&mut engine);
    files::register(&mut engine);
    image::register(&mut engine);
    network::register(&mut engine);
    oci::register(&mut engine);
    stdlib::install(&mut engine);
    hints::register(&mut engine);
    engine
}

/// A documented function. `params` are "name: Type" entries followed by the
/// return type (omitted for `()`), as rhai's metadata expects.
fn func(name: &str, params: &[&str], doc: &str) -> FuncRegistration {
    FuncRegistration::new(name)
        .with_params_info(params)
        .with_comments([format!("/// {doc}")])
}

/// `to_string` and `to_debug` of a script type, both `describe`; `param`
/// names the value ("c: Container"), `doc` says what it prints.
fn register_display<T: Clone + Send + Sync + 'static>(
    engine: &mut Engine,
    param: &str,
    doc: &str,
    describe: fn(&mut T) -> String,
) {
    for name in ["to_string", "to_debug"] {
        func(name, &[param, "string"], doc).register_into_engine(engine, describe);
    }
}

/// `==` and `!=` of the script type `ty`, as `same` decides; `docs` are the
/// two functions' docs.
fn register_equality<T: Clone + Send + Sync + 'static>(
    engine: &mut Engine,
    ty: &str,
    docs: [&str; 2],
    same: fn(&T, &T) -> bool,
) {
    let (a, b) = (format!("a: {ty}"), format!("b: {ty}"));
    let params = [a.as_str(), b.as_str(), "bool"];
    func("==", &params, docs[0]).register_into_engine(engine, move |a: &mut T, b: T| same(a, &b));
    func("!=", &params, docs[1]).register_into_engine(engine, move |a: &mut T, b: T| !same(a, &b));
}

/// A documented read-only property.
fn getter(prop: &str, params: &[&str], doc: &str) -> FuncRegistration {
    FuncRegistration::new_getter(prop)
        .with_params_info(params)
        .with_comments([format!("/// {doc}")])
}

/// One registered function, for `:help` and the docs check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiEntry {
    /// As docs/api.md writes it: `create(factory: Factory, id: string,
    /// config: map) -> Container`, properties as `Container.id -> string`.
    pub signature: String,
    /// The one-line doc given at registration.
    pub doc: String,
}

/// Every function `engine` has beyond Rhai's standard library, sorted;
/// those of a static module (`network`) as `network::name(...)`.
pub fn api(engine: &Engine) -> Vec<ApiEntry> {
    let json = engine
        .gen_fn_metadata_to_json(false)
        .expect("rhai metadata serialises");
    let meta: serde_json::Value = serde_json::from_str(&json).expect("rhai metadata is JSON");
    let entry = |prefix: &str, f: &serde_json::Value| ApiEntry {
        signature: format!(
            "{prefix}{}",
            doc_signature(f["signature"].as_str().unwrap_or_default())
        ),
        doc: f["docComments"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c.as_str())
            .map(|c| c.trim_start_matches("///").trim())
            .collect::<Vec<_>>()
            .join(" "),
    };
    let functions = |m: &serde_json::Value| m["functions"].as_array().cloned().unwrap_or_default();
    let mut entries: Vec<ApiEntry> = functions(&meta).iter().map(|f| entry("", f)).collect();
    for (name, module) in meta["modules"].as_object().into_iter().flatten() {
        let prefix = format!("{name}::");
        entries.extend(functions(module).iter().map(|f| entry(&prefix, f)));
    }
    entries.sort_by(|a, b| a.signature.cmp(&b.signature));
    entries
}

/// A property getter `get$id(c: Container) -> string` as `Container.id ->
/// string`, a setter `set$config(c: Container, config: map)` as
/// `Container.config = map`; any other signature unchanged.
fn doc_signature(signature: &str) -> String {
    let property = |rest: &str| -> Option<(String, String, String)> {
        let (prop, rest) = rest.split_once('(')?;
        let (params, ret) = rest.split_once(')')?;
        let mut types = params
            .split(", ")
            .map(|p| p.split_once(": ").map_or(p, |(_, t)| t));
        let receiver = types.next()?.to_string();
        let value = types.next().unwrap_or_default().to_string();
        Some((format!("{receiver}.{prop}"), value, ret.to_string()))
    };
    if let Some((prop, _, ret)) = signature.strip_prefix("get$").and_then(property) {
        format!("{prop}{ret}")
    } else if let Some((prop, value, _)) = signature.strip_prefix("set$").and_then(property) {
        format!("{prop} = {value}")
    } else {
        signature.to_string()
    }
}

/// A documented property setter.
fn setter(prop: &str, params: &[&str], doc: &str) -> FuncRegistration {
    FuncRegistration::new_setter(prop)
        .with_params_info(params)
        .with_comments([format!("/// {doc}")])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_are_written_as_type_dot_name() {
        assert_eq!(
            doc_signature("get$pid(c: Container) -> int|()"),
            "Container.pid -> int|()"
        );
        assert_eq!(
            doc_signature("wait(p: Process) -> int"),
            "wait(p: Process) -> int"
        );
    }

    #[test]
    fn every_registered_function_is_in_docs_api_md() {
        let docs = include_str!("../../docs/api.md");
        let entries = api(&engine(vec![]));
        assert!(
            entries.len() > 40,
            "metadata lists {} functions",
            entries.len()
        );
        let missing: Vec<&str> = entries
            .iter()
            .map(|e| e.signature.as_str())
            .filter(|s| !docs.contains(&format!("`{s}`")))
            .collect();
        assert!(
            missing.is_empty(),
            "docs/api.md lacks these (write each in backticks):\n{}",
            missing.join("\n")
        );
    }

    /// Config keys are a contract like function names: each key a script
    /// can write (the same names the REPL completes) is in docs/config.md,
    /// networks.md or api.md.
    #[test]
    fn every_config_key_is_in_the_docs() {
        use crate::runtime::config::{
            Cgroups, Device, HugetlbLimit, IdMap, Mount, Network, Rlimit, ThrottleDevice,
            WeightDevice,
        };
        use crate::runtime::network::{NetworkOptions, Port};
        use crate::runtime::suggest::field_names;
        use crate::runtime::{CapabilitySets, Config, Hook, Hooks, ProcessSpec};
        let docs = [
            include_str!("../../docs/config.md"),
            include_str!("../../docs/networks.md"),
            include_str!("../../docs/api.md"),
        ]
        .concat();
        let maps = [
            ("config", field_names::<Config>()),
            ("cgroups", field_names::<Cgroups>()),
            ("process", field_names::<ProcessSpec>()),
            ("capabilities", field_names::<CapabilitySets>()),
            ("hooks", field_names::<Hooks>()),
            ("hook", field_names::<Hook>()),
            ("mount", field_names::<Mount>()),
            ("device", field_names::<Device>()),
            ("rlimit", field_names::<Rlimit>()),
            ("id map", field_names::<IdMap>()),
            ("weight device", field_names::<WeightDevice>()),
            ("throttle device", field_names::<ThrottleDevice>()),
            ("hugetlb limit", field_names::<HugetlbLimit>()),
            ("network", field_names::<Network>()),
            ("port", field_names::<Port>()),
            ("network::create", field_names::<NetworkOptions>()),
        ];
        let mut missing = Vec::new();
        for (map, keys) in maps {
            assert!(!keys.is_empty(), "no keys found for a {map} map");
            for key in keys {
                let written = [format!("`{key}`"), format!("{key}:"), format!("\"{key}\"")];
                if !written.iter().any(|w| docs.contains(w.as_str())) {
                    missing.push(format!("{map}: {key}"));
                }
            }
        }
        assert!(
            missing.is_empty(),
            "the docs lack these keys (write each in backticks):\n{}",
            missing.join("\n")
        );
    }

    #[test]
    fn every_registered_function_has_a_doc_comment() {
        for entry in api(&engine(vec![])) {
            assert!(!entry.doc.is_empty(), "no doc comment: {}", entry.signature);
        }
    }
}
