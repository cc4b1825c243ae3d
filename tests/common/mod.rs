//! Shared test support: forked children (namespace changes never touch the multithreaded test
//! harness), the rootless drop, the single visible skip mechanism, a process holding namespaces
//! for tests to look at, and leak probes.
#![allow(dead_code, unsafe_code)]

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

#[allow(unused_imports)]
pub use linux_namespaces::{
    Namespace, NamespaceKind, NamespaceSet, Namespaces, PersistedNamespace,
};

/// The uid and gid rootless cases drop to when the suite runs as root.
pub const UNPRIVILEGED: u32 = 65534;

pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// The one way a test may not run: outside CI, when the suite is not root, a root-only test
/// prints why and returns `false`. Under `CI=true` it panics instead: CI runs as root and
/// nothing is skipped there.
pub fn require_root(test: &str) -> bool {
    if is_root() {
        return true;
    }
    assert!(
        !in_ci(),
        "{test}: needs root, and CI=true forbids skipping (CI runs the suite as root)"
    );
    eprintln!("SKIP {test}: needs root; run the suite as root (CI does) to include it");
    false
}

/// The check at the top of a root-only test, which is `#[ignore = "needs root"]` so that a
/// run without root shows it as ignored (CI, as root, runs `--include-ignored`). Run anyway
/// without root, it fails saying so: it never passes without having run.
pub fn assert_root(test: &str) {
    assert!(
        is_root(),
        "{test}: needs root (it is #[ignore]d for that; run the suite as root with \
         `cargo test --all-features -- --include-ignored`, as CI does)"
    );
}

/// Like [`require_root`], for something else the machine must provide (a tool, a config
/// line): outside CI a visible `SKIP` line and `false`; under `CI=true` a failure naming it.
pub fn require_setup(test: &str, present: bool, what: &str) -> bool {
    if present {
        return true;
    }
    assert!(
        !in_ci(),
        "{test}: missing {what}, and CI=true forbids skipping (.ci/run sets it up)"
    );
    eprintln!("SKIP {test}: missing {what} (.ci/run installs it)");
    false
}

fn pipe() -> (std::fs::File, std::fs::File) {
    let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).expect("pipe");
    (std::fs::File::from(r), std::fs::File::from(w))
}

/// Runs `f` in a forked child and returns what it returned. A panic in the child becomes an
/// `Err` with the panic message. The child exits with `_exit`, so nothing of the harness runs
/// twice.
pub fn in_child(f: impl FnOnce() -> Result<(), String>) -> Result<(), String> {
    fork_and_run(None, f)
}

fn fork_and_run(
    timeout: Option<std::time::Duration>,
    f: impl FnOnce() -> Result<(), String>,
) -> Result<(), String> {
    let (mut r, mut w) = pipe();
    // SAFETY: the child only runs `f` and `_exit`s; glibc resets its malloc locks across fork,
    // so allocating in the single-threaded child is fine.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
    if pid == 0 {
        drop(r);
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
        let (code, msg) = match outcome {
            Ok(Ok(())) => (0, String::new()),
            Ok(Err(m)) => (1, m),
            Err(p) => (
                2,
                p.downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "panic".into()),
            ),
        };
        let _ = w.write_all(msg.as_bytes());
        // SAFETY: _exit ends the forked child without running the harness's destructors.
        unsafe { libc::_exit(code) };
    }
    drop(w);
    if let Some(timeout) = timeout {
        let pidfd = rustix::process::pidfd_open(
            rustix::process::Pid::from_raw(pid).expect("a forked child's pid"),
            rustix::process::PidfdFlags::empty(),
        )
        .expect("pidfd_open of the forked child");
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let ts = rustix::time::Timespec::try_from(left).expect("a timeout that fits");
            let mut fds = [rustix::event::PollFd::new(
                &pidfd,
                rustix::event::PollFlags::IN,
            )];
            match rustix::event::poll(&mut fds, Some(&ts)) {
                Ok(0) => {
                    let _ =
                        rustix::process::pidfd_send_signal(&pidfd, rustix::process::Signal::KILL);
                    wait(pid);
                    return Err(format!(
                        "the child did not finish within {timeout:?}; killed"
                    ));
                }
                Ok(_) => break,
                Err(rustix::io::Errno::INTR) => {}
                Err(e) => panic!("poll on the child's pidfd: {e}"),
            }
        }
    }
    let mut msg = String::new();
    let _ = r.read_to_string(&mut msg);
    let status = wait(pid);
    match status {
        0 => Ok(()),
        _ if !msg.is_empty() => Err(msg),
        s => Err(format!("child exited with wait status {s:#x}")),
    }
}

