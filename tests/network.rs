//! Bridge networks, in network namespaces the tests make (never the
//! machine's own): bridge, veth and addresses over netlink, NAT and port
//! forwards in nftables, leases, and what teardown leaves.

mod common;

use common::netns::{self, DestroyIn, Netns, World, HOST_IP, OUTSIDE_IP};
use common::{Need, Sandbox};
use ctrsh::runtime::{NetworkSpec, Networks, SubnetSpec};

/// The tools every network test uses.
const TOOLS: [Need; 2] = [Need::Program("ip"), Need::Program("nft")];

fn sandbox(test: &str) -> Option<Sandbox> {
    if !common::requires(test, &TOOLS) {
        return None;
    }
    Sandbox::new(test)
}

fn spec(subnets: &[&str]) -> NetworkSpec {
    NetworkSpec {
        subnets: subnets
            .iter()
            .map(|s| SubnetSpec {
                subnet: s.parse().unwrap(),
                gateway: None,
            })
            .collect(),
        ipv6: false,
        mtu: None,
    }
}

/// A bridge someone else made is used as it is and kept; one without the
/// gateway address, a link that is no bridge, and a bridge of another
/// ctrsh root are refused, naming what is wrong.
#[test]
fn bridges_ctrsh_did_not_make_are_used_but_never_removed() {
    let Some(sb) = sandbox("net-user-bridge") else {
        return;
    };
    let host = Netns::new("host");
    host.ip(&["link", "add", "br-user", "type", "bridge"]);
    host.ip(&[
        "link", "add", "veth-a", "type", "veth", "peer", "name", "veth-b",
    ]);
    let networks = Networks::new(&sb.root);
    let other_root = Networks::new(&sb.dir.join("other-root"));
    host.enter(|| {
        let e = networks
            .create("br-user", &spec(&["10.90.0.0/24"]))
            .unwrap_err();
        assert!(
            e.message
                .contains("without the gateway address 10.90.0.1/24"),
            "{e}"
        );
        let e = networks
            .create("veth-a", &spec(&["10.91.0.0/24"]))
            .unwrap_err();
        assert!(e.message.contains("is not a bridge (veth)"), "{e}");
        assert_eq!(
            networks.list().unwrap(),
            Vec::<String>::new(),
            "nothing kept"
        );

        networks.create("ctrsh0", &spec(&["10.88.0.0/24"])).unwrap();
        let e = other_root
            .create("ctrsh0", &spec(&["10.89.0.0/24"]))
            .unwrap_err();
        assert!(
            e.message.contains("the bridge belongs to ctrsh's root"),
            "{e}"
        );
        let e = networks
            .create("ctrsh1", &spec(&["10.88.0.128/25"]))
            .unwrap_err();
        assert!(e.message.contains("overlaps network 'ctrsh0'"), "{e}");
        networks.remove("ctrsh0").unwrap();
    });
    host.ip(&["addr", "add", "10.90.0.1/24", "dev", "br-user"]);
    host.enter(|| {
        networks
            .create("br-user", &spec(&["10.90.0.0/24"]))
            .unwrap();
        assert!(!networks.inspect("br-user").unwrap().bridge_made_by_ctrsh);
        networks.remove("br-user").unwrap();
    });
    assert_eq!(host.links(), ["lo", "br-user", "veth-b", "veth-a"]);
    assert_eq!(host.nft_tables(), "");
}

