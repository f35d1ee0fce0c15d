//! The REPL as a person uses it: `ctrsh` on a real pseudo-terminal, typed
//! at with Tab, arrows, Ctrl-C and Ctrl-D. Needs no root and no containers.

mod common;

use common::pty::Pty;
use common::{TempDir, CTRSH};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A test's HOME (with XDG_STATE_HOME under it): a TempDir.
type Home = TempDir;

/// The REPL's history file in `home`.
fn history(home: &Home) -> PathBuf {
    home.0.join("state/ctrsh/history")
}

/// `ctrsh` with a pty as its controlling terminal and stdin/stdout/stderr,
/// and `home` as its HOME, once it shows its first prompt.
fn repl(home: &Path) -> Pty {
    let mut repl = Pty::start(
        Command::new(CTRSH)
            .env("HOME", home)
            .env("XDG_STATE_HOME", home.join("state"))
            .env("TERM", "xterm"),
        40,
        120,
    );
    repl.expect(PROMPT);
    repl
}

/// Types `line` and Enter: the line is echoed, `answer` follows on the
/// next line, then the prompt.
fn eval(repl: &mut Pty, line: &str, answer: &str) {
    repl.send(&format!("{line}\r"));
    repl.expect(&format!("{line}\n{answer}"));
    repl.expect(PROMPT);
}

/// Ctrl-D at the prompt: the REPL leaves with status 0.
fn quit(mut repl: Pty) {
    repl.send("\x04");
    assert_eq!(repl.wait().code(), Some(0));
}

/// A new prompt: the line editor draws it on a line of its own once it
/// reads keys again, with the terminal raw; its redraws while a line is
/// typed follow the text before them. A test types only after one, so
/// that no key meets the cooked terminal of an input still running (which
/// echoes it, and turns a Ctrl-D into a NUL and a Ctrl-C into SIGINT).
const PROMPT: &str = "\nctrsh> ";
const MORE: &str = "\n...> ";

#[test]
fn tab_completes_and_lists_what_is_ambiguous() {
    let home = Home::new("complete");
    let mut repl = repl(&home.0);
    repl.send("let p = process(#{ args: [\"/bin/true\"] });\r");
    repl.expect(PROMPT);
    // An ambiguous Tab completes what the candidates share; a second one
    // lists them. A variable's members are its type's.
    repl.send("p.std\t");
    repl.expect("p.std");
    repl.send("\t");
    let listed = repl.expect("stdout_blob");
    for name in ["stderr", "stderr_blob", "stdout"] {
        assert!(listed.contains(name), "{listed}");
    }
    repl.send("o\t");
    repl.expect("p.stdout");
    // Ctrl-C drops the line; the prompt is back and still works.
    repl.send("\x03");
    repl.expect(PROMPT);
    eval(&mut repl, "40 + 2", "42");
    quit(repl);
}

#[test]
fn a_function_typed_over_three_lines() {
    let home = Home::new("multiline");
    let mut repl = repl(&home.0);
    // Line by line, each typed at its prompt and shown before the next, as
    // a person would: the unfinished input's lines get the `...> ` prompt.
    repl.send("fn triple(x) {");
    repl.expect("fn triple(x) {");
    for line in ["    x * 3", "}"] {
        repl.send("\r");
        repl.expect(MORE);
        repl.send(line);
        repl.expect(line);
    }
    repl.send("\r");
    repl.expect(PROMPT);
    eval(&mut repl, "triple(14)", "42");
    quit(repl);
}

#[test]
fn history_is_kept_across_sessions() {
    let home = Home::new("history");
    let mut first = repl(&home.0);
    first.send("let marker = 4242;\r");
    first.expect(PROMPT);
    quit(first);
    let saved = std::fs::read_to_string(history(&home)).expect("read the history file");
    assert!(saved.contains("let marker = 4242;"), "{saved}");

    let mut second = repl(&home.0);
    // Up arrow: the previous session's line comes back; Enter runs it.
    second.send("\x1b[A");
    second.expect("let marker = 4242;");
    second.send("\r");
    second.expect(PROMPT);
    eval(&mut second, "marker + 1", "4243");
    quit(second);
    let saved = std::fs::read_to_string(history(&home)).expect("read the history file");
    assert!(saved.contains("marker + 1"), "{saved}");
}

#[test]
fn ctrl_c_stops_a_sleep_and_returns_to_the_prompt() {
    let home = Home::new("interrupt");
    let mut repl = repl(&home.0);
    repl.send("sleep(100)\r");
    repl.expect("sleep(100)");
    // A Ctrl-C while the line editor still reads would only drop the line.
    repl.wait_for_cooked_mode();
    repl.send("\x03");
    // Well before the 100 s are over.
    repl.expect("interrupted");
    repl.expect(PROMPT);
    eval(&mut repl, "1 + 1", "2");
    quit(repl);
}

