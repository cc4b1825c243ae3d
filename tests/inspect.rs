//! The inspector: what namespaces one process is in, comparisons, and the system-wide listing,
//! checked against processes the tests put in namespaces of their own.

mod common;

use std::path::Path;

use common::*;
use linux_namespaces::inspect::{self, NamespaceIds, NamespaceInfo};
use linux_namespaces::{Error, NamespaceId};

/// Kinds a holder can unshare and still be in itself (pid and time namespaces take effect for
/// children only; the holder forks for PID and not for TIME).
const OWN_KINDS: NamespaceSet = NamespaceSet::NET
    .union(NamespaceSet::UTS)
    .union(NamespaceSet::IPC)
    .union(NamespaceSet::MOUNT)
    .union(NamespaceSet::CGROUP);

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

fn current_id(kind: NamespaceKind) -> Result<NamespaceId, String> {
    Namespace::current(kind).map(|ns| ns.id()).map_err(err)
}

/// The kinds this kernel has (the links in /proc/self/ns).
fn kernel_kinds() -> NamespaceSet {
    NamespaceKind::ALL
        .into_iter()
        .filter(|k| Path::new(&format!("/proc/self/ns/{}", k.proc_name())).exists())
        .collect()
}

/// The command line of `pid` the way `lsns` shows it.
fn command_of(pid: u32) -> String {
    let mut raw = std::fs::read(format!("/proc/{pid}/cmdline")).expect("read cmdline");
    if raw.last() == Some(&0) {
        raw.pop();
    }
    raw.iter_mut().filter(|b| **b == 0).for_each(|b| *b = b' ');
    String::from_utf8_lossy(&raw).into_owned()
}

/// The parent of `pid`, as the caller's pid namespace sees it.
fn ppid_of(pid: u32) -> u32 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .expect("read status")
        .lines()
        .find_map(|l| l.strip_prefix("PPid:"))
        .expect("PPid line")
        .trim()
        .parse()
        .expect("PPid number")
}

/// A pid that no process has or can get: the kernel hands out pids below `pid_max`.
fn never_a_pid() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .expect("read pid_max")
        .trim()
        .parse()
        .expect("pid_max")
}

fn entry(list: &[NamespaceInfo], id: NamespaceId) -> Result<&NamespaceInfo, String> {
    list.iter()
        .find(|n| n.id == id)
        .ok_or_else(|| format!("{id} is not in the listing"))
}

fn euid() -> u32 {
    rustix::process::geteuid().as_raw()
}

// ---------------------------------------------------------------------------------------------
// NamespaceIds::of

fn own_namespaces_match_current_handles() -> Result<(), String> {
    let me = NamespaceIds::of(std::process::id()).map_err(err)?;
    ensure!(me.pid() == std::process::id(), "pid {}", me.pid());
    for kind in kernel_kinds().kinds() {
        ensure!(
            me.get(kind) == Some(current_id(kind)?),
            "{kind}: {:?}",
            me.get(kind)
        );
    }
    ensure!(
        me.iter().count() == kernel_kinds().kinds().count(),
        "read {} kinds",
        me.iter().count()
    );
    let some = NamespaceIds::of_kinds(std::process::id(), NamespaceSet::NET | NamespaceSet::UTS)
        .map_err(err)?;
    ensure!(
        some.iter().map(|id| id.kind()).collect::<NamespaceSet>()
            == NamespaceSet::NET | NamespaceSet::UTS,
        "of_kinds read {:?}",
        some
    );
    ensure!(
        some.differences(&me) == kernel_kinds() - (NamespaceSet::NET | NamespaceSet::UTS),
        "kinds read for one side only count as different: {}",
        some.differences(&me)
    );
    Ok(())
}

#[test]
fn of_self_matches_current_namespace_handles_rootless() {
    rootless(own_namespaces_match_current_handles).unwrap();
}

#[test]
#[ignore = "needs root"]
fn of_self_matches_current_namespace_handles_as_root() {
    assert_root("of_self_matches_current_namespace_handles_as_root");
    as_root(own_namespaces_match_current_handles).unwrap();
}

#[test]
fn of_holder_differs_in_exactly_the_kinds_it_unshared_rootless() {
    let full = NamespaceSet::USER | OWN_KINDS;
    let a = Holder::rootless(full);
    let b = Holder::rootless(NamespaceSet::USER | NamespaceSet::PID);
    let c = Holder::rootless(NamespaceSet::USER | NamespaceSet::NET);
    rootless(|| {
        let me = NamespaceIds::of(std::process::id()).map_err(err)?;
        for (h, set) in [(&a, full), (&b, NamespaceSet::USER | NamespaceSet::PID)] {
            let theirs = NamespaceIds::of(h.pid).map_err(err)?;
            ensure!(
                theirs.differences(&me) == set,
                "holder of {set} differs in {}",
                theirs.differences(&me)
            );
            ensure!(
                theirs.differences(&me) == me.differences(&theirs),
                "asymmetric"
            );
        }
        let theirs = NamespaceIds::of(c.pid).map_err(err)?;
        ensure!(
            theirs.differences(&me) == NamespaceSet::USER | NamespaceSet::NET,
            "{}",
            theirs.differences(&me)
        );
        Ok(())
    })
    .unwrap();
}

