//! Filters are tested for real: a forked child installs the program and
//! makes system calls, and its exit code says which check failed. The test
//! process itself is never filtered. After fork only system calls run in the
//! child (no allocation), as the test harness has other threads.

use super::*;
use crate::test_host::Need::Root;
use caps::Capability;
use serde_json::json;

#[derive(Debug, PartialEq)]
enum Ended {
    Exited(i32),
    Signaled(i32),
}

/// Exit code of a child whose `apply` failed.
const APPLY_FAILED: i32 = 100;

/// Forks; the child runs `f` and exits with its result.
fn run_in_child(f: impl FnOnce() -> i32) -> Ended {
    // SAFETY: the child only makes system calls and leaves with _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
    if pid == 0 {
        let code = f();
        // SAFETY: the child leaves without running the parent's destructors.
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    loop {
        // SAFETY: `status` is a valid int to write.
        let rc = unsafe { libc::waitpid(pid, &mut status, 0) };
        if rc == pid {
            break;
        }
        let err = std::io::Error::last_os_error();
        assert_eq!(
            err.kind(),
            std::io::ErrorKind::Interrupted,
            "waitpid: {err}"
        );
    }
    if libc::WIFEXITED(status) {
        Ended::Exited(libc::WEXITSTATUS(status))
    } else {
        Ended::Signaled(libc::WTERMSIG(status))
    }
}

fn has_cap_sys_admin() -> bool {
    caps::has_cap(None, caps::CapSet::Effective, Capability::CAP_SYS_ADMIN).unwrap()
}

/// In a child: applies `program` and exits with the result of `checks`
/// (0: all passed, else the number of the failed check). Without
/// CAP_SYS_ADMIN (tests not run as root) the child sets no_new_privs first,
/// as the kernel then requires.
fn run_filtered(program: &Program, checks: fn() -> i32) -> Ended {
    let privileged = has_cap_sys_admin();
    run_in_child(|| {
        if !privileged {
            // SAFETY: prctl with integer arguments.
            unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
        }
        match apply(program) {
            Ok(()) => checks(),
            Err(_) => APPLY_FAILED,
        }
    })
}

fn errno() -> i32 {
    // SAFETY: reads this thread's errno.
    unsafe { *libc::__errno_location() }
}

/// The system call returned -1 with `expected` in errno.
fn failed_with(rc: libc::c_long, expected: i32) -> bool {
    rc == -1 && errno() == expected
}

/// Raw system calls, since the C library's wrappers of calls that cannot
/// fail (getppid, getuid, ...) return -errno without setting errno.
fn syscall(nr: libc::c_long, a: libc::c_long, b: libc::c_long, c: libc::c_long) -> libc::c_long {
    // SAFETY: the tests pass null or invalid pointers only to calls that
    // the filter stops or that reject them.
    unsafe { libc::syscall(nr, a, b, c, 0, 0) }
}

fn compile(seccomp: &Seccomp, capabilities: &[Capability]) -> Program {
    seccomp
        .compile(&capabilities.iter().copied().collect())
        .unwrap()
        .expect("a filter")
}

fn profile(json: serde_json::Value) -> Seccomp {
    let seccomp: Seccomp = serde_json::from_value(json).unwrap();
    seccomp.compile(&CapsHashSet::new()).unwrap();
    seccomp
}

fn validation_error(json: serde_json::Value) -> String {
    let seccomp: Seccomp = serde_json::from_value(json).unwrap();
    seccomp
        .compile(&CapsHashSet::new())
        .unwrap_err()
        .to_string()
}

/// Checks of the default profile common to every capability set.
fn default_profile_checks() -> i32 {
    const KEYCTL_GET_KEYRING_ID: libc::c_long = 0;
    const KEY_SPEC_SESSION_KEYRING: libc::c_long = -3;
    let eperm = libc::EPERM;
    if !failed_with(
        syscall(
            libc::SYS_keyctl,
            KEYCTL_GET_KEYRING_ID,
            KEY_SPEC_SESSION_KEYRING,
            0,
        ),
        eperm,
    ) {
        return 1;
    }
    // Unfiltered, these fail with EINVAL or EFAULT, not EPERM.
    if !failed_with(syscall(libc::SYS_add_key, 0, 0, 0), eperm) {
        return 4;
    }
    if !failed_with(syscall(libc::SYS_userfaultfd, 0, 0, 0), eperm) {
        return 5;
    }
    // A call Docker's profile allows reaches the kernel: rmdir of a
    // missing path fails with ENOENT, not the filter's EPERM.
    let missing = c"/ctrsh-seccomp-no-such-dir";
    if !failed_with(
        syscall(libc::SYS_rmdir, missing.as_ptr() as libc::c_long, 0, 0),
        libc::ENOENT,
    ) {
        return 12;
    }
    // SAFETY: system calls without pointers the kernel writes through.
    unsafe {
        if libc::getpid() <= 0 {
            return 6;
        }
        if libc::write(2, b"".as_ptr().cast(), 0) != 0 {
            return 7;
        }
        // personality: querying (0xffffffff) is allowed, setting
        // ADDR_NO_RANDOMIZE is not.
        if libc::personality(0xffff_ffff) < 0 {
            return 8;
        }
        if libc::personality(libc::ADDR_NO_RANDOMIZE as libc::c_ulong) != -1 || errno() != eperm {
            return 9;
        }
        let fd = libc::socket(libc::AF_UNIX, libc::SOCK_STREAM, 0);
        if fd < 0 {
            return 10;
        }
        libc::close(fd);
        if libc::socket(libc::AF_VSOCK, libc::SOCK_STREAM, 0) != -1 || errno() != eperm {
            return 11;
        }
    }
    0
}

/// A filtered child's fork (clone without namespace flags) works.
fn fork_works() -> bool {
    // SAFETY: the grandchild leaves at once.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: the grandchild leaves at once.
        unsafe { libc::_exit(42) };
    }
    let mut status = 0;
    pid > 0
        // SAFETY: `status` is a valid int to write.
        && unsafe { libc::waitpid(pid, &mut status, 0) } == pid
        && libc::WIFEXITED(status)
        && libc::WEXITSTATUS(status) == 42
}