/// Like [`in_child`], for a test whose failure mode is a hang: the child runs in a process
/// group of its own and gets at most `limit` (waited for on a pidfd, no sleeping); past that,
/// the group (the child and whatever it started) is killed and the result is an `Err`.
pub fn in_child_within(
    limit: std::time::Duration,
    f: impl FnOnce() -> Result<(), String>,
) -> Result<(), String> {
    let (mut r, mut w) = pipe();
    // SAFETY: as in `in_child`.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
    if pid == 0 {
        drop(r);
        // SAFETY: setpgid of the calling process.
        unsafe { libc::setpgid(0, 0) };
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
        let (code, msg) = match outcome {
            Ok(Ok(())) => (0, String::new()),
            Ok(Err(m)) => (1, m),
            Err(_) => (2, "panic".to_string()),
        };
        let _ = w.write_all(msg.as_bytes());
        // SAFETY: as in `in_child`.
        unsafe { libc::_exit(code) };
    }
    drop(w);
    // Both sides set the group, so that it exists whichever runs first.
    // SAFETY: setpgid of our own child.
    unsafe { libc::setpgid(pid, pid) };
    let pidfd = rustix::process::pidfd_open(
        rustix::process::Pid::from_raw(pid).expect("pid"),
        rustix::process::PidfdFlags::empty(),
    )
    .expect("pidfd_open");
    let ts = rustix::time::Timespec {
        tv_sec: limit.as_secs() as i64,
        tv_nsec: limit.subsec_nanos() as i64,
    };
    let exited = loop {
        let mut fds = [rustix::event::PollFd::new(
            &pidfd,
            rustix::event::PollFlags::IN,
        )];
        match rustix::event::poll(&mut fds, Some(&ts)) {
            Err(rustix::io::Errno::INTR) => continue,
            r => break r.expect("poll pidfd") == 1,
        }
    };
    if !exited {
        // SAFETY: kill of the process group made above.
        unsafe { libc::kill(-pid, libc::SIGKILL) };
        wait(pid);
        return Err(format!("still running after {limit:?}: killed"));
    }
    let mut msg = String::new();
    let _ = r.read_to_string(&mut msg);
    match wait(pid) {
        0 => Ok(()),
        _ if !msg.is_empty() => Err(msg),
        s => Err(format!("child exited with wait status {s:#x}")),
    }
}

/// `waitpid` for `pid`, returning the raw status.
pub fn wait(pid: i32) -> i32 {
    let mut status = 0;
    loop {
        // SAFETY: status points to a live i32.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r == pid {
            return status;
        }
        let e = std::io::Error::last_os_error();
        assert_eq!(e.raw_os_error(), Some(libc::EINTR), "waitpid: {e}");
    }
}

/// Drops the calling (forked, single-threaded) process to the unprivileged uid/gid, with no
/// supplementary groups and no capabilities, and keeps it dumpable so that its own
/// `/proc/self` files (uid_map, ns links) stay its own.
pub fn drop_privileges() -> Result<(), String> {
    if !is_root() {
        return Ok(());
    }
    // SAFETY: plain credential syscalls on the calling single-threaded process.
    unsafe {
        if libc::setgroups(0, std::ptr::null()) != 0
            || libc::setresgid(UNPRIVILEGED, UNPRIVILEGED, UNPRIVILEGED) != 0
            || libc::setresuid(UNPRIVILEGED, UNPRIVILEGED, UNPRIVILEGED) != 0
            || libc::prctl(libc::PR_SET_DUMPABLE, 1, 0, 0, 0) != 0
        {
            return Err(format!(
                "dropping to uid {UNPRIVILEGED}: {}",
                std::io::Error::last_os_error()
            ));
        }
    }
    if rustix::process::geteuid().as_raw() != UNPRIVILEGED && is_root() {
        return Err("still root after setresuid".into());
    }
    Ok(())
}

