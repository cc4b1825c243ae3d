//! Specification of `Namespaces` (a set of handles: enter, enter_process), of the handle as an
//! fd, and of persisting (`Namespace::persist`, `PersistedNamespace`).
//!
//! Every test that changes a namespace or a credential does it in a forked child; root-only
//! tests start with `require_root` (never skipped under `CI=true`).

mod common;

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;

use common::ns::*;
use common::*;
use linux_namespaces::{Error, Hint, Namespaces, PersistedNamespace};

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
                ours[link] == *want,
                "{link} is {}, holder's {kind} is {want}",
                ours[link]
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
#[ignore = "needs root"]
fn namespaces_enter_as_root_enters_a_rootless_holders_user_namespace_last() {
    assert_root("namespaces_enter_as_root_enters_a_rootless_holders_user_namespace_last");
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
#[ignore = "needs root"]
fn enter_process_enters_every_namespace_of_the_target_but_our_own_user_namespace() {
    assert_root("enter_process_enters_every_namespace_of_the_target_but_our_own_user_namespace");
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
#[ignore = "needs root"]
fn persist_then_from_path_then_unpersist_leaves_mountinfo_as_before() {
    assert_root("persist_then_from_path_then_unpersist_leaves_mountinfo_as_before");
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
#[ignore = "needs root"]
fn persist_keeps_a_namespace_alive_after_its_last_process_and_handle_are_gone() {
    assert_root("persist_keeps_a_namespace_alive_after_its_last_process_and_handle_are_gone");
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
#[ignore = "needs root"]
fn persist_to_an_existing_path_fails_with_eexist_and_mounts_nothing() {
    assert_root("persist_to_an_existing_path_fails_with_eexist_and_mounts_nothing");
    as_root(|| {
        let dir = private_mounts()?;
        let path = dir.join("taken");
        std::fs::write(&path, b"mine").ctx("write")?;
        let before = mountinfo();
        let net = Namespace::current(NamespaceKind::Network).ctx("current")?;
        let e = failed(net.persist(&path), "persist onto an existing file")?;
        ensure_eq!(e.raw_os_error(), Some(libc::EEXIST));
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
        ensure_eq!(e.raw_os_error(), Some(libc::EPERM));
        ensure_eq!(e.hint(), Some(&Hint::NeedsCapSysAdmin));
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
#[ignore = "needs root"]
fn unpersist_of_a_mount_that_is_not_nsfs_unmounts_nothing() {
    assert_root("unpersist_of_a_mount_that_is_not_nsfs_unmounts_nothing");
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
#[ignore = "needs root"]
fn a_net_namespace_persisted_under_run_netns_works_with_ip_netns_exec() {
    assert_root("a_net_namespace_persisted_under_run_netns_works_with_ip_netns_exec");
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
