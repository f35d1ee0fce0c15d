//! `import "sandbox" as sandbox;`: the Rhai modules under stdlib/, embedded
//! in the binary so a script needs no files beside it. Any other import is a
//! file resolved by rhai's FileModuleResolver: relative to the importing
//! script's directory (the script's path is its AST source), or to the
//! current directory at the prompt.

use super::ApiEntry;
use rhai::module_resolvers::{FileModuleResolver, ModuleResolversCollection};
use rhai::{Engine, EvalAltResult, Module, ModuleResolver, Position, Scope, Shared};
use std::collections::BTreeMap;
use std::sync::Mutex;

/// Every stdlib module: its import name and its source.
const MODULES: &[(&str, &str)] = &[
    ("limits", include_str!("../../stdlib/limits.rhai")),
    ("migrate", include_str!("../../stdlib/migrate.rhai")),
    ("rootfs", include_str!("../../stdlib/rootfs.rhai")),
    ("sandbox", include_str!("../../stdlib/sandbox.rhai")),
];

/// Sets the engine's resolver: the embedded modules first, then files.
pub fn install(engine: &mut Engine) {
    let mut resolvers = ModuleResolversCollection::new();
    resolvers.push(Embedded::default());
    resolvers.push(FileModuleResolver::new());
    engine.set_module_resolver(resolvers);
}

/// Serves `MODULES`, each compiled and evaluated once per engine (the REPL
/// runs its imports again before every input).
#[derive(Default)]
struct Embedded {
    loaded: Mutex<BTreeMap<&'static str, Shared<Module>>>,
}

impl Embedded {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<&'static str, Shared<Module>>> {
        // A panic elsewhere cannot leave the map half-updated.
        self.loaded.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl ModuleResolver for Embedded {
    fn resolve(
        &self,
        engine: &Engine,
        _source: Option<&str>,
        path: &str,
        pos: Position,
    ) -> Result<Shared<Module>, Box<EvalAltResult>> {
        let Some(&(name, code)) = MODULES.iter().find(|(name, _)| *name == path) else {
            return Err(EvalAltResult::ErrorModuleNotFound(path.into(), pos).into());
        };
        if let Some(module) = self.lock().get(name) {
            return Ok(module.clone());
        }
        let in_module = |err| Box::new(EvalAltResult::ErrorInModule(name.into(), err, pos));
        let mut ast = engine.compile(code).map_err(|e| in_module(e.into()))?;
        // Errors inside the module's functions are reported against this.
        ast.set_source(format!("stdlib/{name}.rhai"));
        // Not under the lock: a module's own imports come back here.
        let module: Shared<Module> = Module::eval_ast_as_new(Scope::new(), &ast, engine)
            .map_err(in_module)?
            .into();
        self.lock().insert(name, module.clone());
        Ok(module)
    }
}

/// The functions of every stdlib module, as `rootfs::busybox(dir)` with
/// its doc comment, sorted; and each module's own description (its leading
/// comment) as `rootfs::` entries. For `:help` and completion at the prompt.
pub fn api(engine: &Engine) -> Vec<ApiEntry> {
    let mut entries = Vec::new();
    for (name, code) in MODULES {
        let about: Vec<&str> = code
            .lines()
            .map_while(|l| l.strip_prefix("//"))
            .map(str::trim)
            .take_while(|l| !l.is_empty())
            .collect();
        entries.push(ApiEntry {
            signature: format!("{name}::"),
            doc: format!("{} (import \"{name}\" as {name};)", about.join(" ")),
        });
        let Ok(ast) = engine.compile(code) else {
            continue;
        };
        for f in ast
            .iter_functions()
            .filter(|f| f.access != rhai::FnAccess::Private)
        {
            let doc: Vec<&str> = f
                .comments
                .iter()
                // A comment is one string of `///` lines.
                .flat_map(|c| c.lines())
                .map(|c| c.trim_start_matches("///").trim())
                .collect();
            entries.push(ApiEntry {
                signature: format!("{name}::{}({})", f.name, f.params.join(", ")),
                doc: doc.join(" "),
            });
        }
    }
    entries.sort_by(|a, b| a.signature.cmp(&b.signature));
    entries
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every embedded module compiles and loads: a typo in stdlib/ would
    /// otherwise only show when a script imports it.
    #[test]
    fn every_module_loads() {
        let engine = super::super::engine(vec![]);
        for (name, _) in MODULES {
            engine
                .run(&format!("import \"{name}\" as m;"))
                .unwrap_or_else(|e| panic!("stdlib/{name}.rhai: {e}"));
        }
    }

    #[test]
    fn files_beside_the_script_still_resolve() {
        let dir = std::env::temp_dir().join(format!("ctrsh-stdlib-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("mine.rhai"), "fn answer() { 42 }").unwrap();
        let engine = super::super::engine(vec![]);
        let mut ast = engine
            .compile(r#"import "mine" as m; import "limits" as l; m::answer()"#)
            .unwrap();
        ast.set_source(dir.join("main.rhai").to_string_lossy().into_owned());
        assert_eq!(engine.eval_ast::<rhai::INT>(&ast).unwrap(), 42);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
