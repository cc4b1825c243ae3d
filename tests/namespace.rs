//! Specification of `Namespace`, `Namespaces`, `NamespaceId` and `PersistedNamespace`.
//!
//! Every test that changes a namespace or a credential does it in a forked child
//! (`in_child`, `rootless`, `as_root`): the harness runs tests on many threads, and the kernel
//! refuses to move a multithreaded process into a user or mount namespace. Root-only tests
//! start with `require_root`, the one way a test may not run (never under `CI=true`).

mod common;

use std::collections::BTreeMap;
use std::fmt::{Debug, Display};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use common::*;
use linux_namespaces::{Error, Hint, NamespaceId, Namespaces, PersistedNamespace};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Adds what was being done to an error, for `?` inside child closures.
trait Ctx<T> {
    fn ctx(self, what: &str) -> Result<T, String>;
}

impl<T, E: Display> Ctx<T> for Result<T, E> {
    fn ctx(self, what: &str) -> Result<T, String> {
        self.map_err(|e| format!("{what}: {e}"))
    }
}

/// The error of a result that must have failed.
fn failed<T: Debug>(r: Result<T, Error>, what: &str) -> Result<Error, String> {
    match r {
        Ok(v) => Err(format!("{what}: expected an error, got Ok({v:?})")),
        Err(e) => Ok(e),
    }
}

