//! The Container type: state, config and the operations on it.

use super::builtins::seconds;
use super::convert::{to_json_map, to_script, to_strings};
use super::errors::{narrow, raise, OrRaise, ScriptResult};
use super::process::{blob, signal_number, text, ProcessHandle};
use super::{func, getter, made, register_display, register_equality, setter};
use crate::runtime::host::process::parse_signal;
use crate::runtime::image::Image;
use crate::runtime::{self, Container};
use rhai::{Array, Blob, Dynamic, Engine, Map, FLOAT, INT};
use std::path::Path;
use std::sync::Arc;

/// A script's Container: copies name the same container. Runtime containers
/// keep their state behind `&self`, so an `Arc` is enough.
#[derive(Debug, Clone)]
pub struct ContainerHandle(pub(super) Arc<Container>);

impl ContainerHandle {
    pub fn new(container: Container) -> Self {
        ContainerHandle(Arc::new(container))
    }

    /// `Container(id, state)`; the state is left out if it cannot be read.
    fn describe(&mut self) -> String {
        match self.0.status() {
            Ok(status) => format!("Container({}, {status})", self.0.id()),
            Err(_) => format!("Container({})", self.0.id()),
        }
    }
}

pub fn register(engine: &mut Engine) {
    engine.register_type_with_name::<ContainerHandle>("Container");
    register_properties(engine);
    register_operations(engine);
    register_resources(engine);
    register_terminal(engine);
    register_files(engine);
    register_comparison(engine);
}

fn register_properties(engine: &mut Engine) {
    getter("id", &["c: Container", "string"], "The container's id.")
        .register_into_engine(engine, |c: &mut ContainerHandle| c.0.id().to_string());
    getter(
        "state",
        &["c: Container", "string"],
        "\"creating\", \"created\", \"running\", \"paused\", \"stopped\" or \"destroyed\", read fresh each time.",
    )
    .with_volatility(true)
    .register_into_engine(engine, |c: &mut ContainerHandle| -> ScriptResult<String> {
        c.0.status().or_raise().map(|s| s.to_string())
    });
    getter(
        "pid",
        &["c: Container", "int|()"],
        "Host pid of the container's init, or `()` once stopped.",
    )
    .with_volatility(true)
    .register_into_engine(engine, |c: &mut ContainerHandle| {
        c.0.pid()
            .map_or(Dynamic::UNIT, |pid| Dynamic::from(INT::from(pid)))
    });
    getter(
        "exit_code",
        &["c: Container", "int|()"],
        "How its first process ended (128+N when signal N ended it), kept in its state for every ctrsh process until destroy; `()` while it runs, or when nobody kept it.",
    )
    .with_volatility(true)
    .register_into_engine(engine, |c: &mut ContainerHandle| {
        c.0.exit_code()
            .map_or(Dynamic::UNIT, |code| Dynamic::from(INT::from(code)))
    });
    getter(
        "ips",
        &["c: Container", "array"],
        "The container's addresses on its bridge network (strings, IPv4 first); `[]` without one.",
    )
    .with_volatility(true)
    .register_into_engine(engine, |c: &mut ContainerHandle| -> Array {
        c.0.ips()
            .iter()
            .map(|ip| Dynamic::from(ip.to_string()))
            .collect()
    });
    getter(
        "config",
        &["c: Container", "map"],
        "A copy of the container's config as a map.",
    )
    .register_into_engine(engine, |c: &mut ContainerHandle| to_script(&c.0.config()));
    // Without a setter rhai would silently drop `c.config.hostname = "x"`.
    setter(
        "config",
        &["c: Container", "config: map"],
        "An error: a container's config cannot change (copy it into a variable to edit).",
    )
    .register_into_engine(
        engine,
        |c: &mut ContainerHandle, _: Map| -> ScriptResult<()> {
            Err(raise(runtime::Error::state(format!(
            "container {}: config is read-only; copy it (let cfg = c.config;) to edit a new one",
            c.0.id()
        ))))
        },
    );
}

