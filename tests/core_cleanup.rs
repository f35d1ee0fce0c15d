//! A create or start that fails leaves nothing behind (no state dir, no
//! process) and says what was wrong.

mod common;

use common::{rhai_str, Sandbox};

/// In a sandbox for `test`, runs the script `body` makes, which must fail
/// with an error mentioning `what`, then checks that nothing of the
/// container is left.
fn fails_naming_and_leaves_nothing(test: &str, body: impl FnOnce(&Sandbox) -> String, what: &str) {
    let Some(sb) = Sandbox::new(test) else {
        return;
    };
    let out = sb.script(&body(&sb));
    assert!(
        matches!(out.code, Some(c) if c != 0),
        "the script should fail:\n{out}"
    );
    assert!(
        out.stderr.contains(what),
        "the error does not name '{what}':\n{out}"
    );
    sb.assert_nothing_left(&sb.id);
}

/// The start of a created container, after `setting` (a change to the
/// process's `spec`), fails naming `what` and leaves nothing.
fn start_fails_naming_and_leaves_nothing(test: &str, setting: &str, what: &str) {
    fails_naming_and_leaves_nothing(
        test,
        |_| format!("let c = f.create(id, config);\n{setting}\nc.start(process(spec));\n"),
        what,
    );
}

#[test]
fn create_with_a_missing_rootfs_fails_and_leaves_nothing() {
    fails_naming_and_leaves_nothing(
        "no-rootfs",
        |sb| {
            let missing = sb.dir.join("no-such-rootfs");
            format!(
                "config.rootfs = {};\nf.create(id, config);\n",
                rhai_str(&missing.to_string_lossy())
            )
        },
        "no-such-rootfs",
    );
}

#[test]
fn start_as_an_unknown_user_fails_and_leaves_nothing() {
    start_fails_naming_and_leaves_nothing("bad-user", r#"spec.user = "nosuchuser";"#, "nosuchuser");
}

#[test]
fn start_in_a_missing_cwd_fails_and_leaves_nothing() {
    start_fails_naming_and_leaves_nothing(
        "bad-cwd",
        r#"spec.cwd = "/no/such/dir";"#,
        "/no/such/dir",
    );
}

#[test]
fn start_of_a_missing_program_fails_and_leaves_nothing() {
    start_fails_naming_and_leaves_nothing(
        "bad-program",
        r#"spec.args = ["/bin/no-such-program"];"#,
        "/bin/no-such-program",
    );
}