/// Runs `f` and checks that the process has the same fds open afterwards. Call it in a forked
/// child only: other test threads open and close fds at any time.
fn without_fd_leak(f: impl FnOnce() -> Result<(), String>) -> Result<(), String> {
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
fn links() -> BTreeMap<String, String> {
    links_of("self")
}

/// The links of `/proc/<pid>/ns`. A link that cannot be read is left out: the kernel hides
/// `pid_for_children` while that pid namespace has no process yet.
fn links_of(pid: &str) -> BTreeMap<String, String> {
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
fn link_in_a_new_child(name: &str) -> Result<String, String> {
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

fn link_text(name: &str) -> String {
    std::fs::read_link(format!("/proc/self/ns/{name}"))
        .unwrap_or_else(|e| panic!("readlink /proc/self/ns/{name}: {e}"))
        .to_string_lossy()
        .into_owned()
}

/// The link that shows a kind's namespace for new children: `pid_for_children` and
/// `time_for_children` for pid and time, the kind's own link for the others.
fn child_link_name(kind: NamespaceKind) -> &'static str {
    kind.for_children_proc_name().unwrap_or(kind.proc_name())
}

/// A directory of its own for one test process, removed (with its contents) on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "linux-namespaces-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
        Scratch(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
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
fn private_mounts() -> Result<PathBuf, String> {
    Namespaces::unshare_calling_thread(NamespaceSet::MOUNT).ctx("unshare(MOUNT)")?;
    rustix::mount::mount_change(
        "/",
        rustix::mount::MountPropagationFlags::REC | rustix::mount::MountPropagationFlags::PRIVATE,
    )
    .ctx("make / rprivate")?;
    mount_tmpfs(Path::new("/tmp"))?;
    Ok(PathBuf::from("/tmp"))
}

fn mount_tmpfs(at: &Path) -> Result<(), String> {
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
fn with_second_thread<T>(f: impl FnOnce() -> T) -> T {
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
fn unprivileged_uid() -> u32 {
    if is_root() {
        UNPRIVILEGED
    } else {
        rustix::process::getuid().as_raw()
    }
}

/// Every kind but user: what a root holder unshares to differ from us everywhere it can.
fn all_but_user() -> NamespaceSet {
    NamespaceSet::all() - NamespaceSet::USER
}

/// A pid no process can have: larger than the kernel's maximum pid (`PID_MAX_LIMIT`, 2^22).
const NO_SUCH_PID: u32 = i32::MAX as u32;

/// A process that has exited and is not reaped yet (a zombie). Reaped on drop.
struct Zombie {
    pid: i32,
}

impl Zombie {
    fn new() -> Zombie {
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

fn pidfd_of(pid: i32) -> OwnedFd {
    rustix::process::pidfd_open(
        rustix::process::Pid::from_raw(pid).expect("positive pid"),
        rustix::process::PidfdFlags::empty(),
    )
    .expect("pidfd_open")
}

// ---------------------------------------------------------------------------------------------
// NamespaceId
// ---------------------------------------------------------------------------------------------

#[test]
fn id_displays_as_the_proc_link_text() {
    for kind in NamespaceKind::ALL {
        let ns = Namespace::current(kind).unwrap();
        assert_eq!(ns.id().to_string(), ns_link(kind), "{kind}");
    }
}

#[test]
fn id_is_the_device_and_inode_of_the_nsfs_file() {
    use std::os::unix::fs::MetadataExt;
    for kind in NamespaceKind::ALL {
        let id = Namespace::current(kind).unwrap().id();
        let st = std::fs::metadata(format!("/proc/self/ns/{}", kind.proc_name())).unwrap();
        assert_eq!((id.kind(), id.dev(), id.ino()), (kind, st.dev(), st.ino()));
    }
}

#[test]
fn id_new_keeps_its_parts() {
    let id = NamespaceId::new(NamespaceKind::Uts, 4, 4026531838);
    assert_eq!(id.kind(), NamespaceKind::Uts);
    assert_eq!(id.dev(), 4);
    assert_eq!(id.ino(), 4026531838);
    assert_eq!(id.to_string(), "uts:[4026531838]");
}

#[test]
fn id_parsed_from_the_link_text_equals_the_handles_id() {
    let ns = Namespace::current(NamespaceKind::Network).unwrap();
    let parsed = NamespaceId::parse_link(&ns_link(NamespaceKind::Network), ns.id().dev()).unwrap();
    assert_eq!(parsed, ns.id());
}

#[test]
fn id_parse_rejects_text_that_is_not_a_link() {
    let e = NamespaceId::parse_link("/proc/self/ns/net", 0).unwrap_err();
    assert!(matches!(e, Error::InvalidInput { .. }), "{e:?}");
}

#[test]
fn ids_of_one_namespace_are_equal_and_of_two_differ() {
    let h = Holder::rootless(NamespaceSet::USER | NamespaceSet::NET);
    let a = Namespace::current(NamespaceKind::Network).unwrap();
    let b = Namespace::current(NamespaceKind::Network).unwrap();
    let theirs = Namespace::open(h.pid, NamespaceKind::Network).unwrap();
    assert_eq!(a.id(), b.id());
    assert_ne!(a.id(), theirs.id());
}

// ---------------------------------------------------------------------------------------------
// Opening: current, open, open_for_children
// ---------------------------------------------------------------------------------------------

#[test]
fn open_of_our_own_pid_is_our_current_namespace() {
    let me = std::process::id();
    for kind in NamespaceKind::ALL {
        let by_pid = Namespace::open(me, kind).unwrap();
        let current = Namespace::current(kind).unwrap();
        assert_eq!(by_pid.id(), current.id(), "{kind}");
        assert_eq!(by_pid.kind(), kind);
    }
}

#[test]
fn open_for_children_reads_the_for_children_links() {
    let me = std::process::id();
    for kind in NamespaceKind::ALL {
        let ns = Namespace::open_for_children(me, kind).unwrap();
        assert_eq!(
            ns.id().to_string(),
            link_text(child_link_name(kind)),
            "{kind}"
        );
        let current = Namespace::current_for_children(kind).unwrap();
        assert_eq!(current.id(), ns.id(), "{kind}");
    }
}

#[test]
fn open_of_a_holder_gives_the_holders_namespace() {
    let h = Holder::rootless(NamespaceSet::USER | NamespaceSet::UTS);
    let theirs = Namespace::open(h.pid, NamespaceKind::Uts).unwrap();
    assert_eq!(theirs.id().to_string(), links_of(&h.pid.to_string())["uts"]);
}

#[test]
fn open_of_a_pid_that_does_not_exist_is_no_such_process() {
    for kind in NamespaceKind::ALL {
        let e = Namespace::open(NO_SUCH_PID, kind).unwrap_err();
        assert!(
            matches!(e, Error::NoSuchProcess { pid } if pid == NO_SUCH_PID),
            "{kind}: {e:?}"
        );
        let e = Namespace::open_for_children(NO_SUCH_PID, kind).unwrap_err();
        assert!(matches!(e, Error::NoSuchProcess { .. }), "{kind}: {e:?}");
    }
    let e = Namespaces::open(NO_SUCH_PID, NamespaceSet::all()).unwrap_err();
    assert!(matches!(e, Error::NoSuchProcess { .. }), "{e:?}");
}

#[test]
fn open_of_an_exited_unreaped_process_is_no_such_process() {
    let zombie = Zombie::new();
    for kind in NamespaceKind::ALL {
        // A zombie keeps its user and pid links; every other kind is gone with its nsproxy.
        match Namespace::open(zombie.pid as u32, kind) {
            Ok(ns) => assert!(
                matches!(kind, NamespaceKind::User | NamespaceKind::Pid),
                "{kind} of a zombie opened: {ns:?}"
            ),
            Err(e) => assert!(matches!(e, Error::NoSuchProcess { .. }), "{kind}: {e:?}"),
        }
    }
}

#[test]
fn open_of_pid_zero_is_invalid_input() {
    let e = Namespace::open(0, NamespaceKind::Network).unwrap_err();
    assert!(
        matches!(e, Error::InvalidInput { what: "pid", .. }),
        "{e:?}"
    );
}

#[test]
fn open_of_another_users_process_is_eacces() {
    rootless(|| {
        // pid 1 runs as root; an unprivileged process may not look at its namespaces.
        let e = failed(Namespace::open(1, NamespaceKind::Network), "open pid 1")?;
        ensure!(e.raw_os_error() == Some(libc::EACCES), "{e:?}");
        Ok(())
    })
    .unwrap();
}

// ---------------------------------------------------------------------------------------------
// from_path, TryFrom<OwnedFd>, ensure_kind
// ---------------------------------------------------------------------------------------------

#[test]
fn from_path_of_a_proc_link_finds_its_kind() {
    for kind in NamespaceKind::ALL {
        let ns = Namespace::from_path(format!("/proc/self/ns/{}", kind.proc_name())).unwrap();
        assert_eq!(ns.kind(), kind);
        assert_eq!(ns.id(), Namespace::current(kind).unwrap().id());
    }
}

#[test]
fn from_path_of_a_missing_file_is_enoent() {
    let e = Namespace::from_path("/nonexistent/linux-namespaces/ns").unwrap_err();
    assert!(matches!(e, Error::Os { .. }), "{e:?}");
    assert_eq!(e.raw_os_error(), Some(libc::ENOENT));
}

#[test]
fn from_path_of_an_empty_path_or_one_with_nul_is_invalid_input() {
    let e = Namespace::from_path("").unwrap_err();
    assert!(matches!(e, Error::InvalidInput { .. }), "{e:?}");
    let e = Namespace::from_path("/proc/self/ns/net\0x").unwrap_err();
    assert!(matches!(e, Error::InvalidInput { .. }), "{e:?}");
}

fn assert_from_path_rejects(path: &Path) -> Result<(), String> {
    without_fd_leak(|| {
        let e = failed(Namespace::from_path(path), &path.display().to_string())?;
        ensure!(
            matches!(&e, Error::NotANamespace { target: linux_namespaces::Target::Path(p) } if p == path),
            "{}: {e:?}",
            path.display()
        );
        Ok(())
    })
}

#[test]
fn from_path_rejects_a_regular_file_without_leaking_an_fd() {
    rootless(|| {
        let dir = Scratch::new("regular");
        let file = dir.path("file");
        std::fs::write(&file, b"not a namespace").ctx("write file")?;
        assert_from_path_rejects(&file)
    })
    .unwrap();
}

#[test]
fn from_path_rejects_a_directory_without_leaking_an_fd() {
    in_child(|| assert_from_path_rejects(Path::new("/proc/self/ns"))).unwrap();
}

#[test]
fn from_path_rejects_dev_null_without_leaking_an_fd() {
    in_child(|| assert_from_path_rejects(Path::new("/dev/null"))).unwrap();
}

#[test]
fn from_path_rejects_a_fifo_without_blocking_or_leaking_an_fd() {
    rootless(|| {
        // A watchdog, not a synchronisation: if opening the FIFO blocked, SIGALRM ends the
        // child and the test fails instead of hanging.
        // SAFETY: alarm only arms a timer for this process.
        unsafe { libc::alarm(60) };
        let dir = Scratch::new("fifo");
        let fifo = dir.path("fifo");
        rustix::fs::mkfifoat(rustix::fs::CWD, &fifo, rustix::fs::Mode::RUSR).ctx("mkfifo")?;
        ensure!(
            std::fs::symlink_metadata(&fifo)
                .ctx("stat fifo")?
                .file_type()
                .is_fifo(),
            "not a FIFO"
        );
        let r = assert_from_path_rejects(&fifo);
        // SAFETY: disarm the watchdog.
        unsafe { libc::alarm(0) };
        r
    })
    .unwrap();
}

#[test]
fn try_from_accepts_an_nsfs_fd_and_finds_its_kind() {
    for kind in NamespaceKind::ALL {
        let fd: OwnedFd = std::fs::File::open(format!("/proc/self/ns/{}", kind.proc_name()))
            .unwrap()
            .into();
        let ns = Namespace::try_from(fd).unwrap();
        assert_eq!(ns.kind(), kind);
        assert_eq!(ns.id().to_string(), ns_link(kind));
    }
}

fn assert_try_from_rejects(fd: OwnedFd) -> Result<(), String> {
    let raw = fd.as_raw_fd();
    let e = failed(Namespace::try_from(fd), &format!("fd {raw}"))?;
    ensure!(
        matches!(&e, Error::NotANamespace { target: linux_namespaces::Target::Fd(n) } if *n == raw),
        "{e:?}"
    );
    Ok(())
}

#[test]
fn try_from_rejects_a_regular_file_and_closes_it() {
    rootless(|| {
        let dir = Scratch::new("tryfrom");
        let file = dir.path("file");
        std::fs::write(&file, b"x").ctx("write file")?;
        without_fd_leak(|| assert_try_from_rejects(std::fs::File::open(&file).ctx("open")?.into()))
    })
    .unwrap();
}

#[test]
fn try_from_rejects_a_directory_and_closes_it() {
    in_child(|| {
        without_fd_leak(|| assert_try_from_rejects(std::fs::File::open("/").ctx("open /")?.into()))
    })
    .unwrap();
}

#[test]
fn try_from_rejects_a_pipe_and_closes_it() {
    in_child(|| {
        without_fd_leak(|| {
            let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).ctx("pipe")?;
            assert_try_from_rejects(r)?;
            assert_try_from_rejects(w)
        })
    })
    .unwrap();
}

#[test]
fn ensure_kind_returns_a_handle_of_that_kind_unchanged() {
    let ns = Namespace::current(NamespaceKind::Uts).unwrap();
    let (raw, id) = (ns.as_raw_fd(), ns.id());
    let same = ns.ensure_kind(NamespaceKind::Uts).unwrap();
    assert_eq!((same.as_raw_fd(), same.id()), (raw, id));
}

#[test]
fn ensure_kind_rejects_a_wrong_kind_and_closes_the_fd() {
    in_child(|| {
        without_fd_leak(|| {
            let net = Namespace::from_path("/proc/self/ns/net").ctx("open net")?;
            let id = net.id();
            let e = failed(net.ensure_kind(NamespaceKind::Uts), "ensure_kind(uts)")?;
            ensure!(
                matches!(
                    &e,
                    Error::WrongKind {
                        expected: NamespaceKind::Uts,
                        found: NamespaceKind::Network,
                        target: linux_namespaces::Target::Namespace(t),
                    } if *t == id
                ),
                "{e:?}"
            );
            ensure!(e.to_string().contains("expected a uts namespace"), "{e}");
            Ok(())
        })
    })
    .unwrap();
}

// ---------------------------------------------------------------------------------------------
// from_pidfd
// ---------------------------------------------------------------------------------------------

#[test]
fn from_pidfd_matches_open_for_every_kind() {
    let h = Holder::rootless(NamespaceSet::all());
    for kind in NamespaceKind::ALL {
        let by_pidfd = Namespace::from_pidfd(h.pidfd.as_fd(), kind).unwrap();
        let by_pid = Namespace::open(h.pid, kind).unwrap();
        assert_eq!(by_pidfd.id(), by_pid.id(), "{kind}");
        assert_eq!(by_pidfd.kind(), kind);
    }
}

#[test]
fn namespaces_from_pidfd_matches_namespaces_open() {
    let h = Holder::rootless(NamespaceSet::USER | NamespaceSet::NET | NamespaceSet::UTS);
    let set = NamespaceSet::USER | NamespaceSet::NET | NamespaceSet::IPC;
    let by_pidfd = Namespaces::from_pidfd(h.pidfd.as_fd(), set).unwrap();
    let by_pid = Namespaces::open(h.pid, set).unwrap();
    assert_eq!(by_pidfd.kinds(), set);
    let ids = |n: &Namespaces| n.iter().map(Namespace::id).collect::<Vec<_>>();
    assert_eq!(ids(&by_pidfd), ids(&by_pid));
}

#[test]
fn from_pidfd_after_the_process_exits_is_no_such_process() {
    let h = Holder::rootless(NamespaceSet::USER | NamespaceSet::NET);
    let pidfd = h.pidfd.try_clone().unwrap();
    drop(h); // the holder exits and is reaped
    for kind in NamespaceKind::ALL {
        let e = Namespace::from_pidfd(pidfd.as_fd(), kind).unwrap_err();
        assert!(matches!(e, Error::NoSuchProcess { .. }), "{kind}: {e:?}");
    }
}

#[test]
fn from_pidfd_of_an_exited_unreaped_process_is_no_such_process() {
    let zombie = Zombie::new();
    let pidfd = pidfd_of(zombie.pid);
    let e = Namespace::from_pidfd(pidfd.as_fd(), NamespaceKind::Network).unwrap_err();
    assert!(matches!(e, Error::NoSuchProcess { .. }), "{e:?}");
}

#[test]
fn from_pidfd_of_an_fd_that_is_not_a_pidfd_is_invalid_input() {
    let file = std::fs::File::open("/proc/self/status").unwrap();
    let ns = Namespace::current(NamespaceKind::Network).unwrap();
    let (r, _w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
    for (what, fd) in [
        ("file", file.as_fd()),
        ("nsfs", ns.as_fd()),
        ("pipe", r.as_fd()),
    ] {
        let e = Namespace::from_pidfd(fd, NamespaceKind::Network).unwrap_err();
        assert!(
            matches!(e, Error::InvalidInput { what: "pidfd", .. }),
            "{what}: {e:?}"
        );
    }
}

#[test]
fn from_pidfd_of_our_own_process_is_our_namespace() {
    let me = pidfd_of(std::process::id() as i32);
    for kind in NamespaceKind::ALL {
        let ns = Namespace::from_pidfd(me.as_fd(), kind).unwrap();
        assert_eq!(ns.id(), Namespace::current(kind).unwrap().id(), "{kind}");
    }
}

// ---------------------------------------------------------------------------------------------
// unshare
// ---------------------------------------------------------------------------------------------

#[test]
fn unshare_returns_handles_matching_the_new_links() {
    rootless(|| {
        let before = links();
        let set = NamespaceSet::all();
        let new = Namespaces::unshare_calling_thread(set).ctx("unshare(all)")?;
        ensure!(new.kinds() == set, "returned kinds {}", new.kinds());
        let after = links();
        ensure!(
            !after.contains_key("pid_for_children"),
            "the kernel shows pid_for_children of a pid namespace with no process"
        );
        let pid = new.get(NamespaceKind::Pid).ok_or("no pid handle")?;
        let first_child_sees = link_in_a_new_child("pid")?;
        ensure!(
            pid.id().to_string() == first_child_sees,
            "pid handle {} but the first child is in {first_child_sees}",
            pid.id()
        );
        ensure!(
            first_child_sees != before["pid"],
            "the child's pid namespace is ours"
        );
        for kind in set.kinds().filter(|k| *k != NamespaceKind::Pid) {
            let ns = new.get(kind).ok_or(format!("no {kind} handle"))?;
            let link = child_link_name(kind);
            ensure!(
                ns.id().to_string() == after[link],
                "{kind}: handle {} but /proc/self/ns/{link} is {}",
                ns.id(),
                after[link]
            );
            ensure!(after[link] != before[link], "{link} did not change");
        }
        // pid and time: the caller itself stays where it was.
        ensure!(
            after["pid"] == before["pid"],
            "the caller's pid namespace changed"
        );
        ensure!(
            after["time"] == before["time"],
            "the caller's time namespace changed"
        );
        Ok(())
    })
    .unwrap();
}

#[test]
fn current_for_children_opens_a_new_pid_namespace_before_its_first_process() {
    rootless(|| {
        Namespaces::unshare_calling_thread(NamespaceSet::USER | NamespaceSet::PID)
            .ctx("unshare")?;
        let ns = Namespace::current_for_children(NamespaceKind::Pid).ctx("current_for_children")?;
        let me = rustix::process::getpid().as_raw_nonzero().get() as u32;
        let by_pid =
            Namespace::open_for_children(me, NamespaceKind::Pid).ctx("open_for_children")?;
        ensure!(by_pid.id() == ns.id(), "{} != {}", by_pid.id(), ns.id());
        let first_child_sees = link_in_a_new_child("pid")?;
        ensure!(
            ns.id().to_string() == first_child_sees,
            "{} != {first_child_sees}",
            ns.id()
        );
        Ok(())
    })
    .unwrap();
}

#[test]
fn unshare_as_root_needs_no_user_namespace() {
    if !require_root("unshare_as_root_needs_no_user_namespace") {
        return;
    }
    as_root(|| {
        let before = links();
        let new = Namespaces::unshare_calling_thread(NamespaceSet::NET | NamespaceSet::UTS)
            .ctx("unshare")?;
        ensure!(
            new.get(NamespaceKind::User).is_none(),
            "a user handle came back"
        );
        let net = new.get(NamespaceKind::Network).ok_or("no net handle")?;
        ensure!(
            net.id().to_string() == link_text("net"),
            "net handle != link"
        );
        ensure!(link_text("net") != before["net"], "net did not change");
        ensure!(link_text("user") == before["user"], "user changed");
        Ok(())
    })
    .unwrap();
}

#[test]
fn unshare_without_privilege_is_eperm_with_a_capability_hint() {
    rootless(|| {
        let e = failed(
            Namespaces::unshare_calling_thread(NamespaceSet::NET),
            "unshare(NET)",
        )?;
        ensure!(e.raw_os_error() == Some(libc::EPERM), "{e:?}");
        ensure!(e.hint() == Some(&Hint::NeedsCapSysAdmin), "{e:?}");
        Ok(())
    })
    .unwrap();
}

#[test]
fn unshare_of_the_empty_set_changes_nothing() {
    rootless(|| {
        let before = links();
        let new = Namespaces::unshare_calling_thread(NamespaceSet::empty()).ctx("unshare(none)")?;
        ensure!(new.is_empty(), "handles came back");
        ensure!(links() == before, "links changed");
        Ok(())
    })
    .unwrap();
}

// ---------------------------------------------------------------------------------------------
// enter
// ---------------------------------------------------------------------------------------------

/// The links that entering a namespace of `kind` moves the caller's view of: the kind's
/// own link, except for pid (only `pid_for_children`: the caller stays) and time (both: the
/// kernel switches the caller and its future children).
fn moved_links(kind: NamespaceKind) -> &'static [&'static str] {
    match kind {
        NamespaceKind::Pid => &["pid_for_children"],
        NamespaceKind::Time => &["time", "time_for_children"],
        NamespaceKind::Cgroup => &["cgroup"],
        NamespaceKind::Ipc => &["ipc"],
        NamespaceKind::Mount => &["mnt"],
        NamespaceKind::Network => &["net"],
        NamespaceKind::User => &["user"],
        NamespaceKind::Uts => &["uts"],
        _ => unreachable!("a kind this test does not know"),
    }
}

/// In a forked child: enters the holder's namespace of `kind` and checks that exactly the
/// links of that kind changed, to the holder's; then checks that our own links did not move.
fn assert_enter_moves_only(kind: NamespaceKind, h: &Holder, rootless_child: bool) {
    let parent_before = links();
    let theirs = links_of(&h.pid.to_string());
    let target = theirs[kind.proc_name()].clone();
    assert_ne!(
        target,
        parent_before[kind.proc_name()],
        "holder is not in a new {kind}"
    );
    let ns = Namespace::open(h.pid, kind).unwrap();
    let run = || {
        let before = links();
        ns.enter().ctx(&format!("enter {kind}"))?;
        let after = links();
        for (name, text) in &after {
            if moved_links(kind).contains(&name.as_str()) {
                ensure!(
                    *text == target,
                    "{name} is {text}, expected the holder's {target}"
                );
            } else {
                ensure!(
                    *text == before[name],
                    "{name} changed from {} to {text}",
                    before[name]
                );
            }
        }
        Ok(())
    };
    if rootless_child {
        rootless(run).unwrap();
    } else {
        as_root(run).unwrap();
    }
    assert_eq!(links(), parent_before, "the parent's links changed");
}

macro_rules! enter_as_root_moves_only {
    ($($name:ident: $kind:expr;)*) => {$(
        #[test]
        fn $name() {
            if !require_root(stringify!($name)) {
                return;
            }
            let h = Holder::new(all_but_user());
            assert_enter_moves_only($kind, &h, false);
        }
    )*};
}

enter_as_root_moves_only! {
    enter_cgroup_changes_only_the_cgroup_link_of_the_child: NamespaceKind::Cgroup;
    enter_ipc_changes_only_the_ipc_link_of_the_child: NamespaceKind::Ipc;
    enter_mount_changes_only_the_mnt_link_of_the_child: NamespaceKind::Mount;
    enter_net_changes_only_the_net_link_of_the_child: NamespaceKind::Network;
    enter_pid_changes_only_pid_for_children_of_the_child: NamespaceKind::Pid;
    enter_time_changes_the_time_links_of_the_child: NamespaceKind::Time;
    enter_uts_changes_only_the_uts_link_of_the_child: NamespaceKind::Uts;
}

#[test]
fn enter_user_of_a_rootless_holder_changes_only_the_user_link_of_the_child() {
    let h = Holder::rootless(NamespaceSet::USER);
    assert_enter_moves_only(NamespaceKind::User, &h, true);
}

#[test]
fn enter_of_our_own_user_namespace_is_refused_with_a_hint() {
    rootless(|| {
        let own = Namespace::current(NamespaceKind::User).ctx("current user")?;
        let e = failed(own.enter(), "enter own user namespace")?;
        ensure!(e.raw_os_error() == Some(libc::EINVAL), "{e:?}");
        ensure!(e.hint() == Some(&Hint::SameUserNamespace), "{e:?}");
        Ok(())
    })
    .unwrap();
}

#[test]
fn enter_without_privilege_is_eperm_with_a_capability_hint() {
    rootless(|| {
        let net = Namespace::current(NamespaceKind::Network).ctx("current net")?;
        let e = failed(net.enter(), "enter net")?;
        ensure!(e.raw_os_error() == Some(libc::EPERM), "{e:?}");
        ensure!(e.hint() == Some(&Hint::NeedsCapSysAdmin), "{e:?}");
        Ok(())
    })
    .unwrap();
}

#[test]
fn enter_user_namespace_from_a_multithreaded_process_hints_multithreaded() {
    let h = Holder::rootless(NamespaceSet::USER);
    let user = Namespace::open(h.pid, NamespaceKind::User).unwrap();
    rootless(|| {
        let before = link_text("user");
        let e = failed(with_second_thread(|| user.enter()), "enter user")?;
        ensure!(
            matches!(&e, Error::Os { hint: Some(Hint::MultiThreaded { threads }), .. } if *threads >= 2),
            "{e:?}"
        );
        ensure!(e.raw_os_error() == Some(libc::EINVAL), "{e:?}");
        ensure!(link_text("user") == before, "the user namespace changed");
        Ok(())
    })
    .unwrap();
}

#[test]
fn enter_mount_namespace_from_a_multithreaded_process_hints_multithreaded() {
    if !require_root("enter_mount_namespace_from_a_multithreaded_process_hints_multithreaded") {
        return;
    }
    let h = Holder::new(NamespaceSet::MOUNT);
    let mnt = Namespace::open(h.pid, NamespaceKind::Mount).unwrap();
    as_root(|| {
        let before = link_text("mnt");
        let e = failed(with_second_thread(|| mnt.enter()), "enter mnt")?;
        ensure!(
            matches!(&e, Error::Os { hint: Some(Hint::MultiThreaded { threads }), .. } if *threads >= 2),
            "{e:?}"
        );
        ensure!(link_text("mnt") == before, "the mount namespace changed");
        Ok(())
    })
    .unwrap();
}

#[test]
fn enter_time_namespace_from_a_multithreaded_process_hints_multithreaded() {
    if !require_root("enter_time_namespace_from_a_multithreaded_process_hints_multithreaded") {
        return;
    }
    // PID too, so the holder (pid 1 of the new pid namespace) lives in the new time namespace.
    let h = Holder::new(NamespaceSet::TIME | NamespaceSet::PID);
    let time = Namespace::open(h.pid, NamespaceKind::Time).unwrap();
    as_root(|| {
        let e = failed(with_second_thread(|| time.enter()), "enter time")?;
        ensure!(e.raw_os_error() == Some(libc::EUSERS), "{e:?}");
        ensure!(
            matches!(&e, Error::Os { hint: Some(Hint::MultiThreaded { threads }), .. } if *threads >= 2),
            "{e:?}"
        );
        Ok(())
    })
    .unwrap();
}

// ---------------------------------------------------------------------------------------------
// Namespaces: the set, enter, enter_process
// ---------------------------------------------------------------------------------------------

#[test]
fn namespaces_hold_at_most_one_handle_per_kind() {
    let mut set = Namespaces::new();
    assert!(set.is_empty());
    assert_eq!(set.kinds(), NamespaceSet::empty());
    assert!(
        set.insert(Namespace::current(NamespaceKind::Uts).unwrap())
            .is_none()
    );
    assert!(
        set.insert(Namespace::current(NamespaceKind::Cgroup).unwrap())
            .is_none()
    );
    let replaced = set.insert(Namespace::current(NamespaceKind::Uts).unwrap());
    assert_eq!(replaced.map(|n| n.kind()), Some(NamespaceKind::Uts));
    assert_eq!(set.kinds(), NamespaceSet::UTS | NamespaceSet::CGROUP);
    // iter follows NamespaceKind::ALL order.
    let kinds: Vec<_> = set.iter().map(Namespace::kind).collect();
    assert_eq!(kinds, [NamespaceKind::Cgroup, NamespaceKind::Uts]);
    assert_eq!(
        set.get(NamespaceKind::Uts).map(Namespace::id),
        Some(Namespace::current(NamespaceKind::Uts).unwrap().id())
    );
    assert!(set.get(NamespaceKind::Network).is_none());
    assert_eq!(
        set.take(NamespaceKind::Cgroup).map(|n| n.kind()),
        Some(NamespaceKind::Cgroup)
    );
    assert!(set.take(NamespaceKind::Cgroup).is_none());
    let left: Vec<_> = set.into_iter().map(|n| n.kind()).collect();
    assert_eq!(left, [NamespaceKind::Uts]);
}

#[test]
fn namespaces_collected_from_handles_keep_the_last_of_each_kind() {
    let first = Namespace::current(NamespaceKind::Network).unwrap();
    let second = Namespace::current(NamespaceKind::Network).unwrap();
    let second_fd = second.as_raw_fd();
    let set: Namespaces = [
        first,
        second,
        Namespace::current(NamespaceKind::Ipc).unwrap(),
    ]
    .into_iter()
    .collect();
    assert_eq!(set.kinds(), NamespaceSet::NET | NamespaceSet::IPC);
    assert_eq!(
        set.get(NamespaceKind::Network).unwrap().as_raw_fd(),
        second_fd
    );
}

#[test]
fn namespaces_current_matches_namespace_current() {
    let set = Namespaces::current(NamespaceSet::all()).unwrap();
    assert_eq!(set.kinds(), NamespaceSet::all());
    for ns in set.iter() {
        assert_eq!(ns.id(), Namespace::current(ns.kind()).unwrap().id());
    }
}

/// After entering a holder's namespaces: each link we moved shows the holder's namespace.
fn ensure_links_match_holder(entered: NamespaceSet, holder: u32) -> Result<(), String> {
    let theirs = links_of(&holder.to_string());
    let ours = links();
    for kind in entered.kinds() {
        for link in moved_links(kind) {
            let want = &theirs[kind.proc_name()];
            ensure!(
                ours[*link] == *want,
                "{link} is {}, holder's {kind} is {want}",
                ours[*link]
            );
        }
    }
    Ok(())
}

#[test]
fn namespaces_enter_rootless_enters_the_user_namespace_first() {
    // Without privilege, the other namespaces can only be entered with the capabilities of
    // the holder's user namespace: the user namespace must go first.
    let set = NamespaceSet::all();
    let h = Holder::rootless(set);
    rootless(|| {
        let nss = Namespaces::open(h.pid, set).ctx("open holder's namespaces")?;
        let entered = nss.enter().ctx("enter")?;
        ensure!(entered == set, "entered {entered}");
        ensure_links_match_holder(entered, h.pid)
    })
    .unwrap();
}

#[test]
fn namespaces_enter_as_root_enters_a_rootless_holders_user_namespace_last() {
    if !require_root("namespaces_enter_as_root_enters_a_rootless_holders_user_namespace_last") {
        return;
    }
    // Entering the user namespace first would drop root's capabilities over the others
    // (the net namespace is fine, the cgroup one of the host would not be).
    let h = Holder::rootless(NamespaceSet::USER | NamespaceSet::NET | NamespaceSet::UTS);
    as_root(|| {
        let set = NamespaceSet::USER | NamespaceSet::NET | NamespaceSet::UTS;
        let mut nss = Namespaces::open(h.pid, set).ctx("open")?;
        // The host's cgroup namespace, owned by the initial user namespace.
        nss.insert(Namespace::current(NamespaceKind::Cgroup).ctx("current cgroup")?);
        let entered = nss.enter().ctx("enter")?;
        ensure!(entered == set | NamespaceSet::CGROUP, "entered {entered}");
        ensure_links_match_holder(set, h.pid)
    })
    .unwrap();
}

#[test]
fn namespaces_enter_leaves_out_the_user_namespace_the_caller_is_in() {
    rootless(|| {
        let mut nss = Namespaces::new();
        nss.insert(Namespace::current(NamespaceKind::User).ctx("current user")?);
        let entered = nss.enter().ctx("enter")?;
        ensure!(entered.is_empty(), "entered {entered}");
        Ok(())
    })
    .unwrap();
}

#[test]
fn namespaces_enter_of_an_empty_set_enters_nothing() {
    rootless(|| {
        let before = links();
        let entered = Namespaces::new().enter().ctx("enter")?;
        ensure!(entered.is_empty() && links() == before, "entered {entered}");
        Ok(())
    })
    .unwrap();
}

#[test]
fn enter_process_enters_every_namespace_of_the_target_but_our_own_user_namespace() {
    if !require_root(
        "enter_process_enters_every_namespace_of_the_target_but_our_own_user_namespace",
    ) {
        return;
    }
    let h = Holder::new(all_but_user());
    as_root(|| {
        let user_before = link_text("user");
        let entered =
            Namespaces::enter_process(h.pidfd.as_fd(), NamespaceSet::all()).ctx("enter_process")?;
        ensure!(entered == all_but_user(), "entered {entered}");
        ensure!(link_text("user") == user_before, "user namespace changed");
        ensure_links_match_holder(entered, h.pid)
    })
    .unwrap();
}

#[test]
fn enter_process_rootless_enters_the_targets_user_namespace_too() {
    let h = Holder::rootless(NamespaceSet::all());
    rootless(|| {
        let entered =
            Namespaces::enter_process(h.pidfd.as_fd(), NamespaceSet::all()).ctx("enter_process")?;
        ensure!(entered == NamespaceSet::all(), "entered {entered}");
        ensure_links_match_holder(entered, h.pid)
    })
    .unwrap();
}

#[test]
fn enter_process_of_a_subset_enters_only_that_subset() {
    let h = Holder::rootless(NamespaceSet::all());
    rootless(|| {
        let before = links();
        let want = NamespaceSet::USER | NamespaceSet::UTS;
        let entered = Namespaces::enter_process(h.pidfd.as_fd(), want).ctx("enter_process")?;
        ensure!(entered == want, "entered {entered}");
        ensure_links_match_holder(entered, h.pid)?;
        let after = links();
        for name in ["net", "ipc", "mnt", "cgroup", "pid_for_children", "time"] {
            ensure!(after[name] == before[name], "{name} changed");
        }
        Ok(())
    })
    .unwrap();
}

#[test]
fn enter_process_of_an_exited_process_is_no_such_process() {
    let h = Holder::rootless(NamespaceSet::USER | NamespaceSet::NET);
    let pidfd = h.pidfd.try_clone().unwrap();
    drop(h);
    rootless(|| {
        let e = failed(
            Namespaces::enter_process(pidfd.as_fd(), NamespaceSet::USER | NamespaceSet::NET),
            "enter_process",
        )?;
        ensure!(matches!(e, Error::NoSuchProcess { .. }), "{e:?}");
        Ok(())
    })
    .unwrap();
}

#[test]
fn enter_process_from_a_multithreaded_process_hints_multithreaded() {
    let h = Holder::rootless(NamespaceSet::USER | NamespaceSet::NET);
    rootless(|| {
        let set = NamespaceSet::USER | NamespaceSet::NET;
        let e = failed(
            with_second_thread(|| Namespaces::enter_process(h.pidfd.as_fd(), set)),
            "enter_process",
        )?;
        ensure!(
            matches!(
                &e,
                Error::Os {
                    hint: Some(Hint::MultiThreaded { .. }),
                    ..
                }
            ),
            "{e:?}"
        );
        Ok(())
    })
    .unwrap();
}

// ---------------------------------------------------------------------------------------------
// parent, owner, owner_uid
// ---------------------------------------------------------------------------------------------

#[test]
fn parent_of_our_pid_namespace_is_out_of_scope() {
    let pid = Namespace::current(NamespaceKind::Pid).unwrap();
    let e = pid.parent().unwrap_err();
    assert!(
        matches!(e, Error::OutOfScope { ns, .. } if ns == pid.id()),
        "{e:?}"
    );
}

#[test]
fn parent_of_our_user_namespace_is_out_of_scope() {
    let e = Namespace::current(NamespaceKind::User)
        .unwrap()
        .parent()
        .unwrap_err();
    assert!(matches!(e, Error::OutOfScope { .. }), "{e:?}");
}

#[test]
fn parent_of_a_net_namespace_is_not_applicable() {
    let e = Namespace::current(NamespaceKind::Network)
        .unwrap()
        .parent()
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::NotApplicable {
                kind: NamespaceKind::Network,
                ..
            }
        ),
        "{e:?}"
    );
}

#[test]
fn parent_of_a_holders_user_namespace_is_ours() {
    let h = Holder::rootless(NamespaceSet::USER);
    let theirs = Namespace::open(h.pid, NamespaceKind::User).unwrap();
    let parent = theirs.parent().unwrap();
    assert_eq!(parent.kind(), NamespaceKind::User);
    assert_eq!(
        parent.id(),
        Namespace::current(NamespaceKind::User).unwrap().id()
    );
}

#[test]
fn parent_of_a_holders_pid_namespace_is_ours() {
    let h = Holder::rootless(NamespaceSet::USER | NamespaceSet::PID);
    let theirs = Namespace::open(h.pid, NamespaceKind::Pid).unwrap();
    let parent = theirs.parent().unwrap();
    assert_eq!(parent.kind(), NamespaceKind::Pid);
    assert_eq!(
        parent.id(),
        Namespace::current(NamespaceKind::Pid).unwrap().id()
    );
}

#[test]
fn owner_of_a_holders_net_namespace_is_the_holders_user_namespace() {
    let h = Holder::rootless(NamespaceSet::USER | NamespaceSet::NET);
    let net = Namespace::open(h.pid, NamespaceKind::Network).unwrap();
    let owner = net.owner().unwrap();
    assert_eq!(owner.kind(), NamespaceKind::User);
    assert_eq!(
        owner.id(),
        Namespace::open(h.pid, NamespaceKind::User).unwrap().id()
    );
}

#[test]
fn owner_of_a_holders_user_namespace_is_its_parent() {
    let h = Holder::rootless(NamespaceSet::USER);
    let user = Namespace::open(h.pid, NamespaceKind::User).unwrap();
    assert_eq!(
        user.owner().unwrap().id(),
        Namespace::current(NamespaceKind::User).unwrap().id()
    );
}

#[test]
fn owner_of_our_user_namespace_is_out_of_scope() {
    let e = Namespace::current(NamespaceKind::User)
        .unwrap()
        .owner()
        .unwrap_err();
    assert!(matches!(e, Error::OutOfScope { .. }), "{e:?}");
}

#[test]
fn owner_uid_of_a_rootless_holders_user_namespace_is_its_creators_uid() {
    let h = Holder::rootless(NamespaceSet::USER);
    let user = Namespace::open(h.pid, NamespaceKind::User).unwrap();
    assert_eq!(user.owner_uid().unwrap(), unprivileged_uid());
}

#[test]
fn owner_uid_of_a_net_namespace_is_not_applicable() {
    let e = Namespace::current(NamespaceKind::Network)
        .unwrap()
        .owner_uid()
        .unwrap_err();
    assert!(matches!(e, Error::NotApplicable { .. }), "{e:?}");
}

// ---------------------------------------------------------------------------------------------
// The handle as an fd: try_clone, AsFd, Into<OwnedFd>, drop
// ---------------------------------------------------------------------------------------------

#[test]
fn try_clone_is_a_second_fd_to_the_same_namespace() {
    let ns = Namespace::current(NamespaceKind::Ipc).unwrap();
    let copy = ns.try_clone().unwrap();
    assert_ne!(copy.as_raw_fd(), ns.as_raw_fd());
    assert_eq!(copy.id(), ns.id());
    drop(ns);
    // The copy stands on its own.
    assert_eq!(
        Namespace::try_from(OwnedFd::from(copy)).unwrap().kind(),
        NamespaceKind::Ipc
    );
}

#[test]
fn as_fd_borrows_the_handles_nsfs_fd() {
    let ns = Namespace::current(NamespaceKind::Uts).unwrap();
    assert_eq!(ns.as_fd().as_raw_fd(), ns.as_raw_fd());
    let st = rustix::fs::fstat(ns.as_fd()).unwrap();
    assert_eq!((st.st_dev, st.st_ino), (ns.id().dev(), ns.id().ino()));
}

#[test]
fn into_owned_fd_hands_over_the_open_fd() {
    let ns = Namespace::current(NamespaceKind::Network).unwrap();
    let (raw, id) = (ns.as_raw_fd(), ns.id());
    let fd: OwnedFd = ns.into();
    assert_eq!(fd.as_raw_fd(), raw);
    assert_eq!(Namespace::try_from(fd).unwrap().id(), id);
}

#[test]
fn dropping_a_handle_closes_its_fd() {
    in_child(|| {
        without_fd_leak(|| {
            let ns = Namespace::current(NamespaceKind::Network).ctx("current")?;
            let copy = ns.try_clone().ctx("try_clone")?;
            drop((ns, copy));
            Ok(())
        })
    })
    .unwrap();
}

#[test]
fn debug_shows_the_id() {
    let ns = Namespace::current(NamespaceKind::Network).unwrap();
    assert!(format!("{ns:?}").contains(&ns.id().to_string()), "{ns:?}");
}

// ---------------------------------------------------------------------------------------------
// persist, unpersist, PersistedNamespace
// ---------------------------------------------------------------------------------------------

#[test]
fn persist_then_from_path_then_unpersist_leaves_mountinfo_as_before() {
    if !require_root("persist_then_from_path_then_unpersist_leaves_mountinfo_as_before") {
        return;
    }
    let h = Holder::new(NamespaceSet::NET);
    let net = Namespace::open(h.pid, NamespaceKind::Network).unwrap();
    as_root(|| {
        let dir = private_mounts()?;
        let path = dir.join("blue");
        let before = mountinfo();
        let persisted: PersistedNamespace = net.persist(&path).ctx("persist")?;
        ensure!(persisted.path == path, "path {}", persisted.path.display());
        ensure!(persisted.id == net.id(), "id {}", persisted.id);
        ensure!(mountinfo() != before, "persist mounted nothing");
        let again = Namespace::from_path(&path).ctx("from_path")?;
        ensure!(again.id() == net.id(), "{} != {}", again.id(), net.id());
        drop(again);
        PersistedNamespace::at(&path)
            .and_then(|p| p.remove(true))
            .ctx("unpersist")?;
        ensure!(mountinfo() == before, "mountinfo differs after unpersist");
        ensure!(!path.exists(), "{} still exists", path.display());
        Ok(())
    })
    .unwrap();
}

#[test]
fn persist_keeps_a_namespace_alive_after_its_last_process_and_handle_are_gone() {
    if !require_root("persist_keeps_a_namespace_alive_after_its_last_process_and_handle_are_gone") {
        return;
    }
    as_root(|| {
        let dir = private_mounts()?;
        let path = dir.join("uts");
        let h = Holder::new(NamespaceSet::UTS);
        let uts = Namespace::open(h.pid, NamespaceKind::Uts).ctx("open")?;
        let id = uts.id();
        let persisted = uts.persist(&path).ctx("persist")?;
        drop((uts, h));
        let back = Namespace::from_path(&persisted.path).ctx("from_path")?;
        ensure!(back.id() == id, "{} != {id}", back.id());
        drop(back);
        persisted.remove(true).ctx("remove")?;
        ensure!(!path.exists(), "{} still exists", path.display());
        Ok(())
    })
    .unwrap();
}

#[test]
fn persist_to_an_existing_path_fails_with_eexist_and_mounts_nothing() {
    if !require_root("persist_to_an_existing_path_fails_with_eexist_and_mounts_nothing") {
        return;
    }
    as_root(|| {
        let dir = private_mounts()?;
        let path = dir.join("taken");
        std::fs::write(&path, b"mine").ctx("write")?;
        let before = mountinfo();
        let net = Namespace::current(NamespaceKind::Network).ctx("current")?;
        let e = failed(net.persist(&path), "persist onto an existing file")?;
        ensure!(e.raw_os_error() == Some(libc::EEXIST), "{e:?}");
        ensure!(mountinfo() == before, "something was mounted");
        ensure!(
            std::fs::read(&path).ctx("read")? == b"mine",
            "the file was touched"
        );
        Ok(())
    })
    .unwrap();
}

#[test]
fn persist_without_privilege_fails_and_leaves_no_file() {
    rootless(|| {
        let dir = Scratch::new("persist");
        let path = dir.path("net");
        let before = mountinfo();
        let net = Namespace::current(NamespaceKind::Network).ctx("current")?;
        let e = failed(net.persist(&path), "persist without CAP_SYS_ADMIN")?;
        ensure!(e.raw_os_error() == Some(libc::EPERM), "{e:?}");
        ensure!(e.hint() == Some(&Hint::NeedsCapSysAdmin), "{e:?}");
        ensure!(!path.exists(), "{} was left behind", path.display());
        ensure!(mountinfo() == before, "mountinfo changed");
        Ok(())
    })
    .unwrap();
}

#[test]
fn persist_to_a_path_with_nul_is_invalid_input() {
    let net = Namespace::current(NamespaceKind::Network).unwrap();
    let e = net.persist("/tmp/a\0b").unwrap_err();
    assert!(matches!(e, Error::InvalidInput { .. }), "{e:?}");
}

#[test]
fn unpersist_of_a_regular_file_is_not_a_namespace_and_keeps_the_file() {
    rootless(|| {
        let dir = Scratch::new("unpersist");
        let path = dir.path("file");
        std::fs::write(&path, b"x").ctx("write")?;
        let e = failed(
            PersistedNamespace::at(&path).and_then(|p| p.remove(true)),
            "unpersist a regular file",
        )?;
        ensure!(matches!(e, Error::NotANamespace { .. }), "{e:?}");
        ensure!(path.exists(), "the file was removed");
        Ok(())
    })
    .unwrap();
}

#[test]
fn unpersist_of_a_mount_that_is_not_nsfs_unmounts_nothing() {
    if !require_root("unpersist_of_a_mount_that_is_not_nsfs_unmounts_nothing") {
        return;
    }
    as_root(|| {
        let dir = private_mounts()?;
        let mnt = dir.join("mnt");
        std::fs::create_dir(&mnt).ctx("mkdir")?;
        mount_tmpfs(&mnt)?;
        let before = mountinfo();
        let e = failed(
            PersistedNamespace::at(&mnt).and_then(|p| p.remove(true)),
            "unpersist a tmpfs mount",
        )?;
        ensure!(matches!(e, Error::NotANamespace { .. }), "{e:?}");
        ensure!(mountinfo() == before, "something was unmounted");
        Ok(())
    })
    .unwrap();
}

#[test]
fn unpersist_of_a_missing_path_is_enoent() {
    let e = PersistedNamespace::at("/nonexistent/linux-namespaces/ns")
        .and_then(|p| p.remove(true))
        .unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::ENOENT), "{e:?}");
}

#[test]
fn a_net_namespace_persisted_under_run_netns_works_with_ip_netns_exec() {
    if !require_root("a_net_namespace_persisted_under_run_netns_works_with_ip_netns_exec") {
        return;
    }
    let h = Holder::new(NamespaceSet::NET);
    let net = Namespace::open(h.pid, NamespaceKind::Network).unwrap();
    as_root(|| {
        // A private mount table, and /run/netns on a tmpfs of its own: the host's /run/netns
        // never sees this name, and whatever happens the mount goes away with the child.
        private_mounts()?;
        let run_netns = Path::new("/run/netns");
        if !run_netns.is_dir() {
            mount_tmpfs(Path::new("/run"))?;
            std::fs::create_dir(run_netns).ctx("mkdir /run/netns")?;
        }
        mount_tmpfs(run_netns)?;
        let name = format!("lns-test-{}", std::process::id());
        let path = run_netns.join(&name);
        let before = mountinfo();
        let persisted = net.persist(&path).ctx("persist")?;

        let ip = |args: &[&str]| -> Result<String, String> {
            let out = std::process::Command::new("ip")
                .args(["netns", "exec", &name])
                .args(args)
                .output()
                .ctx("run ip (iproute2 must be installed)")?;
            ensure!(
                out.status.success(),
                "ip netns exec {name} {args:?}: {}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        };
        let seen = ip(&["readlink", "/proc/self/ns/net"])?;
        ensure!(
            seen.trim() == net.id().to_string(),
            "ip netns exec ran in {seen}"
        );
        let links = ip(&["ip", "-o", "link"])?;
        let names: Vec<_> = links.lines().filter_map(|l| l.split(": ").nth(1)).collect();
        ensure!(names == ["lo"], "links in the new netns: {names:?}");

        persisted.remove(true).ctx("remove")?;
        ensure!(!path.exists(), "{} still exists", path.display());
        ensure!(mountinfo() == before, "the netns mount was not undone");
        Ok(())
    })
    .unwrap();
}
