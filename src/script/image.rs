//! `image::pull`, `image::import`, `image::list`, `image::remove`,
//! `image::prune`, `image::tag` and the Image type. They use the image store
//! `$CTRSH_IMAGE_STORE`, else /var/lib/ctrsh/images.

use super::convert::to_script;
use super::errors::{raise, OrRaise, ScriptResult};
use super::{func, getter, register_display};
use crate::runtime::image::{self, Image, Platform, Progress, PullOptions, Reference, Store};
use crate::runtime::suggest::did_you_mean;
use crate::runtime::Error;
use rhai::{Array, Dynamic, Engine, Map, Module, INT};
use std::io::IsTerminal;
use std::path::Path;

/// The module's name in scripts: `image::pull(...)`.
pub const MODULE: &str = "image";

fn store() -> ScriptResult<Store> {
    Store::open(Store::default_root()).or_raise()
}

/// Bars on a terminal; the final line on standard error either way.
pub(super) fn progress() -> Progress {
    Progress::new(std::io::stderr().is_terminal())
}

fn options(map: &Map, known: &[&str], what: &str) -> ScriptResult<()> {
    match map.keys().find(|k| !known.contains(&k.as_str())) {
        Some(bad) => Err(raise(Error::config(format!(
            "{what}: unknown option '{bad}'{} (known: {})",
            did_you_mean(bad, known),
            known.join(", ")
        )))),
        None => Ok(()),
    }
}

fn text(map: &Map, key: &str, what: &str) -> ScriptResult<Option<String>> {
    match map.get(key) {
        None => Ok(None),
        Some(v) => v.clone().into_string().map(Some).map_err(|found| {
            raise(Error::config(format!(
                "{what}: {key}: expected a string, found {found}"
            )))
        }),
    }
}

fn platform(map: &Map, what: &str) -> ScriptResult<Option<Platform>> {
    text(map, "platform", what)?
        .map(|p| Platform::parse(&p).or_raise())
        .transpose()
}

fn pull(reference: &str, opts: Map) -> ScriptResult<Image> {
    options(&opts, &["platform", "insecure"], "image::pull")?;
    let mut options = PullOptions {
        platform: platform(&opts, "image::pull")?,
        insecure: vec![],
    };
    match opts.get("insecure").map(Dynamic::as_bool) {
        None | Some(Ok(false)) => {}
        Some(Ok(true)) => options
            .insecure
            .push(Reference::parse(reference).or_raise()?.registry),
        Some(Err(found)) => {
            return Err(raise(Error::config(format!(
                "image::pull: insecure: expected true or false, found {found}"
            ))))
        }
    }
    let image = image::pull(&store()?, reference, &options, &progress()).or_raise()?;
    eprintln!("pulled {}", image.summary());
    Ok(image)
}

fn import(path: &str, opts: Map) -> ScriptResult<Array> {
    options(&opts, &["name", "platform"], "image::import")?;
    let name = text(&opts, "name", "image::import")?;
    let platform = platform(&opts, "image::import")?;
    let images = image::import(
        &store()?,
        Path::new(path),
        name.as_deref(),
        platform.as_ref(),
        &progress(),
    )
    .or_raise()?;
    for image in &images {
        eprintln!("imported {}", image.summary());
    }
    Ok(images.into_iter().map(Dynamic::from).collect())
}

fn pruned(p: image::Pruned) -> Map {
    let mut map = Map::new();
    map.insert("layers".into(), (p.layers as INT).into());
    map.insert("blobs".into(), (p.blobs as INT).into());
    map.insert("partial".into(), (p.partial as INT).into());
    map
}

pub fn register(engine: &mut Engine) {
    engine.register_type_with_name::<Image>("Image");
    let mut module = Module::new();
    func(
        "pull",
        &["reference: string", "Image"],
        "Pull `reference` (e.g. \"alpine:3.20\") into the image store.",
    )
    .set_into_module(&mut module, |reference: &str| pull(reference, Map::new()));
    func(
        "pull",
        &["reference: string", "options: map", "Image"],
        "Pull with options: `platform` (\"linux/arm64\"), `insecure` (true: plain HTTP may be used).",
    )
    .set_into_module(&mut module, pull);
    // `import` is a keyword of Rhai: `image::import(...)` does not parse,
    // so scripts call it `load` (as `docker load` reads such archives).
    // The first name is kept for the contract.
    for name in ["import", "load"] {
        func(
            name,
            &["path: string", "array"],
            "Import the images of an OCI layout (directory or tar) or a docker save archive.",
        )
        .set_into_module(&mut module, |path: &str| import(path, Map::new()));
        func(
            name,
            &["path: string", "options: map", "array"],
            "Import with options: `name` (for an archive of one image), `platform`.",
        )
        .set_into_module(&mut module, import);
    }
    func("list", &["array"], "The images in the store, one per name.").set_into_module(
        &mut module,
        || -> ScriptResult<Array> {
            Ok(store()?
                .list()
                .or_raise()?
                .into_iter()
                .map(Dynamic::from)
                .collect())
        },
    );
    func(
        "get",
        &["name: string", "Image"],
        "The image named `name` (or with that id).",
    )
    .set_into_module(&mut module, |name: &str| store()?.image(name).or_raise());
    func(
        "remove",
        &["name: string", "map"],
        "Remove the name (an id removes every name of it), then what no image needs: #{layers, blobs, partial}.",
    )
    .set_into_module(&mut module, |name: &str| -> ScriptResult<Map> {
        store()?.remove(name).or_raise().map(pruned)
    });
    func(
        "prune",
        &["map"],
        "Remove what no image needs, and partial downloads: #{layers, blobs, partial}.",
    )
    .set_into_module(&mut module, || -> ScriptResult<Map> {
        store()?.prune().or_raise().map(pruned)
    });
    func(
        "tag",
        &["source: string", "name: string", "Image"],
        "Give image `source` the name `name` too.",
    )
    .set_into_module(&mut module, |source: &str, name: &str| {
        store()?.tag(source, name).or_raise()
    });
    engine.register_static_module(MODULE, module.into());

    getter(
        "name",
        &["image: Image", "string"],
        "The name the image was found under.",
    )
    .register_into_engine(engine, |i: &mut Image| i.name.clone());
    getter(
        "id",
        &["image: Image", "string"],
        "The image id: its config's digest.",
    )
    .register_into_engine(engine, |i: &mut Image| i.id.to_string());
    getter(
        "digest",
        &["image: Image", "string"],
        "The manifest's digest.",
    )
    .register_into_engine(engine, |i: &mut Image| i.digest.to_string());
    getter(
        "size",
        &["image: Image", "int"],
        "Bytes as distributed: the config and the compressed layers.",
    )
    .register_into_engine(engine, |i: &mut Image| i.size as INT);
    getter(
        "config",
        &["image: Image", "map"],
        "The image config (OCI's JSON: config.Env, config.Cmd, ...).",
    )
    .register_into_engine(engine, |i: &mut Image| to_script(&i.config));
    getter(
        "layers",
        &["image: Image", "array"],
        "The layers' diff ids, base first.",
    )
    .register_into_engine(engine, |i: &mut Image| -> Array {
        i.layers
            .iter()
            .map(|l| Dynamic::from(l.to_string()))
            .collect()
    });
    register_display(
        engine,
        "image: Image",
        "`Image(name, short id)`.",
        |i: &mut Image| format!("Image({}, {})", i.name, i.id.short()),
    );
}