fn register_operations(engine: &mut Engine) {
    func(
        "start",
        &["c: Container", "p: Process"],
        "Run `p` in the container: its first process, or one more in a running container.",
    )
    .with_volatility(true)
    .register_into_engine(engine, |c: &mut ContainerHandle, p: ProcessHandle| {
        c.0.start(&mut p.lock()).or_raise()
    });
    func(
        "start",
        &["c: Container", "Process"],
        "Run the process of the container's config (an OCI bundle's); returns its handle.",
    )
    .with_volatility(true)
    .register_into_engine(
        engine,
        |c: &mut ContainerHandle| -> ScriptResult<ProcessHandle> {
            c.0.start_configured().or_raise().map(ProcessHandle::new)
        },
    );
    func(
        "run",
        &["c: Container", "p: Process", "int"],
        "Start `p` and wait for it; returns its exit code.",
    )
    .with_volatility(true)
    .register_into_engine(
        engine,
        |c: &mut ContainerHandle, p: ProcessHandle| -> ScriptResult<INT> {
            c.0.run(&mut p.lock()).or_raise().map(INT::from)
        },
    );
    func(
        "exec",
        &["c: Container", "args: array", "map"],
        "Run `args` in the running container; returns `#{code, stdout, stderr, stdout_blob, stderr_blob}`.",
    )
    .with_volatility(true)
    .register_into_engine(
        engine,
        |c: &mut ContainerHandle, args: Array| -> ScriptResult<Map> {
            let out = c.0.exec(to_strings(args, "exec args")?).or_raise()?;
            let mut map = Map::new();
            map.insert("code".into(), INT::from(out.code).into());
            map.insert("stdout".into(), text(Some(&out.stdout)));
            map.insert("stderr".into(), text(Some(&out.stderr)));
            map.insert("stdout_blob".into(), blob(Some(&out.stdout)));
            map.insert("stderr_blob".into(), blob(Some(&out.stderr)));
            Ok(map)
        },
    );
    func(
        "signal",
        &["c: Container", "sig: int"],
        "Send signal number `sig` to the container's init.",
    )
    .with_volatility(true)
    .register_into_engine(engine, |c: &mut ContainerHandle, sig: INT| {
        c.0.signal(narrow(sig, "signal")?).or_raise()
    });
    func(
        "signal",
        &["c: Container", "sig: string"],
        "Send the signal named `sig` (\"SIGTERM\", \"TERM\") to the container's init.",
    )
    .with_volatility(true)
    .register_into_engine(engine, |c: &mut ContainerHandle, sig: &str| {
        let sig = parse_signal(sig)
            .map_err(|e| e.context(format!("signal container '{}'", c.0.id())))
            .or_raise()?;
        c.0.signal(sig).or_raise()
    });
    // Timeouts as int or float seconds, the signal by name or number.
    fn stop(c: &ContainerHandle, timeout: FLOAT, sig: i32) -> ScriptResult<Dynamic> {
        let timeout = seconds(timeout, "stop")?;
        let code = c.0.stop(sig, timeout).or_raise()?;
        Ok(code.map_or(Dynamic::UNIT, |code| INT::from(code).into()))
    }
    let doc = "Stop the container: its stop signal (the config's `stop_signal`, the image's, or SIGTERM) to its first process, SIGKILL when it has not exited after `timeout` seconds; its exit code (128+N when signal N ended it), `()` when nobody kept it.";
    func("stop", &["c: Container", "timeout: int", "int|()"], doc)
        .with_volatility(true)
        .register_into_engine(engine, |c: &mut ContainerHandle, timeout: INT| {
            stop(c, timeout as FLOAT, c.0.stop_signal())
        });
    func("stop", &["c: Container", "timeout: float", "int|()"], doc)
        .with_volatility(true)
        .register_into_engine(engine, |c: &mut ContainerHandle, timeout: FLOAT| {
            stop(c, timeout, c.0.stop_signal())
        });
    func(
        "stop",
        &["c: Container", "timeout: int", "sig: string", "int|()"],
        "`stop(timeout)` with the signal named `sig` first (\"QUIT\", \"SIGINT\") rather than SIGTERM.",
    )
    .with_volatility(true)
    .register_into_engine(engine, |c: &mut ContainerHandle, timeout: INT, sig: &str| {
        stop(c, timeout as FLOAT, signal_number(sig)?)
    });
    func(
        "processes",
        &["c: Container", "array"],
        "Host pids of every process in the container.",
    )
    .with_volatility(true)
    .register_into_engine(engine, |c: &mut ContainerHandle| -> ScriptResult<Array> {
        let pids = c.0.processes().or_raise()?;
        Ok(pids
            .into_iter()
            .map(|p| Dynamic::from(INT::from(p)))
            .collect())
    });
    func(
        "destroy",
        &["c: Container"],
        "Kill every process and remove the container's cgroups, mounts and state.",
    )
    .with_volatility(true)
    .register_into_engine(engine, |c: &mut ContainerHandle| -> ScriptResult<()> {
        c.0.destroy().or_raise()?;
        made::destroyed(&c.0);
        Ok(())
    });
}

fn register_terminal(engine: &mut Engine) {
    func(
        "attach",
        &["c: Container", "p: Process", "int"],
        "Hand your terminal to `p` (started with `terminal: true`) until it exits; returns its exit code.",
    )
    .with_volatility(true)
    .register_into_engine(
        engine,
        |_c: &mut ContainerHandle, p: ProcessHandle| -> ScriptResult<INT> {
            p.lock().attach().or_raise().map(INT::from)
        },
    );
    func(
        "shell",
        &["c: Container", "int"],
        "Run an interactive /bin/sh with your terminal beside the running workload; returns its exit code.",
    )
    .with_volatility(true)
    .register_into_engine(engine, |c: &mut ContainerHandle| -> ScriptResult<INT> {
        c.0.shell(vec![]).or_raise().map(INT::from)
    });
}