/// clone with CLONE_NEWUSER fails with `expected` (a child it makes
/// anyway leaves at once).
fn clone_newuser_fails_with(expected: i32) -> bool {
    let flags = (libc::CLONE_NEWUSER | libc::SIGCHLD) as libc::c_long;
    let rc = syscall(libc::SYS_clone, flags, 0, 0);
    if rc == 0 {
        // SAFETY: the child of the clone leaves at once.
        unsafe { libc::_exit(0) };
    }
    if rc > 0 {
        // SAFETY: a null status is allowed.
        unsafe { libc::waitpid(rc as libc::pid_t, std::ptr::null_mut(), 0) };
    }
    failed_with(rc, expected)
}

#[test]
fn default_profile_without_cap_sys_admin() {
    let program = compile(&Seccomp::Default, &[Capability::CAP_CHOWN]);
    fn checks() -> i32 {
        match default_profile_checks() {
            0 => {}
            code => return code,
        }
        let eperm = libc::EPERM;
        // Unfiltered, these fail with EINVAL or EFAULT, not EPERM.
        if !failed_with(syscall(libc::SYS_bpf, -1, 0, 0), eperm) {
            return 18;
        }
        if !failed_with(syscall(libc::SYS_perf_event_open, 0, 0, -1), eperm) {
            return 19;
        }
        // Harmless unfiltered: unshare(0) does nothing, mount of nothing
        // fails with EFAULT.
        if !failed_with(syscall(libc::SYS_unshare, 0, 0, 0), eperm) {
            return 20;
        }
        let newuser = libc::CLONE_NEWUSER as libc::c_long;
        if !failed_with(syscall(libc::SYS_unshare, newuser, 0, 0), eperm) {
            return 21;
        }
        if !failed_with(syscall(libc::SYS_mount, 0, 0, 0), eperm) {
            return 22;
        }
        if !failed_with(syscall(libc::SYS_setns, -1, 0, 0), eperm) {
            return 23;
        }
        if !fork_works() {
            return 24;
        }
        if !clone_newuser_fails_with(eperm) {
            return 25;
        }
        // clone3 fails with ENOSYS so that the C library falls back to clone.
        if !failed_with(syscall(libc::SYS_clone3, 0, 0, 0), libc::ENOSYS) {
            return 26;
        }
        0
    }
    assert_eq!(run_filtered(&program, checks), Ended::Exited(0));
}

