//! Host-side file helpers for the stdlib modules (building a rootfs, a cache
//! directory): scripts have no file access of their own. Each is a plain
//! std::fs or std::process call on the HOST, never inside a container, and
//! fails with a `#{kind, message}` naming the path. They are the script
//! layer's only system access besides the runtime's API: ordinary file
//! work, not container kernel work, which stays in runtime/.

use super::convert::to_strings;
use super::errors::{raise, ScriptResult};
use super::func;
use crate::runtime;
use crate::runtime::error::{describe_io, ErrorKind};
use rhai::{Array, Dynamic, Engine, EvalAltResult, Map, INT};
use std::io;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};

pub fn register(engine: &mut Engine) {
    func(
        "write_file",
        &["path: string", "text: string"],
        "Host: create or replace the file `path` with `text`.",
    )
    .with_volatility(true)
    .register_into_engine(engine, |path: &str, text: &str| {
        fs_result(std::fs::write(path, text), "write", path)
    });

    func(
        "mkdir",
        &["path: string"],
        "Host: create the directory `path` and missing parents (no error if it exists).",
    )
    .with_volatility(true)
    .register_into_engine(engine, |path: &str| {
        fs_result(std::fs::create_dir_all(path), "create directory", path)
    });

    func(
        "symlink",
        &["target: string", "path: string"],
        "Host: make `path` a symbolic link to `target`.",
    )
    .with_volatility(true)
    .register_into_engine(engine, |target: &str, path: &str| {
        fs_result(
            std::os::unix::fs::symlink(target, path),
            "create symlink",
            path,
        )
    });

    func(
        "copy_file",
        &["src: string", "dst: string"],
        "Host: copy the file `src` to `dst`, with its permission bits.",
    )
    .with_volatility(true)
    .register_into_engine(engine, |src: &str, dst: &str| {
        fs_result(
            std::fs::copy(src, dst).map(drop),
            "copy",
            &format!("{src} to {dst}"),
        )
    });

    func(
        "rename",
        &["from: string", "to: string"],
        "Host: rename `from` to `to` atomically (an existing empty directory `to` is replaced).",
    )
    .with_volatility(true)
    .register_into_engine(engine, |from: &str, to: &str| {
        fs_result(
            std::fs::rename(from, to),
            "rename",
            &format!("{from} to {to}"),
        )
    });

    func(
        "path_exists",
        &["path: string", "bool"],
        "Host: whether `path` exists (a dangling symlink counts).",
    )
    .with_volatility(true)
    .register_into_engine(engine, |path: &str| std::fs::symlink_metadata(path).is_ok());

    func(
        "unique_name",
        &["prefix: string", "string"],
        "`prefix-PID-N`: a name no other call, in this or another ctrsh process, returns.",
    )
    .with_volatility(true)
    .register_into_engine(engine, unique_name);

    func(
        "run_host",
        &["args: array", "map"],
        "Host: run the host program `args[0]` with output captured; returns `#{code, stdout, stderr}`.",
    )
    .with_volatility(true)
    .register_into_engine(engine, run_host);
}

/// An io result as a script result, the error naming what was done to which path.
fn fs_result(result: io::Result<()>, what: &str, path: &str) -> ScriptResult<()> {
    result.map_err(|e| io_error(format!("{what} {path}"), &e))
}

/// A `"not_found"` error for a missing path, else `"system"`.
fn io_error(what: String, err: &io::Error) -> Box<EvalAltResult> {
    let kind = if err.kind() == io::ErrorKind::NotFound {
        ErrorKind::NotFound
    } else {
        ErrorKind::System
    };
    raise(runtime::Error::new(
        kind,
        format!("{what}: {}", describe_io(err)),
    ))
}

fn unique_name(prefix: &str) -> String {
    // The pid tells processes apart, the counter calls within one.
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-{}-{n}", std::process::id())
}

fn run_host(args: Array) -> ScriptResult<Map> {
    let args = to_strings(args, "run_host args")?;
    let Some((program, rest)) = args.split_first() else {
        return Err(raise(runtime::Error::config(
            "run_host: args is empty (expected the program and its arguments)",
        )));
    };
    let out = Command::new(program)
        .args(rest)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| io_error(format!("run_host: run {program}"), &e))?;
    // Killed by a signal: 128+N, as Process.wait() reports it.
    let code = out
        .status
        .code()
        .unwrap_or_else(|| 128 + out.status.signal().unwrap_or(0));
    let mut map = Map::new();
    map.insert("code".into(), Dynamic::from(code as INT));
    map.insert(
        "stdout".into(),
        String::from_utf8_lossy(&out.stdout).into_owned().into(),
    );
    map.insert(
        "stderr".into(),
        String::from_utf8_lossy(&out.stderr).into_owned().into(),
    );
    Ok(map)
}