/// A network without a subnet gets the first /24 of 10.90.0.0/16 that no
/// route covers (and, asked for IPv6, a unique local /64).
#[test]
fn networks_without_a_subnet_get_a_free_one() {
    let Some(sb) = sandbox("net-auto") else {
        return;
    };
    let host = Netns::new("host");
    host.ip(&[
        "link",
        "add",
        "taken",
        "type",
        "veth",
        "peer",
        "name",
        "taken-peer",
    ]);
    host.ip(&["addr", "add", "10.90.0.1/24", "dev", "taken"]);
    host.ip(&["link", "set", "taken", "up"]);
    let networks = Networks::new(&sb.root);
    host.enter(|| {
        let auto = NetworkSpec {
            ipv6: true,
            ..NetworkSpec::default()
        };
        let a = networks.create("auto0", &auto).unwrap();
        let b = networks.create("auto1", &NetworkSpec::default()).unwrap();
        assert_eq!(a.subnets[0].subnet.to_string(), "10.90.1.0/24");
        let ula = a.subnets[1].subnet.to_string();
        assert!(ula.starts_with("fd") && ula.ends_with("::/64"), "{ula}");
        assert_eq!(b.subnets.len(), 1);
        assert_eq!(b.subnets[0].subnet.to_string(), "10.90.2.0/24");
        networks.remove("auto0").unwrap();
        networks.remove("auto1").unwrap();
    });
}