/// Runs `f` in a forked child that is unprivileged: as root, the child drops to uid/gid 65534
/// first; as a normal user, it already is.
pub fn rootless(f: impl FnOnce() -> Result<(), String>) -> Result<(), String> {
    in_child(|| {
        drop_privileges()?;
        f()
    })
}

/// Runs `f` in a forked child as root (see [`require_root`] for the non-root case; callers
/// check it first).
pub fn as_root(f: impl FnOnce() -> Result<(), String>) -> Result<(), String> {
    in_child(f)
}

/// Writes single-line maps making the caller's current uid/gid root in a user namespace it
/// just created (`setgroups` deny first, as the kernel requires without CAP_SETGID).
pub fn map_self_to_root(uid: u32, gid: u32) -> Result<(), String> {
    let w = |p: &str, s: String| std::fs::write(p, s).map_err(|e| format!("write {p}: {e}"));
    w("/proc/self/setgroups", "deny".into())?;
    w("/proc/self/uid_map", format!("0 {uid} 1"))?;
    w("/proc/self/gid_map", format!("0 {gid} 1"))
}

/// A process that sits in namespaces of its own until dropped, for tests to look at.
///
/// It forks, unshares `set` (with a user namespace mapping its uid to root when `set` has
/// USER), and, when `set` has PID, forks once more so the holder is PID 1 of the new pid
/// namespace. It reports readiness over a pipe and exits when the release pipe closes.
pub struct Holder {
    /// The holding process, in the caller's pid namespace.
    pub pid: u32,
    pub pidfd: OwnedFd,
    release: Option<std::fs::File>,
    forked: i32,
}

impl Holder {
    pub fn new(set: NamespaceSet) -> Holder {
        Self::start(set, false)
    }

    /// Like `new`, but the holder first drops to the unprivileged uid (when run as root).
    pub fn rootless(set: NamespaceSet) -> Holder {
        Self::start(set, true)
    }

    fn start(set: NamespaceSet, unprivileged: bool) -> Holder {
        let (mut ready_r, mut ready_w) = pipe();
        let (release_r, release_w) = pipe();
        // SAFETY: see `in_child`.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            drop(ready_r);
            drop(release_w);
            // Other test threads may be making holders at the same moment, and this child
            // inherited their pipe ends. Holding another holder's release pipe open would keep
            // that holder (and the test dropping it) waiting for an EOF that never comes, and
            // two holders forked at once would wait for each other forever.
            close_fds_except(&[ready_w.as_raw_fd(), release_r.as_raw_fd()]);
            let mut run = || -> Result<u32, String> {
                if unprivileged {
                    drop_privileges()?;
                }
                unshare_here(set)?;
                if set.contains(NamespaceSet::PID) {
                    // SAFETY: see `in_child`.
                    let inner = unsafe { libc::fork() };
                    if inner < 0 {
                        return Err("fork".into());
                    }
                    if inner > 0 {
                        // The middle process: report the pid-namespace init, wait for it.
                        let _ = ready_w.write_all(format!("{inner}\n").as_bytes());
                        wait(inner);
                        // SAFETY: end the middle process.
                        unsafe { libc::_exit(0) };
                    }
                }
                Ok(std::process::id())
            };
            let mut release = release_r;
            match run() {
                Ok(me) => {
                    if !set.contains(NamespaceSet::PID) {
                        let _ = ready_w.write_all(format!("{me}\n").as_bytes());
                    }
                    let mut b = [0u8; 1];
                    let _ = release.read(&mut b);
                    // SAFETY: end the holder.
                    unsafe { libc::_exit(0) };
                }
                Err(e) => {
                    let _ = ready_w.write_all(format!("error {e}\n").as_bytes());
                    // SAFETY: end the failed holder.
                    unsafe { libc::_exit(1) };
                }
            }
        }
        drop(ready_w);
        drop(release_r);
        // One line, not EOF: the holder keeps its end open while it holds.
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(&mut ready_r), &mut line)
            .expect("read holder readiness");
        let holder: u32 = match line.trim().parse() {
            Ok(p) => p,
            Err(_) => {
                wait(pid);
                panic!("holder for {set} failed: {}", line.trim());
            }
        };
        let pidfd = rustix::process::pidfd_open(
            rustix::process::Pid::from_raw(holder as i32).unwrap(),
            rustix::process::PidfdFlags::empty(),
        )
        .expect("pidfd_open holder");
        Holder {
            pid: holder,
            pidfd,
            release: Some(release_w),
            forked: pid,
        }
    }
}

