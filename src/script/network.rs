//! The `network` module: `network::create(name, options)`, `list()`,
//! `inspect(name)`, `remove(name)`, on the default state root or, with a
//! Factory as the first argument, on that factory's root.

use super::convert::{deserialize, to_script};
use super::errors::{OrRaise, ScriptResult};
use super::factory::FactoryHandle;
use crate::runtime::network::{NetworkOptions, Networks};
use crate::runtime::Factory;
use rhai::{Array, Dynamic, Engine, FuncRegistration, Map, Module};
use std::path::Path;

fn create(root: &Path, name: &str, options: Map) -> ScriptResult<Dynamic> {
    let options: NetworkOptions = deserialize("network", options.into())?;
    let networks = Networks::new(root);
    networks
        .create(name, &options.spec(name).or_raise()?)
        .or_raise()?;
    inspect(root, name)
}

fn list(root: &Path) -> ScriptResult<Array> {
    let names = Networks::new(root).list().or_raise()?;
    Ok(names.into_iter().map(Dynamic::from).collect())
}

fn inspect(root: &Path, name: &str) -> ScriptResult<Dynamic> {
    to_script(&Networks::new(root).inspect(name).or_raise()?)
}

fn remove(root: &Path, name: &str) -> ScriptResult<()> {
    Networks::new(root).remove(name).or_raise()
}

/// A documented function of the module.
fn func(name: &str, params: &[&str], doc: &str) -> FuncRegistration {
    FuncRegistration::new(name)
        .with_params_info(params)
        .with_comments([format!("/// {doc}")])
}

pub fn register(engine: &mut Engine) {
    let mut m = Module::new();
    let default_root = Factory::default_root;
    let root_of = |f: &FactoryHandle| f.0.root().to_path_buf();

    func(
        "create",
        &["name: string", "options: map", "map"],
        "Make the bridge network `name` (options: subnet, gateway, ipv6, mtu); returns what `inspect` does.",
    )
    .set_into_module(&mut m, move |name: &str, options: Map| {
        create(&default_root(), name, options)
    });
    func(
        "create",
        &["factory: Factory", "name: string", "options: map", "map"],
        "`create` on the factory's state root.",
    )
    .set_into_module(&mut m, move |f: FactoryHandle, name: &str, options: Map| {
        create(&root_of(&f), name, options)
    });
    func("list", &["array"], "The names of the networks, sorted.")
        .set_into_module(&mut m, move || list(&default_root()));
    func(
        "list",
        &["factory: Factory", "array"],
        "`list` on the factory's state root.",
    )
    .set_into_module(&mut m, move |f: FactoryHandle| list(&root_of(&f)));
    func(
        "inspect",
        &["name: string", "map"],
        "The network: name, subnets (subnet, gateway), mtu, bridge_made_by_ctrsh, containers (id, addresses).",
    )
    .set_into_module(&mut m, move |name: &str| inspect(&default_root(), name));
    func(
        "inspect",
        &["factory: Factory", "name: string", "map"],
        "`inspect` on the factory's state root.",
    )
    .set_into_module(&mut m, move |f: FactoryHandle, name: &str| {
        inspect(&root_of(&f), name)
    });
    func(
        "remove",
        &["name: string"],
        "Remove a network no container is on: its NAT rules, and its bridge if ctrsh made it.",
    )
    .set_into_module(&mut m, move |name: &str| remove(&default_root(), name));
    func(
        "remove",
        &["factory: Factory", "name: string"],
        "`remove` on the factory's state root.",
    )
    .set_into_module(&mut m, move |f: FactoryHandle, name: &str| {
        remove(&root_of(&f), name)
    });

    engine.register_static_module("network", m.into());
}
