//! Files in and out of a live container: copy_in, copy_out, read_file,
//! write_file, and captured output as bytes. Checks what the container
//! sees, that its mounts are reached, and that no symlink inside leads a
//! copy to a host file. Needs root and busybox (see tests/common).

mod common;

use common::{rhai_str, Sandbox};
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

/// Bytes that are not UTF-8 text, as a binary is.
fn binary_bytes() -> Vec<u8> {
    (0..4096u32).map(|i| (i * 7 % 256) as u8).collect()
}

#[test]
fn copies_reach_the_container_s_mounts_and_keep_owner_mode_and_bytes() {
    let Some(sb) = Sandbox::new("files-copy") else {
        return;
    };
    let src = sb.dir.join("src");
    fs::create_dir_all(src.join("sub")).unwrap();
    fs::write(src.join("a.txt"), "text\n").unwrap();
    std::os::unix::fs::chown(src.join("a.txt"), Some(1234), Some(5678)).unwrap();
    fs::set_permissions(src.join("a.txt"), fs::Permissions::from_mode(0o640)).unwrap();
    fs::write(src.join("sub/bin"), binary_bytes()).unwrap();
    fs::set_permissions(src.join("sub/bin"), fs::Permissions::from_mode(0o4755)).unwrap();
    std::os::unix::fs::symlink("../a.txt", src.join("sub/link")).unwrap();
    fs::set_permissions(src.join("sub"), fs::Permissions::from_mode(0o710)).unwrap();
    let out = sb.dir.join("out");

    let stdout = sb.script_ok(&format!(
        r#"config.mounts = [#{{ source: "tmpfs", destination: "/scratch", type: "tmpfs" }}];
spec.args = ["/bin/sleep", "1000"];
let c = f.create(id, config);
c.start(process(spec));
c.copy_in({src}, "/scratch");
let seen = c.exec(["/bin/sh", "-c", "cd /scratch/src && stat -c '%n %a %u %g %F' a.txt sub sub/bin sub/link && readlink sub/link"]);
print(seen.stdout);
let bytes = c.read_file("/scratch/src/sub/bin");
let cat = c.exec(["/bin/cat", "/scratch/src/sub/bin"]);
print(`READ ${{bytes.len()}} ${{cat.stdout_blob == bytes}} ${{cat.stdout.to_blob() != bytes}}`);
let data = blob(3, 0xff);
data.push(0);
c.write_file("/scratch/w.bin", data);
c.write_file("/etc/greeting", "hello");
let w = c.exec(["/bin/sh", "-c", "stat -c '%a %u' /etc/greeting && cat /etc/greeting"]);
print(`WRITTEN ${{c.exec(["/bin/cat", "/scratch/w.bin"]).stdout_blob == data}} ${{w.stdout}}`);
c.copy_out("/scratch/src", {out});
c.destroy();
"#,
        src = rhai_str(&src.to_string_lossy()),
        out = rhai_str(&out.to_string_lossy()),
    ));
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines[..5],
        [
            "a.txt 640 1234 5678 regular file",
            "sub 710 0 0 directory",
            "sub/bin 4755 0 0 regular file",
            "sub/link 777 0 0 symbolic link",
            "../a.txt",
        ],
        "{stdout}"
    );
    // The copy went to the container's tmpfs, not to the rootfs below it.
    assert!(!sb.rootfs.join("scratch/src").exists());
    // read_file and exec's blob are the file byte for byte; the text
    // result is not (invalid UTF-8 is replaced).
    assert!(stdout.contains("READ 4096 true true"), "{stdout}");
    assert!(stdout.contains("WRITTEN true 644 0\nhello"), "{stdout}");
    assert_eq!(fs::read(sb.rootfs.join("etc/greeting")).unwrap(), b"hello");

    // copy_out made `out` itself (it did not exist), a copy of the tree.
    let meta = |p: &str| fs::symlink_metadata(out.join(p)).unwrap();
    assert_eq!(fs::read(out.join("sub/bin")).unwrap(), binary_bytes());
    assert_eq!(fs::read(out.join("a.txt")).unwrap(), b"text\n");
    assert_eq!(
        (
            meta("a.txt").mode() & 0o7777,
            meta("a.txt").uid(),
            meta("a.txt").gid()
        ),
        (0o640, 1234, 5678)
    );
    assert_eq!(meta("sub").mode() & 0o7777, 0o710);
    assert_eq!(meta("sub/bin").mode() & 0o7777, 0o4755);
    assert_eq!(
        fs::read_link(out.join("sub/link")).unwrap(),
        Path::new("../a.txt")
    );
    sb.assert_nothing_left(&sb.id);
}

