//! The `ctrsh` command as a script runner: ways to run a script, ARGS, exit
//! status and error reports. Needs no root and runs no container. Every
//! ctrsh runs through common::RunningScript: killed if the test fails,
//! waited for with a deadline.

mod common;

use common::{Output, RunningScript, TempDir, CTRSH};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

fn ctrsh(args: &[&str]) -> Output {
    RunningScript::spawn(Command::new(CTRSH).args(args)).finish()
}

fn stdout(out: &Output) -> String {
    out.stdout.clone()
}

fn stderr(out: &Output) -> String {
    out.stderr.clone()
}

/// Runs ctrsh with `args`, which must exit 1; what it said on stderr.
fn fails(args: &[&str]) -> String {
    let out = ctrsh(args);
    assert_eq!(out.code, Some(1), "{out}");
    out.stderr
}

#[test]
fn inline_code_prints() {
    let out = ctrsh(&["-e", "print(40+2)"]);
    assert_eq!(stdout(&out), "42\n");
    assert_eq!(out.code, Some(0), "{}", stderr(&out));
}

#[test]
fn exit_sets_the_status() {
    assert_eq!(ctrsh(&["-e", "exit(3)"]).code, Some(3));
    assert_eq!(
        ctrsh(&["-e", "fn f() { exit(4); } f(); print(1)"]).code,
        Some(4)
    );
    // A last value is not an exit status.
    assert_eq!(ctrsh(&["-e", "7"]).code, Some(0));
}

#[test]
fn error_reports_position_and_fails() {
    let err = fails(&["-e", "let x = 1; nope(x)"]);
    assert!(err.starts_with("-e:1:12: "), "{err}");
    assert!(err.contains("nope"), "{err}");
}

#[test]
fn thrown_map_prints_its_message_not_a_map() {
    let err = fails(&[
        "-e",
        "\n  throw #{ kind: \"state\", message: \"not running\" };",
    ]);
    assert_eq!(err, "-e:2:3: not running\n");
}

#[test]
fn syntax_error_reports_position() {
    let err = fails(&["-e", "let = 5;"]);
    assert!(err.starts_with("-e:1:5: syntax error"), "{err}");
}

#[test]
fn script_file_gets_args_also_inside_functions() {
    let dir = TempDir::new("args");
    let script = dir.write(
        "args.rhai",
        "fn second() { ARGS[1] }\nprint(ARGS.len());\nprint(second());\n",
    );
    let out = ctrsh(&[script.to_str().unwrap(), "one", "two", "--help"]);
    assert_eq!(stdout(&out), "3\ntwo\n", "{}", stderr(&out));
    assert_eq!(out.code, Some(0));
}

#[test]
fn error_in_a_file_names_the_file() {
    let dir = TempDir::new("file-error");
    let script = dir.write("bad.rhai", "fn f() {\n    undefined_thing\n}\nf();\n");
    let err = fails(&[script.to_str().unwrap()]);
    assert!(
        err.starts_with(&format!("{}:2:5: ", script.display())),
        "{err}"
    );
    assert!(
        err.contains(&format!("in call to 'f' at {}:4:1", script.display())),
        "{err}"
    );
}

#[test]
fn missing_script_file_fails() {
    let out = ctrsh(&["/nonexistent/script.rhai"]);
    assert_eq!(out.code, Some(1));
    assert!(
        stderr(&out).contains("No such file or directory"),
        "{}",
        stderr(&out)
    );
}

/// Runs a freshly written executable (RunningScript waits out the ETXTBSY
/// of another test thread's fork that still holds it open for writing).
fn run_executable(path: &Path, args: &[&str]) -> Output {
    RunningScript::spawn(Command::new(path).args(args)).finish()
}

#[test]
fn shebang_script_runs_directly() {
    let dir = TempDir::new("shebang");
    let script = dir.write(
        "hello.rhai",
        &format!("#!{CTRSH}\nprint(`hello ${{ARGS[0]}}`);\nnope();\n"),
    );
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = run_executable(&script, &["world"]);
    assert_eq!(stdout(&out), "hello world\n");
    // The #! line still counts: the error is on line 3.
    assert!(
        stderr(&out).starts_with(&format!("{}:3:1: ", script.display())),
        "{}",
        stderr(&out)
    );
    assert_eq!(out.code, Some(1));
}

fn ctrsh_with_stdin(args: &[&str], input: &str) -> Output {
    RunningScript::spawn_with_stdin(Command::new(CTRSH).args(args), input).finish()
}

#[test]
fn script_on_stdin() {
    let out = ctrsh_with_stdin(
        &[],
        "#!/usr/bin/env ctrsh\nprint(ARGS.len() + 1);\nexit(5);\n",
    );
    assert_eq!(stdout(&out), "1\n", "{}", stderr(&out));
    assert_eq!(out.code, Some(5));

    let out = ctrsh_with_stdin(&["-", "a"], "print(ARGS[0]);\nx.y();");
    assert_eq!(stdout(&out), "a\n");
    assert!(stderr(&out).starts_with("<stdin>:2:"), "{}", stderr(&out));
}