/// Closes every fd above 2 except those given (at most 8) (`close_range(2)`, async-signal-safe,
/// for a forked child of the multithreaded harness).
pub fn close_fds_except(keep: &[i32]) {
    // A fixed array: no allocation in a child forked from a multithreaded process.
    let mut sorted = [u32::MAX; 8];
    assert!(
        keep.len() <= sorted.len(),
        "close_fds_except keeps at most 8 fds"
    );
    for (s, &fd) in sorted.iter_mut().zip(keep) {
        *s = fd as u32;
    }
    let keep = &mut sorted[..keep.len()];
    keep.sort_unstable();
    let mut from = 3u32;
    for &mut fd in keep {
        if fd > from {
            // SAFETY: closes only fds this forked child inherited and does not use.
            unsafe { libc::close_range(from, fd - 1, 0) };
        }
        from = from.max(fd + 1);
    }
    // SAFETY: as above.
    unsafe { libc::close_range(from, u32::MAX, 0) };
}

impl Drop for Holder {
    fn drop(&mut self) {
        drop(self.release.take());
        wait(self.forked);
    }
}

/// The fds open in this process right now (from `/proc/self/fd`, minus the directory's own).
pub fn open_fds() -> Vec<i32> {
    let dir = std::fs::read_dir("/proc/self/fd").expect("read /proc/self/fd");
    let mut fds: Vec<i32> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|fd| Path::new(&format!("/proc/self/fd/{fd}")).exists())
        .collect();
    fds.sort_unstable();
    fds
}

/// `/proc/self/mountinfo` as it is now.
pub fn mountinfo() -> String {
    std::fs::read_to_string("/proc/self/mountinfo").expect("read mountinfo")
}

/// The text of `/proc/self/ns/<kind>` now.
pub fn ns_link(kind: NamespaceKind) -> String {
    std::fs::read_link(format!("/proc/self/ns/{}", kind.proc_name()))
        .expect("readlink ns")
        .to_string_lossy()
        .into_owned()
}

/// Like `assert!`, but for use inside `in_child` closures: returns an `Err` instead of
/// panicking so the message crosses the pipe intact either way.
#[macro_export]
macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(format!("{}:{}: {}", file!(), line!(), format!($($fmt)+)));
        }
    };
}

/// Adds what was being done to an error, for `?` inside child closures.
pub trait Ctx<T> {
    fn ctx(self, what: &str) -> Result<T, String>;
}

impl<T, E: std::fmt::Display> Ctx<T> for Result<T, E> {
    fn ctx(self, what: &str) -> Result<T, String> {
        self.map_err(|e| format!("{what}: {e}"))
    }
}

/// The error of a call that must fail, or an `Err` saying it did not.
pub fn failed<T: std::fmt::Debug>(
    r: Result<T, linux_namespaces::Error>,
    what: &str,
) -> Result<linux_namespaces::Error, String> {
    match r {
        Ok(v) => Err(format!("{what}: expected an error, got Ok({v:?})")),
        Err(e) => Ok(e),
    }
}

