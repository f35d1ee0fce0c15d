//! Every example in docs/*.md and the README is checked against the code,
//! and runs, so the docs cannot drift from it.
//!
//! `every_docs_example_names_what_exists` (no root) checks each ```rhai
//! example: it compiles with ctrsh's script engine; every function it calls
//! exists (ctrsh's API, Rhai's own, a function the example defines, or one
//! of the stdlib module it imports), and a module it uses is imported; a
//! config example also deserialises and passes `Config::validate()`.
//!
//! `every_docs_example_runs` (root) runs each ```rhai and ```sh example
//! in a mount and network namespace of its own, with the files and the
//! registry the examples name (see SETUP).
//!
//! The fence says what an example is:
//! - ```` ```rhai ````: a script, or statements of one.
//! - ```` ```rhai config ````: a config, whole (`#{ ... }`, `let config =
//!   #{ ... }`) or some of its keys (`key: value, ...`); its `rootfs` is
//!   replaced by a temporary directory. It is checked, not run.
//! - ```` ```rhai preamble ````: what each of the page's other examples
//!   runs after (it defines the `c`, `p` they use).
//! - ```` ```rhai continued ````: runs after the page's example before it
//!   (that one runs on its own too).
//! - ```` ```rhai not-run: REASON ```` (and ```` ```sh not-run: REASON
//!   ````): an example that cannot run here, for REASON, which names the
//!   test that covers it instead; a few at most.
//! - ```` ```sh ````: commands, run by `sh -e` with `ctrsh` in PATH.

mod common;
#[allow(dead_code)]
#[path = "images/fixture.rs"]
mod fixture;

use common::{Sandbox, CTRSH};
use ctrsh::runtime::Factory;
use ctrsh::runtime::{default_allowed_devices, default_capabilities, default_devices, Config};
use rhai::{ASTNode, Dynamic, Engine, Expr, Map};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

const KINDS: [&str; 4] = ["", "config", "preamble", "continued"];

/// The fence of an example that cannot run in the test: `rhai not-run:
/// reason`. It is checked like a script.
const NOT_RUN: &str = "not-run:";

#[derive(Clone, Copy, PartialEq)]
enum Lang {
    Rhai,
    Sh,
}

struct Example {
    doc: String,
    line: usize,
    lang: Lang,
    kind: String,
    code: String,
}