#[test]
fn ctrl_d_leaves_with_status_0() {
    let home = Home::new("eof");
    quit(repl(&home.0));
}

#[test]
fn stdlib_imports_last_the_session() {
    let home = Home::new("import");
    let mut repl = repl(&home.0);
    repl.send("import \"limits\" as limits;\r");
    repl.expect(PROMPT);
    eval(&mut repl, "limits::pids(3)", "#{\"pids_limit\": 3}");
    quit(repl);
}

#[test]
fn load_runs_a_file_in_the_session() {
    let home = Home::new("load");
    let lib = home.0.join("lib.rhai");
    std::fs::write(&lib, "let base = 40;\nfn add2(x) { x + 2 }\n").unwrap();
    let bad = home.0.join("bad.rhai");
    std::fs::write(&bad, "let y = 1;\nnope(y)\n").unwrap();
    let mut repl = repl(&home.0);
    repl.send(&format!(":load {}\r", lib.display()));
    repl.expect(PROMPT);
    eval(&mut repl, "add2(base)", "42");
    repl.send(&format!(":load {}\r", bad.display()));
    repl.expect(&format!("{}:2:1: ", bad.display()));
    repl.expect(PROMPT);
    quit(repl);
}

#[test]
fn tab_completes_config_keys_and_paths() {
    let home = Home::new("keys");
    std::fs::create_dir_all(home.0.join("rootfs-dir")).unwrap();
    let mut repl = repl(&home.0);
    // One candidate: Tab writes it out.
    repl.send("let cfg = #{ rootf\t");
    repl.expect("#{ rootfs");
    repl.send(&format!(": \"{}/rootfs-d\t", home.0.display()));
    repl.expect(&format!("rootfs: \"{}/rootfs-dir/", home.0.display()));
    repl.send("\", cgroups: #{ pids_\t");
    repl.expect("cgroups: #{ pids_limit");
    repl.send(": 5 } };\r");
    repl.expect(PROMPT);
    eval(&mut repl, "cfg.cgroups.pids_limit", "5");
    quit(repl);
}

#[test]
fn input_is_coloured_on_a_terminal() {
    let home = Home::new("colour");
    let mut repl = repl(&home.0);
    repl.send("let s = \"x\"; // note\r");
    repl.expect(PROMPT);
    let raw = repl.raw();
    for coloured in [
        "\x1b[1;35mlet\x1b[0m",
        "\x1b[32m\"x\"\x1b[0m",
        "\x1b[90m// note\x1b[0m",
    ] {
        assert!(raw.contains(coloured), "{coloured:?} not in {raw:?}");
    }
    // Colours do not reach what runs: the string is still one character.
    eval(&mut repl, "s.len()", "1");
    quit(repl);
}

/// What a newcomer types first: bare `help`, a stdlib module's functions
/// with Tab and `:help`, a member of a name the prompt does not know, a
/// long map, and a bare `exit`.
#[test]
fn help_modules_unknown_names_long_values_and_a_bare_exit() {
    let home = Home::new("newcomer");
    let mut repl = repl(&home.0);
    repl.send("help\r");
    repl.expect("ctrsh's script API");
    repl.expect(PROMPT);
    repl.send("rootfs::bu\t");
    repl.expect("rootfs::busybox");
    repl.send("\x03");
    repl.expect(PROMPT);
    repl.send(":help rootfs\r");
    // The module, how to import it, and its functions with their docs (a
    // script function's comment lines joined, without their `///`).
    repl.expect("import \"rootfs\" as rootfs;");
    let described = repl.expect("rootfs::cache_dir()");
    assert!(described.contains("rootfs::busybox(dir)"), "{described}");
    assert!(
        described.contains("applet, etc/passwd") && !described.contains("///"),
        "{described}"
    );
    repl.expect(PROMPT);
    // Nothing is offered after an unknown name's dot, even on a second Tab.
    repl.send("zz.\t\t\x03");
    repl.expect(PROMPT);
    repl.send("40 + 2\r");
    let typed = repl.expect("\n42");
    assert!(
        !typed.contains("destroy") && !typed.contains("signal"),
        "{typed}"
    );
    repl.expect(PROMPT);
    repl.send("#{ alpha: \"a long value that fills most of the line\", beta: [1, 2, 3], gamma: \"more\" }\r");
    repl.expect("#{\n    \"alpha\": \"a long value that fills most of the line\",\n    \"beta\": [1, 2, 3],\n    \"gamma\": \"more\",\n}");
    repl.expect(PROMPT);
    repl.send("exit\r");
    assert_eq!(repl.wait().code(), Some(0), "{}", repl.raw());
}
