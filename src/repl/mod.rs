//! The interactive prompt (`ctrsh` on a terminal, or `ctrsh -i`): rustyline
//! with history, multi-line input, completion (API names, variables,
//! members, config keys, file paths), syntax colours, and `:help` /
//! `:load` / `:quit`.

mod complete;
mod highlight;
mod lex;
mod session;
mod show;

use crate::runtime::Status;
use crate::script::{self, interrupt, made, ApiEntry};
use complete::Completion;
use rhai::{Engine, LexError, ParseErrorType, Position};
use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::{CmdKind, Highlighter};
use rustyline::hint::Hinter;
use rustyline::history::FileHistory;
use rustyline::validate::Validator;
use rustyline::{CompletionType, Context, Editor, Helper};
use session::{Session, Step};
use std::borrow::Cow;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::rc::Rc;

const PROMPT: &str = "ctrsh> ";
/// The prompt for the next line of an unfinished input.
const MORE: &str = "...> ";

/// Runs the prompt until `:quit`, Ctrl-D or `exit(code)`; returns the exit status.
pub fn run(engine: Engine) -> i32 {
    let engine = Rc::new(engine);
    let mut api = script::api(&engine);
    api.extend(script::stdlib::api(&engine));
    // An ambiguous Tab completes what the candidates share, and a second
    // one lists them.
    let config = rustyline::Config::builder()
        .completion_type(CompletionType::List)
        .build();
    let mut editor = match Editor::<ReplHelper, FileHistory>::with_config(config) {
        Ok(editor) => editor,
        Err(e) => {
            eprintln!("ctrsh: cannot start the prompt: {e}");
            return 1;
        }
    };
    editor.set_helper(Some(ReplHelper {
        completion: Completion::new(&api),
        colour: std::io::stdout().is_terminal(),
    }));
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
        if let Some(command) = as_command(&input) {
            match run_command(command, &api, &mut session) {
                Flow::Continue => {}
                Flow::Quit => break,
                Flow::Exit(code) => {
                    status = code;
                    break;
                }
            }
        } else if let Some(code) = report(session.eval(&input)) {
            status = code;
            break;
        }
        // SIGTERM or SIGHUP while an input ran: it was interrupted, and
        // the prompt ends too.
        if let Some(sig) = interrupt::signal().filter(|&s| s != libc::SIGINT) {
            status = 128 + sig;
            break;
        }
        if let Some(helper) = editor.helper_mut() {
            helper.completion.variables = session.variables();
            helper.completion.variable_types = session.variable_types();
        }
    }
    if let Some(path) = &history {
        if let Err(e) = editor.append_history(path) {
            eprintln!("ctrsh: cannot save history to {}: {e}", path.display());
        }
    }
    eprint!("{}", on_leaving(made::end()));
    status
}

/// A typed `:command`, or a bare `exit`, `quit` or `help` (which are not
/// Rhai) as the command of that name.
fn as_command(input: &str) -> Option<&str> {
    let input = input.trim();
    match input.strip_prefix(':') {
        Some(command) => Some(command),
        None => ["exit", "quit", "help"].contains(&input).then_some(input),
    }
}

/// What leaving the prompt did to the containers made there: the
/// throwaway ones are destroyed, the others that still run are named,
/// with how to remove them.
fn on_leaving(ended: made::Ended) -> String {
    let mut text = String::new();
    if !ended.destroyed.is_empty() {
        text += &format!(
            "destroyed the throwaway containers {}\n",
            ended.destroyed.join(", ")
        );
    }
    for failure in &ended.failed {
        text += &format!("ctrsh: {failure}\n");
    }
    let running: Vec<&made::Left> = ended
        .left
        .iter()
        .filter(|l| l.status != Status::Stopped)
        .collect();
    if running.is_empty() {
        return text;
    }
    let names: Vec<String> = running
        .iter()
        .map(|l| format!("{} ({})", l.id, l.status))
        .collect();
    text += &format!("still running, made at this prompt: {}\n", names.join(", "));
    // One command per state root.
    let mut roots: Vec<&std::path::Path> = running.iter().map(|l| l.root.as_path()).collect();
    roots.sort();
    roots.dedup();
    for root in roots {
        let ids: Vec<&str> = running
            .iter()
            .filter(|l| l.root == root)
            .map(|l| l.id.as_str())
            .collect();
        text += &format!("  remove with: {}\n", made::rm_command(root, &ids));
    }
    text
}

