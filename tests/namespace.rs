//! Specification of `Namespace` and `NamespaceId`: opening (current, by pid, by path, by
//! pidfd), creating, entering one namespace. `Namespaces`, the handle as an fd, and
//! persisting are in `namespaces.rs`.
//!
//! Every test that changes a namespace or a credential does it in a forked child
//! (`in_child`, `rootless`, `as_root`): the harness runs tests on many threads, and the kernel
//! refuses to move a multithreaded process into a user or mount namespace. Root-only tests
//! start with `require_root`, the one way a test may not run (never under `CI=true`).

mod common;

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::FileTypeExt;
use std::path::Path;

use common::ns::*;
use common::*;
use linux_namespaces::{Error, Hint, NamespaceId, Namespaces};

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
        ensure_eq!(e.raw_os_error(), Some(libc::EACCES));
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

/// Forks a [`Racer`] that keeps pointing the symlink `dir/name` at `targets[0]`,
/// `targets[1]`, ... in turn (`symlink(target, dir/.swap)`, `rename(dir/.swap, dir/name)`)
/// until stopped: the name changes under whoever looks it up.
fn swapper(dir: &Path, name: &str, targets: &[&Path]) -> Result<Racer, String> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let c = |p: &Path| CString::new(p.as_os_str().as_bytes()).ctx("path with NUL");
    let (tmp, link) = (c(&dir.join(".swap"))?, c(&dir.join(name))?);
    let targets = targets
        .iter()
        .map(|t| c(t))
        .collect::<Result<Vec<_>, _>>()?;
    Racer::start(
        "swapper",
        || Ok(()),
        move |n| {
            let target = &targets[(n % targets.len() as u64) as usize];
            // SAFETY: NUL-terminated paths that live across the calls.
            if unsafe { libc::symlink(target.as_ptr(), tmp.as_ptr()) } != 0
                // SAFETY: as above.
                || unsafe { libc::rename(tmp.as_ptr(), link.as_ptr()) } != 0
            {
                return Err(format!("swap: {}", std::io::Error::last_os_error()));
            }
            Ok(())
        },
    )
}