/// `ctrsh network ...` and the script's `network::` functions, run inside
/// the test's namespace; a bad option is named and leaves nothing.
#[test]
fn network_commands_and_script_functions() {
    let Some(sb) = sandbox("net-cli") else {
        return;
    };
    let host = Netns::new("host");
    let root = sb.root.to_string_lossy().into_owned();
    let ctrsh = |args: &[&str]| {
        let mut all = vec!["network", "--root", &root];
        all.extend_from_slice(args);
        host.exec(common::CTRSH, &all)
    };
    let (ok, out) = ctrsh(&[
        "create",
        "--subnet",
        "10.88.0.0/24",
        "--ipv6=fd88::/64",
        "web",
    ]);
    assert!(ok, "{out}");
    assert_eq!(out, "10.88.0.0/24 fd88::/64\n");
    assert_eq!(
        ctrsh(&["list"]),
        (true, "web\t10.88.0.0/24 fd88::/64\n".into())
    );
    let (ok, out) = ctrsh(&["inspect", "web"]);
    assert!(
        ok && out.contains("\"bridge_made_by_ctrsh\": true"),
        "{out}"
    );

    let script = format!(
        r#"let f = factory({root});
let web = network::inspect(f, "web");
print(web.subnets[0].gateway + " " + web.mtu);
network::create(f, "db", #{{ subnet: "10.89.0.0/24", mtu: 1400 }});
print(network::list(f));
network::remove(f, "db");
try {{ network::create(f, "bad", #{{ subnet: "10.90.0.0/24", gatway: "10.90.0.1" }}); }}
catch (e) {{ print(e.message); }}
print(network::list(f));"#,
        root = common::rhai_str(&root)
    );
    let (ok, out) = host.exec(common::CTRSH, &["-e", &script]);
    assert!(ok, "{out}");
    assert_eq!(
        out,
        "10.88.0.1 1500\n[\"db\", \"web\"]\ninvalid network: gatway: unknown field `gatway` (did you mean 'gateway'?)\n[\"web\"]\n"
    );
    assert_eq!(host.links(), ["lo", "web"]);

    let (ok, out) = ctrsh(&["remove", "web"]);
    assert!(ok, "{out}");
    assert_eq!(host.links(), ["lo"]);
    assert_eq!(host.nft_tables(), "");
    let (ok, out) = ctrsh(&["inspect", "web"]);
    assert!(!ok && out.contains("network 'web' does not exist"), "{out}");
}

/// docs/networks.md's examples, run in the test's namespace on the
/// sandbox's root: the script prints what its comments say, and the
/// command lines succeed.
#[test]
fn the_networks_doc_examples_run() {
    let Some(sb) = sandbox("net-doc") else {
        return;
    };
    let host = Netns::new("host");
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/networks.md")).unwrap();
    let block = |lang: &str| {
        let start = doc.find(&format!("```{lang}\n")).unwrap() + lang.len() + 4;
        doc[start..start + doc[start..].find("```").unwrap()].to_string()
    };
    let root = sb.root.to_string_lossy().into_owned();
    let script = block("rhai").replace(
        "factory()",
        &format!("factory({})", common::rhai_str(&root)),
    );
    let (ok, out) = host.exec(common::CTRSH, &["-e", &script]);
    assert!(ok, "{out}");
    let expected: Vec<&str> = script
        .lines()
        .filter_map(|l| l.split_once("// ").map(|(_, said)| said.trim()))
        .collect();
    assert_eq!(out.lines().collect::<Vec<_>>(), expected);
    for line in block("sh").lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(words[..2], ["ctrsh", "network"], "{line}");
        let mut args = vec!["network", "--root", &root];
        args.extend_from_slice(&words[2..]);
        let (ok, out) = host.exec(common::CTRSH, &args);
        assert!(ok, "{line}: {out}");
    }
    assert_eq!(host.links(), ["lo"]);
    assert_eq!(host.nft_tables(), "");
}

/// The containers network `name` of `root` has leases for, read from its
/// file (not through `inspect`, which would free the leases of containers
/// that are gone).
fn leased(root: &std::path::Path, name: &str) -> Vec<String> {
    let file = root.join(".networks").join(name).join("leases.json");
    let leases: serde_json::Value = match std::fs::read(&file) {
        Ok(data) => serde_json::from_slice(&data).unwrap(),
        Err(_) => return vec![],
    };
    leases["leases"]
        .as_object()
        .unwrap()
        .values()
        .map(|l| l["container"].as_str().unwrap().to_string())
        .collect()
}

/// `body` after the sandbox's preamble, run by ctrsh in namespace `ns`;
/// its stdout, which must say it succeeded.
fn script_in(sb: &Sandbox, ns: &Netns, body: &str) -> String {
    let file = sb.script_file(body);
    let out = common::RunningScript::spawn(&mut ns.ctrsh(&[&file.to_string_lossy()])).finish();
    assert_eq!(out.code, Some(0), "the script failed:\n{out}");
    out.stdout
}

/// Two containers on one bridge network with IPv6 (made by the first
/// create) get eth0 with their leases (and the MAC address that follows
/// them), reach each other (ping over IPv4 and IPv6, HTTP), the outside
/// (through NAT: it sees the host's address) and the published port
/// through the host (hairpin, also from the container behind it), and
/// have /etc/hosts and /etc/resolv.conf; the published port answers on
/// the host's address, on 127.0.0.1 and from the outside, and cannot be
/// published twice. Destroying them leaves no veth, lease or port rule;
/// the network and its NAT rule stay until it is removed.
#[test]
fn containers_on_a_bridge_talk_publish_and_leave_nothing() {
    let Some(sb) = sandbox("net-containers") else {
        return;
    };
    let world = World::new(&sb.dir);
    let host = &world.host;
    let _guard = DestroyIn {
        ns: host,
        root: sb.root.clone(),
    };
    std::fs::create_dir_all(sb.rootfs.join("www")).unwrap();
    std::fs::write(sb.rootfs.join("www/index.html"), "hello from a\n").unwrap();
    let out = script_in(
        &sb,
        host,
        &format!(
            r#"config.hostname = "web";
config.networks = [#{{ type: "bridge", name: "ctrsh0", subnet: "10.88.0.0/24", ipv6: "fd88::/64" }}];
config.ports = [#{{ host: 8080, container: 80 }}];
let a = f.create(id + "-a", config);
config.hostname = "client";
config.networks = [#{{ type: "bridge", name: "ctrsh0", address: "10.88.0.9" }}];
config.ports = [];
let b = f.create(id + "-b", config);
print("IPS " + a.ips + " " + b.ips);
let quiet = #{{ env: ["PATH=/bin"], stdin: "null", stdout: "null", stderr: "null" }};
a.start(process(quiet + #{{ args: ["/bin/httpd", "-f", "-p", "80", "-h", "/www"] }}));
b.start(process(quiet + #{{ args: ["/bin/sleep", "60"] }}));
print("PING " + b.exec(["ping", "-c1", "-W5", a.ips[0]]).code + " " + b.exec(["ping", "-c1", "-W5", a.ips[1]]).code);
fn fetch(c, url) {{
    let got = #{{ code: -1, stdout: "" }};
    for i in 0..200 {{
        got = c.exec(["wget", "-qO-", url]);
        if got.code == 0 {{ break; }}
        sleep(0.05);
    }}
    let text = got.stdout;
    text.trim();
    text
}}
print("HTTP " + fetch(b, "http://" + a.ips[0] + "/"));
print("HAIRPIN " + fetch(b, "http://{HOST_IP}:8080/"));
print("SELF " + fetch(a, "http://{HOST_IP}:8080/"));
print("OUTSIDE " + fetch(b, "http://{OUTSIDE_IP}/cgi-bin/addr"));
print("HOSTS " + #{{ text: a.exec(["cat", "/etc/hosts"]).stdout }}.to_json());
print("RESOLV " + #{{ text: a.exec(["cat", "/etc/resolv.conf"]).stdout }}.to_json());
print("ETH0 " + b.exec(["ip", "-o", "-4", "addr", "show", "eth0"]).stdout);
print("MAC " + b.exec(["ip", "-o", "link", "show", "eth0"]).stdout);
config.networks = [#{{ type: "bridge", name: "ctrsh0" }}];
config.ports = [#{{ host: 8080, container: 80 }}];
try {{ f.create(id + "-c", config); }} catch (e) {{ print("CLASH " + e.message); }}
"#
        ),
    );
    let line = |prefix: &str| common::line_of(&out, prefix);
    assert_eq!(
        line("IPS "),
        "[\"10.88.0.2\", \"fd88::2\"] [\"10.88.0.9\", \"fd88::9\"]"
    );
    assert_eq!(line("PING "), "0 0");
    assert_eq!(line("HTTP "), "hello from a");
    assert_eq!(line("HAIRPIN "), "hello from a");
    assert_eq!(
        line("SELF "),
        "hello from a",
        "the container behind the port"
    );
    assert_eq!(line("OUTSIDE "), HOST_IP, "the outside sees the host");
    let text = |prefix: &str| -> String {
        let v: serde_json::Value = serde_json::from_str(&line(prefix)).unwrap();
        v["text"].as_str().unwrap().to_string()
    };
    let hosts = text("HOSTS ");
    assert!(hosts.starts_with("127.0.0.1\tlocalhost\n"), "{hosts}");
    assert!(
        hosts.ends_with(&format!(
            "10.88.0.2\tweb {id}-a\nfd88::2\tweb {id}-a\n",
            id = sb.id
        )),
        "{hosts}"
    );
    let expected =
        host.enter(|| ctrsh::runtime::resolv_conf(std::path::Path::new("/"), true).unwrap());
    assert_eq!(text("RESOLV "), expected);
    assert!(line("ETH0 ").contains("inet 10.88.0.9/24"), "{out}");
    assert!(
        line("MAC ").contains("02:42:00:00:00:09"),
        "the MAC follows the lease: {out}"
    );
    assert!(
        line("CLASH ").contains("tcp 8080 is already forwarded"),
        "{out}"
    );

    let hello = (true, "hello from a\n".to_string());
    let published = |ns: &Netns, ip: &str| ns.fetch(&format!("http://{ip}:8080/"));
    assert_eq!(published(host, HOST_IP), hello, "host, own address");
    assert_eq!(published(host, "127.0.0.1"), hello, "host, loopback");
    assert_eq!(published(&world.outside, HOST_IP), hello, "outside");

    let out = script_in(
        &sb,
        host,
        r#"let a = f.load(id + "-a");
a.destroy();
f.load(id + "-b").destroy();
print("IPS AFTER " + a.ips);"#,
    );
    assert!(out.contains("IPS AFTER []"), "{out}");
    assert_eq!(
        host.links(),
        ["lo", "to-outside", "ctrsh0"],
        "no veth is left"
    );
    assert_eq!(leased(&sb.root, "ctrsh0"), Vec::<String>::new());
    let (_, rules) = host.exec("nft", &["list", "table", "inet", "ctrsh"]);
    assert!(!rules.contains("dport"), "no port rule is left: {rules}");
    assert!(
        rules.contains("masquerade"),
        "the network's NAT stays: {rules}"
    );
    assert!(!published(host, "127.0.0.1").0, "the forward is gone");
    let networks = Networks::new(&sb.root);
    host.enter(|| networks.remove("ctrsh0").unwrap());
    assert_eq!(host.links(), ["lo", "to-outside"]);
    assert_eq!(host.nft_tables(), "");
}

/// A ctrsh killed (SIGKILL) in the middle of a create, once the container
/// has its lease, veth and port forward, leaves nothing a destroy from
/// another process does not remove.
#[test]
fn a_create_killed_midway_leaves_nothing_after_destroy() {
    let Some(sb) = sandbox("net-crash") else {
        return;
    };
    let host = Netns::new("host");
    let _guard = DestroyIn {
        ns: &host,
        root: sb.root.clone(),
    };
    let mark = sb.dir.join("hook-pid");
    // The create_runtime hook runs once the network is set up; it says its
    // pid and waits, so that ctrsh is killed right there.
    let running = common::RunningScript::spawn(&mut host.ctrsh(
        &[&sb
            .script_file(&format!(
                r#"config.networks = [#{{ type: "bridge", name: "ctrsh0", subnet: "10.88.0.0/24", ipv6: "fd88::/64" }}];
config.ports = [#{{ host: 8080, container: 80 }}];
config.hooks = #{{ create_runtime: [#{{ path: "/bin/sh", args: ["sh", "-c", "echo $$ > {mark}.tmp && mv {mark}.tmp {mark} && exec sleep 60"] }}] }};
f.create(id, config);
"#,
                mark = mark.display()
            ))
            .to_string_lossy()],
    ));
    netns::wait_until("the hook", || mark.exists());
    assert_eq!(leased(&sb.root, "ctrsh0"), std::slice::from_ref(&sb.id));
    let veth = ctrsh::runtime::veth_name(&sb.root, &sb.id);
    assert!(host.links().contains(&veth), "{:?}", host.links());
    assert!(host
        .exec("nft", &["list", "table", "inet", "ctrsh"])
        .1
        .contains("dport 8080"));
    let hook: i32 = std::fs::read_to_string(&mark)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let ctrsh_pid = running.pid() as i32;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(ctrsh_pid),
        nix::sys::signal::SIGKILL,
    )
    .unwrap();
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(hook), nix::sys::signal::SIGKILL);
    let _ = running.finish();

    host.enter(|| {
        let f = ctrsh::runtime::Factory::new(&sb.root).unwrap();
        let c = f.load(&sb.id).unwrap();
        assert_eq!(c.status().unwrap().to_string(), "creating");
        c.destroy().unwrap();
    });
    assert_eq!(leased(&sb.root, "ctrsh0"), Vec::<String>::new());
    assert!(!host.links().contains(&veth), "{:?}", host.links());
    let (_, rules) = host.exec("nft", &["list", "table", "inet", "ctrsh"]);
    assert!(!rules.contains("dport 8080"), "{rules}");
    host.enter(|| Networks::new(&sb.root).remove("ctrsh0").unwrap());
    assert_eq!(host.links(), ["lo"]);
    assert_eq!(host.nft_tables(), "");
    sb.assert_nothing_left(&sb.id);
}

/// A "netns" network joins an existing namespace as it is, and a "host"
/// network shares ctrsh's own: the container sees their links, and ctrsh
/// changes nothing of either.
#[test]
fn netns_and_host_networks_join_what_exists() {
    let Some(sb) = sandbox("net-join") else {
        return;
    };
    let host = Netns::new("host");
    let blue = Netns::new("blue");
    host.ip(&[
        "link", "add", "host0", "type", "veth", "peer", "name", "host1",
    ]);
    blue.ip(&[
        "link", "add", "blue0", "type", "veth", "peer", "name", "blue1",
    ]);
    let (host_links, blue_links) = (host.links(), blue.links());
    let _guard = DestroyIn {
        ns: &host,
        root: sb.root.clone(),
    };
    let out = script_in(
        &sb,
        &host,
        &format!(
            r#"let quiet = #{{ args: ["/bin/sleep", "60"], env: ["PATH=/bin"], stdin: "null", stdout: "null", stderr: "null" }};
config.networks = [#{{ type: "netns", path: {blue} }}];
let a = f.create(id + "-a", config);
a.start(process(quiet));
print("NETNS " + a.exec(["ip", "-o", "link"]).stdout);
config.namespaces = ["mount", "uts", "ipc", "pid"];
config.networks = [#{{ type: "host" }}];
let b = f.create(id + "-b", config);
b.start(process(quiet));
print("HOST " + b.exec(["ip", "-o", "link"]).stdout);
a.destroy();
b.destroy();
"#,
            blue = common::rhai_str(&blue.path().to_string_lossy())
        ),
    );
    let netns = &out[out.find("NETNS ").unwrap()..out.find("HOST ").unwrap()];
    let shared = &out[out.find("HOST ").unwrap()..];
    assert!(netns.contains("blue0") && !netns.contains("host0"), "{out}");
    assert!(
        shared.contains("host0") && !shared.contains("blue0"),
        "{out}"
    );
    assert_eq!(blue.links(), blue_links);
    assert_eq!(host.links(), host_links);
}

/// 100 containers created at once on one bridge network (four ctrsh
/// processes, 25 creates each) get 100 distinct addresses; destroying them
/// frees every lease and veth.
#[test]
fn a_hundred_concurrent_creates_get_distinct_addresses() {
    let Some(sb) = sandbox("net-hundred") else {
        return;
    };
    let host = Netns::new("host");
    let _guard = DestroyIn {
        ns: &host,
        root: sb.root.clone(),
    };
    host.enter(|| {
        Networks::new(&sb.root)
            .create("ctrsh0", &spec(&["10.88.0.0/24"]))
            .unwrap()
    });
    let running: Vec<_> = (0..4)
        .map(|n| {
            let file = sb.script_file(&format!(
                r#"config.networks = [#{{ type: "bridge", name: "ctrsh0" }}];
for i in 0..25 {{ print("IP " + f.create(`${{id}}-{n}-${{i}}`, config).ips[0]); }}"#
            ));
            common::RunningScript::spawn(&mut host.ctrsh(&[&file.to_string_lossy()]))
        })
        .collect();
    let mut addresses: Vec<String> = running
        .into_iter()
        .flat_map(|r| {
            let out = r.finish();
            assert_eq!(out.code, Some(0), "a script failed:\n{out}");
            out.stdout
                .lines()
                .filter_map(|l| l.strip_prefix("IP ").map(String::from))
                .collect::<Vec<_>>()
        })
        .collect();
    addresses.sort();
    addresses.dedup();
    assert_eq!(addresses.len(), 100, "{addresses:?}");
    assert_eq!(leased(&sb.root, "ctrsh0").len(), 100);
    script_in(&sb, &host, "for id in f.list() { f.load(id).destroy(); }");
    assert_eq!(leased(&sb.root, "ctrsh0"), Vec::<String>::new());
    assert_eq!(host.links(), ["lo", "ctrsh0"]);
    host.enter(|| Networks::new(&sb.root).remove("ctrsh0").unwrap());
}