/// Like `assert_eq!` for `in_child` closures: an `Err` that shows both sides, with the
/// expressions that produced them, instead of a panic.
#[macro_export]
macro_rules! ensure_eq {
    ($left:expr, $right:expr $(,)?) => {
        ensure_eq!($left, $right, "")
    };
    ($left:expr, $right:expr, $($fmt:tt)+) => {{
        let (left, right) = (&$left, &$right);
        if left != right {
            return Err(format!(
                "{}:{}: {} == {} failed\n  left: {:?}\n right: {:?}\n  {}",
                file!(),
                line!(),
                stringify!($left),
                stringify!($right),
                left,
                right,
                format!($($fmt)+)
            ));
        }
    }};
}

/// The one way to write a test that runs both as root and rootless: `root_and_rootless!(name,
/// body)` makes the tests `name::root` and `name::rootless`, each running `body(root: bool)`
/// in a forked child; rootless, the child first drops to uid 65534 (when the suite is root).
/// The root half is skipped only through [`require_root`] (which CI forbids).
#[macro_export]
macro_rules! root_and_rootless {
    ($name:ident, $body:path) => {
        mod $name {
            use super::*;
            #[test]
            fn rootless() {
                common::rootless(|| $body(false)).unwrap()
            }
            #[test]
            #[ignore = "needs root"]
            fn root() {
                common::assert_root(concat!(stringify!($name), "::root"));
                common::as_root(|| $body(true)).unwrap()
            }
        }
    };
}

/// Silences "unused" for the raw-fd import when a test file does not use it.
pub fn raw(fd: &impl AsRawFd) -> i32 {
    fd.as_raw_fd()
}

/// Wraps a raw fd the test owns.
///
/// # Safety
/// `fd` must be open and owned by nobody else.
pub unsafe fn own(fd: i32) -> OwnedFd {
    // SAFETY: per the caller's contract.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// No child of this (forked) test process exists, running or zombie (`waitid(P_ALL)` with
/// `WNOHANG|WNOWAIT` answers `ECHILD`).
pub fn no_children() -> bool {
    // SAFETY: waitid with WNOHANG|WNOWAIT only inspects; info is a live local.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    let r = unsafe {
        libc::waitid(
            libc::P_ALL,
            0,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        )
    };
    r == -1 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ECHILD)
}

/// The binary of example `name`, built once per test binary with the same profile and the
/// given features. `cargo test --test X` builds no examples, and cargo does not hold its build
/// lock while tests run, so this nested build proceeds.
pub fn example_binary(name: &str, features: &[&str]) -> std::path::PathBuf {
    use std::collections::HashMap;
    use std::path::{Path, PathBuf};
    use std::sync::{Mutex, OnceLock};
    static BUILT: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    let mut built = BUILT.get_or_init(Default::default).lock().unwrap();
    if let Some(p) = built.get(name) {
        return p.clone();
    }
    let exe = std::env::current_exe().expect("current_exe");
    let profile = exe
        .parent()
        .and_then(Path::parent)
        .and_then(Path::file_name)
        .and_then(|n| n.to_str())
        .expect("the test binary is in <target>/<profile>/deps")
        .to_owned();
    let mut cargo = std::process::Command::new(env!("CARGO"));
    cargo
        .args([
            "build",
            "--offline",
            "--example",
            name,
            "--message-format=json-render-diagnostics",
        ])
        .arg("--manifest-path")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"));
    if !features.is_empty() {
        cargo.args(["--features", &features.join(",")]);
    }
    match profile.as_str() {
        "debug" => {}
        "release" => {
            cargo.arg("--release");
        }
        other => {
            cargo.args(["--profile", other]);
        }
    }
    let out = cargo.output().expect("running cargo build");
    assert!(
        out.status.success(),
        "cargo build --example {name} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == name)
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .unwrap_or_else(|| panic!("cargo reported no executable for example {name}"));
    built.insert(name.to_string(), path.clone());
    path
}

/// The fds open in a running `cat` child (stdin and stdout piped), once it has echoed a line
/// back: by then its dynamic loader, which holds fd 3 for a moment after `execve`, is done.
pub fn fds_of_ready_cat(child: &mut linux_namespaces::Child) -> Result<Vec<i32>, String> {
    use std::io::{BufRead, Write};
    child
        .stdin
        .as_mut()
        .ok_or("stdin not piped")?
        .write_all(b"ready\n")
        .map_err(|e| e.to_string())?;
    let mut echo = String::new();
    std::io::BufReader::new(child.stdout.as_mut().ok_or("stdout not piped")?)
        .read_line(&mut echo)
        .map_err(|e| e.to_string())?;
    if echo != "ready\n" {
        return Err(format!("cat echoed {echo:?}"));
    }
    let mut fds: Vec<i32> = std::fs::read_dir(format!("/proc/{}/fd", child.id()))
        .map_err(|e| e.to_string())?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    fds.sort_unstable();
    Ok(fds)
}

/// Who runs an example under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// uid/gid 65534 without groups or capabilities when the suite is root, else the caller.
    Rootless,
    /// Real root.
    Root,
}

