//! A program on a pseudo-terminal of its own, typed at and read as a person
//! would: keystrokes in, what it writes back (escape sequences removed), a
//! window resize, its exit status. Used by the REPL and attach tests.

use nix::pty::{openpty, Winsize};
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long the program may take to show what a test waits for.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// A child with a pty as its controlling terminal and stdin, stdout and
/// stderr. Everything it writes is collected in the background; the
/// child is killed (by its pid) if the test ends while it still runs.
pub struct Pty {
    child: Child,
    master: File,
    output: Arc<Mutex<Vec<u8>>>,
    /// Where the next `expect` starts looking in `plain(output)`.
    seen: usize,
}

fn winsize(rows: u16, cols: u16) -> Winsize {
    Winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    }
}

impl Pty {
    /// Starts `cmd` on a new pty of `rows` x `cols`.
    pub fn start(cmd: &mut Command, rows: u16, cols: u16) -> Pty {
        let pty = openpty(Some(&winsize(rows, cols)), None).expect("openpty");
        let slave = |fd: &OwnedFd| Stdio::from(fd.try_clone().expect("dup the pty"));
        cmd.stdin(slave(&pty.slave))
            .stdout(slave(&pty.slave))
            .stderr(slave(&pty.slave));
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                // A session of its own with the pty as controlling terminal,
                // so Ctrl-C typed at the pty reaches the program as SIGINT.
                if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().expect("start the program on the pty");
        drop(pty.slave);
        let master = File::from(pty.master);
        let output = Arc::new(Mutex::new(Vec::new()));
        let mut reader = master.try_clone().expect("dup the pty master");
        let sink = output.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            // EIO once the program and its terminal are gone.
            while let Ok(n @ 1..) = reader.read(&mut buf) {
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Pty {
            child,
            master,
            output,
            seen: 0,
        }
    }

    /// Types `keys` (raw bytes: "\r" is Enter, "\t" Tab, "\x03" Ctrl-C).
    pub fn send(&mut self, keys: &str) {
        self.master
            .write_all(keys.as_bytes())
            .expect("type at the pty");
    }

    /// Waits until the output since the last `expect` contains `needle`
    /// (escape sequences removed); returns that output and moves past it.
    pub fn expect(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            // The whole output, so that `seen` (an index into the plain
            // text) stays valid as more arrives.
            let text = plain(&self.output.lock().unwrap());
            if let Some(at) = text[self.seen..].find(needle) {
                let end = self.seen + at + needle.len();
                let found = text[self.seen..end].to_string();
                self.seen = end;
                return found;
            }
            if Instant::now() > deadline {
                panic!(
                    "waited {PATIENCE:?} for {needle:?}; the program wrote:\n{}",
                    &text[self.seen..]
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Everything the program wrote so far, escape sequences included.
    pub fn raw(&self) -> String {
        String::from_utf8_lossy(&self.output.lock().unwrap()).into_owned()
    }

    /// Makes the window `rows` x `cols`, as a terminal emulator does: the
    /// program's foreground process group gets SIGWINCH.
    pub fn resize(&self, rows: u16, cols: u16) {
        let size = winsize(rows, cols);
        // SAFETY: TIOCSWINSZ reads a winsize.
        let rc = unsafe { libc::ioctl(self.master.as_raw_fd(), libc::TIOCSWINSZ, &size) };
        assert_eq!(rc, 0, "TIOCSWINSZ: {}", std::io::Error::last_os_error());
    }

    /// Waits until the program has taken its terminal out of raw mode
    /// (ISIG on again: a line editor reads keys with signals off), so that
    /// what runs now, not the editor, gets the next Ctrl-C.
    pub fn wait_for_cooked_mode(&self) {
        use nix::sys::termios::{tcgetattr, LocalFlags};
        let deadline = Instant::now() + PATIENCE;
        while !tcgetattr(&self.master)
            .expect("tcgetattr")
            .local_flags
            .contains(LocalFlags::ISIG)
        {
            assert!(Instant::now() < deadline, "the terminal stayed raw");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for the program to exit.
    pub fn wait(&mut self) -> ExitStatus {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for the program") {
                return status;
            }
            assert!(Instant::now() < deadline, "the program did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Terminal output as text: CSI escape sequences dropped, "\r" removed.
pub fn plain(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\x1b' if chars.peek() == Some(&'[') => {
                chars.next();
                // Parameters and intermediates, then one final byte @..~.
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}
