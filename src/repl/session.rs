//! One prompt session's state and evaluation: typed inputs and `:load`ed
//! files run in the same scope.

use crate::script::{self, interrupt, Ending};
use rhai::{Dynamic, Engine, Scope, AST};
use std::rc::Rc;

/// What error positions of typed input are prefixed with.
const SOURCE: &str = "<repl>";

/// How one evaluation ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// The input's value, as `to_debug` shows it.
    Value(String),
    /// The input's value was `()`.
    Nothing,
    Exit(i32),
    Failed(String),
    Interrupted,
}

/// What survives from one input to the next: variables, functions and
/// imports.
pub struct Session {
    pub engine: Rc<Engine>,
    scope: Scope<'static>,
    /// Every `fn` defined so far.
    functions: AST,
    /// `import` lines typed or loaded so far: rhai drops imported modules
    /// after each evaluation (rhai #934), so they are run again before each
    /// input.
    imports: Vec<String>,
    /// `to_debug(value)`, to show a result the way scripts print it.
    show: AST,
}

impl Session {
    pub fn new(engine: Rc<Engine>) -> Session {
        let show = engine
            .compile("to_debug(value)")
            .expect("a valid expression");
        Session {
            engine,
            scope: Scope::new(),
            functions: AST::empty(),
            imports: Vec::new(),
            show,
        }
    }

    /// Runs typed input.
    pub fn eval(&mut self, input: &str) -> Step {
        self.run(SOURCE, input)
    }

    /// `:load FILE`: runs the file as if its text had been typed; errors
    /// name the file.
    pub fn load(&mut self, path: &str) -> Step {
        match std::fs::read_to_string(path) {
            Ok(code) => self.run(path, blank_shebang(&code).as_ref()),
            Err(e) => Step::Failed(format!("{path}: cannot read: {e}")),
        }
    }

    /// Compiles `input` (named `source` in errors) and runs it after the
    /// session's imports, with its functions.
    fn run(&mut self, source: &str, input: &str) -> Step {
        interrupt::clear();
        let ast = match self.engine.compile_with_scope(&self.scope, input) {
            Ok(ast) => ast,
            Err(err) => return Step::Failed(script::describe(source, &err.into())),
        };
        let imports = match self.engine.compile(self.imports.join("\n")) {
            Ok(imports) => imports,
            Err(err) => return Step::Failed(script::describe(SOURCE, &err.into())),
        };
        let program = imports.merge(&self.functions).merge(&ast);
        let result = {
            let _running = interrupt::running_guard();
            self.engine
                .eval_ast_with_scope::<Dynamic>(&mut self.scope, &program)
        };
        self.functions.combine(ast.clone_functions_only());
        if result.is_ok() {
            self.imports.extend(
                input
                    .lines()
                    .map(str::trim)
                    .filter(|l| l.starts_with("import "))
                    .map(String::from),
            );
        }
        let value = result.as_ref().ok().cloned();
        match script::ending(source, result) {
            Ending::Finished => match value {
                Some(value) if !value.is_unit() => Step::Value(self.show(value)),
                _ => Step::Nothing,
            },
            Ending::Exit(code) => Step::Exit(code),
            Ending::Failed(message) => Step::Failed(message),
            Ending::Interrupted(_) => Step::Interrupted,
        }
    }

    /// `value` as the prompt shows it (show.rs), with the engine's `to_debug`.
    fn show(&self, value: Dynamic) -> String {
        let debug = |value: &Dynamic| {
            let mut scope = Scope::new();
            scope.push_dynamic("value", value.clone());
            self.engine
                .eval_ast_with_scope::<String>(&mut scope, &self.show)
                .unwrap_or_else(|_| value.to_string())
        };
        super::show::show(&value, &debug)
    }

    /// Each variable's type, by the name the engine registered it under
    /// ("Container"), for completion after `.`.
    pub fn variable_types(&self) -> std::collections::HashMap<String, String> {
        self.scope
            .iter()
            .map(|(name, _, value)| {
                let ty = self.engine.map_type_name(value.type_name());
                (name.to_string(), ty.to_string())
            })
            .collect()
    }

    pub fn variables(&self) -> Vec<String> {
        self.scope
            .iter()
            .map(|(name, ..)| name.to_string())
            .collect()
    }
}