/// The modes a test runs in: always rootless, and as root when the suite is root (the only
/// skip, through `require_root`, which CI forbids).
pub fn modes(test: &str) -> Vec<Mode> {
    let mut m = vec![Mode::Rootless];
    if require_root(test) {
        m.push(Mode::Root);
    }
    m
}

/// The CPU this process is on and another one it may run on, if it may run on two: a racer
/// and the process it races are pinned apart. Two processes on one CPU interleave only where
/// one is preempted, which on a loaded machine can leave a race untried for thousands of
/// tries; on two CPUs they run at the same time whenever both are scheduled.
fn cpus_apart(allowed: &rustix::thread::CpuSet) -> Option<(usize, usize)> {
    let here = rustix::thread::sched_getcpu();
    let other = (0..rustix::thread::CpuSet::MAX_CPU).find(|&c| c != here && allowed.is_set(c))?;
    allowed.is_set(here).then_some((here, other))
}

/// Pins the calling process to `cpu`.
fn pin(cpu: usize) -> Result<(), String> {
    let mut set = rustix::thread::CpuSet::new();
    set.set(cpu);
    rustix::thread::sched_setaffinity(None, &set).map_err(|e| format!("pin to CPU {cpu}: {e}"))
}

/// A forked process that repeats `step(n)` for n = 0, 1, ... until [`stop`](Racer::stop), to
/// race the code under test. Call only in a single-threaded forked test child: the racer and
/// the child are pinned to two different CPUs where the child may use two (the child's own
/// CPUs are given back by `stop`).
pub struct Racer {
    what: &'static str,
    pid: i32,
    /// The CPUs the caller could use before it was pinned (`None`: it was not).
    cpus: Option<rustix::thread::CpuSet>,
    stop: Option<std::fs::File>,
    result: std::fs::File,
}

