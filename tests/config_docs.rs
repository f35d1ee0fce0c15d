//! Every ```rhai example in docs/config.md is a config that deserialises and
//! passes `Config::validate()`: the reference cannot drift from the code.
//! Needs no root. Fragments (`key: value, ...`) are wrapped in `#{ }`; the
//! rootfs is replaced by a temporary directory.

use ctrsh::runtime::config::defaults;
use ctrsh::runtime::config::Config;
use rhai::{Dynamic, Engine, Map};

fn rhai_blocks(markdown: &str) -> Vec<String> {
    markdown
        .split("```rhai\n")
        .skip(1)
        .map(|rest| rest.split("```").next().unwrap_or_default().to_string())
        .collect()
}

fn to_dynamic(value: impl serde::Serialize) -> Dynamic {
    rhai::serde::to_dynamic(value).expect("defaults convert to Rhai values")
}

/// An engine with the default_* functions a config example may call.
fn engine() -> Engine {
    let mut engine = Engine::new();
    engine.register_fn(
        "default_devices",
        || to_dynamic(defaults::default_devices()),
    );
    engine.register_fn("default_allowed_devices", || {
        to_dynamic(defaults::default_allowed_devices())
    });
    engine.register_fn("default_capabilities", || {
        to_dynamic(defaults::default_capabilities())
    });
    engine
}

/// The block as a script whose value is the config map.
fn as_script(block: &str) -> String {
    let trimmed = block.trim();
    if let Some(rest) = trimmed.strip_prefix("let config = ") {
        rest.to_string()
    } else if trimmed.starts_with("#{") {
        trimmed.to_string()
    } else {
        format!("#{{ {trimmed} }}")
    }
}

#[test]
fn config_doc_examples_are_valid_configs() {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/config.md")).unwrap();
    let blocks = rhai_blocks(&doc);
    assert!(blocks.len() >= 8, "found only {} rhai blocks", blocks.len());
    let engine = engine();
    let rootfs = std::env::temp_dir().join(format!("ctrsh-config-docs-{}", std::process::id()));
    std::fs::create_dir_all(&rootfs).unwrap();
    let mut failures = Vec::new();
    for block in &blocks {
        let result = engine
            .eval::<Map>(as_script(block).trim_end_matches(';'))
            .map_err(|e| format!("rhai: {e}"))
            .and_then(|mut map| {
                map.insert("rootfs".into(), Dynamic::from(rootfs.display().to_string()));
                rhai::serde::from_dynamic::<Config>(&map.into()).map_err(|e| format!("serde: {e}"))
            })
            .and_then(|config| config.validate().map_err(|e| format!("validate: {e}")));
        if let Err(e) = result {
            failures.push(format!("{e}\n--- in ---\n{block}"));
        }
    }
    std::fs::remove_dir_all(&rootfs).unwrap();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
