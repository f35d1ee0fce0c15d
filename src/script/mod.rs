//! The Rhai face of the runtime: builds the engine, registers the script API
//! (DESIGN.md's contract) and runs scripts. No syscalls here.

mod builtins;
mod container;
mod convert;
mod errors;
mod factory;
mod process;
mod run;
mod suggest;

pub use builtins::interrupt;
pub use errors::describe;
pub use run::{run_script, Ending};

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
    engine
}

/// A documented function. `params` are "name: Type" entries followed by the
/// return type (omitted for `()`), as rhai's metadata expects.
fn func(name: &str, params: &[&str], doc: &str) -> FuncRegistration {
    FuncRegistration::new(name)
        .with_params_info(params)
        .with_comments([format!("/// {doc}")])
}

/// A documented read-only property.
fn getter(prop: &str, params: &[&str], doc: &str) -> FuncRegistration {
    FuncRegistration::new_getter(prop)
        .with_params_info(params)
        .with_comments([format!("/// {doc}")])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// How docs/api.md spells a registered function: properties as
    /// `Type.prop -> Return`, everything else as rhai prints the signature.
    fn doc_form(signature: &str) -> String {
        match signature.strip_prefix("get$") {
            Some(rest) => {
                let (prop, rest) = rest.split_once('(').unwrap();
                let (params, ret) = rest.split_once(')').unwrap();
                let receiver = params.split_once(": ").map_or(params, |(_, t)| t);
                format!("{receiver}.{prop}{ret}")
            }
            None => signature.to_string(),
        }
    }

    #[test]
    fn every_registered_function_is_in_docs_api_md() {
        let docs = include_str!("../../docs/api.md");
        let missing: Vec<String> = engine(vec![])
            .gen_fn_signatures(false)
            .iter()
            .map(|s| doc_form(s))
            .filter(|s| !docs.contains(&format!("`{s}`")))
            .collect();
        assert!(
            missing.is_empty(),
            "docs/api.md lacks these (write each in backticks):\n{}",
            missing.join("\n")
        );
    }

    #[test]
    fn every_registered_function_has_a_doc_comment() {
        let json = engine(vec![]).gen_fn_metadata_to_json(false).unwrap();
        let meta: serde_json::Value = serde_json::from_str(&json).unwrap();
        for f in meta["functions"].as_array().unwrap() {
            assert!(
                f.get("docComments")
                    .is_some_and(|c| !c.as_array().unwrap().is_empty()),
                "no doc comment: {}",
                f["signature"]
            );
        }
    }
}
