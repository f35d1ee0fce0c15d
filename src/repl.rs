//! The interactive prompt (`ctrsh` on a terminal, or `ctrsh -i`): rustyline
//! with history, multi-line input, completion of the script API's names and
//! of variables, and `:help` / `:quit`.

use crate::script::{self, ApiEntry};
use rhai::{Dynamic, Engine, EvalAltResult, LexError, ParseErrorType, Position, Scope, AST};
use rustyline::completion::Completer;
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::FileHistory;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{Context, Editor, Helper};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::rc::Rc;

/// What error positions are prefixed with.
const SOURCE: &str = "<repl>";
const PROMPT: &str = "ctrsh> ";
/// The prompt for the next line of an unfinished input (non-terminal stdin;
/// on a terminal rustyline keeps editing the same input).
const MORE: &str = "...> ";

/// Runs the prompt until `:quit`, Ctrl-D or `exit(code)`; returns the exit status.
pub fn run(engine: Engine) -> i32 {
    let engine = Rc::new(engine);
    let api = script::api(&engine);
    let mut editor = match Editor::<ReplHelper, FileHistory>::new() {
        Ok(editor) => editor,
        Err(e) => {
            eprintln!("ctrsh: cannot start the prompt: {e}");
            return 1;
        }
    };
    editor.set_helper(Some(ReplHelper::new(engine.clone(), &api)));
    // Only a person at a terminal makes history worth keeping.
    let history = std::io::stdin().is_terminal().then(history_path).flatten();
    if let Some(path) = &history {
        let _ = editor.load_history(path);
    }
    if std::io::stdin().is_terminal() {
        println!(
            "ctrsh {} (:help for the API, :quit or Ctrl-D to leave)",
            env!("CARGO_PKG_VERSION")
        );
    }

    let mut session = Session::new(engine);
    let mut status = 0;
    loop {
        let input = match read_input(&mut editor, &session.engine) {
            Ok(Some(input)) => input,
            Ok(None) => break,
            Err(e) => {
                eprintln!("ctrsh: cannot read input: {e}");
                status = 1;
                break;
            }
        };
        if input.trim().is_empty() {
            continue;
        }
        let _ = editor.add_history_entry(input.as_str());
        if let Some(command) = input.trim().strip_prefix(':') {
            if run_command(command, &api) == Flow::Quit {
                break;
            }
            continue;
        }
        match session.eval(&input) {
            Step::Value(text) => println!("{text}"),
            Step::Nothing => {}
            Step::Exit(code) => {
                status = code;
                break;
            }
            Step::Failed(message) => eprintln!("{message}"),
            Step::Interrupted => eprintln!("interrupted"),
        }
        if let Some(helper) = editor.helper_mut() {
            helper.variables = session.variables();
        }
    }
    if let Some(path) = &history {
        if let Err(e) = editor.append_history(path) {
            eprintln!("ctrsh: cannot save history to {}: {e}", path.display());
        }
    }
    status
}

/// `$XDG_STATE_HOME/ctrsh/history` (or the local data dir), created if missing.
fn history_path() -> Option<PathBuf> {
    let dirs = directories::ProjectDirs::from("", "", "ctrsh")?;
    let dir = dirs.state_dir().unwrap_or(dirs.data_local_dir());
    std::fs::create_dir_all(dir).ok()?;
    Some(dir.join("history"))
}

/// One complete input, or `None` at end of input. Ctrl-C at the prompt
/// discards the line. Unfinished input read without a terminal (where the
/// validator cannot ask for more) is completed with further lines here.
fn read_input(
    editor: &mut Editor<ReplHelper, FileHistory>,
    engine: &Engine,
) -> rustyline::Result<Option<String>> {
    let mut input = match editor.readline(PROMPT) {
        Ok(line) => line,
        Err(ReadlineError::Interrupted) => return Ok(Some(String::new())),
        Err(ReadlineError::Eof) => return Ok(None),
        Err(e) => return Err(e),
    };
    while is_incomplete(engine, &input) {
        match editor.readline(MORE) {
            Ok(line) => {
                input.push('\n');
                input.push_str(&line);
            }
            Err(ReadlineError::Interrupted) => return Ok(Some(String::new())),
            // Let the compiler report what is missing.
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(e),
        }
    }
    Ok(Some(input))
}

/// Whether `input` is a statement still being typed: rhai reports the end
/// of input, a missing closing token at the end, or an open backtick string.
/// (Counting brackets would be fooled by brackets inside strings.)
pub fn is_incomplete(engine: &Engine, input: &str) -> bool {
    if input.trim_start().starts_with(':') {
        return false;
    }
    let Err(err) = engine.compile(input) else {
        return false;
    };
    match *err.0 {
        ParseErrorType::UnexpectedEOF => true,
        ParseErrorType::MissingToken(..) => at_end(err.1, input),
        ParseErrorType::BadInput(LexError::UnterminatedString) => {
            char_at(err.1, input) == Some('`')
        }
        _ => false,
    }
}

