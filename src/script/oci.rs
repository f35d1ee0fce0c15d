//! The `oci` module of scripts: OCI bundles as config maps, so a script
//! runs the same bundles an engine hands `ctrsh oci`.

use super::convert::to_script;
use super::errors::{OrRaise, ScriptResult};
use super::func;
use crate::oci;
use rhai::{Dynamic, Engine, Module};
use std::path::Path;

pub fn register(engine: &mut Engine) {
    let mut module = Module::new();
    func(
        "load",
        &["bundle: string", "map"],
        "The config of the OCI bundle in directory `bundle` (its config.json), for `create`.",
    )
    .with_volatility(true)
    .set_into_module(&mut module, |bundle: &str| -> ScriptResult<Dynamic> {
        to_script(&oci::load(Path::new(bundle)).or_raise()?)
    });
    func(
        "spec",
        &["map"],
        "The config of runc's default spec (`runc spec`); set its `rootfs` before `create`.",
    )
    .set_into_module(&mut module, || -> ScriptResult<Dynamic> {
        to_script(&oci::default_config())
    });
    engine.register_static_module("oci", module.into());
}
