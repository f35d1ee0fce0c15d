//! What Tab offers at the cursor: API names and variables, members after a
//! `.`, config and process keys inside `#{`, file paths inside a string.

use super::lex::{tokens, Kind, Token};
use crate::runtime::config::{Cgroups, Network};
use crate::runtime::image::Store;
use crate::runtime::network::{Networks, Port};
use crate::runtime::suggest::field_names;
use crate::runtime::{Config, ProcessSpec};
use crate::script::ApiEntry;
use rustyline::completion::{FilenameCompleter, Pair};
use std::collections::HashMap;

/// The object maps whose keys are known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MapKind {
    /// A map not nested in another map or an array: what `create` takes.
    Config,
    /// The map after `cgroups:` in a config map.
    Cgroups,
    /// The map given to `process(...)`.
    Process,
    /// An entry of a config's `networks: [...]`.
    Network,
    /// An entry of a config's `ports: [...]`.
    Port,
    /// Any other map (a mount, a device, ...): no keys offered.
    Other,
}

/// An open bracket before the cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Frame {
    /// `(`; whether it opens the arguments of `process`.
    Paren {
        process: bool,
    },
    /// `[`; the kind of the maps in it, when known (`networks: [`).
    Bracket(Option<MapKind>),
    Block,
    Map(MapKind),
}

