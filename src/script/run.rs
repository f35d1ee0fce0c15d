//! Running a whole script and turning how it ended into an exit status.

use super::builtins::ExitCode;
use super::errors::{describe, thrown_kind};
use super::interrupt;
use rhai::{Dynamic, Engine, EvalAltResult, Scope};

/// How a script ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Ending {
    /// Ran to the end.
    Finished,
    /// Called `exit(code)`.
    Exit(i32),
    /// Failed to compile or raised an uncaught error: `file:line:column: message`.
    Failed(String),
    /// Interrupted by signal N (Ctrl-C: SIGINT) and not ended by `exit`:
    /// the script did not catch the interruption, or caught it and ended.
    Interrupted(i32),
}

impl Ending {
    /// The process exit status for this ending: 128+N for signal N (130
    /// for Ctrl-C), as shells do.
    pub fn status(&self) -> i32 {
        match self {
            Ending::Finished => 0,
            Ending::Exit(code) => *code,
            Ending::Failed(_) => 1,
            Ending::Interrupted(sig) => 128 + sig,
        }
    }
}

/// Compiles and runs `code`; `name` is what error positions are prefixed
/// with (a path, "-e" or "<stdin>") and the base for relative imports.
pub fn run_script(engine: &Engine, name: &str, code: &str) -> Ending {
    let mut ast = match engine.compile(strip_shebang(code)) {
        Ok(ast) => ast,
        Err(err) => return Ending::Failed(describe(name, &err.into())),
    };
    ast.set_source(name);
    let _running = interrupt::running_guard();
    let result = engine.eval_ast_with_scope::<Dynamic>(&mut Scope::new(), &ast);
    ending(name, result)
}

/// How an evaluation that ran ended; a signal that came during it makes
/// it "interrupted" unless the script ended with `exit(code)` or failed
/// with some other error.
pub fn ending(name: &str, result: Result<Dynamic, Box<EvalAltResult>>) -> Ending {
    let sig = interrupt::signal();
    match (result, sig) {
        (Ok(value), _) if exit_status(&value).is_some() => {
            Ending::Exit(exit_status(&value).unwrap_or_default())
        }
        (Ok(_), Some(sig)) => Ending::Interrupted(sig),
        (Ok(_), None) => Ending::Finished,
        (Err(err), Some(sig)) if thrown_kind(&err).as_deref() == Some("interrupted") => {
            Ending::Interrupted(sig)
        }
        (Err(err), _) => Ending::Failed(describe(name, &err)),
    }
}

/// The status given to `exit(code)`, when `value` is what evaluation
/// returned because of it.
pub fn exit_status(value: &Dynamic) -> Option<i32> {
    value.read_lock::<ExitCode>().map(|code| code.0)
}

/// Blanks a leading `#!` line, keeping its newline so line numbers stay right.
fn strip_shebang(code: &str) -> &str {
    if code.starts_with("#!") {
        // Slicing from the newline keeps it; no newline means nothing else.
        code.find('\n').map_or("", |i| &code[i..])
    } else {
        code
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(code: &str) -> Ending {
        run_script(
            &super::super::engine(vec!["a".into(), "b".into()]),
            "t",
            code,
        )
    }

    #[test]
    fn shebang_is_skipped_and_lines_still_count() {
        assert_eq!(strip_shebang("#!/bin/ctrsh\nx"), "\nx");
        match run("#!/usr/bin/env ctrsh\nlet x = 1;\nundefined_fn();") {
            Ending::Failed(msg) => assert!(msg.starts_with("t:3:1: "), "{msg}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn exit_code_is_not_a_last_value() {
        assert_eq!(run("exit(3); 5"), Ending::Exit(3));
        assert_eq!(run("5"), Ending::Finished);
        assert_eq!(run("fn f() { exit(4) } f()"), Ending::Exit(4));
        assert!(matches!(run("exit(300)"), Ending::Failed(_)));
    }

    #[test]
    fn args_inside_functions() {
        assert_eq!(
            run(r#"fn f() { ARGS[1] } if f() != "b" { exit(1) }"#),
            Ending::Finished
        );
    }

    #[test]
    fn thrown_map_prints_its_message() {
        match run(r#"throw #{ kind: "config", message: "bad key" }"#) {
            Ending::Failed(msg) => assert_eq!(msg, "t:1:1: bad key"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn error_inside_a_function_names_the_call() {
        match run("fn f() {\n  throw \"boom\";\n}\nf();") {
            Ending::Failed(msg) => {
                assert!(msg.starts_with("t:2:3: boom"), "{msg}");
                assert!(msg.contains("in call to 'f' at t:4:1"), "{msg}");
            }
            other => panic!("{other:?}"),
        }
    }
}