/// Prints how an evaluation ended; the exit status if it was `exit(code)`.
fn report(step: Step) -> Option<i32> {
    match step {
        Step::Value(text) => println!("{text}"),
        Step::Nothing => {}
        Step::Exit(code) => return Some(code),
        Step::Failed(message) => eprintln!("{message}"),
        Step::Interrupted => eprintln!("interrupted"),
    }
    None
}

/// `$XDG_STATE_HOME/ctrsh/history` (or the local data dir), created if missing.
fn history_path() -> Option<PathBuf> {
    let dirs = directories::ProjectDirs::from("", "", "ctrsh")?;
    let dir = dirs.state_dir().unwrap_or(dirs.data_local_dir());
    std::fs::create_dir_all(dir).ok()?;
    Some(dir.join("history"))
}

/// One complete input, or `None` at end of input. Ctrl-C at the prompt
/// discards the input. An unfinished input continues with further lines,
/// each read after the `...> ` prompt.
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
    /// A loaded file called `exit(code)`.
    Exit(i32),
}

/// `:help [word]`, `:load FILE`, `:quit`.
fn run_command(command: &str, api: &[ApiEntry], session: &mut Session) -> Flow {
    let (name, arg) = command
        .trim()
        .split_once(char::is_whitespace)
        .unwrap_or((command.trim(), ""));
    let arg = arg.trim();
    match name {
        "q" | "quit" | "exit" => return Flow::Quit,
        "h" | "help" => print!("{}", help(api, Some(arg).filter(|a| !a.is_empty()))),
        "l" | "load" if arg.is_empty() => eprintln!("usage: :load FILE"),
        "l" | "load" => {
            if let Some(code) = report(session.load(arg)) {
                return Flow::Exit(code);
            }
        }
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
            "ctrsh's script API (docs/api.md has examples); :help WORD narrows it; \
             :load FILE runs a script here; :quit leaves.\n",
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

/// rustyline's hooks: completion and colours.
struct ReplHelper {
    completion: Completion,
    /// Colour the input: only when stdout is a terminal.
    colour: bool,
}

impl Completer for ReplHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        Ok(self.completion.candidates(line, pos))
    }
}

/// Every line is accepted as typed: `read_input` asks for the rest of an
/// unfinished input with a prompt of its own.
impl Validator for ReplHelper {}

impl Hinter for ReplHelper {
    type Hint = String;
}

impl Highlighter for ReplHelper {
    fn highlight<'l>(&self, line: &'l str, _: usize) -> Cow<'l, str> {
        if self.colour {
            highlight::highlight(line).into()
        } else {
            line.into()
        }
    }

    /// Every edit may change colours (an opening quote colours the rest).
    fn highlight_char(&self, _: &str, _: usize, _: CmdKind) -> bool {
        self.colour
    }
}

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
    fn help_lists_and_filters() {
        let api = script::api(&engine());
        let all = help(&api, None);
        assert!(all.contains("factory(root: string) -> Factory"));
        let some = help(&api, Some("wait"));
        assert!(some.contains("wait(p: Process) -> int"));
        assert!(!some.contains("factory("));
        let mut session = Session::new(engine());
        assert_eq!(run_command("quit", &api, &mut session), Flow::Quit);
    }

    #[test]
    fn load_runs_a_file_in_the_session() {
        let path =
            std::env::temp_dir().join(format!("ctrsh-repl-load-{}.rhai", std::process::id()));
        std::fs::write(&path, "let loaded = 7;\nexit(3)").unwrap();
        let api = script::api(&engine());
        let mut session = Session::new(engine());
        let command = format!("load  {} ", path.display());
        assert_eq!(run_command(&command, &api, &mut session), Flow::Exit(3));
        assert_eq!(session.eval("loaded"), Step::Value("7".into()));
        assert_eq!(run_command("load", &api, &mut session), Flow::Continue);
        std::fs::remove_file(&path).unwrap();
    }
}