/// What the cursor is in, and the start of the text Tab replaces.
#[derive(Debug, PartialEq, Eq)]
enum Place<'a> {
    /// Inside a `"` string that opens at byte `quote`.
    Path { quote: usize },
    /// Inside the string that names a network in `network::inspect(` or
    /// `network::remove(`; the name typed so far starts after `quote`.
    NetworkName { quote: usize },
    /// Inside the string that names an image (see `names_an_image`).
    ImageName { quote: usize },
    /// After `module::`.
    ModuleMember {
        start: usize,
        word: &'a str,
        module: &'a str,
    },
    /// Typing a key of a known map.
    Key {
        start: usize,
        word: &'a str,
        map: MapKind,
    },
    /// After a `.`.
    Member { start: usize, word: &'a str },
    /// Anywhere else in code.
    Name { start: usize, word: &'a str },
    /// In a comment, a number or a non-path literal.
    Nothing,
}

/// The names Tab chooses from.
pub struct Completion {
    /// Names completed at the start of an expression.
    functions: Vec<String>,
    /// Names completed after a `.`: methods and properties.
    members: Vec<String>,
    /// The same by receiver type ("Container" -> start, state, ...).
    members_of: HashMap<String, Vec<String>>,
    /// The functions of each module ("network" -> create, inspect, ...).
    module_functions: HashMap<String, Vec<String>>,
    /// The state root whose networks are offered (the default root).
    pub network_root: std::path::PathBuf,
    /// The image store whose names are offered (the default one).
    pub image_store: std::path::PathBuf,
    /// The session's variables, refreshed after each input.
    pub variables: Vec<String>,
    /// The type of each variable that has one of the API's types.
    pub variable_types: HashMap<String, String>,
    config_keys: Vec<String>,
    cgroups_keys: Vec<String>,
    process_keys: Vec<String>,
    network_keys: Vec<String>,
    port_keys: Vec<String>,
    files: FilenameCompleter,
}

impl Completion {
    pub fn new(api: &[ApiEntry]) -> Completion {
        let mut functions = Vec::new();
        let mut members = Vec::new();
        let mut members_of: HashMap<String, Vec<String>> = HashMap::new();
        let mut module_functions: HashMap<String, Vec<String>> = HashMap::new();
        for entry in api {
            let sig = &entry.signature;
            // "network::create(...)": a function of a module.
            let name = sig.split('(').next().unwrap_or_default();
            if let Some((module, function)) = name.split_once("::") {
                // "rootfs::" alone describes the module.
                if !function.is_empty() {
                    module_functions
                        .entry(module.to_string())
                        .or_default()
                        .push(function.to_string());
                }
                if !functions.contains(&format!("{module}::")) {
                    functions.push(format!("{module}::"));
                }
                continue;
            }
            // "Container.id -> string" is a property; "start(c: Container, ...)"
            // with a receiver type is a method, and any call is a function.
            if let Some((ty, prop)) = sig.split_once(" -> ").and_then(|(l, _)| l.split_once('.')) {
                members.push(prop.to_string());
                members_of
                    .entry(ty.to_string())
                    .or_default()
                    .push(prop.to_string());
                continue;
            }
            let name = sig.split('(').next().unwrap_or_default();
            if !name.chars().all(|c| c.is_alphanumeric() || c == '_') {
                continue; // operators
            }
            functions.push(name.to_string());
            members.push(name.to_string());
            if let Some(receiver) = first_parameter_type(sig) {
                members_of
                    .entry(receiver)
                    .or_default()
                    .push(name.to_string());
            }
        }
        for names in [&mut functions, &mut members]
            .into_iter()
            .chain(members_of.values_mut())
            .chain(module_functions.values_mut())
        {
            names.sort();
            names.dedup();
        }
        Completion {
            functions,
            members,
            members_of,
            module_functions,
            network_root: crate::runtime::Factory::default_root(),
            image_store: Store::default_root(),
            variables: Vec::new(),
            variable_types: HashMap::new(),
            config_keys: field_names::<Config>(),
            cgroups_keys: field_names::<Cgroups>(),
            process_keys: field_names::<ProcessSpec>(),
            network_keys: field_names::<Network>(),
            port_keys: field_names::<Port>(),
            files: FilenameCompleter::new(),
        }
    }

    /// The start of the text before `pos` that Tab replaces, and what may
    /// replace it.
    pub fn candidates(&self, line: &str, pos: usize) -> (usize, Vec<Pair>) {
        let before = &line[..pos];
        let (start, word, pool): (usize, &str, Vec<&String>) = match place(before) {
            Place::Path { quote } => {
                return match self.files.complete_path(&before[quote..], pos - quote) {
                    Ok((start, found)) => (quote + start, found),
                    Err(_) => (pos, Vec::new()),
                };
            }
            Place::Nothing => return (pos, Vec::new()),
            Place::NetworkName { quote } => {
                let names = Networks::new(&self.network_root).list().unwrap_or_default();
                return (quote + 1, matching(&names, &before[quote + 1..]));
            }
            Place::ImageName { quote } => {
                let names = Store::names_in(&self.image_store).unwrap_or_default();
                return (quote + 1, matching(&names, &before[quote + 1..]));
            }
            Place::ModuleMember {
                start,
                word,
                module,
            } => (
                start,
                word,
                self.module_functions
                    .get(module)
                    .map(|f| f.iter().collect())
                    .unwrap_or_default(),
            ),
            Place::Key { start, word, map } => {
                let keys = match map {
                    MapKind::Config => &self.config_keys,
                    MapKind::Cgroups => &self.cgroups_keys,
                    MapKind::Process => &self.process_keys,
                    MapKind::Network => &self.network_keys,
                    MapKind::Port => &self.port_keys,
                    MapKind::Other => return (pos, Vec::new()),
                };
                (start, word, keys.iter().collect())
            }
            Place::Member { start, word } => (start, word, self.members_for(&before[..start])),
            Place::Name { start, word } => (
                start,
                word,
                self.functions.iter().chain(&self.variables).collect(),
            ),
        };
        (start, matching(pool, word))
    }
}

/// The names of `pool` that start with `word`, sorted, once each.
fn matching<'a>(pool: impl IntoIterator<Item = &'a String>, word: &str) -> Vec<Pair> {
    let mut found: Vec<&String> = pool.into_iter().filter(|n| n.starts_with(word)).collect();
    found.sort();
    found.dedup();
    found
        .into_iter()
        .map(|n| Pair {
            display: n.clone(),
            replacement: n.clone(),
        })
        .collect()
}

impl Completion {
    /// What may follow `receiver.`: the members of its type when it is a
    /// variable holding one of the API's types; nothing for another
    /// variable or an unknown name (a misspelt variable would only be
    /// offered methods it does not have); every member after a call or an
    /// index (`factory().`, `cs[0].`).
    fn members_for(&self, before_dot: &str) -> Vec<&String> {
        let receiver = before_dot.strip_suffix('.').unwrap_or(before_dot);
        let name_start = receiver
            .rfind(|c: char| !(c.is_alphanumeric() || c == '_'))
            .map_or(0, |i| i + 1);
        let name = &receiver[name_start..];
        if name.is_empty() {
            return self.members.iter().collect();
        }
        self.variable_types
            .get(name)
            .and_then(|ty| self.members_of.get(ty))
            .map(|members| members.iter().collect())
            .unwrap_or_default()
    }
}