#[test]
fn symlinks_inside_never_lead_a_copy_to_a_host_file() {
    let Some(sb) = Sandbox::new("files-escape") else {
        return;
    };
    // Host files the container's links name by their host paths.
    let secret = sb.dir.join("secret");
    fs::write(&secret, "HOST SECRET").unwrap();
    let victim = sb.dir.join("victim");
    fs::write(&victim, "ORIGINAL").unwrap();
    let fresh = sb.dir.join("fresh");
    let payload = sb.dir.join("payload");
    fs::write(&payload, "PWNED").unwrap();
    let climb = format!("../../../../../../../..{}", secret.display());
    let links = [
        ("leak", secret.to_string_lossy().into_owned()),
        ("climb", climb),
        ("evil", victim.to_string_lossy().into_owned()),
        ("fresh", fresh.to_string_lossy().into_owned()),
        ("hostdir", sb.dir.to_string_lossy().into_owned()),
    ];
    for (name, target) in &links {
        std::os::unix::fs::symlink(target, sb.rootfs.join(name)).unwrap();
    }
    let out = sb.dir.join("out");

    let stdout = sb.script_ok(&format!(
        r#"spec.args = ["/bin/sleep", "1000"];
let c = f.create(id, config);
c.start(process(spec));
let tries = [
    || c.copy_out("/leak", {out}),
    || c.copy_out("/climb", {out}),
    || c.read_file("/leak"),
    || c.read_file("/climb"),
    || c.write_file("/fresh", "PWNED"),
    || c.write_file("/evil", "PWNED"),
    || c.copy_in({payload}, "/fresh"),
    || c.copy_in({payload}, "/hostdir/fresh"),
    || c.copy_in({payload}, "/hostdir"),
];
for t in tries {{
    try {{ t.call(); print("DONE"); }} catch (e) {{ print(`ERR ${{e.kind}}: ${{e.message}}`); }}
}}
c.destroy();
"#,
        out = rhai_str(&out.to_string_lossy()),
        payload = rhai_str(&payload.to_string_lossy()),
    ));
    // The host's files are untouched, and nothing was read out.
    assert_eq!(fs::read_to_string(&victim).unwrap(), "ORIGINAL");
    assert!(!fresh.exists(), "{stdout}");
    assert!(!out.exists(), "{stdout}");
    assert!(!stdout.contains("HOST SECRET"), "{stdout}");
    let results: Vec<&str> = stdout.lines().collect();
    assert_eq!(results.len(), 9, "{stdout}");
    for (i, line) in results[..4].iter().enumerate() {
        assert!(line.starts_with("ERR not_found: "), "try {i}: {line}");
        assert!(line.contains(&sb.id), "names the container: {line}");
    }
    // Writing through a link that leaves the root fails (its directory
    // does not exist inside); a copy to the link replaces the link.
    assert!(results[4].starts_with("ERR "), "{stdout}");
    assert!(results[5].starts_with("ERR "), "{stdout}");
    assert_eq!(results[6], "DONE");
    assert!(results[7].starts_with("ERR not_found: "), "{stdout}");
    assert_eq!(results[8], "DONE");
    // Both DONEs replaced the link in the container's root by the file.
    for name in ["fresh", "hostdir"] {
        assert_eq!(fs::read_to_string(sb.rootfs.join(name)).unwrap(), "PWNED");
    }
    sb.assert_nothing_left(&sb.id);
}
