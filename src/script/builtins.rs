//! The script's environment: `ARGS`, `env`, `sleep`, `exit`, and the
//! runtime's defaults as values to put in a config map.

use super::convert::to_script;
use super::errors::{narrow, raise, ScriptResult};
use super::{func, interrupt};
use crate::runtime::{self, config::defaults};
use rhai::{Array, Dynamic, Engine, EvalAltResult, Module, Position, FLOAT, INT};
use std::io::Write;
use std::time::{Duration, Instant};

/// What `exit(code)` ends evaluation with. Scripts cannot make one, so a
/// script's last value is never mistaken for an exit status.
#[derive(Debug, Clone, Copy)]
pub struct ExitCode(pub i32);

/// How often a sleeping script looks at the interrupt flag.
const SLEEP_SLICE: Duration = Duration::from_millis(20);

pub fn register(engine: &mut Engine, args: Vec<String>) {
    // A variable of a global module is visible everywhere, also inside `fn`
    // bodies, which do not see the caller's scope.
    let mut module = Module::new();
    let args: Array = args.into_iter().map(Dynamic::from).collect();
    module.set_var("ARGS", args);
    engine.register_global_module(module.into());

    // Rhai's default print panics when stdout is closed (`ctrsh x | head`).
    engine.on_print(|text| {
        let _ = writeln!(std::io::stdout(), "{text}");
    });

    // A pending Ctrl-C is raised at the next variable access: a catchable
    // error at a statement boundary of nearly any script (on_progress could
    // only end the script, uncatchably). A caught Rhai error gets its
    // `kind` there too, when the catch block reads it.
    #[allow(deprecated)] // "volatile", not deprecated
    engine.on_var(|name, _, mut ctx| {
        interrupt::take()?;
        if let Some(value) = ctx.scope_mut().get_mut(name) {
            super::errors::give_kind(value);
        }
        Ok(None)
    });

    func(
        "env",
        &["name: string", "string|()"],
        "The environment variable `name`, or `()` when it is not set.",
    )
    .with_volatility(true)
    .register_into_engine(engine, |name: &str| -> Dynamic {
        std::env::var(name).map_or(Dynamic::UNIT, Dynamic::from)
    });

    func(
        "sleep",
        &["seconds: int"],
        "Pause for `seconds`; Ctrl-C interrupts.",
    )
    .with_volatility(true)
    .register_into_engine(engine, |seconds: INT| sleep(seconds as FLOAT));
    func(
        "sleep",
        &["seconds: float"],
        "Pause for `seconds`; Ctrl-C interrupts.",
    )
    .with_volatility(true)
    .register_into_engine(engine, sleep);

    func(
        "exit",
        &["code: int"],
        "End the script now with exit status `code` (0-255).",
    )
    .with_volatility(true)
    .register_into_engine(engine, |code: INT| exit(narrow::<u8>(code, "exit code")?));
    // "()": an empty list would make rhai describe the Rust return type.
    func("exit", &["()"], "End the script now with exit status 0.")
        .with_volatility(true)
        .register_into_engine(engine, || exit(0));

    func(
        "default_devices",
        &["array"],
        "The device nodes every container gets in /dev, as maps for `devices`.",
    )
    .register_into_engine(engine, || to_script(&defaults::default_devices()));
    func(
        "default_allowed_devices",
        &["array"],
        "The device cgroup rules for `cgroups.allowed_devices`, as maps.",
    )
    .register_into_engine(engine, || to_script(&defaults::default_allowed_devices()));
    func(
        "default_capabilities",
        &["array"],
        "runc's default capability names, for `capabilities`.",
    )
    .register_into_engine(engine, || to_script(&defaults::default_capabilities()));
}

/// Ends evaluation, also from inside functions; `run_script` and the REPL
/// recognise the `ExitCode` value.
fn exit(code: u8) -> ScriptResult<()> {
    Err(EvalAltResult::Exit(Dynamic::from(ExitCode(code.into())), Position::NONE).into())
}

/// `seconds` as a span of time from now on; `what` names the call in the
/// error for a negative or endless number.
pub fn seconds(seconds: FLOAT, what: &str) -> ScriptResult<Duration> {
    Duration::try_from_secs_f64(seconds)
        .ok()
        .filter(|&d| Instant::now().checked_add(d).is_some())
        .ok_or_else(|| {
            raise(runtime::Error::config(format!(
                "{what}: {seconds} is not a number of seconds"
            )))
        })
}

fn sleep(seconds: FLOAT) -> ScriptResult<()> {
    let end = Instant::now() + self::seconds(seconds, "sleep")?;
    loop {
        interrupt::take()?;
        let now = Instant::now();
        if now >= end {
            return Ok(());
        }
        std::thread::sleep(SLEEP_SLICE.min(end - now));
    }
}