#[test]
fn default_profile_with_cap_sys_admin_allows_namespaces() {
    let program = compile(&Seccomp::Default, &[Capability::CAP_SYS_ADMIN]);
    fn checks() -> i32 {
        match default_profile_checks() {
            0 => {}
            code => return code,
        }
        if syscall(libc::SYS_unshare, 0, 0, 0) != 0 {
            return 20;
        }
        // Unfiltered, clone3 with a null argument fails with EFAULT/EINVAL.
        let rc = syscall(libc::SYS_clone3, 0, 0, 0);
        if rc != -1 || errno() == libc::ENOSYS || errno() == libc::EPERM {
            return 21;
        }
        if !fork_works() {
            return 22;
        }
        0
    }
    assert_eq!(run_filtered(&program, checks), Ended::Exited(0));
}

#[test]
fn custom_allow_list_with_argument_conditions() {
    let seccomp = profile(json!({
        "default_action": "SCMP_ACT_ERRNO",
        "default_errno": libc::EACCES,
        "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [
            { "names": ["exit", "exit_group", "getpid"], "action": "SCMP_ACT_ALLOW" },
            {
                "names": ["personality"],
                "action": "SCMP_ACT_ALLOW",
                "args": [{ "index": 0, "value": 0, "op": "SCMP_CMP_EQ" }]
            },
            // setpgid: allowed while its pid (arg 0) has none of 0xff00's bits.
            {
                "names": ["setpgid"],
                "action": "SCMP_ACT_ALLOW",
                "args": [{ "index": 0, "value": 0xff00, "value_two": 0, "op": "SCMP_CMP_MASKED_EQ" }]
            },
            { "names": ["getuid"], "action": "SCMP_ACT_ERRNO", "errno": libc::ENOENT }
        ]
    }));
    let program = compile(&seccomp, &[]);
    fn checks() -> i32 {
        // SAFETY: plain system calls.
        unsafe {
            if libc::getpid() <= 0 {
                return 1;
            }
            if !failed_with(syscall(libc::SYS_getppid, 0, 0, 0), libc::EACCES) {
                return 2;
            }
            if libc::personality(0) < 0 {
                return 3;
            }
            if libc::personality(0xffff_ffff) != -1 || errno() != libc::EACCES {
                return 4;
            }
            if !failed_with(syscall(libc::SYS_getuid, 0, 0, 0), libc::ENOENT) {
                return 5;
            }
            // Masked bits clear: reaches the kernel (pid 0x12 does not exist).
            if libc::setpgid(0x12, 0) != -1 || errno() != libc::ESRCH {
                return 6;
            }
            if libc::setpgid(0x1200, 0) != -1 || errno() != libc::EACCES {
                return 7;
            }
        }
        0
    }
    assert_eq!(run_filtered(&program, checks), Ended::Exited(0));
}

/// A deny-list profile: everything allowed but what the rules name.
fn deny_list() -> Program {
    let seccomp = profile(json!({
        "default_action": "SCMP_ACT_ALLOW",
        "syscalls": [
            { "names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errno": libc::EACCES },
            { "names": ["getuid"], "action": "SCMP_ACT_KILL_PROCESS" },
            { "names": ["getgid"], "action": "SCMP_ACT_TRAP" },
            { "names": ["getegid"], "action": "SCMP_ACT_LOG" },
            {
                "names": ["getpgid"],
                "action": "SCMP_ACT_KILL",
                "args": [{ "index": 0, "value": 1, "op": "SCMP_CMP_GE" }]
            }
        ]
    }));
    compile(&seccomp, &[])
}

