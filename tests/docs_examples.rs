//! Every ```rhai example in docs/*.md is checked against the code, so the
//! docs cannot drift from it: it compiles with ctrsh's script engine; every
//! function it calls exists (ctrsh's API, Rhai's own, a function the
//! example defines, or one of the stdlib module it imports), and a module
//! it uses is imported; a config example also deserialises and passes
//! `Config::validate()`. Needs no root.
//!
//! The fence says what an example is:
//! - ```` ```rhai ````: a script, or statements of one.
//! - ```` ```rhai config ````: a config, whole (`#{ ... }`, `let config =
//!   #{ ... }`) or some of its keys (`key: value, ...`); its `rootfs` is
//!   replaced by a temporary directory.
//! - ```` ```rhai fragment ````: statements that use modules the page
//!   imported in an earlier example (the import check is skipped).
//! - ```` ```rhai terminal ````: input typed at the prompt, checked like a
//!   script.
//!
//! What each example does when it runs is tested where its feature is
//! (tests/*.rs); this harness checks that what it names exists.

use ctrsh::runtime::config::defaults;
use ctrsh::runtime::config::Config;
use rhai::{ASTNode, Dynamic, Engine, Expr, Map};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

const KINDS: [&str; 4] = ["", "config", "fragment", "terminal"];

struct Example {
    doc: String,
    line: usize,
    kind: String,
    code: String,
}

fn examples(doc: &Path) -> Vec<Example> {
    let text = std::fs::read_to_string(doc).unwrap();
    let name = doc.file_name().unwrap().to_string_lossy().into_owned();
    let mut found = Vec::new();
    let mut open: Option<(usize, String, String)> = None;
    for (i, line) in text.lines().enumerate() {
        match &mut open {
            None => {
                if let Some(kind) = line.strip_prefix("```rhai") {
                    open = Some((i + 1, kind.trim().to_string(), String::new()));
                }
            }
            Some((start, kind, code)) => {
                if line.starts_with("```") {
                    found.push(Example {
                        doc: name.clone(),
                        line: *start,
                        kind: std::mem::take(kind),
                        code: std::mem::take(code),
                    });
                    open = None;
                } else {
                    code.push_str(line);
                    code.push('\n');
                }
            }
        }
    }
    found
}

fn docs() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
    let mut docs: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    docs
}

fn to_dynamic(value: impl serde::Serialize) -> Dynamic {
    rhai::serde::to_dynamic(value).expect("defaults convert to Rhai values")
}

/// An engine with only the default_* functions a config example may call.
fn config_engine() -> Engine {
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

/// A config example as a script whose value is the config map.
fn config_script(code: &str) -> String {
    let trimmed = code.trim().trim_end_matches(';');
    if let Some(rest) = trimmed.strip_prefix("let config = ") {
        rest.to_string()
    } else if trimmed.starts_with("#{") {
        trimmed.to_string()
    } else {
        format!("#{{ {trimmed} }}")
    }
}

fn check_config(code: &str, rootfs: &Path) -> Result<(), String> {
    let mut map = config_engine()
        .eval::<Map>(&config_script(code))
        .map_err(|e| format!("rhai: {e}"))?;
    map.insert("rootfs".into(), Dynamic::from(rootfs.display().to_string()));
    let config: Config =
        rhai::serde::from_dynamic(&map.into()).map_err(|e| format!("serde: {e}"))?;
    config
        .validate()
        .map(drop)
        .map_err(|e| format!("validate: {e}"))
}

/// Functions Rhai provides as keywords, outside its packages' metadata.
const KEYWORD_FUNCTIONS: [&str; 10] = [
    "print",
    "debug",
    "type_of",
    "Fn",
    "call",
    "curry",
    "eval",
    "is_def_var",
    "is_def_fn",
    "is_shared",
];

/// The names of the functions `engine` knows (its API and Rhai's).
fn known_functions(engine: &Engine) -> BTreeSet<String> {
    let mut names: BTreeSet<String> = engine
        .gen_fn_signatures(true)
        .iter()
        .filter_map(|s| s.split('(').next())
        .map(|s| s.rsplit(' ').next().unwrap_or(s).to_string())
        .collect();
    names.extend(KEYWORD_FUNCTIONS.map(String::from));
    names
}

/// The functions `fn name(` of stdlib module `module`.
fn stdlib_functions(module: &str) -> Option<BTreeSet<String>> {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("stdlib/{module}.rhai"));
    let text = std::fs::read_to_string(file).ok()?;
    Some(
        text.lines()
            .filter_map(|l| l.trim_start().strip_prefix("fn "))
            .filter_map(|l| l.split('(').next())
            .map(|n| n.trim().to_string())
            .collect(),
    )
}

