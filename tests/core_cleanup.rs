//! A create or start that fails leaves nothing behind (no state dir, no
//! process) and says what was wrong.

mod common;

use common::{rhai_str, Sandbox};

/// Runs `body`, which must fail with an error mentioning `what`, then
/// checks that nothing of the container is left.
fn fails_naming_and_leaves_nothing(sb: &Sandbox, body: &str, what: &str) {
    let out = sb.script(body);
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

#[test]
fn create_with_a_missing_rootfs_fails_and_leaves_nothing() {
    let Some(sb) = Sandbox::new("no-rootfs") else {
        return;
    };
    let missing = sb.dir.join("no-such-rootfs");
    fails_naming_and_leaves_nothing(
        &sb,
        &format!(
            "config.rootfs = {};\nf.create(id, config);\n",
            rhai_str(&missing.to_string_lossy())
        ),
        "no-such-rootfs",
    );
}

#[test]
fn start_as_an_unknown_user_fails_and_leaves_nothing() {
    let Some(sb) = Sandbox::new("bad-user") else {
        return;
    };
    fails_naming_and_leaves_nothing(
        &sb,
        r#"let c = f.create(id, config);
spec.user = "nosuchuser";
c.start(process(spec));
"#,
        "nosuchuser",
    );
}

#[test]
fn start_in_a_missing_cwd_fails_and_leaves_nothing() {
    let Some(sb) = Sandbox::new("bad-cwd") else {
        return;
    };
    fails_naming_and_leaves_nothing(
        &sb,
        r#"let c = f.create(id, config);
spec.cwd = "/no/such/dir";
c.start(process(spec));
"#,
        "/no/such/dir",
    );
}

#[test]
fn start_of_a_missing_program_fails_and_leaves_nothing() {
    let Some(sb) = Sandbox::new("bad-program") else {
        return;
    };
    fails_naming_and_leaves_nothing(
        &sb,
        r#"let c = f.create(id, config);
spec.args = ["/bin/no-such-program"];
c.start(process(spec));
"#,
        "/bin/no-such-program",
    );
}