#[test]
fn deny_list_errno_and_log_actions() {
    fn checks() -> i32 {
        // SAFETY: plain system calls.
        unsafe {
            if !failed_with(syscall(libc::SYS_getppid, 0, 0, 0), libc::EACCES) {
                return 1;
            }
            if libc::getpid() <= 0 {
                return 2;
            }
            // Logged, then allowed.
            if syscall(libc::SYS_getegid, 0, 0, 0) < 0 {
                return 3;
            }
            // getpgid(0) does not match the kill rule's arg0 >= 1.
            if libc::getpgid(0) < 0 {
                return 4;
            }
        }
        0
    }
    assert_eq!(run_filtered(&deny_list(), checks), Ended::Exited(0));
}

#[test]
fn deny_list_kill_and_trap_actions() {
    let program = deny_list();
    fn getuid() -> i32 {
        // SAFETY: getuid has no arguments.
        unsafe { libc::getuid() as i32 }
    }
    fn getgid() -> i32 {
        // SAFETY: getgid has no arguments.
        unsafe { libc::getgid() as i32 }
    }
    fn getpgid() -> i32 {
        // SAFETY: getpgid takes a pid.
        unsafe { libc::getpgid(1) }
    }
    for checks in [getuid as fn() -> i32, getgid, getpgid] {
        assert_eq!(
            run_filtered(&program, checks),
            Ended::Signaled(libc::SIGSYS)
        );
    }
}

#[test]
fn x32_system_calls_are_killed() {
    // Otherwise an x32 getppid would get past the deny-list's rule.
    fn checks() -> i32 {
        syscall(libc::SYS_getppid | 0x4000_0000, 0, 0, 0) as i32
    }
    assert_eq!(
        run_filtered(&deny_list(), checks),
        Ended::Signaled(libc::SIGSYS)
    );
}

#[test]
fn a_profile_that_denies_seccomp_still_installs() {
    let seccomp = profile(json!({
        "default_action": "SCMP_ACT_ALLOW",
        "syscalls": [
            { "names": ["seccomp", "prctl"], "action": "SCMP_ACT_ERRNO" },
            { "names": ["getppid"], "action": "SCMP_ACT_TRAP" }
        ]
    }));
    let program = compile(&seccomp, &[]);
    fn checks() -> i32 {
        if !failed_with(syscall(libc::SYS_seccomp, 0, 0, 0), libc::EPERM) {
            return 1;
        }
        0
    }
    assert_eq!(run_filtered(&program, checks), Ended::Exited(0));
}

#[test]
fn apply_leaves_no_new_privs_to_the_config() {
    // Without no_new_privs only CAP_SYS_ADMIN may install a filter.
    if !crate::test_host::requires("apply_leaves_no_new_privs_to_the_config", &[Root]) {
        return;
    }
    fn no_new_privs() -> i32 {
        // SAFETY: prctl with integer arguments.
        unsafe { libc::prctl(libc::PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) }
    }
    let program = compile(&Seccomp::Default, &[]);
    assert_eq!(run_filtered(&program, no_new_privs), Ended::Exited(0));
}

#[test]
fn apply_without_privilege_or_no_new_privs_fails() {
    let program = compile(&Seccomp::Default, &[]);
    // SAFETY: system calls with integer arguments, in a forked child.
    let ended = run_in_child(|| unsafe {
        // Root loses its capabilities on the switch to another uid.
        if libc::geteuid() == 0 && libc::setresuid(65534, 65534, 65534) != 0 {
            return 2;
        }
        match apply(&program) {
            Ok(()) => 1,
            Err(e)
                if e.message
                    .contains("CAP_SYS_ADMIN): Permission denied (EACCES)") =>
            {
                0
            }
            Err(_) => 3,
        }
    });
    assert_eq!(ended, Ended::Exited(0));
}

#[test]
fn a_program_round_trips_through_serde() {
    let program = compile(&Seccomp::Default, &[]);
    let json = serde_json::to_string(&program).unwrap();
    assert!(json.starts_with('"'), "{json}");
    assert_eq!(serde_json::from_str::<Program>(&json).unwrap(), program);
    assert!(
        serde_json::from_str::<Program>("\"AAAA\"").is_err(),
        "3 bytes"
    );
}

#[test]
fn unconfined_compiles_to_nothing() {
    assert!(matches!(
        Seccomp::Unconfined.compile(&CapsHashSet::new()),
        Ok(None)
    ));
}