/// Whether `pos` is past the last character of `input`.
fn at_end(pos: Position, input: &str) -> bool {
    let (Some(line), Some(column)) = (pos.line(), pos.position()) else {
        return true;
    };
    let lines: Vec<&str> = input.split('\n').collect();
    line > lines.len() || (line == lines.len() && column > lines[line - 1].chars().count())
}

fn char_at(pos: Position, input: &str) -> Option<char> {
    let line = input.split('\n').nth(pos.line()?.checked_sub(1)?)?;
    line.chars().nth(pos.position()?.checked_sub(1)?)
}

#[derive(Debug, PartialEq, Eq)]
enum Flow {
    Continue,
    Quit,
}

/// `:help [word]`, `:quit`.
fn run_command(command: &str, api: &[ApiEntry]) -> Flow {
    let mut words = command.split_whitespace();
    match words.next().unwrap_or_default() {
        "q" | "quit" | "exit" => return Flow::Quit,
        "h" | "help" => print!("{}", help(api, words.next())),
        other => eprintln!("unknown command :{other} (try :help or :quit)"),
    }
    Flow::Continue
}

/// The registered functions (those whose signature contains `word`, if
/// given), one `signature  -- doc` per line.
fn help(api: &[ApiEntry], word: Option<&str>) -> String {
    let mut text = String::new();
    if word.is_none() {
        text.push_str(
            "ctrsh's script API (docs/api.md has examples); :help WORD narrows it; :quit leaves.\n",
        );
    }
    for entry in api {
        if word.is_none_or(|w| entry.signature.contains(w)) {
            text.push_str(&format!("  {}\n      {}\n", entry.signature, entry.doc));
        }
    }
    if text.is_empty() {
        text = format!("nothing registered matches {}\n", word.unwrap_or_default());
    }
    text
}

/// How one evaluation ended.
#[derive(Debug, PartialEq, Eq)]
enum Step {
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
struct Session {
    engine: Rc<Engine>,
    scope: Scope<'static>,
    /// Every `fn` defined so far.
    functions: AST,
    /// `import` lines typed so far: rhai drops imported modules after each
    /// evaluation (rhai #934), so they are run again before each input.
    imports: Vec<String>,
    /// `to_debug(value)`, to show a result the way scripts print it.
    show: AST,
}

impl Session {
    fn new(engine: Rc<Engine>) -> Session {
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

    fn eval(&mut self, input: &str) -> Step {
        script::clear_interrupt();
        let ast = match self.engine.compile_with_scope(&self.scope, input) {
            Ok(ast) => ast,
            Err(err) => return Step::Failed(script::describe(SOURCE, &err.into())),
        };
        let imports = match self.engine.compile(self.imports.join("\n")) {
            Ok(imports) => imports,
            Err(err) => return Step::Failed(script::describe(SOURCE, &err.into())),
        };
        let program = imports.merge(&self.functions).merge(&ast);
        let result = self
            .engine
            .eval_ast_with_scope::<Dynamic>(&mut self.scope, &program);
        self.functions.combine(ast.clone_functions_only());
        match result {
            Ok(value) => {
                self.imports.extend(
                    input
                        .lines()
                        .map(str::trim)
                        .filter(|l| l.starts_with("import "))
                        .map(String::from),
                );
                if let Some(code) = script::exit_status(&value) {
                    Step::Exit(code)
                } else if value.is_unit() {
                    Step::Nothing
                } else {
                    Step::Value(self.show(value))
                }
            }
            Err(_) if script::is_interrupted() => Step::Interrupted,
            Err(err) => match *err {
                EvalAltResult::ErrorTerminated(..) => Step::Interrupted,
                err => Step::Failed(script::describe(SOURCE, &err)),
            },
        }
    }

    fn show(&self, value: Dynamic) -> String {
        let mut scope = Scope::new();
        scope.push_dynamic("value", value.clone());
        self.engine
            .eval_ast_with_scope::<String>(&mut scope, &self.show)
            .unwrap_or_else(|_| value.to_string())
    }

    fn variables(&self) -> Vec<String> {
        self.scope
            .iter()
            .map(|(name, ..)| name.to_string())
            .collect()
    }
}

/// rustyline's hooks: validation (multi-line input) and completion.
struct ReplHelper {
    engine: Rc<Engine>,
    /// Names completed at the start of an expression.
    functions: Vec<String>,
    /// Names completed after a `.`: methods and properties.
    members: Vec<String>,
    /// The session's variables, refreshed after each input.
    variables: Vec<String>,
}

impl ReplHelper {
    fn new(engine: Rc<Engine>, api: &[ApiEntry]) -> ReplHelper {
        let mut functions = Vec::new();
        let mut members = Vec::new();
        for entry in api {
            let sig = &entry.signature;
            // "Container.id -> string" is a property; "start(c: Container, ...)"
            // with a receiver type is a method, and any call is a function.
            if let Some((_, prop)) = sig.split_once(" -> ").and_then(|(l, _)| l.split_once('.')) {
                members.push(prop.to_string());
                continue;
            }
            let name = sig.split('(').next().unwrap_or_default();
            if !name.chars().all(|c| c.is_alphanumeric() || c == '_') {
                continue; // operators
            }
            functions.push(name.to_string());
            members.push(name.to_string());
        }
        for names in [&mut functions, &mut members] {
            names.sort();
            names.dedup();
        }
        ReplHelper {
            engine,
            functions,
            members,
            variables: Vec::new(),
        }
    }

