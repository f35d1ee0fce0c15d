//! `process(map)` and the Process type.

use super::convert::to_process_spec;
use super::errors::{narrow, OrRaise, ScriptResult};
use super::{func, getter, register_display, register_equality};
use crate::runtime::{parse_signal, Process};
use rhai::{Dynamic, Engine, Map, INT};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// A script's Process: copies share one runtime process, which `wait` and
/// `Container::start` need mutably.
#[derive(Debug, Clone)]
pub struct ProcessHandle(Arc<Mutex<Process>>);

impl ProcessHandle {
    pub fn new(process: Process) -> ProcessHandle {
        ProcessHandle(Arc::new(Mutex::new(process)))
    }

    /// Scripts run on one thread, so the lock is never contended; a panic
    /// elsewhere must not make the process unusable.
    pub fn lock(&self) -> MutexGuard<'_, Process> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `Process(args0, pid N)` or `Process(args0, not started)`.
    fn describe(&mut self) -> String {
        let p = self.lock();
        let program = p.spec().args.first().map_or("", String::as_str);
        match p.pid() {
            Some(pid) => format!("Process({program}, pid {pid})"),
            None => format!("Process({program}, not started)"),
        }
    }
}

/// "SIGTERM", "TERM" or "15" as a signal number, or a catchable error.
pub fn signal_number(name: &str) -> ScriptResult<i32> {
    parse_signal(name).or_raise()
}

/// Captured output as text (bytes that are not UTF-8 become U+FFFD), or `()`.
pub fn text(bytes: Option<&[u8]>) -> Dynamic {
    bytes.map_or(Dynamic::UNIT, |b| {
        String::from_utf8_lossy(b).into_owned().into()
    })
}

/// Captured output as a blob, byte for byte, or `()`.
pub fn blob(bytes: Option<&[u8]>) -> Dynamic {
    bytes.map_or(Dynamic::UNIT, |b| Dynamic::from_blob(b.to_vec()))
}

pub fn register(engine: &mut Engine) {
    engine.register_type_with_name::<ProcessHandle>("Process");

    func(
        "process",
        &["spec: map", "Process"],
        "A process to start in a container: args, env, user, cwd, stdin/stdout/stderr, terminal.",
    )
    .register_into_engine(engine, |spec: Map| -> ScriptResult<ProcessHandle> {
        let process = Process::new(to_process_spec(spec)?)
            .map_err(|e| e.context("invalid process"))
            .or_raise()?;
        Ok(ProcessHandle::new(process))
    });

    getter(
        "pid",
        &["p: Process", "int|()"],
        "Host pid once started, else `()`.",
    )
    .with_volatility(true)
    .register_into_engine(engine, |p: &mut ProcessHandle| {
        p.lock()
            .pid()
            .map_or(Dynamic::UNIT, |pid| Dynamic::from(INT::from(pid)))
    });
    type Read = fn(&Process) -> Option<&[u8]>;
    let streams: [(&str, Read); 2] = [("stdout", Process::stdout), ("stderr", Process::stderr)];
    for (stream, read) in streams {
        getter(
            stream,
            &["p: Process", "string|()"],
            &format!("Captured {stream} (\"pipe\") as text after `wait()`, else `()`."),
        )
        .with_volatility(true)
        .register_into_engine(engine, move |p: &mut ProcessHandle| text(read(&p.lock())));
        getter(
            &format!("{stream}_blob"),
            &["p: Process", "blob|()"],
            &format!("Captured {stream} (\"pipe\") byte for byte after `wait()`, else `()`."),
        )
        .with_volatility(true)
        .register_into_engine(engine, move |p: &mut ProcessHandle| blob(read(&p.lock())));
    }

    func(
        "wait",
        &["p: Process", "int"],
        "Wait for the process to end; its exit code, 128+N when killed by signal N.",
    )
    .with_volatility(true)
    .register_into_engine(engine, |p: &mut ProcessHandle| -> ScriptResult<INT> {
        p.lock().wait().or_raise().map(INT::from)
    });
    func(
        "signal",
        &["p: Process", "sig: int"],
        "Send signal number `sig` to the process.",
    )
    .with_volatility(true)
    .register_into_engine(engine, |p: &mut ProcessHandle, sig: INT| {
        p.lock().signal(narrow(sig, "signal")?).or_raise()
    });
    func(
        "signal",
        &["p: Process", "sig: string"],
        "Send the signal named `sig` (\"SIGTERM\", \"TERM\") to the process.",
    )
    .with_volatility(true)
    .register_into_engine(engine, |p: &mut ProcessHandle, sig: &str| {
        p.lock().signal(signal_number(sig)?).or_raise()
    });

    register_display(
        engine,
        "p: Process",
        "`Process(program, pid N)`.",
        ProcessHandle::describe,
    );
    register_equality(
        engine,
        "Process",
        ["The same process handle.", "Different process handles."],
        |a: &ProcessHandle, b| Arc::ptr_eq(&a.0, &b.0),
    );
}