fn examples(doc: &Path) -> Vec<Example> {
    let text = std::fs::read_to_string(doc).unwrap();
    let name = doc.file_name().unwrap().to_string_lossy().into_owned();
    let mut found = Vec::new();
    let mut open: Option<(usize, Lang, String, String)> = None;
    for (i, line) in text.lines().enumerate() {
        match &mut open {
            None => {
                let fence = [("```rhai", Lang::Rhai), ("```sh", Lang::Sh)]
                    .into_iter()
                    .find_map(|(f, lang)| Some((line.strip_prefix(f)?, lang)));
                if let Some((kind, lang)) = fence {
                    open = Some((i + 1, lang, kind.trim().to_string(), String::new()));
                }
            }
            Some((start, lang, kind, code)) => {
                if line.starts_with("```") {
                    found.push(Example {
                        doc: name.clone(),
                        line: *start,
                        lang: *lang,
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

/// docs/*.md, and the README.
fn docs() -> Vec<PathBuf> {
    let top = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut docs: Vec<PathBuf> = std::fs::read_dir(top.join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    docs.push(top.join("README.md"));
    docs
}

fn to_dynamic(value: impl serde::Serialize) -> Dynamic {
    rhai::serde::to_dynamic(value).expect("defaults convert to Rhai values")
}

/// An engine with only the default_* functions a config example may call.
fn config_engine() -> Engine {
    let mut engine = Engine::new();
    engine.register_fn("default_devices", || to_dynamic(default_devices()));
    engine.register_fn("default_allowed_devices", || {
        to_dynamic(default_allowed_devices())
    });
    engine.register_fn(
        "default_capabilities",
        || to_dynamic(default_capabilities()),
    );
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
    // ctrsh skips a script's `#!` line, which Rhai does not know.
    let code = match ex.code.strip_prefix("#!") {
        Some(rest) => rest.split_once('\n').map_or("", |(_, code)| code),
        None => &ex.code,
    };
    let ast = engine.compile(code).map_err(|e| format!("compile: {e}"))?;
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
            None => problems.push(format!(
                "'{alias}::{name}' without `import \"...\" as {alias}`"
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
    let rootfs = common::TempDir::new("docs-examples");
    let mut failures = Vec::new();
    let mut count = 0;
    for doc in docs() {
        for ex in examples(&doc).into_iter().filter(|e| e.lang == Lang::Rhai) {
            count += 1;
            let result = if ex.kind.starts_with(NOT_RUN) {
                check_script(&engine, &known, &ex)
            } else if !KINDS.contains(&ex.kind.as_str()) {
                Err(format!("unknown kind '{}' (one of {KINDS:?})", ex.kind))
            } else if ex.kind == "config" {
                check_config(&ex.code, rootfs.path())
            } else {
                check_script(&engine, &known, &ex)
            };
            if let Err(e) = result {
                failures.push(format!("docs/{}:{}: {e}\n{}", ex.doc, ex.line, ex.code));
            }
        }
    }
    assert!(count >= 100, "found only {count} examples");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The fixtures the examples name, made in the test's mount and network
/// namespace: the busybox rootfs the other tests use at /srv/rootfs,
/// /var/lib/images/busybox and /tmp/rootfs, and as a tarball at
/// /srv/images/base.tar.gz; an OCI bundle of it at /var/lib/bundles/web
/// (`ctrsh oci spec`, running /bin/true without a terminal); the image
/// tests' registry storage served on 127.0.0.1:5000, and their app image
/// as an OCI archive (/srv/app-archive.tar) and a `docker save` one
/// (/srv/saved.tar). An example runs in /srv/example, which holds an
/// executable script.rhai and a module lib/common.rhai; a script gets
/// /srv/rootfs as its argument; a shell example finds `ctrsh` in PATH. What an example leaves in the state
/// roots it names is destroyed after it, and must be all there is to
/// destroy.
const SETUP: &str = r#"
set -e
sandbox=$1 ctrsh=$2 example=$3
ip link set lo up
mount -t tmpfs -o mode=0755 ctrsh-docs /srv
mkdir /srv/rootfs /srv/example /srv/images
mount --bind "$sandbox/rootfs" /srv/rootfs
cp "$sandbox/$example" /srv/example/
cp "$sandbox/app-archive.tar" "$sandbox/saved.tar" /srv/
tar -czf /srv/images/base.tar.gz -C /srv/rootfs .
storage=$(cat "$sandbox/storage")
for d in /var /run /tmp; do mount -t tmpfs -o mode=0755 ctrsh-docs "$d"; done
chmod 1777 /tmp
mkdir -p /var/lib/images/busybox /tmp/rootfs /var/log /var/lib/ck /var/lib/bundles/web /run/bin
mount --bind /srv/rootfs /var/lib/images/busybox
mount --bind /srv/rootfs /tmp/rootfs
ln -s "$ctrsh" /run/bin/ctrsh
export PATH="/run/bin:$PATH"
printf '#!/usr/bin/env ctrsh\nprint(ARGS);\n' > /srv/example/script.rhai
chmod +x /srv/example/script.rhai
mkdir /srv/example/lib
echo 'fn greeting() { "hello" }' > /srv/example/lib/common.rhai
cd /var/lib/bundles/web
ctrsh oci spec
sed -i 's/"terminal": true/"terminal": false/; s/^\( *\)"sh"$/\1"true"/' config.json
ln -s /srv/rootfs rootfs
if grep -q 127.0.0.1:5000 "/srv/example/$example"; then
    printf 'version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: %s\n  maintenance:\n    uploadpurging:\n      enabled: false\nhttp:\n  addr: 127.0.0.1:5000\n' "$storage" > /run/registry.yml
    docker-registry serve /run/registry.yml > /run/registry.log 2>&1 &
    registry=$!
    until bash -c 'echo > /dev/tcp/127.0.0.1/5000' 2>/dev/null; do sleep 0.05; done
fi
set +e
cd /srv/example
case $example in
*.rhai) timeout 60 ctrsh "$example" /srv/rootfs < /dev/null ;;
*) timeout 60 sh -e "$example" < /dev/null ;;
esac
code=$?
for root in /run/ctrsh /var/lib/container /tmp/ctrsh /tmp/trace-root /run/ctrsh-b; do
    [ -d "$root" ] && ctrsh rm --root "$root" --all > /dev/null
done
[ -n "$registry" ] && kill "$registry"
exit $code
"#;

/// Every script and shell example runs as root, on its own, in a mount
/// and network namespace of the test's (see SETUP) and in a cgroup of the
/// test's: its paths (/srv, /var, /run, /tmp), 127.0.0.1 and the cgroups
/// of its containers are the test's, the host's are untouched. A
/// script example runs after its page's `rhai preamble`, a `continued`
/// one after the example before it too. Each must succeed; what it
/// prints is not compared (its feature's own test does that). The
/// containers it leaves are destroyed after it; none may be left at the
/// end.
#[test]
fn every_docs_example_runs() {
    let Some(sb) = Sandbox::new("docs-run") else {
        return;
    };
    // The examples' containers are named as the docs name them, in the
    // state root /run/ctrsh, and their cgroups after the root and the id,
    // in hierarchies every mount namespace shares: each example runs in a
    // cgroup of this run's own, under which ctrsh makes them, so that this
    // test running at the same time from another clone makes others.
    let cgroup = common::RunCgroup::new(&sb.needle());
    let images = fixture::fixtures();
    std::fs::write(
        sb.dir.join("storage"),
        images.storage.as_os_str().as_encoded_bytes(),
    )
    .unwrap();
    fixture::docker_save(&images.layout, &sb.dir.join("saved.tar"), "saved/app:3");
    // The app image alone (the layout also holds the import tests' bad
    // images), as `skopeo copy ... oci-archive:` writes it.
    fixture::run(
        Command::new("skopeo")
            .args(["copy", "-q"])
            .arg(format!("oci:{}:app", images.layout.display()))
            .arg(format!(
                "oci-archive:{}:app",
                sb.dir.join("app-archive.tar").display()
            )),
    );
    let (mut ran, mut not_run, mut failures) = (0, Vec::new(), Vec::new());
    for doc in docs() {
        let all = examples(&doc);
        let preamble = all
            .iter()
            .find(|e| e.kind == "preamble")
            .map_or("", |e| e.code.as_str());
        // The script of the example before, which a `continued` one extends.
        let mut before = String::new();
        for ex in &all {
            let place = format!("{}:{}", ex.doc, ex.line);
            if let Some(reason) = ex.kind.strip_prefix(NOT_RUN) {
                not_run.push(format!("{place}: {}", reason.trim()));
                continue;
            }
            let (code, ext) = match (ex.lang, ex.kind.as_str()) {
                (Lang::Sh, _) => (ex.code.clone(), "sh"),
                (Lang::Rhai, "config" | "preamble") => continue,
                (Lang::Rhai, "continued") => (format!("{before}{}", ex.code), "rhai"),
                (Lang::Rhai, _) => (format!("{preamble}{}", ex.code), "rhai"),
            };
            if ex.lang == Lang::Rhai {
                before = code.clone();
            }
            let file = format!("{}-{}.{ext}", ex.doc.trim_end_matches(".md"), ex.line);
            std::fs::write(sb.dir.join(&file), &code).unwrap();
            let mut run = Command::new("unshare");
            run.args(["--mount", "--net", "--propagation", "private"])
                .args(["sh", "-c", SETUP, "sh"])
                .arg(&sb.dir)
                .arg(CTRSH)
                .arg(&file);
            cgroup.join(&mut run);
            let out = common::output(&mut run);
            ran += 1;
            eprintln!("{place}: {}", out.status);
            if !out.status.success() {
                failures.push(format!(
                    "{place}: exit {:?}\n{code}--- stdout\n{}--- stderr\n{}",
                    out.status.code(),
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
        }
    }
    let left = common::cgroups_named(&Factory::cgroup_prefix(Path::new("/run/ctrsh")));
    assert!(left.is_empty(), "cgroups left: {left:?}");
    let left = cgroup.left();
    assert!(left.is_empty(), "cgroups left in the test's: {left:?}");
    assert!(
        failures.is_empty(),
        "{} of {ran} failed:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    assert!(ran >= 90, "ran only {ran} examples");
    assert!(
        not_run.len() <= 8,
        "too many examples not run: {not_run:#?}"
    );
}