/// A script's `#!` line emptied (its newline kept, so that line numbers in
/// errors stay right): rhai would read it as code.
fn blank_shebang(code: &str) -> std::borrow::Cow<'_, str> {
    match code.strip_prefix("#!") {
        Some(rest) => rest.find('\n').map_or("".into(), |i| rest[i..].into()),
        None => code.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine() -> Rc<Engine> {
        Rc::new(script::engine(vec!["x".into()]))
    }

    /// A fresh directory for one test, removed on drop.
    struct TempDir(std::path::PathBuf);

    impl TempDir {
        fn new(test: &str) -> TempDir {
            let dir = std::env::temp_dir().join(format!("ctrsh-{test}-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }

        fn file(&self, name: &str, text: &str) -> String {
            let path = self.0.join(name);
            std::fs::write(&path, text).unwrap();
            path.display().to_string()
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn variables_functions_and_imports_persist() {
        let dir = TempDir::new("repl-persist");
        dir.file("m.rhai", "fn twice(x) { x * 2 }");
        let mut s = Session::new(engine());
        assert_eq!(s.eval("let a = 20;"), Step::Nothing);
        assert_eq!(s.eval("fn add(x) { x + 1 }"), Step::Nothing);
        assert_eq!(s.eval("add(a) + 1"), Step::Value("22".into()));
        assert_eq!(s.eval("\"hi\""), Step::Value("\"hi\"".into()));
        let import = format!("import \"{}\" as m;", dir.0.join("m").display());
        assert_eq!(s.eval(&import), Step::Nothing);
        assert_eq!(s.eval("m::twice(a)"), Step::Value("40".into()));
        assert_eq!(s.eval("ARGS"), Step::Value("[\"x\"]".into()));
    }

    #[test]
    fn variable_types_use_the_registered_names() {
        let dir = TempDir::new("repl-types");
        let mut s = Session::new(engine());
        let root = dir.0.join("state");
        assert_eq!(
            s.eval(&format!("let f = factory(\"{}\");", root.display())),
            Step::Nothing
        );
        assert_eq!(s.eval("let n = 1;"), Step::Nothing);
        let types = s.variable_types();
        assert_eq!(types.get("f").map(String::as_str), Some("Factory"));
        assert_eq!(types.get("n").map(String::as_str), Some("i64"));
    }

    #[test]
    fn errors_and_exit() {
        let mut s = Session::new(engine());
        match s.eval("let x = 1;\nnope(x)") {
            Step::Failed(msg) => assert!(msg.starts_with("<repl>:2:1: "), "{msg}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(s.eval("exit(4)"), Step::Exit(4));
        assert_eq!(s.eval("exit()"), Step::Exit(0));
    }

    #[test]
    fn a_loaded_file_leaves_its_variables_functions_and_imports() {
        let dir = TempDir::new("repl-load");
        dir.file("m.rhai", "fn twice(x) { x * 2 }");
        let lib = dir.file(
            "lib.rhai",
            &format!(
                "#!/usr/bin/env ctrsh\nimport \"{}\" as m;\nlet base = 20;\nfn add(x) {{ x + 1 }}\nbase",
                dir.0.join("m").display()
            ),
        );
        let mut s = Session::new(engine());
        assert_eq!(s.load(&lib), Step::Value("20".into()));
        assert_eq!(s.eval("m::twice(add(base))"), Step::Value("42".into()));
    }

    #[test]
    fn load_errors_name_the_file() {
        let dir = TempDir::new("repl-load-errors");
        let bad = dir.file("bad.rhai", "#!/usr/bin/env ctrsh\nlet x = 1;\nnope(x)");
        let mut s = Session::new(engine());
        match s.load(&bad) {
            Step::Failed(msg) => assert!(msg.starts_with(&format!("{bad}:3:1: ")), "{msg}"),
            other => panic!("{other:?}"),
        }
        // What ran before the error stays, as with typed input.
        assert_eq!(s.eval("x"), Step::Value("1".into()));
        let unparsable = dir.file("syntax.rhai", "let = 1;");
        match s.load(&unparsable) {
            Step::Failed(msg) => assert!(msg.starts_with(&format!("{unparsable}:1:")), "{msg}"),
            other => panic!("{other:?}"),
        }
        let missing = dir.0.join("missing.rhai").display().to_string();
        match s.load(&missing) {
            Step::Failed(msg) => assert!(
                msg.starts_with(&format!("{missing}: cannot read: ")),
                "{msg}"
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn shebang_lines_are_blanked() {
        assert_eq!(blank_shebang("#!/bin/ctrsh\nx"), "\nx");
        assert_eq!(blank_shebang("#!/bin/ctrsh"), "");
        assert_eq!(blank_shebang("x"), "x");
    }
}