#[test]
fn help_version_and_bad_options() {
    let out = ctrsh(&["--help"]);
    assert_eq!(out.code, Some(0));
    assert!(stdout(&out).contains("ctrsh -e CODE"));
    let out = ctrsh(&["--version"]);
    assert_eq!(
        stdout(&out),
        format!("ctrsh {}\n", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(ctrsh(&["--bogus"]).code, Some(2));
    assert_eq!(ctrsh(&["-e"]).code, Some(2));
}

#[test]
fn config_error_is_catchable_and_names_the_key() {
    let root = TempDir::new("config-catch");
    let code = format!(
        r#"try {{
               factory("{}").create("a", #{{ rootfs: "/", namespces: [] }});
               print("created");
           }} catch (e) {{
               print(e.kind);
               print(e.message);
           }}"#,
        root.path().display()
    );
    let out = ctrsh(&["-e", &code]);
    assert_eq!(out.code, Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("config"), "{text}");
    let message = lines.next().unwrap_or_default();
    assert!(message.contains("namespces"), "{message}");
    assert!(message.contains("did you mean 'namespaces'"), "{message}");
}

#[test]
fn uncaught_config_error_is_printed_with_position() {
    let root = TempDir::new("config-uncaught");
    let code = format!(
        "let f = factory(\"{}\");\nf.create(\"a\", #{{ rootfs: \"/\", cgroups: #{{ memroy: \"1M\" }} }});",
        root.path().display()
    );
    let err = fails(&["-e", &code]);
    assert_eq!(
        err,
        "-e:2:3: invalid config: cgroups.memroy: unknown field `memroy` (did you mean 'memory'?)\n"
    );
}

#[test]
fn process_spec_errors_name_the_key() {
    let err = fails(&["-e", "process(#{ args: [\"/bin/true\"], stdout: 5 })"]);
    assert!(
        err.starts_with("-e:1:1: invalid process: stdout: "),
        "{err}"
    );
}

#[test]
fn ctrl_c_stops_a_sleeping_script() {
    let script = RunningScript::spawn(
        Command::new(CTRSH).args(["-e", "print(\"sleeping\"); sleep(30); print(\"woke\")"]),
    );
    // "sleeping" shows the script runs, so the SIGINT handler is in place.
    script.wait_for_stdout("sleeping\n");
    // SAFETY: a signal to the child this test started.
    unsafe { libc::kill(script.pid() as libc::pid_t, libc::SIGINT) };
    let out = script.finish();
    assert_eq!(out.stdout, "sleeping\n", "the script went on after Ctrl-C");
    assert_eq!(out.code, Some(130), "{}", stderr(&out));
}

#[test]
fn factory_handles_are_shared_and_printable() {
    let root = TempDir::new("factory");
    let code = format!(
        r#"let f = factory("{root}");
           let g = f;
           print(type_of(f));
           print(f.root);
           print(f == g && f == factory("{root}"));
           print(`${{f}}`);"#,
        root = root.path().display()
    );
    let out = ctrsh(&["-e", &code]);
    assert_eq!(
        stdout(&out),
        format!(
            "Factory\n{root}\ntrue\nFactory({root})\n",
            root = root.path().display()
        ),
        "{}",
        stderr(&out)
    );
}

#[test]
fn interactive_prompt_keeps_state_between_inputs() {
    let input = "let a = 1;\nfn f(x) {\n  x + 41\n}\nf(a)\n:help wait\nnope()\nexit(6)\nprint(\"not reached\")\n";
    let out = ctrsh_with_stdin(&["-i", "arg"], input);
    let text = stdout(&out);
    assert!(text.contains("42\n"), "{text}");
    assert!(text.contains("wait(p: Process) -> int"), "{text}");
    assert!(!text.contains("not reached"), "{text}");
    assert!(
        stderr(&out).contains("<repl>:1:1: no function nope()"),
        "{}",
        stderr(&out)
    );
    assert_eq!(out.code, Some(6));
}

#[test]
fn error_in_an_imported_module_names_the_module_file() {
    let dir = TempDir::new("module");
    dir.write("lib.rhai", "fn boom() {\n    throw \"from lib\";\n}\n");
    let main = dir.write("main.rhai", "import \"lib\" as lib;\n\nlib::boom();\n");
    let err = fails(&[main.to_str().unwrap()]);
    // Rhai names the function's source by the import path as written.
    assert!(err.starts_with("lib:2:5: from lib\n"), "{err}");
    assert!(
        err.contains(&format!("in call to 'boom' at {}:3:6", main.display())),
        "{err}"
    );
}

#[test]
fn runtime_errors_are_catchable_maps_with_a_kind() {
    let root = TempDir::new("kinds");
    let code = format!(
        r#"let f = factory("{}");
           try {{ f.load("nope") }} catch (e) {{ print(e.kind) }}
           try {{ process(#{{ args: ["/bin/true"], env: ["NOEQ"] }}) }} catch (e) {{ print(e.kind + ": " + e.message) }}
           let p = process(#{{ args: ["/bin/true"] }});
           print(p.pid);
           try {{ p.wait() }} catch (e) {{ print(e.kind) }}
           try {{ p.signal(99999999999) }} catch (e) {{ print(e.message) }}"#,
        root.path().display()
    );
    let out = ctrsh(&["-e", &code]);
    assert_eq!(
        stdout(&out),
        "not_found\n\
         config: invalid process: env: 'NOEQ' is not of the form KEY=value\n\
         \n\
         state\n\
         signal: 99999999999 is out of range\n",
        "{}",
        stderr(&out)
    );
}