    /// The start of the word before `pos` and the names that complete it.
    fn candidates(&self, line: &str, pos: usize) -> (usize, Vec<String>) {
        let before = &line[..pos];
        let start = before
            .rfind(|c: char| !(c.is_alphanumeric() || c == '_'))
            .map_or(0, |i| i + 1);
        let word = &before[start..];
        let pool: Vec<&String> = if before[..start].ends_with('.') {
            self.members.iter().collect()
        } else {
            self.functions.iter().chain(&self.variables).collect()
        };
        let mut found: Vec<String> = pool
            .into_iter()
            .filter(|n| n.starts_with(word))
            .cloned()
            .collect();
        found.sort();
        found.dedup();
        (start, found)
    }
}

impl Completer for ReplHelper {
    type Candidate = String;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<String>)> {
        Ok(self.candidates(line, pos))
    }
}

impl Validator for ReplHelper {
    fn validate(&self, ctx: &mut ValidationContext) -> rustyline::Result<ValidationResult> {
        Ok(if is_incomplete(&self.engine, ctx.input()) {
            ValidationResult::Incomplete
        } else {
            ValidationResult::Valid(None)
        })
    }
}

impl Hinter for ReplHelper {
    type Hint = String;
}

impl Highlighter for ReplHelper {}

impl Helper for ReplHelper {}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine() -> Rc<Engine> {
        Rc::new(script::engine(vec!["x".into()]))
    }

    #[test]
    fn unfinished_input_asks_for_more() {
        let e = engine();
        for text in [
            "fn f() {",
            "let x = [1,",
            "print(1 +",
            "if true {\n  1;\n",
            "let s = `ab",
        ] {
            assert!(is_incomplete(&e, text), "{text:?}");
        }
        for text in ["1 + 1", "let = 5", "x.", "\"abc", ":help", "let s = \"{\";"] {
            assert!(!is_incomplete(&e, text), "{text:?}");
        }
    }

    #[test]
    fn variables_functions_and_imports_persist() {
        let dir = std::env::temp_dir().join(format!("ctrsh-repl-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("m.rhai"), "fn twice(x) { x * 2 }").unwrap();
        let mut s = Session::new(engine());
        assert_eq!(s.eval("let a = 20;"), Step::Nothing);
        assert_eq!(s.eval("fn add(x) { x + 1 }"), Step::Nothing);
        assert_eq!(s.eval("add(a) + 1"), Step::Value("22".into()));
        assert_eq!(s.eval("\"hi\""), Step::Value("\"hi\"".into()));
        let import = format!("import \"{}\" as m;", dir.join("m").display());
        assert_eq!(s.eval(&import), Step::Nothing);
        assert_eq!(s.eval("m::twice(a)"), Step::Value("40".into()));
        assert_eq!(s.eval("ARGS"), Step::Value("[\"x\"]".into()));
        std::fs::remove_dir_all(&dir).unwrap();
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
    fn completion() {
        let e = engine();
        let mut h = ReplHelper::new(e.clone(), &script::api(&e));
        h.variables = vec!["container".into()];
        assert_eq!(
            h.candidates("let f = fact", 12),
            (8, vec!["factory".to_string()])
        );
        assert_eq!(h.candidates("c.sta", 5).1, vec!["start", "state", "stats"]);
        assert_eq!(h.candidates("print(cont", 10).1, vec!["container"]);
    }

    #[test]
    fn help_lists_and_filters() {
        let api = script::api(&engine());
        let all = help(&api, None);
        assert!(all.contains("factory(root: string) -> Factory"));
        let some = help(&api, Some("wait"));
        assert!(some.contains("wait(p: Process) -> int"));
        assert!(!some.contains("factory("));
        assert_eq!(run_command("quit", &api), Flow::Quit);
    }
}
