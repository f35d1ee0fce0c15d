//! `c.checkpoint(opts)`, `checkpoint(dir)`, `f.restore(id, ck[, overrides])`,
//! `c.wait()` and the Checkpoint type.

use super::container::ContainerHandle;
use super::convert::{to_config, to_script};
use super::errors::{raise, OrRaise, ScriptResult};
use super::factory::FactoryHandle;
use super::{func, getter, register_display};
use crate::runtime::criu::CgroupMode;
use crate::runtime::suggest::did_you_mean;
use crate::runtime::{self, Checkpoint, CheckpointOptions, RestoreOptions, Stdio};
use rhai::{Dynamic, Engine, Map, INT};
use std::path::PathBuf;
use std::sync::Arc;

/// A script's Checkpoint: copies share one loaded checkpoint.
#[derive(Debug, Clone)]
pub struct CheckpointHandle(Arc<Checkpoint>);

impl CheckpointHandle {
    fn describe(&mut self) -> String {
        format!(
            "Checkpoint({}, {})",
            self.0.container_id(),
            self.0.dir().display()
        )
    }
}

const CHECKPOINT_KEYS: [&str; 10] = [
    "dir",
    "leave_running",
    "tcp_established",
    "ext_unix_sk",
    "shell_job",
    "file_locks",
    "pre_dump",
    "parent",
    "manage_cgroups",
    "criu",
];

fn config_error(message: String) -> Box<rhai::EvalAltResult> {
    raise(runtime::Error::config(message))
}

fn flag(value: &Dynamic, key: &str) -> ScriptResult<bool> {
    value
        .as_bool()
        .map_err(|found| config_error(format!("{key}: expected true or false, found {found}")))
}

fn text(value: &Dynamic, key: &str) -> ScriptResult<String> {
    value
        .clone()
        .into_string()
        .map_err(|found| config_error(format!("{key}: expected a string, found {found}")))
}

/// A path option: a string, or (for `parent`) a Checkpoint.
fn path(value: &Dynamic, key: &str) -> ScriptResult<PathBuf> {
    if let Some(ck) = value.clone().try_cast::<CheckpointHandle>() {
        return Ok(ck.0.dir().to_path_buf());
    }
    text(value, key).map(PathBuf::from)
}

fn checkpoint_options(map: Map) -> ScriptResult<CheckpointOptions> {
    let mut opts = CheckpointOptions::default();
    let mut dir = None;
    for (key, value) in &map {
        let key = key.as_str();
        match key {
            "dir" => dir = Some(path(value, key)?),
            "leave_running" => opts.leave_running = flag(value, key)?,
            "tcp_established" => opts.tcp_established = flag(value, key)?,
            "ext_unix_sk" => opts.ext_unix_sk = flag(value, key)?,
            "shell_job" => opts.shell_job = flag(value, key)?,
            "file_locks" => opts.file_locks = flag(value, key)?,
            "pre_dump" => opts.pre_dump = flag(value, key)?,
            "parent" => opts.parent = Some(path(value, key)?),
            "criu" => opts.criu = Some(path(value, key)?),
            "manage_cgroups" => {
                opts.manage_cgroups = match value.as_bool() {
                    Ok(true) => CgroupMode::Soft,
                    Ok(false) => CgroupMode::Ignore,
                    Err(_) => CgroupMode::from_name(&text(value, key)?).or_raise()?,
                }
            }
            other => {
                return Err(config_error(format!(
                    "checkpoint: unknown option '{other}'{} (known: {})",
                    did_you_mean(other, &CHECKPOINT_KEYS),
                    CHECKPOINT_KEYS.join(", ")
                )));
            }
        }
    }
    opts.dir = dir.ok_or_else(|| config_error("checkpoint: `dir` is required".into()))?;
    Ok(opts)
}

/// "inherit", "null" or a path with a '/'.
fn restore_stdio(value: &Dynamic, key: &str) -> ScriptResult<Stdio> {
    let s = text(value, key)?;
    match s.as_str() {
        "inherit" => Ok(Stdio::Inherit),
        "null" => Ok(Stdio::Null),
        path if path.contains('/') => Ok(Stdio::File(path.into())),
        other => Err(config_error(format!(
            "{key}: unknown value `{other}`{}; use \"inherit\", \"null\" or a path with a '/'",
            did_you_mean(other, &["inherit", "null"])
        ))),
    }
}

/// The keys of a restore's overrides besides the config's.
const RESTORE_KEYS: [&str; 4] = ["stdin", "stdout", "stderr", "criu"];