#[test]
#[ignore = "needs root"]
fn of_holder_differs_in_exactly_the_kinds_it_unshared_as_root() {
    assert_root("of_holder_differs_in_exactly_the_kinds_it_unshared_as_root");
    let all_own = Holder::new(OWN_KINDS);
    let pid = Holder::new(NamespaceSet::PID | NamespaceSet::UTS);
    // A time namespace, like a pid namespace, is for the holder's children: its own stays ours.
    let time = Holder::new(NamespaceSet::TIME | NamespaceSet::NET);
    let me = NamespaceIds::of(std::process::id()).unwrap();
    for (h, expected) in [
        (&all_own, OWN_KINDS),
        (&pid, NamespaceSet::PID | NamespaceSet::UTS),
        (&time, NamespaceSet::NET),
    ] {
        let theirs = NamespaceIds::of(h.pid).unwrap();
        assert_eq!(theirs.differences(&me), expected);
        for kind in expected.kinds() {
            assert_eq!(
                theirs.get(kind),
                Some(Namespace::open(h.pid, kind).unwrap().id()),
                "{kind}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// same_namespace

#[test]
fn same_namespace_compares_one_kind_rootless() {
    let h = Holder::rootless(NamespaceSet::USER | NamespaceSet::NET);
    rootless(|| {
        let me = std::process::id();
        for kind in kernel_kinds().kinds() {
            ensure!(
                inspect::same_namespace(me, me, kind).map_err(err)?,
                "{kind} vs itself"
            );
        }
        for (kind, same) in [
            (NamespaceKind::Network, false),
            (NamespaceKind::User, false),
            (NamespaceKind::Uts, true),
            (NamespaceKind::Ipc, true),
            (NamespaceKind::Mount, true),
            (NamespaceKind::Pid, true),
        ] {
            ensure!(
                inspect::same_namespace(me, h.pid, kind).map_err(err)? == same,
                "{kind}: expected same={same}"
            );
            ensure!(
                inspect::same_namespace(h.pid, me, kind).map_err(err)? == same,
                "{kind} reversed"
            );
        }
        Ok(())
    })
    .unwrap();
}

#[test]
#[ignore = "needs root"]
fn same_namespace_compares_one_kind_as_root() {
    assert_root("same_namespace_compares_one_kind_as_root");
    let a = Holder::new(NamespaceSet::UTS | NamespaceSet::IPC);
    let me = std::process::id();
    assert!(!inspect::same_namespace(me, a.pid, NamespaceKind::Uts).unwrap());
    assert!(!inspect::same_namespace(me, a.pid, NamespaceKind::Ipc).unwrap());
    assert!(inspect::same_namespace(me, a.pid, NamespaceKind::Network).unwrap());
    assert!(inspect::same_namespace(a.pid, a.pid, NamespaceKind::Uts).unwrap());
}

// ---------------------------------------------------------------------------------------------
// Errors

fn missing_processes_are_no_such_process() -> Result<(), String> {
    let nobody = never_a_pid();
    match NamespaceIds::of(nobody) {
        Err(Error::NoSuchProcess { pid }) => ensure!(pid == nobody, "pid {pid}"),
        other => return Err(format!("of({nobody}): {other:?}")),
    }
    match inspect::same_namespace(std::process::id(), nobody, NamespaceKind::Network) {
        Err(Error::NoSuchProcess { pid }) => ensure!(pid == nobody, "pid {pid}"),
        other => return Err(format!("same_namespace: {other:?}")),
    }
    for bad in [0, i32::MAX as u32 + 1, u32::MAX] {
        ensure!(
            matches!(NamespaceIds::of(bad), Err(Error::InvalidInput { .. })),
            "pid {bad} accepted"
        );
    }
    Ok(())
}

#[test]
fn nonexistent_pid_is_no_such_process_rootless() {
    rootless(missing_processes_are_no_such_process).unwrap();
}

#[test]
#[ignore = "needs root"]
fn nonexistent_pid_is_no_such_process_as_root() {
    assert_root("nonexistent_pid_is_no_such_process_as_root");
    as_root(missing_processes_are_no_such_process).unwrap();
}

/// A zombie (exited, not reaped) has lost every namespace but its pid and user ones, which it
/// keeps alive: `of` reports it as exited, and the listing counts it in those two only, the way
/// `lsns` does (and the way a process that exits in the middle of a scan is handled).
fn zombies_keep_only_pid_and_user() -> Result<(), String> {
    // SAFETY: fork in a single-threaded forked test child; the grandchild only calls _exit.
    let pid = unsafe { libc::fork() };
    ensure!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
    if pid == 0 {
        // SAFETY: ends the grandchild at once.
        unsafe { libc::_exit(0) };
    }
    // Wait until it has exited but leave it unreaped (WNOWAIT): a zombie.
    // SAFETY: siginfo_t is plain data; waitid writes into the local.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointer to a local siginfo_t.
    let r = unsafe {
        libc::waitid(
            libc::P_PID,
            pid as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOWAIT,
        )
    };
    ensure!(r == 0, "waitid: {}", std::io::Error::last_os_error());
    let zombie = pid as u32;
    ensure!(
        Path::new(&format!("/proc/{zombie}")).exists(),
        "the zombie is visible in /proc"
    );
    let of = NamespaceIds::of(zombie);
    let of_net = NamespaceIds::of_kinds(zombie, NamespaceSet::NET);
    let of_kept = NamespaceIds::of_kinds(zombie, NamespaceSet::PID | NamespaceSet::USER);
    let listed = inspect::list(NamespaceSet::all()).map_err(err)?;
    wait(pid);
    for (what, result) in [("of", of), ("of_kinds(NET)", of_net)] {
        match result {
            Err(Error::NoSuchProcess { pid }) => ensure!(pid == zombie, "{what}: pid {pid}"),
            other => return Err(format!("{what}(zombie): {other:?}")),
        }
    }
    let kept = of_kept.map_err(err)?;
    ensure!(
        kept.get(NamespaceKind::Pid) == Some(current_id(NamespaceKind::Pid)?)
            && kept.get(NamespaceKind::User) == Some(current_id(NamespaceKind::User)?),
        "zombie's pid and user: {kept:?}"
    );
    let mut counted = NamespaceSet::empty();
    for n in listed.iter().filter(|n| n.pids.contains(&zombie)) {
        ensure!(
            n.id == current_id(n.id.kind())?,
            "zombie counted in a namespace not ours: {}",
            n.id
        );
        counted |= n.id.kind().as_set();
    }
    ensure!(
        counted == NamespaceSet::PID | NamespaceSet::USER,
        "zombie counted in {counted}"
    );
    ensure!(
        listed.iter().any(|n| n.pids.contains(&std::process::id())),
        "the listing missed the caller"
    );
    Ok(())
}

#[test]
fn zombie_is_exited_and_listed_in_its_pid_and_user_namespaces_only_rootless() {
    rootless(zombies_keep_only_pid_and_user).unwrap();
}

#[test]
#[ignore = "needs root"]
fn zombie_is_exited_and_listed_in_its_pid_and_user_namespaces_only_as_root() {
    assert_root("zombie_is_exited_and_listed_in_its_pid_and_user_namespaces_only_as_root");
    as_root(zombies_keep_only_pid_and_user).unwrap();
}

#[test]
#[ignore = "needs root"]
fn another_users_process_is_permission_denied_rootless() {
    assert_root("another_users_process_is_permission_denied_rootless");
    rootless(|| {
        // The parent is the test harness, running as root.
        let root_pid = rustix::process::getppid()
            .ok_or("no parent")?
            .as_raw_nonzero()
            .get() as u32;
        match NamespaceIds::of(root_pid) {
            Err(e) => ensure!(e.raw_os_error() == Some(libc::EACCES), "{e}"),
            Ok(ns) => return Err(format!("read root's namespaces unprivileged: {ns:?}")),
        }
        match inspect::same_namespace(std::process::id(), root_pid, NamespaceKind::Uts) {
            Err(e) => ensure!(e.raw_os_error() == Some(libc::EACCES), "{e}"),
            Ok(v) => return Err(format!("compared with root's process: {v}")),
        }
        Ok(())
    })
    .unwrap();
}

// ---------------------------------------------------------------------------------------------
// list

/// Structural promises of every listing, and the caller in each of its namespaces.
fn listing_is_well_formed() -> Result<(), String> {
    ensure!(
        inspect::list(NamespaceSet::empty())
            .map_err(err)?
            .is_empty(),
        "empty set"
    );
    let list = inspect::list(NamespaceSet::all()).map_err(err)?;
    let me = std::process::id();
    for w in list.windows(2) {
        ensure!(
            (w[0].id.ino(), w[0].id.kind()) < (w[1].id.ino(), w[1].id.kind()),
            "not sorted by inode or not unique: {} then {}",
            w[0].id,
            w[1].id
        );
    }
    for n in &list {
        ensure!(
            n.pids.windows(2).all(|w| w[0] < w[1]),
            "{}: pids {:?}",
            n.id,
            n.pids
        );
        ensure!(n.nprocs() == n.pids.len(), "nprocs");
        // Found through a process, a mount or a held fd, or else listed as the owner or
        // parent of another listed namespace.
        let related = list
            .iter()
            .any(|m| m.owner == Some(n.id) || m.parent == Some(n.id));
        ensure!(
            n.nprocs() > 0 || !n.mounts.is_empty() || !n.fds.is_empty() || related,
            "{}: held by nothing: {n:?}",
            n.id
        );
        ensure!(
            n.fds.is_empty() || n.pids.is_empty(),
            "{}: fds listed beside processes",
            n.id
        );
        if let Some(pid) = n.pid {
            ensure!(
                n.pids.contains(&pid),
                "{}: shown pid {pid} not a member",
                n.id
            );
            ensure!(n.uid.is_some() && n.command.is_some(), "{}: details", n.id);
        }
        ensure!(
            n.owner.is_none_or(|o| o.kind() == NamespaceKind::User),
            "owner kind"
        );
        ensure!(
            n.parent.is_none() || n.id.kind().is_hierarchical(),
            "{}: parent of a flat kind",
            n.id
        );
        ensure!(n.id.dev() == inspect::nsfs_dev().map_err(err)?, "dev");
    }
    for kind in kernel_kinds().kinds() {
        let n = entry(&list, current_id(kind)?)?;
        ensure!(
            n.pids.contains(&me),
            "{kind}: caller not among {:?}",
            n.pids
        );
        ensure!(
            n.pid.is_some_and(|p| p <= me),
            "{kind}: shown pid {:?}",
            n.pid
        );
    }
    // Only the requested kinds come back.
    let some = inspect::list(NamespaceSet::UTS | NamespaceSet::PID).map_err(err)?;
    ensure!(
        some.iter()
            .all(|n| matches!(n.id.kind(), NamespaceKind::Uts | NamespaceKind::Pid)),
        "other kinds listed"
    );
    ensure!(
        some.iter()
            .any(|n| n.id == current_id(NamespaceKind::Uts).unwrap()),
        "own uts missing"
    );
    Ok(())
}

#[test]
fn listing_is_sorted_and_includes_the_caller_rootless() {
    rootless(listing_is_well_formed).unwrap();
}

#[test]
#[ignore = "needs root"]
fn listing_is_sorted_and_includes_the_caller_as_root() {
    assert_root("listing_is_sorted_and_includes_the_caller_as_root");
    as_root(listing_is_well_formed).unwrap();
}

#[test]
#[ignore = "needs root"]
fn list_counts_a_holders_namespaces_with_details() {
    assert_root("list_counts_a_holders_namespaces_with_details");
    let set = NamespaceSet::NET | NamespaceSet::UTS | NamespaceSet::IPC;
    let h = Holder::new(set);
    let list = inspect::list(set | NamespaceSet::USER).unwrap();
    let our_user = Namespace::current(NamespaceKind::User).unwrap().id();
    for kind in set.kinds() {
        let id = Namespace::open(h.pid, kind).unwrap().id();
        let n = entry(&list, id).unwrap();
        assert_eq!(n.pids, vec![h.pid], "{id}");
        assert_eq!(n.pid, Some(h.pid));
        assert_eq!(n.uid, Some(0));
        assert_eq!(n.command.as_deref(), Some(command_of(h.pid).as_str()));
        assert_eq!(n.owner, Some(our_user), "{id}: owner");
        assert_eq!(n.owner_uid, Some(0), "{id}: owner uid");
        assert_eq!(n.parent, None);
        assert!(n.mounts.is_empty());
        // The holder is not counted in ours.
        let ours = entry(&list, Namespace::current(kind).unwrap().id()).unwrap();
        assert!(!ours.pids.contains(&h.pid), "{kind}");
    }
    // The holder shares our user namespace, and is counted there.
    assert!(entry(&list, our_user).unwrap().pids.contains(&h.pid));
}

/// For a holder in new user and pid namespaces: the middle process is in the user namespace
/// only, the holder in both; the pid namespace is owned by the new user namespace, whose
/// parent and owner is ours.
fn hierarchy_is_listed(h: &Holder) -> Result<(), String> {
    let middle = ppid_of(h.pid);
    // Holder::rootless drops to UNPRIVILEGED when the suite is root, else keeps our uid.
    let holder_uid = if euid() == 0 { UNPRIVILEGED } else { euid() };
    let user = Namespace::open(h.pid, NamespaceKind::User)
        .map_err(err)?
        .id();
    let pid = Namespace::open(h.pid, NamespaceKind::Pid)
        .map_err(err)?
        .id();
    let our_user = current_id(NamespaceKind::User)?;
    let our_pid = current_id(NamespaceKind::Pid)?;
    let list = inspect::list(NamespaceSet::USER | NamespaceSet::PID).map_err(err)?;

    let u = entry(&list, user)?;
    let mut both = vec![middle, h.pid];
    both.sort_unstable();
    ensure!(
        u.pids == both,
        "user ns pids {:?}, expected {both:?}",
        u.pids
    );
    ensure!(u.pid == Some(both[0]), "user ns shown pid {:?}", u.pid);
    ensure!(u.uid == Some(holder_uid), "user ns uid {:?}", u.uid);
    ensure!(u.parent == Some(our_user), "user ns parent {:?}", u.parent);
    ensure!(u.owner == Some(our_user), "user ns owner {:?}", u.owner);
    ensure!(
        u.owner_uid == Some(holder_uid),
        "user ns owner uid {:?}",
        u.owner_uid
    );

    let p = entry(&list, pid)?;
    ensure!(p.pids == vec![h.pid], "pid ns pids {:?}", p.pids);
    ensure!(p.pid == Some(h.pid), "pid ns shown pid {:?}", p.pid);
    ensure!(p.uid == Some(holder_uid), "pid ns uid {:?}", p.uid);
    let command = command_of(h.pid);
    ensure!(
        p.command.as_deref() == Some(command.as_str()),
        "pid ns command {:?}, /proc/{}/cmdline gives {command:?}",
        p.command,
        h.pid
    );
    ensure!(p.parent == Some(our_pid), "pid ns parent {:?}", p.parent);
    ensure!(p.owner == Some(user), "pid ns owner {:?}", p.owner);
    ensure!(
        p.owner_uid == Some(holder_uid),
        "pid ns owner uid {:?}",
        p.owner_uid
    );

    // Ours: the initial pid namespace has no parent we can see.
    let ours = entry(&list, our_pid)?;
    ensure!(!ours.pids.contains(&h.pid), "holder counted in our pid ns");
    ensure!(
        ours.pids.contains(&middle),
        "middle process missing from our pid ns"
    );
    Ok(())
}

#[test]
fn list_shows_user_and_pid_hierarchy_rootless() {
    let h = Holder::rootless(NamespaceSet::USER | NamespaceSet::PID);
    rootless(|| hierarchy_is_listed(&h)).unwrap();
}

#[test]
#[ignore = "needs root"]
fn list_shows_user_and_pid_hierarchy_as_root() {
    assert_root("list_shows_user_and_pid_hierarchy_as_root");
    let h = Holder::rootless(NamespaceSet::USER | NamespaceSet::PID);
    as_root(|| hierarchy_is_listed(&h)).unwrap();
}

#[test]
#[ignore = "needs root"]
fn rootless_list_shows_only_readable_processes() {
    assert_root("rootless_list_shows_only_readable_processes");
    let root_holder = Holder::new(NamespaceSet::UTS);
    let root_uts = Namespace::open(root_holder.pid, NamespaceKind::Uts)
        .unwrap()
        .id();
    let own_holder = Holder::rootless(NamespaceSet::USER | NamespaceSet::UTS);
    let own_uts = Namespace::open(own_holder.pid, NamespaceKind::Uts)
        .unwrap()
        .id();
    let harness = std::process::id();
    rootless(|| {
        let list = inspect::list(NamespaceSet::all()).map_err(err)?;
        let me = std::process::id();
        ensure!(
            list.iter().any(|n| n.pids.contains(&me)),
            "the caller is not listed"
        );
        ensure!(
            !list.iter().any(|n| n.pids.contains(&harness)),
            "root's harness process is listed"
        );
        ensure!(
            !list.iter().any(|n| n.id == root_uts),
            "a namespace only root's process is in is listed"
        );
        ensure!(
            entry(&list, own_uts)?.pids == vec![own_holder.pid],
            "own holder's uts"
        );
        for n in &list {
            for &pid in &n.pids {
                match NamespaceIds::of_kinds(pid, n.id.kind().as_set()) {
                    Ok(_) | Err(Error::NoSuchProcess { .. }) => {}
                    Err(e) => return Err(format!("listed pid {pid} is unreadable: {e}")),
                }
            }
        }
        Ok(())
    })
    .unwrap();
}

#[test]
#[ignore = "needs root"]
fn persisted_namespace_is_listed_with_its_mount_and_no_processes() {
    assert_root("persisted_namespace_is_listed_with_its_mount_and_no_processes");
    let dir = std::env::temp_dir().join(format!("linux-namespaces-inspect-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // A space and a tab: the kernel escapes them in mountinfo, and the path must come back whole.
    let path = dir.join("net ns\tpersisted");
    let result = as_root(|| {
        // A mount namespace of our own, private all the way down, so the bind mount never
        // reaches the host's mount table.
        Namespaces::unshare_calling_thread(NamespaceSet::MOUNT).map_err(err)?;
        rustix::mount::mount_change(
            "/",
            rustix::mount::MountPropagationFlags::PRIVATE
                | rustix::mount::MountPropagationFlags::REC,
        )
        .map_err(|e| format!("make / rprivate: {e}"))?;
        let holder = Holder::new(NamespaceSet::NET);
        let ns = Namespace::open(holder.pid, NamespaceKind::Network).map_err(err)?;
        let id = ns.id();
        let persisted = ns.persist(&path).map_err(err)?;
        drop(ns);
        drop(holder);

        let mounts = linux_namespaces::persist::list(linux_namespaces::persist::MountTable::Caller)
            .map_err(err)?;
        ensure!(
            mounts.contains(&persisted),
            "persist::list misses {persisted:?}: {mounts:?}"
        );
        let list = inspect::list(NamespaceSet::NET).map_err(err)?;
        let n = entry(&list, id)?;
        ensure!(n.nprocs() == 0, "pids {:?}", n.pids);
        ensure!(
            n.pid.is_none() && n.uid.is_none() && n.command.is_none(),
            "{n:?}"
        );
        ensure!(n.mounts == vec![path.clone()], "mounts {:?}", n.mounts);
        ensure!(
            n.owner == Some(current_id(NamespaceKind::User)?),
            "owner {:?}",
            n.owner
        );
        ensure!(n.owner_uid == Some(0), "owner uid {:?}", n.owner_uid);
        // Listing another kind leaves it out.
        ensure!(
            !inspect::list(NamespaceSet::UTS)
                .map_err(err)?
                .iter()
                .any(|n| n.id == id),
            "listed as uts"
        );

        persisted.remove(true).map_err(err)?;
        let list = inspect::list(NamespaceSet::NET).map_err(err)?;
        ensure!(
            !list.iter().any(|n| n.mounts.contains(&path)),
            "still listed after remove"
        );
        Ok(())
    });
    let leaked = mountinfo().contains("persisted");
    let _ = std::fs::remove_file(&path);
    let _ = std::fs::remove_dir(&dir);
    result.unwrap();
    assert!(!leaked, "the bind mount reached the host mount table");
}

/// A namespace persisted on a path, then a FIFO bind-mounted over that path: the mount table
/// still lists the nsfs mount there, and `list` must look at what the path holds now without
/// blocking on the FIFO (which has no writer).
#[test]
#[ignore = "needs root"]
fn list_does_not_block_on_a_fifo_mounted_over_a_persisted_namespace() {
    assert_root("list_does_not_block_on_a_fifo_mounted_over_a_persisted_namespace");
    as_root(|| {
        let dir = common::ns::private_mounts()?;
        let path = dir.join("ns");
        let holder = Holder::new(NamespaceSet::NET);
        let ns = Namespace::open(holder.pid, NamespaceKind::Network).map_err(err)?;
        let id = ns.id();
        ns.persist(&path).map_err(err)?;
        // Only the mount keeps it alive now: list must find it through the path.
        drop((ns, holder));
        let fifo = dir.join("fifo");
        rustix::fs::mkfifoat(rustix::fs::CWD, &fifo, rustix::fs::Mode::RUSR).map_err(err)?;
        rustix::mount::mount_bind(&fifo, &path).map_err(err)?;
        in_child_within(std::time::Duration::from_secs(20), || {
            let list = inspect::list(NamespaceSet::NET).map_err(err)?;
            let n = entry(&list, id)?;
            ensure!(n.mounts == vec![path.clone()], "mounts {:?}", n.mounts);
            ensure!(n.nprocs() == 0, "pids {:?}", n.pids);
            Ok(())
        })
        .map_err(|e| format!("inspect::list with a FIFO over a persisted namespace: {e}"))
    })
    .unwrap();
}

// ---------------------------------------------------------------------------------------------
// nsfs_dev, nsfs_mounts, parse_mountinfo_line

#[test]
fn nsfs_dev_is_the_device_of_namespace_files() {
    rootless(|| {
        let dev = inspect::nsfs_dev().map_err(err)?;
        let st = rustix::fs::stat("/proc/self/ns/net").map_err(err)?;
        ensure!(dev == st.st_dev, "{dev} vs {}", st.st_dev);
        ensure!(current_id(NamespaceKind::Uts)?.dev() == dev, "handle dev");
        Ok(())
    })
    .unwrap();
}

#[test]
fn every_line_of_the_kernels_mountinfo_parses() {
    let text = mountinfo();
    let mut ids = std::collections::HashSet::new();
    for line in text.lines() {
        let m = inspect::parse_mountinfo_line(line).unwrap_or_else(|| panic!("{line:?}"));
        assert!(m.mount_point.is_absolute(), "{line:?}");
        assert!(ids.insert(m.mount_id), "duplicate mount id in {line:?}");
        assert!(!m.fstype.is_empty());
    }
    assert!(!ids.is_empty());
    // The root mount is there.
    assert!(
        text.lines()
            .filter_map(inspect::parse_mountinfo_line)
            .any(|m| m.mount_point == Path::new("/"))
    );
}

// ---------------------------------------------------------------------------------------------
// Namespaces held through open fds and sockets; ppid; NamespaceInfo::open; relatives

/// A forked process that runs `setup`, reports what it returned, then runs `step` once for
/// each byte written to it (reporting each result), and exits when its command pipe closes.
/// It keeps only its two pipe ends and the fds in `keep`: everything else it inherited (other
/// sitters' pipes, the harness's) is closed, so it holds nothing it was not asked to.
/// Dropping it closes the command pipe and reaps it.
struct Sitter {
    pid: u32,
    cmd: Option<std::fs::File>,
    replies: std::io::BufReader<std::fs::File>,
}

type Step = Box<dyn FnMut() -> Result<String, String>>;

impl Sitter {
    fn start(
        keep: &[i32],
        setup: impl FnOnce() -> Result<String, String>,
        mut step: Step,
    ) -> Result<(Sitter, String), String> {
        use std::io::{Read, Write};
        use std::os::fd::AsRawFd;
        let pipe = || {
            let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).map_err(err)?;
            Ok::<_, String>((std::fs::File::from(r), std::fs::File::from(w)))
        };
        let (cmd_r, cmd_w) = pipe()?;
        let (reply_r, reply_w) = pipe()?;
        // SAFETY: called from a forked, single-threaded test child (in_child); the new child
        // runs Rust code of this test only and ends with _exit.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(format!("fork: {}", std::io::Error::last_os_error()));
        }
        if pid == 0 {
            drop((cmd_w, reply_r));
            let mut all = [0i32; 8];
            all[..keep.len()].copy_from_slice(keep);
            all[keep.len()] = cmd_r.as_raw_fd();
            all[keep.len() + 1] = reply_w.as_raw_fd();
            close_fds_except(&all[..keep.len() + 2]);
            let (mut cmd, mut reply) = (cmd_r, reply_w);
            let report = |reply: &mut std::fs::File, r: Result<String, String>| {
                let line = match r {
                    Ok(s) => format!("ok {s}\n"),
                    Err(e) => format!("error {}\n", e.replace('\n', " ")),
                };
                let _ = reply.write_all(line.as_bytes());
            };
            report(&mut reply, setup());
            let mut b = [0u8; 1];
            while matches!(cmd.read(&mut b), Ok(1)) {
                report(&mut reply, step());
            }
            // SAFETY: end the sitter without running anything of the test harness.
            unsafe { libc::_exit(0) };
        }
        drop((cmd_r, reply_w));
        let mut sitter = Sitter {
            pid: pid as u32,
            cmd: Some(cmd_w),
            replies: std::io::BufReader::new(reply_r),
        };
        let first = sitter.reply()?;
        Ok((sitter, first))
    }

    fn reply(&mut self) -> Result<String, String> {
        let mut line = String::new();
        std::io::BufRead::read_line(&mut self.replies, &mut line).map_err(err)?;
        let line = line.trim_end();
        match line.split_once(' ') {
            Some(("ok", s)) => Ok(s.to_string()),
            _ if line == "ok" => Ok(String::new()),
            _ => Err(format!("sitter {}: {line:?}", self.pid)),
        }
    }

    /// Runs the sitter's step once and returns what it reported.
    fn step(&mut self) -> Result<String, String> {
        use std::io::Write;
        self.cmd
            .as_mut()
            .ok_or("no command pipe")?
            .write_all(b"x")
            .map_err(err)?;
        self.reply()
    }
}

impl Drop for Sitter {
    fn drop(&mut self) {
        drop(self.cmd.take());
        wait(self.pid as i32);
    }
}

fn no_step() -> Step {
    Box::new(|| Ok(String::new()))
}

/// A process in new namespaces of `set` (and a user namespace, rootless), until dropped.
fn maker(set: NamespaceSet) -> Result<Sitter, String> {
    Ok(Sitter::start(&[], || unshare_here(set).map(|()| String::new()), no_step())?.0)
}

/// A namespace that only another process's open fd holds: listed without processes, with
/// that (pid, fd), the owner uid lsns shows as USER, and (rootless: the maker's user
/// namespace, which nothing but the held namespace keeps alive) its owner as a relative.
fn namespace_held_only_by_an_fd(root: bool) -> Result<(), String> {
    use std::os::fd::AsRawFd;
    let set = if root {
        NamespaceSet::NET
    } else {
        NamespaceSet::USER | NamespaceSet::NET
    };
    let me = euid();
    let maker = maker(set)?;
    let net = Namespace::open(maker.pid, NamespaceKind::Network).map_err(err)?;
    let (id, owner) = (net.id(), net.owner().map_err(err)?.id());
    let fd = net.as_raw_fd();
    let (holder, _) = Sitter::start(&[fd], || Ok(String::new()), no_step())?;
    // From here on only the holder's fd (and, rootless, nothing but the network namespace
    // for its owner) keeps them alive.
    drop((net, maker));

    let list = inspect::list(NamespaceSet::all()).map_err(err)?;
    let n = entry(&list, id)?;
    ensure!(n.pids.is_empty(), "pids {:?}", n.pids);
    ensure!(n.nprocs() == 0, "nprocs {}", n.nprocs());
    ensure_eq!(n.fds, vec![(holder.pid, fd)]);
    ensure!(
        n.pid.is_none() && n.ppid.is_none() && n.uid.is_none() && n.command.is_none(),
        "{n:?}"
    );
    ensure!(n.mounts.is_empty(), "mounts {:?}", n.mounts);
    ensure_eq!(n.owner, Some(owner));
    ensure_eq!(n.owner_uid, Some(me), "USER of a process-less namespace");
    ensure_eq!(n.open().map_err(err)?.id(), id);
    let our_user = current_id(NamespaceKind::User)?;
    if root {
        ensure_eq!(owner, our_user);
    } else {
        // The maker's user namespace: no process, no fd, listed as the owner of a held one.
        let u = entry(&list, owner)?;
        ensure!(
            u.pids.is_empty() && u.fds.is_empty() && u.mounts.is_empty(),
            "{u:?}"
        );
        ensure_eq!(u.owner_uid, Some(me));
        ensure_eq!(u.parent, Some(our_user));
        ensure_eq!(u.owner, Some(our_user));
        // Not asked for user namespaces: not listed, not chased.
        ensure!(
            !inspect::list(NamespaceSet::NET)
                .map_err(err)?
                .iter()
                .any(|n| n.id == owner),
            "listed a user namespace when asked for net only"
        );
    }
    // Not asked for network namespaces, or not scanning fds: not found.
    ensure!(
        !inspect::list(NamespaceSet::all() - NamespaceSet::NET)
            .map_err(err)?
            .iter()
            .any(|n| n.id == id),
        "listed when net was not asked for"
    );
    let without =
        inspect::list_with(&inspect::ListOptions::new(NamespaceSet::all()).open_fds(false))
            .map_err(err)?;
    ensure!(
        !without.iter().any(|n| n.id == id || n.id == owner && !root),
        "found without the fd scan"
    );
    drop(holder);
    ensure!(
        !inspect::list(NamespaceSet::NET)
            .map_err(err)?
            .iter()
            .any(|n| n.id == id),
        "still listed after its holder exited"
    );
    Ok(())
}

root_and_rootless!(
    namespace_held_only_by_an_fd_is_listed,
    namespace_held_only_by_an_fd
);

/// A network namespace that only a socket keeps alive: a process unshares a network
/// namespace, makes a socket, and goes back to the one it came from (util-linux's
/// "foreign socket"). Rootless, all of it happens inside a user and network namespace of
/// our own, where we are root.
fn network_namespace_held_only_by_a_socket(root: bool) -> Result<(), String> {
    if !root {
        unshare_here(NamespaceSet::USER | NamespaceSet::NET)?;
    }
    // Uids as our user namespace sees them (NS_GET_OWNER_UID maps to the caller's view).
    let me = euid();
    let ours = Namespace::current(NamespaceKind::Network).map_err(err)?;
    let (maker, reply) = Sitter::start(
        &[std::os::fd::AsRawFd::as_raw_fd(&ours)],
        || {
            unshare_here(NamespaceSet::NET)?;
            let sock = rustix::net::socket(
                rustix::net::AddressFamily::INET,
                rustix::net::SocketType::DGRAM,
                None,
            )
            .map_err(err)?;
            let id = Namespace::from_socket(std::os::fd::AsFd::as_fd(&sock))
                .map_err(err)?
                .id();
            ours.enter().map_err(err)?;
            let fd = std::os::fd::IntoRawFd::into_raw_fd(sock);
            Ok(format!("{fd} {}", id.ino()))
        },
        no_step(),
    )?;
    let (fd, ino) = reply.split_once(' ').ok_or("reply")?;
    let (fd, ino): (i32, u64) = (fd.parse().map_err(err)?, ino.parse().map_err(err)?);
    ensure_eq!(
        NamespaceIds::of(maker.pid)
            .map_err(err)?
            .get(NamespaceKind::Network),
        Some(ours.id()),
        "the maker is back in our network namespace"
    );
    let id = NamespaceId::new(NamespaceKind::Network, ours.id().dev(), ino);

    // The scan (pidfd_getfd, SIOCGSKNS) and open() leave no fd behind.
    common::ns::without_fd_leak(|| {
        let list = inspect::list(NamespaceSet::all()).map_err(err)?;
        drop(entry(&list, id)?.open().map_err(err)?);
        Ok(())
    })?;
    let list = inspect::list(NamespaceSet::all()).map_err(err)?;
    let n = entry(&list, id)?;
    ensure!(n.pids.is_empty(), "pids {:?}", n.pids);
    ensure_eq!(n.fds, vec![(maker.pid, fd)]);
    ensure!(n.pid.is_none() && n.command.is_none(), "{n:?}");
    ensure_eq!(n.owner_uid, Some(me), "USER of a socket-held namespace");
    ensure_eq!(n.owner, Some(current_id(NamespaceKind::User)?));
    ensure_eq!(n.open().map_err(err)?.id(), id);
    // The socket is not counted for our own namespace.
    ensure!(
        entry(&list, ours.id())?.fds.is_empty(),
        "fds of a namespace with processes"
    );
    ensure!(
        !inspect::list(NamespaceSet::UTS | NamespaceSet::USER)
            .map_err(err)?
            .iter()
            .any(|n| n.id == id),
        "listed when net was not asked for"
    );
    drop(maker);
    ensure!(
        !inspect::list(NamespaceSet::NET)
            .map_err(err)?
            .iter()
            .any(|n| n.id == id),
        "still listed after the socket's process exited"
    );
    Ok(())
}

root_and_rootless!(
    network_namespace_held_only_by_a_socket_is_listed,
    network_namespace_held_only_by_a_socket
);

/// `NamespaceInfo::open` goes through a held fd only if that fd still leads to the listed
/// namespace: after the holder puts another namespace at the same fd number, it fails
/// rather than open the other one.
fn open_checks_what_a_held_fd_leads_to(_root: bool) -> Result<(), String> {
    use std::os::fd::AsRawFd;
    let set = if is_root() {
        NamespaceSet::UTS
    } else {
        NamespaceSet::USER | NamespaceSet::UTS
    };
    let maker = maker(set)?;
    let uts = Namespace::open(maker.pid, NamespaceKind::Uts).map_err(err)?;
    let (id, fd) = (uts.id(), uts.as_raw_fd());
    let (mut holder, _) = Sitter::start(
        &[fd],
        || Ok(String::new()),
        Box::new(move || {
            // Our own uts namespace, at the number the held one had (closing that).
            let own = std::fs::File::open("/proc/self/ns/uts").map_err(err)?;
            // SAFETY: `fd` is open in this process (kept from the parent); dup2 replaces what
            // it refers to, and the OwnedFd is forgotten right after, so nothing closes it.
            let mut target =
                unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
            let r = rustix::io::dup2(&own, &mut target);
            std::mem::forget(target);
            r.map_err(err)?;
            Ok(String::new())
        }),
    )?;
    drop((uts, maker));
    let list = inspect::list(NamespaceSet::UTS).map_err(err)?;
    let n = entry(&list, id)?.clone();
    ensure_eq!(n.fds, vec![(holder.pid, fd)]);
    ensure_eq!(n.open().map_err(err)?.id(), id);
    holder.step()?;
    let holders_own = NamespaceIds::of(holder.pid)
        .map_err(err)?
        .get(NamespaceKind::Uts);
    match n.open() {
        Ok(ns) => {
            return Err(format!(
                "opened {} through a fd that now holds {holders_own:?}",
                ns.id()
            ));
        }
        Err(Error::Os { source, .. }) if source.raw_os_error() == Some(libc::ENOENT) => {}
        Err(e) => return Err(format!("unexpected error: {e}")),
    }
    Ok(())
}

root_and_rootless!(
    open_checks_what_a_held_fd_leads_to_now,
    open_checks_what_a_held_fd_leads_to
);

/// `ListOptions::all_relatives`: a user namespace that no process is in and nothing but a
/// network namespace (which a process is in) keeps alive is listed only with it, as the
/// owner that `lsns --tree=owner` shows.
fn relatives_of_process_namespaces(root: bool) -> Result<(), String> {
    if !root {
        // Be root over the maker's user namespace, so we may enter its network namespace.
        unshare_here(NamespaceSet::USER)?;
    }
    // Uids as our user namespace sees them (NS_GET_OWNER_UID maps to the caller's view).
    let me = euid();
    let maker = maker(NamespaceSet::USER | NamespaceSet::NET)?;
    let net = Namespace::open(maker.pid, NamespaceKind::Network).map_err(err)?;
    let (id, owner) = (net.id(), net.owner().map_err(err)?.id());
    // It enters through the maker's link, so it holds no fd of the namespace (an fd would
    // make the owner listed anyway, as the owner of a held namespace).
    let maker_pid = maker.pid;
    let (sitter, _) = Sitter::start(
        &[],
        || {
            Namespace::open(maker_pid, NamespaceKind::Network)
                .and_then(|ns| ns.enter())
                .map(|()| String::new())
                .map_err(err)
        },
        no_step(),
    )?;
    drop((net, maker));
    let list = inspect::list(NamespaceSet::all()).map_err(err)?;
    ensure_eq!(entry(&list, id)?.pids, vec![sitter.pid]);
    ensure!(
        !list.iter().any(|n| n.id == owner),
        "the owner is listed without all_relatives"
    );
    let list =
        inspect::list_with(&inspect::ListOptions::new(NamespaceSet::all()).all_relatives(true))
            .map_err(err)?;
    let u = entry(&list, owner)?;
    ensure!(
        u.pids.is_empty() && u.fds.is_empty() && u.mounts.is_empty(),
        "{u:?}"
    );
    ensure_eq!(u.owner_uid, Some(me));
    ensure_eq!(u.parent, Some(current_id(NamespaceKind::User)?));
    ensure_eq!(entry(&list, id)?.owner, Some(owner));
    // Every owner and parent of a listed namespace is listed (or out of reach).
    for n in &list {
        for rel in [n.owner, n.parent].into_iter().flatten() {
            ensure!(
                list.iter().any(|m| m.id == rel),
                "{}'s relative {rel} is not listed",
                n.id
            );
        }
    }
    drop(sitter);
    Ok(())
}

root_and_rootless!(
    all_relatives_lists_owners_nothing_else_shows,
    relatives_of_process_namespaces
);

/// An nsfs bind mount opened as a file and then unmounted (`ip netns add`, an open of
/// /run/netns/NAME, `ip netns delete`): the open file is all that holds the namespace, and
/// the fd's link text is a path, not `net:[...]`. Listed with NPROCS 0 and USER root.
#[test]
#[ignore = "needs root"]
fn namespace_held_by_an_opened_then_unmounted_bind_mount() {
    assert_root("namespace_held_by_an_opened_then_unmounted_bind_mount");
    as_root(|| {
        let dir = common::ns::private_mounts()?;
        let path = dir.join("held");
        let holder = Holder::new(NamespaceSet::NET);
        let ns = Namespace::open(holder.pid, NamespaceKind::Network).map_err(err)?;
        let id = ns.id();
        let persisted = ns.persist(&path).map_err(err)?;
        drop((ns, holder));
        let opened = std::fs::File::open(&path).map_err(err)?;
        let fd = std::os::fd::AsRawFd::as_raw_fd(&opened);
        let (sitter, _) = Sitter::start(&[fd], || Ok(String::new()), no_step())?;
        drop(opened);
        persisted.remove(true).map_err(err)?;
        let link = std::fs::read_link(format!("/proc/{}/fd/{fd}", sitter.pid)).map_err(err)?;
        ensure!(
            !link.to_string_lossy().starts_with("net:["),
            "link text {link:?}"
        );
        let list = inspect::list(NamespaceSet::NET).map_err(err)?;
        let n = entry(&list, id)?;
        ensure!(n.pids.is_empty() && n.mounts.is_empty(), "{n:?}");
        ensure_eq!(n.fds, vec![(sitter.pid, fd)]);
        ensure_eq!(n.owner_uid, Some(0));
        ensure_eq!(n.open().map_err(err)?.id(), id);
        Ok(())
    })
    .unwrap();
}

/// PPID: the parent of the process shown, for namespaces with processes.
fn ppid_is_the_shown_processs_parent(_root: bool) -> Result<(), String> {
    let maker = maker(if is_root() {
        NamespaceSet::UTS
    } else {
        NamespaceSet::USER | NamespaceSet::UTS
    })?;
    let id = Namespace::open(maker.pid, NamespaceKind::Uts)
        .map_err(err)?
        .id();
    let list = inspect::list(NamespaceSet::UTS).map_err(err)?;
    let n = entry(&list, id)?;
    ensure_eq!(n.pid, Some(maker.pid));
    ensure_eq!(n.ppid, Some(std::process::id()));
    ensure_eq!(n.ppid, Some(ppid_of(maker.pid)));
    for n in &list {
        if let Some(pid) = n.pid {
            // Still ours and alive (the harness's threads come and go; its processes stay).
            if pid == std::process::id() {
                ensure_eq!(n.ppid, Some(ppid_of(pid)));
            }
        } else {
            ensure!(n.ppid.is_none(), "{n:?}");
        }
    }
    Ok(())
}

root_and_rootless!(ppid_is_listed, ppid_is_the_shown_processs_parent);

/// The nsid a network namespace gives another: none until one is set, then the one set (what
/// `ip netns list-id` shows); bad input is refused before anything is sent.
#[cfg(feature = "net")]
fn nsid_is_none_until_set(root: bool) -> Result<(), String> {
    use linux_namespaces::net::{self, Netlink};
    unshare_here(if root {
        NamespaceSet::NET
    } else {
        NamespaceSet::USER | NamespaceSet::NET
    })?;
    let other = net::create_namespace().map_err(err)?;
    let nl =
        Netlink::open(&Namespace::current(NamespaceKind::Network).map_err(err)?).map_err(err)?;
    ensure_eq!(nl.nsid_of(&other).map_err(err)?, None);
    nl.set_nsid(&other, 7).map_err(err)?;
    ensure_eq!(nl.nsid_of(&other).map_err(err)?, Some(7));
    // Seen from the other namespace, ours has none.
    let back = Netlink::open(&other).map_err(err)?;
    let ours = Namespace::current(NamespaceKind::Network).map_err(err)?;
    ensure_eq!(back.nsid_of(&ours).map_err(err)?, None);
    // A second id for the same namespace is refused by the kernel.
    match nl.set_nsid(&other, 8) {
        Err(Error::Netlink { source, .. }) if source.raw_os_error() == Some(libc::EEXIST) => {}
        r => return Err(format!("second nsid: {r:?}")),
    }
    ensure!(
        matches!(
            nl.set_nsid(&other, u32::MAX),
            Err(Error::InvalidInput { .. })
        ),
        "nsid above i32::MAX"
    );
    let uts = Namespace::current(NamespaceKind::Uts).map_err(err)?;
    ensure!(
        matches!(nl.nsid_of(&uts), Err(Error::WrongKind { .. })),
        "nsid_of a uts namespace"
    );
    ensure!(
        matches!(nl.set_nsid(&uts, 1), Err(Error::WrongKind { .. })),
        "set_nsid of a uts namespace"
    );
    ensure_eq!(nl.nsid_of(&other).map_err(err)?, Some(7), "unchanged");
    // iproute2 agrees (it runs in our network namespace).
    let ip = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"]
        .into_iter()
        .find(|p| Path::new(p).exists());
    if require_setup("nsid_is_none_until_set", ip.is_some(), "iproute2 (ip)") {
        let out = std::process::Command::new(ip.unwrap())
            .args(["netns", "list-id"])
            .output()
            .map_err(err)?;
        let text = String::from_utf8_lossy(&out.stdout);
        ensure!(
            out.status.success() && text.lines().any(|l| l.starts_with("nsid 7")),
            "ip netns list-id: {} {text:?} {:?}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

#[cfg(feature = "net")]
root_and_rootless!(nsid_of_reads_what_set_nsid_assigned, nsid_is_none_until_set);

/// Processes that come and go while the listing runs, each holding nsfs fds and a socket in
/// a network namespace of its own: every listing succeeds and is well formed.
fn listing_survives_processes_exiting_mid_scan(_root: bool) -> Result<(), String> {
    let set = if is_root() {
        NamespaceSet::NET
    } else {
        NamespaceSet::USER | NamespaceSet::NET
    };
    // The churner forks short-lived children until its command pipe closes; each child
    // unshares, opens fds and a socket, and exits at once.
    let (churner, _) = Sitter::start(
        &[],
        || Ok(String::new()),
        Box::new(move || {
            for _ in 0..64 {
                // SAFETY: the sitter is single-threaded; the child makes plain syscalls and
                // _exits.
                let pid = unsafe { libc::fork() };
                if pid == 0 {
                    let _ = unshare_here(set);
                    let _ = std::fs::File::open("/proc/self/ns/net").map(std::mem::forget);
                    let _ = rustix::net::socket(
                        rustix::net::AddressFamily::UNIX,
                        rustix::net::SocketType::DGRAM,
                        None,
                    )
                    .map(std::mem::forget);
                    // SAFETY: end the short-lived child.
                    unsafe { libc::_exit(0) };
                }
                if pid > 0 {
                    wait(pid);
                }
            }
            Ok(String::new())
        }),
    )?;
    let mut churner = churner;
    for _ in 0..20 {
        // Ask for a round of churn, list while it runs, then collect its report.
        use std::io::Write;
        churner
            .cmd
            .as_mut()
            .ok_or("no command pipe")?
            .write_all(b"x")
            .map_err(err)?;
        let list = inspect::list(NamespaceSet::all()).map_err(err)?;
        ensure!(!list.is_empty(), "empty listing");
        for n in &list {
            ensure!(
                n.fds.is_empty() || n.pids.is_empty(),
                "{}: fds beside processes",
                n.id
            );
            ensure!(n.pids.windows(2).all(|w| w[0] < w[1]), "{n:?}");
        }
        churner.reply()?;
    }
    Ok(())
}

root_and_rootless!(
    listing_survives_churn_with_fds_and_sockets,
    listing_survives_processes_exiting_mid_scan
);

/// Makers in new namespaces (enough of them for the describing to be shared out too: a
/// thread per 32 namespaces) and a namespace only fds hold, in three holders forked one
/// after another (neighbours in `/proc`, so scanned by different threads); the ids to
/// compare.
fn crowd_for_threads(root: bool) -> Result<(Vec<Sitter>, Vec<NamespaceId>), String> {
    let set = if root {
        NamespaceSet::NET | NamespaceSet::UTS | NamespaceSet::IPC
    } else {
        NamespaceSet::USER | NamespaceSet::NET | NamespaceSet::UTS | NamespaceSet::IPC
    };
    let mut sitters = Vec::new();
    let mut ids = Vec::new();
    for _ in 0..12 {
        let m = maker(set)?;
        let of = NamespaceIds::of(m.pid).map_err(err)?;
        ids.extend(set.kinds().filter_map(|k| of.get(k)));
        sitters.push(m);
    }
    let held_maker = maker(set & !NamespaceSet::UTS & !NamespaceSet::IPC)?;
    let net = Namespace::open(held_maker.pid, NamespaceKind::Network).map_err(err)?;
    ids.push(net.id());
    for _ in 0..3 {
        let (holder, _) = Sitter::start(
            &[std::os::fd::AsRawFd::as_raw_fd(&net)],
            || Ok(String::new()),
            no_step(),
        )?;
        sitters.push(holder);
    }
    drop((net, held_maker));
    Ok((sitters, ids))
}

/// The rows of `ids` in a listing made with `options`, with the fd holders among `ours`
/// only: another test's listing may hold one of these namespaces for a moment while it
/// identifies it (its own `pidfd_getfd` copy), and be listed as a holder too.
fn rows(
    options: inspect::ListOptions,
    ids: &[NamespaceId],
    ours: &[u32],
) -> Result<Vec<NamespaceInfo>, String> {
    let list = inspect::list_with(&options).map_err(err)?;
    ids.iter()
        .map(|id| {
            let mut n = entry(&list, *id)?.clone();
            n.fds.retain(|(pid, _)| ours.contains(pid));
            Ok(n)
        })
        .collect()
}

/// The pids of `sitters`.
fn pids_of(sitters: &[Sitter]) -> Vec<u32> {
    sitters.iter().map(|s| s.pid).collect()
}

/// The rows of `ids` in a listing made with `threads` threads (fd holders among `ours`).
fn rows_with_threads(
    threads: usize,
    ids: &[NamespaceId],
    ours: &[u32],
) -> Result<Vec<NamespaceInfo>, String> {
    rows(
        inspect::ListOptions::new(NamespaceSet::all()).threads(threads),
        ids,
        ours,
    )
}

/// `ListOptions::threads` shares the scan and the describing out over threads: the rows are
/// the same as a one-thread listing's, details, fd holders and relatives included.
fn threads_list_the_same(root: bool) -> Result<(), String> {
    let (crowd, ids) = crowd_for_threads(root)?;
    let ours = pids_of(&crowd);
    let one = rows_with_threads(1, &ids, &ours)?;
    ensure!(
        one.iter().filter(|n| n.pid.is_some()).count() == ids.len() - 1
            && one
                .last()
                .is_some_and(|n| !n.fds.is_empty() && n.owner_uid.is_some()),
        "the one-thread listing lacks details: {one:?}"
    );
    for threads in [2, 3, 8] {
        let many = rows_with_threads(threads, &ids, &ours)?;
        for (a, b) in one.iter().zip(&many) {
            ensure_eq!(b, a, "threads({threads}) against threads(1)");
        }
    }
    Ok(())
}

root_and_rootless!(threads_give_the_same_listing, threads_list_the_same);

/// Where no thread can be started (`RLIMIT_NPROC` reached), `threads(2)` does every share
/// on the calling thread: the listing is still whole. Rootless only: root is exempt from
/// the limit.
#[test]
fn threads_fall_back_to_the_caller_when_none_can_start() {
    common::rootless(|| {
        let (crowd, ids) = crowd_for_threads(false)?;
        let ours = pids_of(&crowd);
        let one = rows_with_threads(1, &ids, &ours)?;
        let no_more = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: setrlimit with a valid struct, in this forked test child.
        ensure!(
            unsafe { libc::setrlimit(libc::RLIMIT_NPROC, &no_more) } == 0,
            "setrlimit: {}",
            std::io::Error::last_os_error()
        );
        ensure!(
            std::thread::Builder::new().spawn(|| ()).is_err(),
            "a thread started despite RLIMIT_NPROC 0"
        );
        ensure_eq!(
            rows_with_threads(2, &ids, &ours)?,
            one,
            "threads(2) without threads"
        );
        Ok(())
    })
    .unwrap()
}

/// `relations(false)`: namespaces shown through a process keep their process details but
/// not their owner, parent and owner uid; a namespace only an fd holds still gets them, and
/// `all_relatives` reads them for all.
fn relations_skipped_on_request(root: bool) -> Result<(), String> {
    let (crowd, ids) = crowd_for_threads(root)?;
    // A namespace with a process that another process's fd also holds: its owner and parent
    // are chased, so they are read anyway.
    let net = Namespace::open(crowd[0].pid, NamespaceKind::Network).map_err(err)?;
    let (holder, _) = Sitter::start(
        &[std::os::fd::AsRawFd::as_raw_fd(&net)],
        || Ok(String::new()),
        no_step(),
    )?;
    let mut ours = pids_of(&crowd);
    ours.push(holder.pid);
    let listed = |options| rows(options, &ids, &ours);
    let all = inspect::ListOptions::new(NamespaceSet::all());
    let full = listed(all)?;
    let bare = listed(all.relations(false))?;
    for (f, b) in full.iter().zip(&bare) {
        if f.id == net.id() {
            ensure!(f.pid.is_some() && b.owner.is_some(), "{b:?}");
            ensure_eq!(b, f, "a namespace an fd also holds");
        } else if f.pid.is_some() {
            ensure!(f.owner.is_some() && f.owner_uid.is_some(), "{f:?}");
            ensure!(
                b.owner.is_none() && b.parent.is_none() && b.owner_uid.is_none(),
                "relations read anyway: {b:?}"
            );
            let details = |n: &NamespaceInfo| {
                (
                    n.pids.clone(),
                    n.pid,
                    n.ppid,
                    n.uid,
                    n.command.clone(),
                    n.fds.clone(),
                )
            };
            ensure_eq!(details(b), details(f), "process details");
        } else {
            ensure_eq!(b, f, "a namespace without a process");
        }
    }
    ensure_eq!(
        listed(all.relations(false).all_relatives(true))?,
        listed(all.all_relatives(true))?,
        "all_relatives reads them anyway"
    );
    Ok(())
}

root_and_rootless!(relations_can_be_skipped, relations_skipped_on_request);
