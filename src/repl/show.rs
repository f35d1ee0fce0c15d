//! How the prompt shows a value: as `to_debug` prints it, and a map or an
//! array too long for one line over several, one entry per line.

use rhai::{Array, Dynamic, Map};

/// Lines longer than this are broken up.
const WIDTH: usize = 80;
const INDENT: usize = 4;

/// `value` as `debug` prints it, or, when that is longer than a line and
/// the value is a map or an array, its entries on lines of their own,
/// nested ones likewise.
pub fn show(value: &Dynamic, debug: &dyn Fn(&Dynamic) -> String) -> String {
    render(value, 0, 0, debug)
}

/// `value` on a line indented by `indent`, where `lead` columns are
/// taken already (the indent, and a map key).
fn render(
    value: &Dynamic,
    indent: usize,
    lead: usize,
    debug: &dyn Fn(&Dynamic) -> String,
) -> String {
    let flat = debug(value);
    if lead + flat.chars().count() <= WIDTH {
        return flat;
    }
    let inner = " ".repeat(indent + INDENT);
    let entry = |text: String| format!("{inner}{text},\n");
    if let Some(map) = value.read_lock::<Map>() {
        let mut out = String::from("#{\n");
        for (key, v) in map.iter() {
            let key = format!("{}: ", debug(&Dynamic::from(key.to_string())));
            let lead = inner.len() + key.chars().count();
            out += &entry(format!("{key}{}", render(v, indent + INDENT, lead, debug)));
        }
        return format!("{out}{}}}", " ".repeat(indent));
    }
    if let Some(array) = value.read_lock::<Array>() {
        let mut out = String::from("[\n");
        for v in array.iter() {
            out += &entry(render(v, indent + INDENT, inner.len(), debug));
        }
        return format!("{out}{}]", " ".repeat(indent));
    }
    flat
}

#[cfg(test)]
mod tests {
    use super::*;

    fn debug(engine: &rhai::Engine) -> impl Fn(&Dynamic) -> String + '_ {
        move |v| {
            let mut scope = rhai::Scope::new();
            scope.push_dynamic("v", v.clone());
            engine
                .eval_with_scope::<String>(&mut scope, "to_debug(v)")
                .unwrap()
        }
    }

    #[test]
    fn short_values_stay_on_one_line_long_ones_break() {
        let engine = rhai::Engine::new();
        let debug = debug(&engine);
        let short: Dynamic = engine.eval("#{ a: 1, b: [1, 2] }").unwrap();
        assert_eq!(show(&short, &debug), "#{\"a\": 1, \"b\": [1, 2]}");
        let long: Dynamic = engine
            .eval(
                r#"#{ name: "a-rather-long-container-name", state: "running",
                     pids: [1001, 1002, 1003], memory: #{ usage: 123456789, limit: 268435456,
                     cache: 1, rss: 2, swap: 3, failcnt: 0, oom_kills: 0, max_usage: 5 } }"#,
            )
            .unwrap();
        let shown = show(&long, &debug);
        assert_eq!(
            shown,
            "#{\n    \"memory\": #{\n        \"cache\": 1,\n        \"failcnt\": 0,\n        \
             \"limit\": 268435456,\n        \"max_usage\": 5,\n        \"oom_kills\": 0,\n        \
             \"rss\": 2,\n        \"swap\": 3,\n        \"usage\": 123456789,\n    },\n    \
             \"name\": \"a-rather-long-container-name\",\n    \"pids\": [1001, 1002, 1003],\n    \
             \"state\": \"running\",\n}"
        );
        assert!(shown.lines().all(|l| l.len() <= WIDTH), "{shown}");
    }
}