/// `import "path" as alias` statements of `code`: alias -> path.
fn imports(code: &str) -> Vec<(String, String)> {
    code.split("import ")
        .skip(1)
        .filter_map(|rest| {
            let path = rest.trim_start().strip_prefix('"')?.split('"').next()?;
            let after = rest.split_once(" as ")?.1;
            let alias: String = after
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            Some((alias, path.to_string()))
        })
        .collect()
}

fn check_script(engine: &Engine, known: &BTreeSet<String>, ex: &Example) -> Result<(), String> {
    let ast = engine
        .compile(&ex.code)
        .map_err(|e| format!("compile: {e}"))?;
    let defined: BTreeSet<String> = ast.iter_functions().map(|f| f.name.to_string()).collect();
    let imported = imports(&ex.code);
    let mut problems = Vec::new();
    ast.walk(&mut |path: &[ASTNode]| {
        let call = match path.last() {
            Some(ASTNode::Expr(Expr::FnCall(call, _) | Expr::MethodCall(call, _))) => call,
            _ => return true,
        };
        let name = call.name.as_str();
        if call.op_token.is_some() || !name.starts_with(|c: char| c.is_alphabetic() || c == '_') {
            return true;
        }
        if call.namespace.is_empty() {
            if !known.contains(name) && !defined.contains(name) && !name.starts_with("anon$") {
                problems.push(format!("no function '{name}'"));
            }
            return true;
        }
        let alias = call.namespace.root();
        // A module of ctrsh's own (image::, network::, oci::) needs no import.
        if known.contains(&format!("{alias}::{name}")) {
            return true;
        }
        match imported.iter().find(|(a, _)| a == alias) {
            Some((_, module)) => match stdlib_functions(module) {
                Some(fns) if !fns.contains(name) => {
                    problems.push(format!("the stdlib module '{module}' has no '{name}'"))
                }
                _ => {}
            },
            None if ex.kind == "fragment" => {}
            None => problems.push(format!(
                "'{alias}::{name}' without `import \"...\" as {alias}` (mark the fence `rhai fragment` if the page imported it before)"
            )),
        }
        true
    });
    match problems.is_empty() {
        true => Ok(()),
        false => Err(problems.join("; ")),
    }
}

#[test]
fn every_docs_example_names_what_exists() {
    let engine = ctrsh::script::engine(vec![]);
    let known = known_functions(&engine);
    let rootfs = std::env::temp_dir().join(format!("ctrsh-docs-examples-{}", std::process::id()));
    std::fs::create_dir_all(&rootfs).unwrap();
    let mut failures = Vec::new();
    let mut count = 0;
    for doc in docs() {
        for ex in examples(&doc) {
            count += 1;
            let result = if !KINDS.contains(&ex.kind.as_str()) {
                Err(format!("unknown kind '{}' (one of {KINDS:?})", ex.kind))
            } else if ex.kind == "config" {
                check_config(&ex.code, &rootfs)
            } else {
                check_script(&engine, &known, &ex)
            };
            if let Err(e) = result {
                failures.push(format!("docs/{}:{}: {e}\n{}", ex.doc, ex.line, ex.code));
            }
        }
    }
    std::fs::remove_dir_all(&rootfs).unwrap();
    assert!(count >= 100, "found only {count} examples");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