/// "start(c: Container, p: Process)" -> "Container": the type of a
/// method's receiver.
fn first_parameter_type(signature: &str) -> Option<String> {
    let params = signature.split_once('(')?.1;
    let first = params.split([',', ')']).next()?;
    let ty = first.split_once(':')?.1.trim();
    (!ty.is_empty()).then(|| ty.to_string())
}

/// Where the cursor at the end of `before` is.
fn place(before: &str) -> Place<'_> {
    let all = tokens(before);
    let Some(last) = all.last() else {
        return Place::Name { start: 0, word: "" };
    };
    match last.kind {
        Kind::Str if !last.closed => {
            return if !last.text(before).starts_with('"') {
                Place::Nothing
            } else if names_a_network(before, &all[..all.len() - 1]) {
                Place::NetworkName { quote: last.start }
            } else if names_an_image(before, &all[..all.len() - 1]) {
                Place::ImageName { quote: last.start }
            } else {
                Place::Path { quote: last.start }
            };
        }
        Kind::Comment if !last.closed || last.text(before).starts_with("//") => {
            return Place::Nothing
        }
        Kind::Number => return Place::Nothing,
        _ => {}
    }
    let (start, word, code) = if last.kind == Kind::Word {
        (last.start, last.text(before), &all[..all.len() - 1])
    } else {
        (before.len(), "", &all[..])
    };
    let code: Vec<&Token> = code
        .iter()
        .filter(|t| !matches!(t.kind, Kind::Space | Kind::Comment))
        .collect();
    let text = |t: Option<&&Token>| t.map_or("", |t| t.text(before));
    let mut frames: Vec<Frame> = Vec::new();
    for (i, token) in code.iter().enumerate() {
        let prev = |back: usize| text(i.checked_sub(back).and_then(|j| code.get(j)));
        match token.text(before) {
            "(" => frames.push(Frame::Paren {
                process: prev(1) == "process",
            }),
            "[" => frames.push(Frame::Bracket(match frames.last() {
                Some(Frame::Map(MapKind::Config)) if prev(1) == ":" => match prev(2) {
                    "networks" => Some(MapKind::Network),
                    "ports" => Some(MapKind::Port),
                    _ => None,
                },
                _ => None,
            })),
            "{" => frames.push(Frame::Block),
            "#{" => {
                let map = match frames.last() {
                    Some(Frame::Paren { process: true }) if prev(1) == "(" => MapKind::Process,
                    Some(Frame::Map(MapKind::Config)) if (prev(2), prev(1)) == ("cgroups", ":") => {
                        MapKind::Cgroups
                    }
                    Some(Frame::Bracket(Some(kind))) => *kind,
                    Some(Frame::Map(_) | Frame::Bracket(_)) => MapKind::Other,
                    _ => MapKind::Config,
                };
                frames.push(Frame::Map(map));
            }
            ")" | "]" | "}" => {
                frames.pop();
            }
            _ => {}
        }
    }
    let prev = text(code.last());
    let module = code.len().checked_sub(3).map(|i| text(code.get(i)));
    match frames.last() {
        _ if prev == "." => Place::Member { start, word },
        _ if prev == ":" && text(code.get(code.len().wrapping_sub(2))) == ":" => match module {
            Some(module) => Place::ModuleMember {
                start,
                word,
                module,
            },
            None => Place::Nothing,
        },
        Some(Frame::Map(map)) if prev == "#{" || prev == "," => Place::Key {
            start,
            word,
            map: *map,
        },
        _ => Place::Name { start, word },
    }
}

/// Whether the string after `code` is the network name argument of
/// `network::inspect(` or `network::remove(` (after a factory, if any).
fn names_a_network(before: &str, code: &[Token]) -> bool {
    let words = code_words(before, code);
    let n = words.len();
    let call = |end| calls(&words[..end], "network", &["inspect", "remove"]);
    call(n) || (n >= 2 && words[n - 1] == "," && call(n - 2))
}