#[test]
fn default_profile_validates_and_fits_for_any_capabilities() {
    for capabilities in [CapsHashSet::new(), caps::all()] {
        let profile = default_profile::profile(&capabilities);
        let parsed = profile.parse().unwrap();
        let len = compile::program(parsed).unwrap().len();
        assert!(len < compile::MAX_INSTRUCTIONS, "{len} instructions");
    }
}

#[test]
fn config_forms_deserialise_and_round_trip() {
    for form in [
        json!("default"),
        json!("unconfined"),
        json!({
            "default_action": "SCMP_ACT_ERRNO",
            "default_errno": 1,
            "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [{
                "names": ["personality"],
                "action": "SCMP_ACT_ALLOW",
                "args": [{ "index": 0, "value": 1, "value_two": 0, "op": "SCMP_CMP_MASKED_EQ" }]
            }]
        }),
    ] {
        let seccomp: Seccomp = serde_json::from_value(form.clone()).unwrap();
        assert_eq!(serde_json::to_value(&seccomp).unwrap(), form);
    }
    assert_eq!(
        serde_json::from_value::<Seccomp>(json!("default")).unwrap(),
        Seccomp::Default
    );
}

#[test]
fn deserialise_errors_name_what_is_wrong() {
    let e = serde_json::from_value::<Seccomp>(json!("defualt"))
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("unknown seccomp profile 'defualt' (did you mean 'default'?)"),
        "{e}"
    );
    let e = serde_json::from_value::<Seccomp>(json!({ "defualt_action": "SCMP_ACT_ALLOW" }))
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("unknown field `defualt_action`"), "{e}");
    let e = serde_json::from_value::<Seccomp>(json!({
        "default_action": "SCMP_ACT_ALLOW",
        "syscalls": [{ "names": ["read"], "action": "SCMP_ACT_ERRNO", "errno_ret": 1 }]
    }))
    .unwrap_err()
    .to_string();
    assert!(e.starts_with("unknown field `errno_ret`"), "{e}");
    let e = serde_json::from_value::<Seccomp>(json!(7))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("\"default\", \"unconfined\" or a profile map"),
        "{e}"
    );
}

