//! Helpers for the namespace handle tests: ns links of processes, scratch directories and
//! private mounts, zombies, pidfds.

use std::collections::BTreeMap;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use super::*;

/// Runs `f` and checks that the process has the same fds open afterwards. Call it in a forked
/// child only: other test threads open and close fds at any time.
pub fn without_fd_leak(f: impl FnOnce() -> Result<(), String>) -> Result<(), String> {
    let before = open_fds();
    f()?;
    let after = open_fds();
    ensure!(
        before == after,
        "fd leak: before {before:?}, after {after:?}"
    );
    Ok(())
}

/// Every link in `/proc/self/ns` (including `pid_for_children`, `time_for_children`) by name.
pub fn links() -> BTreeMap<String, String> {
    links_of("self")
}

/// The links of `/proc/<pid>/ns`. A link that cannot be read is left out: the kernel hides
/// `pid_for_children` while that pid namespace has no process yet.
pub fn links_of(pid: &str) -> BTreeMap<String, String> {
    std::fs::read_dir(format!("/proc/{pid}/ns"))
        .expect("read /proc/<pid>/ns")
        .filter_map(|e| {
            let e = e.expect("ns dir entry");
            let target = match std::fs::read_link(e.path()) {
                Ok(t) => t,
                Err(err) if err.raw_os_error() == Some(libc::ENOENT) => return None,
                Err(err) => panic!("readlink {}: {err}", e.path().display()),
            };
            Some((
                e.file_name().to_string_lossy().into_owned(),
                target.to_string_lossy().into_owned(),
            ))
        })
        .collect()
}

/// The text of `/proc/self/ns/<name>` as a newly forked child of the caller sees it.
pub fn link_in_a_new_child(name: &str) -> Result<String, String> {
    let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).ctx("pipe")?;
    let (mut r, mut w) = (std::fs::File::from(r), std::fs::File::from(w));
    // SAFETY: the child reads a link, writes it to the pipe and _exits.
    let pid = unsafe { libc::fork() };
    ensure!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
    if pid == 0 {
        drop(r);
        let text = std::fs::read_link(format!("/proc/self/ns/{name}"))
            .map(|t| t.to_string_lossy().into_owned())
            .unwrap_or_else(|e| format!("readlink failed: {e}"));
        let _ = std::io::Write::write_all(&mut w, text.as_bytes());
        // SAFETY: end the child without running anything of the harness.
        unsafe { libc::_exit(0) };
    }
    drop(w);
    let mut text = String::new();
    std::io::Read::read_to_string(&mut r, &mut text).ctx("read pipe")?;
    wait(pid);
    Ok(text)
}

pub fn link_text(name: &str) -> String {
    std::fs::read_link(format!("/proc/self/ns/{name}"))
        .unwrap_or_else(|e| panic!("readlink /proc/self/ns/{name}: {e}"))
        .to_string_lossy()
        .into_owned()
}

/// The link that shows a kind's namespace for new children: `pid_for_children` and
/// `time_for_children` for pid and time, the kind's own link for the others.
pub fn child_link_name(kind: NamespaceKind) -> &'static str {
    kind.for_children_proc_name().unwrap_or(kind.proc_name())
}

/// A directory of its own for one test process, removed (with its contents) on drop.
pub struct Scratch(PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Scratch {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "linux-namespaces-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
        Scratch(dir)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Makes the calling (forked, root) child's mount table its own: a new mount namespace with
/// every mount private, so nothing it mounts propagates to the host, and a fresh tmpfs on
/// `/tmp` to work in, so no file it creates lands on the host either. Returns that directory.
pub fn private_mounts() -> Result<PathBuf, String> {
    Namespaces::unshare_calling_thread(NamespaceSet::MOUNT).ctx("unshare(MOUNT)")?;
    rustix::mount::mount_change(
        "/",
        rustix::mount::MountPropagationFlags::REC | rustix::mount::MountPropagationFlags::PRIVATE,
    )
    .ctx("make / rprivate")?;
    mount_tmpfs(Path::new("/tmp"))?;
    Ok(PathBuf::from("/tmp"))
}

pub fn mount_tmpfs(at: &Path) -> Result<(), String> {
    rustix::mount::mount(
        "tmpfs",
        at,
        "tmpfs",
        rustix::mount::MountFlags::empty(),
        None,
    )
    .ctx(&format!("mount tmpfs on {}", at.display()))
}

/// Runs `f` in a forked child while the child has a second thread.
pub fn with_second_thread<T>(f: impl FnOnce() -> T) -> T {
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let thread = std::thread::spawn(move || {
        let _ = rx.recv();
    });
    let out = f();
    drop(tx);
    thread.join().expect("join helper thread");
    out
}

/// The uid a rootless holder or child runs as.
pub fn unprivileged_uid() -> u32 {
    if is_root() {
        UNPRIVILEGED
    } else {
        rustix::process::getuid().as_raw()
    }
}

/// Every kind but user: what a root holder unshares to differ from us everywhere it can.
pub fn all_but_user() -> NamespaceSet {
    NamespaceSet::all() - NamespaceSet::USER
}

/// A pid no process can have: larger than the kernel's maximum pid (`PID_MAX_LIMIT`, 2^22).
pub const NO_SUCH_PID: u32 = i32::MAX as u32;

/// A process that has exited and is not reaped yet (a zombie). Reaped on drop.
pub struct Zombie {
    pub pid: i32,
}

impl Zombie {
    pub fn new() -> Zombie {
        // SAFETY: the child only calls _exit.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
        if pid == 0 {
            // SAFETY: end the child at once, running nothing of the harness.
            unsafe { libc::_exit(0) };
        }
        // Wait until it has exited, but leave it unreaped.
        // SAFETY: an all-zero siginfo_t is valid; it lives across the call.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        loop {
            // SAFETY: `info` points to a live siginfo_t.
            let r = unsafe {
                libc::waitid(
                    libc::P_PID,
                    pid as libc::id_t,
                    &mut info,
                    libc::WEXITED | libc::WNOWAIT,
                )
            };
            if r == 0 {
                break;
            }
            let e = std::io::Error::last_os_error();
            assert_eq!(e.raw_os_error(), Some(libc::EINTR), "waitid: {e}");
        }
        Zombie { pid }
    }
}

impl Drop for Zombie {
    fn drop(&mut self) {
        wait(self.pid);
    }
}

pub fn pidfd_of(pid: i32) -> OwnedFd {
    rustix::process::pidfd_open(
        rustix::process::Pid::from_raw(pid).expect("positive pid"),
        rustix::process::PidfdFlags::empty(),
    )
    .expect("pidfd_open")
}

/// The links that entering a namespace of `kind` moves the caller's view of: the kind's
/// own link, except for pid (only `pid_for_children`: the caller stays) and time (both: the
/// kernel switches the caller and its future children).
pub fn moved_links(kind: NamespaceKind) -> Vec<&'static str> {
    match kind {
        NamespaceKind::Pid => vec!["pid_for_children"],
        NamespaceKind::Time => vec!["time", "time_for_children"],
        other => vec![other.proc_name()],
    }
}