/// Overrides: stdio and criu, and config keys laid over the checkpoint's
/// config (`cgroups` key by key, so `#{ cgroups: #{ parent: "x" } }` keeps
/// the limits).
fn restore_options(ck: &Checkpoint, overrides: Map) -> ScriptResult<RestoreOptions> {
    let mut opts = RestoreOptions::default();
    let mut config = to_script(&ck.metadata().config)?
        .try_cast::<Map>()
        .expect("a config is a map");
    // Every config key is in the map (absent options as `()`).
    let known: Vec<&str> = config
        .keys()
        .map(|k| k.as_str())
        .chain(RESTORE_KEYS)
        .collect();
    if let Some(bad) = overrides.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(config_error(format!(
            "restore: unknown override '{bad}'{}; use config keys, {}",
            did_you_mean(bad, &known),
            RESTORE_KEYS.join(", ")
        )));
    }
    let mut changed = false;
    for (key, value) in overrides {
        match key.as_str() {
            "stdin" => opts.stdin = restore_stdio(&value, "stdin")?,
            "stdout" => opts.stdout = restore_stdio(&value, "stdout")?,
            "stderr" => opts.stderr = restore_stdio(&value, "stderr")?,
            "criu" => opts.criu = Some(path(&value, "criu")?),
            "cgroups" if value.is_map() => {
                let mut cgroups = config
                    .get("cgroups")
                    .and_then(|c| c.clone().try_cast::<Map>())
                    .unwrap_or_default();
                cgroups.extend(value.cast::<Map>());
                config.insert(key, cgroups.into());
                changed = true;
            }
            _ => {
                config.insert(key, value);
                changed = true;
            }
        }
    }
    if changed {
        opts.config = Some(to_config(config)?);
    }
    Ok(opts)
}

pub fn register(engine: &mut Engine) {
    engine.register_type_with_name::<CheckpointHandle>("Checkpoint");

    func(
        "checkpoint",
        &["c: Container", "opts: map", "Checkpoint"],
        "Dump the running container with CRIU into `opts.dir`; it stops unless `leave_running`.",
    )
    .with_volatility(true)
    .register_into_engine(
        engine,
        |c: &mut ContainerHandle, opts: Map| -> ScriptResult<CheckpointHandle> {
            let opts = checkpoint_options(opts)?;
            c.0.checkpoint(&opts)
                .or_raise()
                .map(|ck| CheckpointHandle(Arc::new(ck)))
        },
    );
    func(
        "checkpoint",
        &["dir: string", "Checkpoint"],
        "The checkpoint in directory `dir` (made here or copied from elsewhere).",
    )
    .register_into_engine(engine, |dir: &str| -> ScriptResult<CheckpointHandle> {
        Checkpoint::load(dir)
            .or_raise()
            .map(|ck| CheckpointHandle(Arc::new(ck)))
    });
    func(
        "restore",
        &["f: Factory", "id: string", "ck: Checkpoint", "Container"],
        "Restore `ck` as a new running container `id` with the checkpoint's config.",
    )
    .with_volatility(true)
    .register_into_engine(
        engine,
        |f: &mut FactoryHandle, id: &str, ck: CheckpointHandle| -> ScriptResult<ContainerHandle> {
            f.recorded(id, false, || {
                f.0.restore(id, &ck.0, &RestoreOptions::default())
            })
        },
    );
    func(
        "restore",
        &["f: Factory", "id: string", "ck: Checkpoint", "overrides: map", "Container"],
        "Restore with config keys replaced (rootfs, cgroups.parent ...), stdin/stdout/stderr, criu.",
    )
    .with_volatility(true)
    .register_into_engine(
        engine,
        |f: &mut FactoryHandle,
         id: &str,
         ck: CheckpointHandle,
         overrides: Map|
         -> ScriptResult<ContainerHandle> {
            let opts = restore_options(&ck.0, overrides)?;
            f.recorded(id, false, || f.0.restore(id, &ck.0, &opts))
        },
    );
    func(
        "wait",
        &["c: Container", "int"],
        "Wait for the container's init to exit; its exit code (for containers this script created or restored).",
    )
    .with_volatility(true)
    .register_into_engine(engine, |c: &mut ContainerHandle| -> ScriptResult<INT> {
        c.0.wait().or_raise().map(INT::from)
    });

    getter(
        "dir",
        &["ck: Checkpoint", "string"],
        "The checkpoint directory.",
    )
    .register_into_engine(engine, |ck: &mut CheckpointHandle| {
        ck.0.dir().display().to_string()
    });
    getter(
        "container_id",
        &["ck: Checkpoint", "string"],
        "The id of the container it was made from.",
    )
    .register_into_engine(engine, |ck: &mut CheckpointHandle| {
        ck.0.container_id().to_string()
    });
    getter(
        "created",
        &["ck: Checkpoint", "int"],
        "When it was made, in seconds since the epoch.",
    )
    .register_into_engine(engine, |ck: &mut CheckpointHandle| {
        INT::try_from(ck.0.created()).unwrap_or(INT::MAX)
    });
    getter(
        "size",
        &["ck: Checkpoint", "int"],
        "Bytes of all its files, read now.",
    )
    .with_volatility(true)
    .register_into_engine(engine, |ck: &mut CheckpointHandle| -> ScriptResult<INT> {
        let size = ck.0.size().or_raise()?;
        Ok(INT::try_from(size).unwrap_or(INT::MAX))
    });
    register_display(
        engine,
        "ck: Checkpoint",
        "`Checkpoint(container_id, dir)`.",
        CheckpointHandle::describe,
    );
}