#[test]
fn validate_names_the_key_and_suggests() {
    let rule = |rule: serde_json::Value| {
        validation_error(json!({
            "default_action": "SCMP_ACT_ERRNO",
            "syscalls": [
                { "names": ["read"], "action": "SCMP_ACT_ALLOW" },
                { "names": ["write"], "action": "SCMP_ACT_ALLOW" },
                rule
            ]
        }))
    };
    assert_eq!(
        rule(json!({ "names": ["opne"], "action": "SCMP_ACT_ALLOW" })),
        "seccomp.syscalls[2].names[0]: unknown syscall 'opne' (did you mean 'open'?)"
    );
    assert!(rule(json!({ "names": ["read"], "action": "SCMP_ACT_ALOW" })).starts_with(
        "seccomp.syscalls[2].action: unknown action 'SCMP_ACT_ALOW' (did you mean 'SCMP_ACT_ALLOW'?)"
    ));
    assert_eq!(
        rule(json!({ "names": [], "action": "SCMP_ACT_ALLOW" })),
        "seccomp.syscalls[2].names: lists no system call"
    );
    assert_eq!(
        rule(json!({ "names": ["read"], "action": "SCMP_ACT_ALLOW", "errno": 1 })),
        "seccomp.syscalls[2].errno: only SCMP_ACT_ERRNO returns an errno, not SCMP_ACT_ALLOW"
    );
    assert_eq!(
        rule(json!({ "names": ["read"], "action": "SCMP_ACT_ERRNO", "errno": 5000 })),
        "seccomp.syscalls[2].errno: 5000 is not an errno (at most 4095)"
    );
    let arg = |arg: serde_json::Value| {
        rule(json!({ "names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [arg] }))
    };
    assert!(arg(json!({ "index": 0, "value": 1, "op": "SCMP_CMP_EQQ" })).starts_with(
        "seccomp.syscalls[2].args[0].op: unknown comparison 'SCMP_CMP_EQQ' (did you mean 'SCMP_CMP_EQ'?)"
    ));
    assert_eq!(
        arg(json!({ "index": 6, "value": 1, "op": "SCMP_CMP_EQ" })),
        "seccomp.syscalls[2].args[0].index: 6 is not an argument index (0 to 5)"
    );
    assert_eq!(
        arg(json!({ "index": 0, "value": 1, "value_two": 1, "op": "SCMP_CMP_EQ" })),
        "seccomp.syscalls[2].args[0].value_two: only SCMP_CMP_MASKED_EQ uses value_two, not SCMP_CMP_EQ"
    );
}

#[test]
fn validate_checks_the_default_action_and_architectures() {
    assert!(validation_error(json!({ "default_action": "SCMP_ACT_EROR" })).starts_with(
        "seccomp.default_action: unknown action 'SCMP_ACT_EROR' (did you mean 'SCMP_ACT_ERRNO'?)"
    ));
    assert_eq!(
        validation_error(json!({ "default_action": "SCMP_ACT_KILL", "default_errno": 1 })),
        "seccomp.default_errno: only SCMP_ACT_ERRNO returns an errno, not SCMP_ACT_KILL"
    );
    let arch = |name: &str| {
        validation_error(json!({ "default_action": "SCMP_ACT_ALLOW", "architectures": [name] }))
    };
    assert!(arch("SCMP_ARCH_X86").starts_with(
        "seccomp.architectures[0]: SCMP_ARCH_X86 is not supported: the filter covers the \
         native ABI (SCMP_ARCH_X86_64) only"
    ));
    assert_eq!(
        arch("SCMP_ARCH_X86_46"),
        "seccomp.architectures[0]: unknown architecture 'SCMP_ARCH_X86_46' \
         (did you mean 'SCMP_ARCH_X86_64'?) (supported: SCMP_ARCH_X86_64)"
    );
}

#[test]
fn doc_examples_deserialise_validate_and_compile() {
    let doc = include_str!("../../../docs/seccomp.md");
    let blocks: Vec<&str> = doc
        .split("```rhai\n")
        .skip(1)
        .map(|rest| rest.split("```").next().unwrap_or_default())
        .collect();
    assert_eq!(blocks.len(), 3);
    let engine = rhai::Engine::new();
    for block in blocks {
        let script = block.trim().trim_start_matches("let config = ");
        let config: rhai::Map = engine.eval(script.trim_end_matches(';')).unwrap();
        let seccomp: Seccomp = rhai::serde::from_dynamic(&config["seccomp"]).unwrap();
        seccomp.compile(&CapsHashSet::new()).unwrap();
    }
}

#[test]
fn deserialise_errors_inside_the_map_keep_their_path() {
    // As Config reads it: the key path comes from serde_path_to_error.
    #[derive(Debug, Deserialize)]
    struct Config {
        #[allow(dead_code)]
        seccomp: Seccomp,
    }
    let json = json!({ "seccomp": {
        "default_action": "SCMP_ACT_ERRNO",
        "syscalls": [{ "names": ["read"], "acton": "SCMP_ACT_ALLOW" }]
    }});
    let e = serde_path_to_error::deserialize::<_, Config>(json).unwrap_err();
    assert_eq!(e.path().to_string(), "seccomp.syscalls[0].acton");
    assert!(e.inner().to_string().starts_with("unknown field `acton`"));
}

#[test]
fn overlapping_rules_take_the_highest_precedence_action() {
    let seccomp = profile(json!({
        "default_action": "SCMP_ACT_ERRNO",
        "syscalls": [
            { "names": ["exit_group", "getppid"], "action": "SCMP_ACT_ALLOW" },
            { "names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errno": libc::EACCES },
            { "names": ["getppid"], "action": "SCMP_ACT_KILL_PROCESS" }
        ]
    }));
    fn checks() -> i32 {
        syscall(libc::SYS_getppid, 0, 0, 0) as i32
    }
    assert_eq!(
        run_filtered(&compile(&seccomp, &[]), checks),
        Ended::Signaled(libc::SIGSYS)
    );
}