/// Whether a string opened after `code` names an image of the store: the
/// first argument of `image::get`, `image::remove` or `image::tag`, or the
/// value of a config's `image` key.
fn names_an_image(before: &str, code: &[Token]) -> bool {
    let words = code_words(before, code);
    let n = words.len();
    let key = n >= 3 && words[n - 2..] == ["image", ":"] && ["#{", ","].contains(&words[n - 3]);
    key || calls(&words, "image", &["get", "remove", "tag"])
}

/// The tokens of `code` that are not space or comments, as text.
fn code_words<'a>(before: &'a str, code: &[Token]) -> Vec<&'a str> {
    code.iter()
        .filter(|t| !matches!(t.kind, Kind::Space | Kind::Comment))
        .map(|t| t.text(before))
        .collect()
}

/// Whether `words` end with `module::function(`, `function` one of
/// `functions`.
fn calls(words: &[&str], module: &str, functions: &[&str]) -> bool {
    let n = words.len();
    n >= 5
        && words[n - 5..n - 2] == [module, ":", ":"]
        && functions.contains(&words[n - 2])
        && words[n - 1] == "("
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script;

    fn completion() -> Completion {
        let engine = script::engine(vec![]);
        let mut c = Completion::new(&script::api(&engine));
        c.variables = vec!["container".into()];
        c
    }

    fn names(c: &Completion, line: &str) -> Vec<String> {
        c.candidates(line, line.len())
            .1
            .into_iter()
            .map(|p| p.replacement)
            .collect()
    }

    #[test]
    fn functions_members_and_variables() {
        let mut c = completion();
        assert_eq!(c.candidates("let f = fact", 12).0, 8);
        assert_eq!(names(&c, "let f = fact"), vec!["factory"]);
        assert_eq!(names(&c, "print(cont"), vec!["container"]);
        // A variable whose type is known gets only its type's members; an
        // unknown name or a plain value nothing; a call's result every member.
        assert!(names(&c, "x.sig").is_empty());
        c.variable_types.insert("n".into(), "i64".into());
        assert!(names(&c, "n.sig").is_empty());
        assert!(names(&c, "factory().sig").contains(&"signal".to_string()));
        c.variable_types.insert("p".into(), "Process".into());
        assert_eq!(
            names(&c, "p.s"),
            vec!["signal", "stderr", "stderr_blob", "stdout", "stdout_blob"]
        );
        c.variable_types.insert("c".into(), "Container".into());
        assert_eq!(names(&c, "c.sta"), vec!["start", "state", "stats"]);
        assert!(names(&c, "// fact").is_empty());
        assert!(names(&c, "12").is_empty());
    }

    #[test]
    fn the_key_lists_are_the_runtime_types_fields() {
        let c = completion();
        assert_eq!(
            c.config_keys,
            [
                "rootfs",
                "image",
                "readonly_rootfs",
                "capabilities",
                "namespaces",
                "uid_mappings",
                "gid_mappings",
                "cgroups",
                "devices",
                "mounts",
                "hostname",
                "networks",
                "ports",
                "rlimits",
                "masked_paths",
                "readonly_paths",
                "no_new_privileges",
                "sysctl",
                "oom_score_adj",
                "seccomp",
                "process",
                "hooks",
                "annotations",
                "bundle",
                "root_propagation",
                "no_pivot_root",
                "init",
                "stop_signal"
            ]
        );
        assert_eq!(
            c.process_keys,
            [
                "args",
                "env",
                "user",
                "cwd",
                "stdin",
                "stdout",
                "stderr",
                "terminal",
                "additional_gids",
                "umask",
                "preserve_fds",
                "capabilities",
                "no_new_privileges"
            ]
        );
        assert!(c.cgroups_keys.contains(&"pids_limit".to_string()));
        assert!(c.cgroups_keys.contains(&"memory".to_string()));
        assert!(c
            .cgroups_keys
            .contains(&"blkio_throttle_read_bps_device".to_string()));
    }

    #[test]
    fn keys_inside_map_literals() {
        let c = completion();
        assert_eq!(
            names(&c, "let cfg = #{ ro"),
            vec!["root_propagation", "rootfs"]
        );
        assert_eq!(c.candidates("#{ ro", 5).0, 3);
        assert_eq!(
            names(&c, "#{\n  rootfs: \"/r\",\n  read"),
            vec!["readonly_paths", "readonly_rootfs"]
        );
        assert_eq!(
            names(&c, "create(f, \"a\", #{ rootfs: \"/r\", cgroups: #{ pids"),
            vec!["pids_limit"]
        );
        assert_eq!(
            names(&c, "c.start(process(#{ std"),
            vec!["stderr", "stdin", "stdout"]
        );
        assert_eq!(
            names(&c, "#{ networks: [#{ type: \"bridge\", sub"),
            vec!["subnet"]
        );
        assert_eq!(
            names(&c, "#{ ports: [#{ host: 8080 }, #{ ho"),
            vec!["host", "host_ip"]
        );
        assert!(names(&c, "#{ mounts: [#{ ho").is_empty());
        let mut process_keys = c.process_keys.clone();
        process_keys.sort();
        assert_eq!(names(&c, "process(#{ args: [\"ls\"], "), process_keys);
        // A value position, a mount map and a closed map are code again.
        assert_eq!(names(&c, "#{ rootfs: cont"), vec!["container"]);
        assert!(names(&c, "#{ mounts: [#{ ro").is_empty());
        assert_eq!(names(&c, "#{ a: 1 }; fact"), vec!["factory"]);
    }

    #[test]
    fn module_functions_and_network_names() {
        let mut c = completion();
        assert_eq!(names(&c, "netw"), vec!["network::"]);
        assert_eq!(names(&c, "network::ins"), vec!["inspect"]);
        assert_eq!(
            names(&c, "network::"),
            vec!["create", "inspect", "list", "remove"]
        );
        let root = std::env::temp_dir().join(format!("ctrsh-complete-net-{}", std::process::id()));
        for name in ["web", "db"] {
            let dir = root.join(".networks").join(name);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("network.json"), "{}").unwrap();
        }
        c.network_root = root.clone();
        assert_eq!(names(&c, "network::inspect(\"w"), vec!["web"]);
        assert_eq!(names(&c, "network::remove(f, \""), vec!["db", "web"]);
        let line = "network::inspect(\"d";
        assert_eq!(c.candidates(line, line.len()).0, line.len() - 1);
        assert!(
            !names(&c, "print(\"").contains(&"web".to_string()),
            "a path, not a network"
        );
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn image_functions_and_names() {
        let mut c = completion();
        assert_eq!(names(&c, "image::pu"), vec!["pull"]);
        let store = std::env::temp_dir().join(format!("ctrsh-complete-img-{}", std::process::id()));
        std::fs::create_dir_all(&store).unwrap();
        let names_json =
            r#"{"docker.io/library/alpine:3.20": "sha256:00", "localhost/app:1": "sha256:11"}"#;
        std::fs::write(store.join("names.json"), names_json).unwrap();
        c.image_store = store.clone();
        assert_eq!(names(&c, "image::remove(\"loc"), vec!["localhost/app:1"]);
        assert_eq!(names(&c, "image::get(\"").len(), 2);
        assert_eq!(
            names(&c, "f.create(\"x\", #{ image: \"docker"),
            vec!["docker.io/library/alpine:3.20"]
        );
        assert!(
            !names(&c, "#{ rootfs: \"").contains(&"localhost/app:1".to_string()),
            "a path, not an image"
        );
        std::fs::remove_dir_all(&store).unwrap();
    }

    #[test]
    fn paths_inside_strings() {
        let dir = std::env::temp_dir().join(format!("ctrsh-complete-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("rootfs-a")).unwrap();
        std::fs::write(dir.join("run.rhai"), "").unwrap();
        let c = completion();
        let line = format!("#{{ rootfs: \"{}/roo", dir.display());
        let (start, found) = c.candidates(&line, line.len());
        assert_eq!(start, line.find('"').unwrap() + 1);
        let shown: Vec<&str> = found.iter().map(|p| p.replacement.as_str()).collect();
        assert_eq!(shown, [format!("{}/rootfs-a/", dir.display())]);
        // A char literal is not a path; after a closed string is code again.
        assert!(names(&c, "'/").is_empty());
        assert_eq!(names(&c, "print(\"/\", cont"), vec!["container"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
