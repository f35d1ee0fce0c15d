//! The bpf(2) calls that load a device program and attach it to a cgroup2
//! directory. Each command takes its own part of `union bpf_attr`, declared
//! here with every byte a named field (no padding goes to the kernel).

use super::program::{self, Insn};
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_DETACH: libc::c_long = 9;
const BPF_PROG_GET_FD_BY_ID: libc::c_long = 13;
const BPF_PROG_QUERY: libc::c_long = 16;

const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
/// Programs of a cgroup and of its ancestors all apply (each can only deny
/// more), and a cgroup below may attach its own.
const BPF_F_ALLOW_MULTI: u32 = 2;
/// Swap the program `replace_bpf_fd` for the new one in one step.
const BPF_F_REPLACE: u32 = 4;

/// The kernel's limit of programs per cgroup and attach type.
const MAX_PROGRAMS: usize = 64;

#[repr(C)]
#[derive(Default, Clone, Copy)]
struct ProgLoad {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

#[repr(C)]
#[derive(Default, Clone, Copy)]
struct ProgAttach {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
}

#[repr(C)]
#[derive(Default, Clone, Copy)]
struct ProgQuery {
    target_fd: u32,
    attach_type: u32,
    query_flags: u32,
    attach_flags: u32,
    prog_ids: u64,
    prog_cnt: u32,
    _unused: u32,
}

#[repr(C)]
#[derive(Default, Clone, Copy)]
struct GetFdById {
    prog_id: u32,
    next_id: u32,
    open_flags: u32,
}

/// More than `union bpf_attr` has ever been. The kernel writes some results
/// to fields newer than ours (BPF_PROG_QUERY's `revision` since Linux 6.6),
/// so the call gets a zeroed buffer of this size rather than the bare struct.
const ATTR_SIZE: usize = 256;

#[repr(C, align(8))]
struct Attr([u8; ATTR_SIZE]);

/// bpf(cmd, attr): the returned value (an fd for some commands); `attr`
/// gets what the kernel wrote into its part.
fn bpf<T: Copy>(cmd: libc::c_long, attr: &mut T) -> io::Result<libc::c_long> {
    let size = std::mem::size_of::<T>();
    assert!(size <= ATTR_SIZE);
    let mut full = Attr([0; ATTR_SIZE]);
    // SAFETY: T is one of the #[repr(C)] structs above, whose bytes are all
    // initialised fields; `full` is large enough and suitably aligned.
    // Pointers inside attr point to buffers the caller keeps alive across
    // the call.
    let ret = unsafe {
        std::ptr::copy_nonoverlapping((attr as *const T).cast::<u8>(), full.0.as_mut_ptr(), size);
        let ret = libc::syscall(
            libc::SYS_bpf,
            cmd,
            full.0.as_mut_ptr(),
            ATTR_SIZE as libc::c_uint,
        );
        std::ptr::copy_nonoverlapping(full.0.as_ptr(), (attr as *mut T).cast::<u8>(), size);
        ret
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(ret)
}

fn fd_from(ret: libc::c_long) -> OwnedFd {
    // SAFETY: the command returned a new file descriptor that nothing else owns.
    unsafe { OwnedFd::from_raw_fd(ret as RawFd) }
}

/// Load `program` as a cgroup device program. A program the verifier
/// rejects (a bug in the compiler) gives the verifier's log in the error.
pub(super) fn load(program: &[Insn]) -> io::Result<OwnedFd> {
    let code = program::bytes(program);
    let license = c"Apache-2.0";
    let mut name = [0u8; 16];
    name[..13].copy_from_slice(b"ctrsh_devices");
    let mut attr = ProgLoad {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: program.len() as u32,
        insns: code.as_ptr() as u64,
        license: license.as_ptr() as u64,
        prog_name: name,
        expected_attach_type: BPF_CGROUP_DEVICE,
        ..ProgLoad::default()
    };
    match bpf(BPF_PROG_LOAD, &mut attr) {
        Ok(fd) => Ok(fd_from(fd)),
        Err(e)
            if e.raw_os_error() == Some(libc::EINVAL) || e.raw_os_error() == Some(libc::EACCES) =>
        {
            let mut log = vec![0u8; 64 << 10];
            attr.log_level = 1;
            attr.log_size = log.len() as u32;
            attr.log_buf = log.as_mut_ptr() as u64;
            let again = bpf(BPF_PROG_LOAD, &mut attr);
            let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
            let text = String::from_utf8_lossy(&log[..end]);
            let last = text.lines().rev().take(3).collect::<Vec<_>>();
            match again {
                Ok(fd) => Ok(fd_from(fd)),
                Err(_) => Err(io::Error::new(
                    e.kind(),
                    format!("{e}; the verifier said: {}", last.join(" / ")),
                )),
            }
        }
        Err(e) => Err(e),
    }
}

/// The device programs attached to `cgroup` itself (not its ancestors).
pub(super) fn attached(cgroup: &File) -> io::Result<Vec<OwnedFd>> {
    let mut ids = [0u32; MAX_PROGRAMS];
    let mut attr = ProgQuery {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        prog_ids: ids.as_mut_ptr() as u64,
        prog_cnt: ids.len() as u32,
        ..ProgQuery::default()
    };
    bpf(BPF_PROG_QUERY, &mut attr)?;
    ids[..attr.prog_cnt as usize]
        .iter()
        .map(|&prog_id| {
            let mut attr = GetFdById {
                prog_id,
                ..GetFdById::default()
            };
            bpf(BPF_PROG_GET_FD_BY_ID, &mut attr).map(fd_from)
        })
        .collect()
}

/// Attach `program` to `cgroup`, in place of `replace` (atomically) if given.
pub(super) fn attach(
    cgroup: &File,
    program: &OwnedFd,
    replace: Option<&OwnedFd>,
) -> io::Result<()> {
    let mut attr = ProgAttach {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: program.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
        replace_bpf_fd: 0,
    };
    if let Some(old) = replace {
        attr.attach_flags |= BPF_F_REPLACE;
        attr.replace_bpf_fd = old.as_raw_fd() as u32;
    }
    bpf(BPF_PROG_ATTACH, &mut attr).map(drop)
}

pub(super) fn detach(cgroup: &File, program: &OwnedFd) -> io::Result<()> {
    let mut attr = ProgAttach {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: program.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        ..ProgAttach::default()
    };
    bpf(BPF_PROG_DETACH, &mut attr).map(drop)
}