impl Racer {
    /// Forks the racer, which runs `setup` once and then `step` in a loop; returns once the
    /// first step is done (so what the step makes exists). A failing setup or step ends the
    /// racer, and [`stop`](Racer::stop) reports it.
    pub fn start(
        what: &'static str,
        setup: impl FnOnce() -> Result<(), String>,
        mut step: impl FnMut(u64) -> Result<(), String>,
    ) -> Result<Racer, String> {
        use std::io::{Read, Write};
        let pipe = || -> Result<(std::fs::File, std::fs::File), String> {
            let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
                .map_err(|e| format!("pipe: {e}"))?;
            Ok((r.into(), w.into()))
        };
        let (mut ready_r, mut ready_w) = pipe()?;
        let (stop_r, stop_w) = pipe()?;
        let (result_r, mut result_w) = pipe()?;
        let allowed = rustix::thread::sched_getaffinity(None).ok();
        let apart = allowed.as_ref().and_then(cpus_apart);
        // SAFETY: fork in a single-threaded forked test child; the racer only makes system
        // calls, writes to its pipes and _exits.
        let pid = unsafe { libc::fork() };
        ensure!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
        if pid == 0 {
            drop((ready_r, stop_w, result_r));
            let run = || -> Result<u64, String> {
                if let Some((_, theirs)) = apart {
                    pin(theirs)?;
                }
                setup()?;
                rustix::fs::fcntl_setfl(&stop_r, rustix::fs::OFlags::NONBLOCK)
                    .map_err(|e| format!("O_NONBLOCK: {e}"))?;
                let mut n = 0u64;
                loop {
                    step(n)?;
                    n += 1;
                    if n == 1 {
                        ready_w.write_all(b"r").map_err(|e| format!("ready: {e}"))?;
                    }
                    if n.is_multiple_of(64) {
                        match rustix::io::read(&stop_r, &mut [0u8; 1]) {
                            Ok(0) => return Ok(n),
                            Err(rustix::io::Errno::AGAIN) => {}
                            other => return Err(format!("stop pipe: {other:?}")),
                        }
                    }
                }
            };
            let (code, msg) = match run() {
                Ok(n) => (0, n.to_string()),
                Err(e) => (1, e),
            };
            let _ = result_w.write_all(msg.as_bytes());
            // SAFETY: end the racer without running anything of the harness.
            unsafe { libc::_exit(code) };
        }
        drop((ready_w, stop_r, result_w));
        let pinned = apart.map_or(Ok(()), |(ours, _)| pin(ours));
        let ready = ready_r
            .read(&mut [0u8; 1])
            .map_err(|e| format!("read {what} readiness: {e}"))?;
        let racer = Racer {
            what,
            pid,
            cpus: apart.and(allowed),
            stop: Some(stop_w),
            result: result_r,
        };
        ensure!(ready == 1, "the {what} did not start: {:?}", racer.stop());
        if let Err(e) = pinned {
            return Err(format!("{e} (the {what}: {:?})", racer.stop()));
        }
        Ok(racer)
    }

    /// Stops the racer (EOF on its stop pipe) and returns how many steps it made.
    pub fn stop(mut self) -> Result<u64, String> {
        use std::io::Read;
        drop(self.stop.take());
        let mut msg = String::new();
        self.result
            .read_to_string(&mut msg)
            .map_err(|e| format!("read {} result: {e}", self.what))?;
        let status = wait(self.pid);
        if let Some(cpus) = &self.cpus {
            rustix::thread::sched_setaffinity(None, cpus)
                .map_err(|e| format!("give back the CPUs: {e}"))?;
        }
        ensure!(status == 0, "{} failed ({status:#x}): {msg}", self.what);
        msg.parse().map_err(|e| format!("{} count: {e}", self.what))
    }
}

/// The first `/etc/subuid` (or `/etc/subgid`) range start of user `uid` (by name or number),
/// if it has one.
pub fn subid_start(file: &str, uid: u32) -> Option<u32> {
    let name = std::fs::read_to_string("/etc/passwd")
        .ok()?
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.get(2)?.parse::<u32>().ok()? == uid).then(|| f[0].to_string())
        })?;
    std::fs::read_to_string(file).ok()?.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() == 3 && (f[0] == name || f[0] == uid.to_string())).then(|| f[1].parse().ok())?
    })
}

/// `unshare(2)` of `set` in the calling (forked, single-threaded) process; with USER, the
/// caller's uid and gid map to root inside.
pub fn unshare_here(set: NamespaceSet) -> Result<(), String> {
    let (uid, gid) = (
        rustix::process::getuid().as_raw(),
        rustix::process::getgid().as_raw(),
    );
    // SAFETY: unshare of namespace flags only, in a single-threaded child.
    if unsafe { libc::unshare(set.bits() as i32) } != 0 {
        return Err(format!(
            "unshare({set}): {}",
            std::io::Error::last_os_error()
        ));
    }
    if set.contains(NamespaceSet::USER) {
        map_self_to_root(uid, gid)?;
    }
    Ok(())
}

// After the macros above, which these use.
pub mod ns;
pub mod spawn;