/// `from_path` of a name that another process keeps switching between a namespace and a
/// regular file: the file is never opened (inotify sees no `IN_OPEN` on it), because what is
/// opened is exactly the object that was checked to be a namespace.
#[test]
fn from_path_never_opens_anything_but_the_namespace_it_checked() {
    // At least TRIES lookups, and on until both answers have been seen CONTESTED times each
    // (else the swapper did not run alongside, and the tries prove nothing).
    const TRIES: u32 = 50_000;
    const CONTESTED: u32 = 5_000;
    const MAX_TRIES: u32 = 2_000_000;
    rootless(|| {
        let dir = Scratch::new("from-path-race");
        let decoy = dir.path("decoy");
        std::fs::write(&decoy, b"not a namespace").ctx("write decoy")?;
        // SAFETY: inotify_init1 takes flags and returns a new fd or -1.
        let inotify = unsafe { libc::inotify_init1(libc::IN_CLOEXEC | libc::IN_NONBLOCK) };
        ensure!(inotify >= 0, "inotify_init1: {}", std::io::Error::last_os_error());
        // SAFETY: a new fd nothing else owns.
        let inotify = unsafe { own(inotify) };
        let cdecoy = std::ffi::CString::new(std::os::unix::ffi::OsStrExt::as_bytes(
            decoy.as_os_str(),
        ))
        .ctx("NUL")?;
        // SAFETY: a valid inotify fd and a NUL-terminated path.
        let wd = unsafe { libc::inotify_add_watch(raw(&inotify), cdecoy.as_ptr(), libc::IN_OPEN) };
        ensure!(wd >= 0, "inotify_add_watch: {}", std::io::Error::last_os_error());
        let net = Namespace::current(NamespaceKind::Network).ctx("current")?.id();
        let link = dir.path("ns");
        let swapper = swapper(
            &dir.path(""),
            "ns",
            &[Path::new("/proc/self/ns/net"), &decoy],
        )?;
        let (mut found, mut refused, mut tries) = (0u32, 0u32, 0u32);
        let mut run = || -> Result<(), String> {
            while tries < MAX_TRIES && (tries < TRIES || found.min(refused) < CONTESTED) {
                tries += 1;
                match Namespace::from_path(&link) {
                    Ok(ns) => {
                        ensure_eq!(ns.id(), net);
                        found += 1;
                    }
                    Err(Error::NotANamespace { .. }) => refused += 1,
                    Err(e) => return Err(format!("try {tries}: {e:?}")),
                }
            }
            Ok(())
        };
        let raced = run();
        let swaps = swapper.stop();
        raced?;
        let swaps = swaps?;
        let mut buf = [0u8; 4096];
        let events = match rustix::io::read(&inotify, &mut buf) {
            Ok(n) => n / std::mem::size_of::<libc::inotify_event>(),
            Err(rustix::io::Errno::AGAIN) => 0,
            Err(e) => return Err(format!("read inotify: {e}")),
        };
        eprintln!("{tries} lookups, {swaps} swaps: {found} namespaces, {refused} refused");
        ensure!(
            events == 0,
            "from_path opened the regular file it had not checked (inotify: IN_OPEN, {events} event(s) after coalescing)"
        );
        ensure!(
            found.min(refused) >= CONTESTED,
            "the swapper changed the answer only {} times: nothing proved",
            found.min(refused)
        );
        Ok(())
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
#[ignore = "needs root"]
fn unshare_as_root_needs_no_user_namespace() {
    assert_root("unshare_as_root_needs_no_user_namespace");
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
        ensure_eq!(e.raw_os_error(), Some(libc::EPERM));
        ensure_eq!(e.hint(), Some(&Hint::NeedsCapSysAdmin));
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
        #[ignore = "needs root"]
        fn $name() {
            assert_root(stringify!($name));
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
        ensure_eq!(e.raw_os_error(), Some(libc::EINVAL));
        ensure_eq!(e.hint(), Some(&Hint::SameUserNamespace));
        Ok(())
    })
    .unwrap();
}

#[test]
fn enter_without_privilege_is_eperm_with_a_capability_hint() {
    rootless(|| {
        let net = Namespace::current(NamespaceKind::Network).ctx("current net")?;
        let e = failed(net.enter(), "enter net")?;
        ensure_eq!(e.raw_os_error(), Some(libc::EPERM));
        ensure_eq!(e.hint(), Some(&Hint::NeedsCapSysAdmin));
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
        ensure_eq!(e.raw_os_error(), Some(libc::EINVAL));
        ensure!(link_text("user") == before, "the user namespace changed");
        Ok(())
    })
    .unwrap();
}

#[test]
#[ignore = "needs root"]
fn enter_mount_namespace_from_a_multithreaded_process_hints_multithreaded() {
    assert_root("enter_mount_namespace_from_a_multithreaded_process_hints_multithreaded");
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
#[ignore = "needs root"]
fn enter_time_namespace_from_a_multithreaded_process_hints_multithreaded() {
    assert_root("enter_time_namespace_from_a_multithreaded_process_hints_multithreaded");
    // PID too, so the holder (pid 1 of the new pid namespace) lives in the new time namespace.
    let h = Holder::new(NamespaceSet::TIME | NamespaceSet::PID);
    let time = Namespace::open(h.pid, NamespaceKind::Time).unwrap();
    as_root(|| {
        let e = failed(with_second_thread(|| time.enter()), "enter time")?;
        ensure_eq!(e.raw_os_error(), Some(libc::EUSERS));
        ensure!(
            matches!(&e, Error::Os { hint: Some(Hint::MultiThreaded { threads }), .. } if *threads >= 2),
            "{e:?}"
        );
        Ok(())
    })
    .unwrap();
}

// ---------------------------------------------------------------------------------------------
// From a socket (SIOCGSKNS) and another process's fd (pidfd_getfd)
// ---------------------------------------------------------------------------------------------

/// A socket made in a new network namespace names that namespace, also after its maker has
/// gone back: the socket alone keeps the namespace alive and reachable.
fn socket_names_the_namespace_it_was_made_in(root: bool) -> Result<(), String> {
    let host = Namespace::current(NamespaceKind::Network).ctx("current net")?;
    let set = if root {
        NamespaceSet::NET
    } else {
        NamespaceSet::USER | NamespaceSet::NET
    };
    let new = Namespaces::unshare_calling_thread(set).ctx("unshare")?;
    let made_in = new.get(NamespaceKind::Network).ok_or("no net handle")?.id();
    let socket = std::net::UdpSocket::bind("127.0.0.1:0");
    // The new namespace's loopback is down: bind may fail, but a socket exists either way.
    let socket = match socket {
        Ok(s) => OwnedFd::from(s),
        Err(_) => OwnedFd::from(std::os::unix::net::UnixDatagram::unbound().ctx("socket")?),
    };
    drop(new);
    // As root, go back: then no process is in the namespace, only the socket holds it.
    // (Rootless, the host namespace cannot be entered again from the new user namespace.)
    if root {
        host.enter().ctx("back to the host net")?;
    }
    let ns = Namespace::from_socket(socket.as_fd()).ctx("from_socket")?;
    ensure_eq!(ns.kind(), NamespaceKind::Network);
    ensure_eq!(ns.id(), made_in);
    ensure!(ns.id() != host.id(), "the socket named the host namespace");
    if root {
        ensure!(
            Namespace::current(NamespaceKind::Network).ctx("net")?.id() == host.id(),
            "the caller is not back in the host namespace"
        );
    }
    Ok(())
}
root_and_rootless!(
    from_socket_names_the_namespace_it_was_made_in,
    socket_names_the_namespace_it_was_made_in
);

#[test]
fn from_socket_rejects_what_is_not_a_socket_without_leaking_an_fd() {
    in_child(|| {
        without_fd_leak(|| {
            let file = std::fs::File::open("/proc/self/status").ctx("open")?;
            let e = failed(Namespace::from_socket(file.as_fd()), "from_socket(file)")?;
            ensure!(matches!(e, Error::InvalidInput { .. }), "{e:?}");
            let (r, _w) = rustix::pipe::pipe().ctx("pipe")?;
            let e = failed(Namespace::from_socket(r.as_fd()), "from_socket(pipe)")?;
            ensure!(matches!(e, Error::InvalidInput { .. }), "{e:?}");
            Ok(())
        })
    })
    .unwrap();
}

#[test]
fn get_fd_duplicates_another_processes_fd_as_the_same_open_file() {
    in_child(|| {
        use std::os::unix::fs::MetadataExt;
        // A child holding the read end of our pipe as its fd 3.
        let (ready_r, ready_w) = rustix::pipe::pipe().ctx("pipe")?;
        let (hold_r, hold_w) = rustix::pipe::pipe().ctx("pipe")?;
        let mut cmd = linux_namespaces::Command::new("/bin/sh");
        cmd.args(["-c", "echo ready; exec cat <&3"])
            .stdout(ready_w)
            .fd(3, hold_r);
        let mut child = cmd.spawn().ctx("spawn")?;
        let mut buf = [0u8; 6];
        rustix::io::read(&ready_r, &mut buf).ctx("read ready")?;
        // fd 3 of the child is the read end of our pipe: same inode as our write end's pipe.
        let copy = child.pidfd().get_fd(3).ctx("get_fd(3)")?;
        let ours =
            std::fs::metadata(format!("/proc/self/fd/{}", hold_w.as_raw_fd())).ctx("stat")?;
        let theirs =
            std::fs::metadata(format!("/proc/self/fd/{}", copy.as_raw_fd())).ctx("stat")?;
        ensure_eq!(theirs.ino(), ours.ino());
        let flags = rustix::io::fcntl_getfd(&copy).ctx("getfd")?;
        ensure!(
            flags.contains(rustix::io::FdFlags::CLOEXEC),
            "not close-on-exec"
        );
        drop(copy);
        // An fd the child does not have, and a negative one, leak nothing.
        without_fd_leak(|| {
            let e = failed(child.pidfd().get_fd(999_999), "get_fd(999999)")?;
            ensure_eq!(e.raw_os_error(), Some(libc::EBADF));
            let e = failed(child.pidfd().get_fd(-1), "get_fd(-1)")?;
            ensure!(matches!(e, Error::InvalidInput { .. }), "{e:?}");
            Ok(())
        })?;
        drop(hold_w);
        let status = child.wait().ctx("wait")?;
        ensure!(status.success(), "{status:?}");
        let e = failed(child.pidfd().get_fd(0), "get_fd of a reaped child")?;
        ensure!(matches!(e, Error::NoSuchProcess { .. }), "{e:?}");
        Ok(())
    })
    .unwrap();
}