fn register_files(engine: &mut Engine) {
    func(
        "copy_in",
        &["c: Container", "host_path: string", "path: string"],
        "Copy a host file or directory into the container (into `path` when it is a directory), keeping owner, mode and mtime.",
    )
    .with_volatility(true)
    .register_into_engine(engine, |c: &mut ContainerHandle, host: &str, path: &str| {
        c.0.copy_in(Path::new(host), Path::new(path)).or_raise()
    });
    func(
        "copy_out",
        &["c: Container", "path: string", "host_path: string"],
        "Copy a file or directory of the container to the host (into `host_path` when it is a directory), keeping owner, mode and mtime.",
    )
    .with_volatility(true)
    .register_into_engine(engine, |c: &mut ContainerHandle, path: &str, host: &str| {
        c.0.copy_out(Path::new(path), Path::new(host)).or_raise()
    });
    func(
        "read_file",
        &["c: Container", "path: string", "blob"],
        "The bytes of a regular file in the container.",
    )
    .with_volatility(true)
    .register_into_engine(engine, |c: &mut ContainerHandle, path: &str| {
        c.0.read_file(Path::new(path)).or_raise()
    });
    let doc = "Create or replace a file in the container with `data`; a new file is 0644 and owned by the container's root.";
    func(
        "write_file",
        &["c: Container", "path: string", "data: blob"],
        doc,
    )
    .with_volatility(true)
    .register_into_engine(engine, |c: &mut ContainerHandle, path: &str, data: Blob| {
        c.0.write_file(Path::new(path), &data).or_raise()
    });
    func(
        "write_file",
        &["c: Container", "path: string", "data: string"],
        doc,
    )
    .with_volatility(true)
    .register_into_engine(engine, |c: &mut ContainerHandle, path: &str, data: &str| {
        c.0.write_file(Path::new(path), data.as_bytes()).or_raise()
    });
}

fn register_resources(engine: &mut Engine) {
    func(
        "pause",
        &["c: Container"],
        "Freeze every process of the container (cgroup freezer); state becomes \"paused\".",
    )
    .with_volatility(true)
    .register_into_engine(engine, |c: &mut ContainerHandle| c.0.pause().or_raise());
    func(
        "resume",
        &["c: Container"],
        "Thaw a paused container; state returns to \"running\".",
    )
    .with_volatility(true)
    .register_into_engine(engine, |c: &mut ContainerHandle| c.0.resume().or_raise());
    func(
        "commit",
        &["c: Container", "name: string", "Image"],
        "Store the writes of a container made from an image as a new image `name`, on top of its \
         image's layers (a running container is paused meanwhile).",
    )
    .with_volatility(true)
    .register_into_engine(
        engine,
        |c: &mut ContainerHandle, name: &str| -> ScriptResult<Image> {
            let image = c.0.commit(name, &super::image::progress()).or_raise()?;
            eprintln!("committed {}", image.summary());
            Ok(image)
        },
    );
    func(
        "stats",
        &["c: Container", "map"],
        "`#{cpu, memory, pids, blkio, hugetlb, network}` of a live container (see docs/api.md).",
    )
    .with_volatility(true)
    .register_into_engine(engine, |c: &mut ContainerHandle| -> ScriptResult<Dynamic> {
        to_script(&c.0.stats().or_raise()?)
    });
    func(
        "update",
        &["c: Container", "limits: map"],
        "Change cgroup limits of a live container (keys of `cgroups`), validated like a config.",
    )
    .with_volatility(true)
    .register_into_engine(engine, |c: &mut ContainerHandle, limits: Map| {
        let patch = to_json_map(limits)?;
        c.0.update(patch).or_raise()
    });
    func(
        "events",
        &["c: Container", "array"],
        "What happened since the last call: `[#{type: \"oom\", count}]` for OOM kills.",
    )
    .with_volatility(true)
    .register_into_engine(engine, |c: &mut ContainerHandle| -> ScriptResult<Dynamic> {
        to_script(&c.0.events().or_raise()?)
    });
}

fn register_comparison(engine: &mut Engine) {
    register_display(
        engine,
        "c: Container",
        "`Container(id, state)`.",
        ContainerHandle::describe,
    );
    register_equality(
        engine,
        "Container",
        ["Same container id.", "Different container ids."],
        |a: &ContainerHandle, b| a.0.id() == b.0.id(),
    );
}
