//! Specification of `persist`: listing persisted namespaces, telling the ones in use from
//! orphans, removing orphans, and never touching what must stay.
//!
//! Every test works in a forked child that first unshares a mount namespace, makes `/`
//! rprivate and mounts a fresh tmpfs to persist into, so no mount reaches the host's table
//! and no file lands on the host's filesystem. Root-only tests start with `require_root`.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use linux_namespaces::persist::{self, MountTable, Usage};
use linux_namespaces::{Error, NamespaceId, Namespaces, PersistedNamespace};

/// A mount namespace of the caller's own with every mount private, and a fresh tmpfs at
/// `/tmp/lifecycle` to work in. Returns that directory.
fn private_workdir() -> Result<PathBuf, String> {
    Namespaces::unshare_calling_thread(NamespaceSet::MOUNT).ctx("unshare(MOUNT)")?;
    rustix::mount::mount_change(
        "/",
        rustix::mount::MountPropagationFlags::REC | rustix::mount::MountPropagationFlags::PRIVATE,
    )
    .ctx("make / rprivate")?;
    let dir = PathBuf::from("/tmp");
    rustix::mount::mount(
        "tmpfs",
        &dir,
        "tmpfs",
        rustix::mount::MountFlags::empty(),
        None,
    )
    .ctx("mount tmpfs on /tmp")?;
    let dir = dir.join("lifecycle");
    std::fs::create_dir(&dir).ctx("mkdir")?;
    Ok(dir)
}

/// The persisted namespaces of the caller's table whose mount points are under `dir`.
fn persisted_under(dir: &Path) -> Result<Vec<Usage>, String> {
    Ok(persist::usage(MountTable::Caller)
        .ctx("persisted")?
        .into_iter()
        .filter(|p| p.namespace.path.starts_with(dir))
        .collect())
}

fn entry<'a>(list: &'a [Usage], path: &Path) -> Result<&'a Usage, String> {
    list.iter()
        .find(|p| p.namespace.path == path)
        .ok_or_else(|| format!("{} not listed: {list:?}", path.display()))
}

/// Persists the namespace of `kind` of a holder that then exits: an orphan.
fn orphan(kind: NamespaceKind, at: &Path) -> Result<NamespaceId, String> {
    let holder = Holder::new(kind.into());
    let ns = Namespace::open(holder.pid, kind).ctx("open")?;
    let id = ns.id();
    ns.persist(at).ctx("persist")?;
    drop(ns);
    drop(holder);
    Ok(id)
}

fn is_mount_point(path: &Path) -> bool {
    mountinfo()
        .lines()
        .filter_map(linux_namespaces::inspect::parse_mountinfo_line)
        .any(|m| m.mount_point == path)
}

#[test]
#[ignore = "needs root"]
fn persisted_namespaces_in_use_and_orphaned_are_told_apart() {
    assert_root("persisted_namespaces_in_use_and_orphaned_are_told_apart");
    as_root(|| {
        let dir = private_workdir()?;
        let holder = Holder::new(NamespaceSet::NET | NamespaceSet::UTS);
        // A space in the name: mountinfo escapes it and the path must come back whole.
        let used_path = dir.join("in use");
        let used = Namespace::open(holder.pid, NamespaceKind::Network).ctx("open")?;
        used.persist(&used_path).ctx("persist")?;
        let uts_path = dir.join("uts");
        Namespace::open(holder.pid, NamespaceKind::Uts)
            .ctx("open uts")?
            .persist(&uts_path)
            .ctx("persist uts")?;
        let orphan_path = dir.join("orphan");
        let orphan_id = orphan(NamespaceKind::Ipc, &orphan_path)?;

        let list = persisted_under(&dir)?;
        ensure_eq!(list.len(), 3);
        let u = entry(&list, &used_path)?;
        ensure_eq!(u.namespace.id, used.id());
        ensure_eq!(u.namespace.kind(), NamespaceKind::Network);
        ensure!(!u.is_orphaned() && u.pids == vec![holder.pid], "{u:?}");
        let t = entry(&list, &uts_path)?;
        ensure_eq!(t.namespace.kind(), NamespaceKind::Uts);
        ensure_eq!(t.pids, vec![holder.pid]);
        let o = entry(&list, &orphan_path)?;
        ensure!(o.namespace.id == orphan_id && o.is_orphaned(), "{o:?}");
        let caller_mnt = Namespace::current(NamespaceKind::Mount).ctx("mnt")?.id();
        ensure!(
            list.iter()
                .all(|p| p.namespace.mount_namespace == caller_mnt),
            "{list:?}"
        );

        let orphans = persist::orphans(MountTable::Caller).ctx("orphans")?;
        ensure!(
            orphans.iter().any(|p| p.path == orphan_path)
                && !orphans
                    .iter()
                    .any(|p| p.path == used_path || p.path == uts_path),
            "{orphans:?}"
        );

        // When the last process leaves, the namespace in use becomes an orphan too.
        drop(holder);
        let list = persisted_under(&dir)?;
        ensure!(list.iter().all(Usage::is_orphaned), "{list:?}");
        Ok(())
    })
    .unwrap();
}

#[test]
#[ignore = "needs root"]
fn cleanup_removes_exactly_the_orphans() {
    assert_root("cleanup_removes_exactly_the_orphans");
    as_root(|| {
        let dir = private_workdir()?;
        let holder = Holder::new(NamespaceSet::NET);
        let used_path = dir.join("used");
        Namespace::open(holder.pid, NamespaceKind::Network)
            .ctx("open")?
            .persist(&used_path)
            .ctx("persist")?;
        let orphans = [
            (NamespaceKind::Network, dir.join("orphan-net")),
            (NamespaceKind::Ipc, dir.join("orphan-ipc")),
            (NamespaceKind::Uts, dir.join("sub/orphan uts")),
        ];
        std::fs::create_dir(dir.join("sub")).ctx("mkdir sub")?;
        for (kind, path) in &orphans {
            orphan(*kind, path)?;
        }
        // An orphan outside the directory cleaned: it stays.
        let outside = dir.parent().unwrap().join("outside");
        orphan(NamespaceKind::Network, &outside)?;
        // Mounts that are not nsfs in the same directory: a bind-mounted regular file and a
        // tmpfs. They stay whatever is mounted near them.
        let plain = dir.join("plain");
        std::fs::write(dir.parent().unwrap().join("plain-src"), b"x").ctx("write")?;
        std::fs::write(&plain, b"").ctx("write")?;
        rustix::mount::mount_bind(dir.parent().unwrap().join("plain-src"), &plain)
            .ctx("bind a plain file")?;
        let tmp = dir.join("tmp");
        std::fs::create_dir(&tmp).ctx("mkdir")?;
        rustix::mount::mount(
            "tmpfs",
            &tmp,
            "tmpfs",
            rustix::mount::MountFlags::empty(),
            None,
        )
        .ctx("mount tmpfs")?;

        let done = persist::cleanup(&dir).ctx("cleanup")?;
        let mut removed: Vec<PathBuf> = done.removed.iter().map(|p| p.path.clone()).collect();
        removed.sort();
        let mut expected: Vec<PathBuf> = orphans.iter().map(|(_, p)| p.clone()).collect();
        expected.sort();
        ensure!(
            removed == expected,
            "removed {removed:?}, expected {expected:?}"
        );
        ensure!(done.failed.is_empty(), "failed: {:?}", done.failed);
        ensure!(
            done.in_use.len() == 1 && done.in_use[0].namespace.path == used_path,
            "in use: {:?}",
            done.in_use
        );
        for (_, path) in &orphans {
            ensure!(!is_mount_point(path), "{} still mounted", path.display());
            ensure!(!path.exists(), "{} still exists", path.display());
        }
        ensure!(
            is_mount_point(&used_path),
            "the namespace in use was unmounted"
        );
        ensure!(is_mount_point(&outside), "the orphan outside was unmounted");
        ensure!(is_mount_point(&plain), "the plain bind mount was unmounted");
        ensure!(is_mount_point(&tmp), "the tmpfs was unmounted");
        ensure!(
            std::fs::read(&plain).ctx("read")? == b"x",
            "the plain bind mount changed"
        );
        // Nothing orphaned is left under the directory; a second cleanup has nothing to do.
        let again = persist::cleanup(&dir).ctx("cleanup again")?;
        ensure!(
            again.removed.is_empty() && again.failed.is_empty() && again.in_use.len() == 1,
            "{again:?}"
        );
        drop(holder);
        Ok(())
    })
    .unwrap();
}

#[test]
#[ignore = "needs root"]
fn remove_refuses_a_namespace_in_use_unless_forced() {
    assert_root("remove_refuses_a_namespace_in_use_unless_forced");
    as_root(|| {
        let dir = private_workdir()?;
        let holder = Holder::new(NamespaceSet::NET);
        let path = dir.join("used");
        let ns = Namespace::open(holder.pid, NamespaceKind::Network).ctx("open")?;
        ns.persist(&path).ctx("persist")?;
        let id = ns.id();
        drop(ns);
        let p = entry(&persisted_under(&dir)?, &path)?.clone();

        match p.namespace.remove(false) {
            Err(Error::NamespaceInUse {
                path: ref at,
                id: got,
                ref pids,
            }) => {
                ensure!(
                    at == &path && got == id && pids == &vec![holder.pid],
                    "{at:?} {got} {pids:?}"
                );
            }
            other => return Err(format!("remove without force: {other:?}")),
        }
        ensure!(is_mount_point(&path), "unmounted without force");

        p.namespace.remove(true).ctx("forced remove")?;
        ensure!(
            !is_mount_point(&path),
            "still mounted after a forced remove"
        );
        ensure!(!path.exists(), "file left after a forced remove");
        // Only the name is gone: the holder is still in the namespace.
        let still = Namespace::open(holder.pid, NamespaceKind::Network).ctx("reopen")?;
        ensure!(still.id() == id, "holder moved to {}", still.id());
        Ok(())
    })
    .unwrap();
}

#[test]
#[ignore = "needs root"]
fn a_stale_listing_is_checked_again_before_removing() {
    assert_root("a_stale_listing_is_checked_again_before_removing");
    as_root(|| {
        let dir = private_workdir()?;
        let path = dir.join("net");
        let holder = Holder::new(NamespaceSet::NET);
        let ns = Namespace::open(holder.pid, NamespaceKind::Network).ctx("open")?;
        ns.persist(&path).ctx("persist")?;
        drop(holder);
        let listed = persisted_under(&dir)?;
        let orphan = entry(&listed, &path)?.clone();
        ensure!(orphan.is_orphaned(), "{orphan:?}");
        // A process enters the namespace after the listing: removal scans again and refuses.
        let mut child = linux_namespaces::Command::new("/bin/sh")
            .args(["-c", "read _"])
            .stdin(linux_namespaces::Stdio::Piped)
            .join(&ns)
            .spawn()
            .ctx("spawn")?;
        match orphan.namespace.remove(false) {
            Err(Error::NamespaceInUse { ref pids, .. }) if pids == &vec![child.id()] => {}
            other => return Err(format!("remove of a stale orphan: {other:?}")),
        }
        ensure!(is_mount_point(&path), "unmounted");
        child.wait().ctx("wait")?;
        drop(ns);
        orphan
            .namespace
            .remove(false)
            .ctx("remove once orphaned again")?;
        ensure!(!is_mount_point(&path), "still mounted");
        Ok(())
    })
    .unwrap();
}

#[test]
#[ignore = "needs root"]
fn a_mount_that_is_not_nsfs_is_never_touched() {
    assert_root("a_mount_that_is_not_nsfs_is_never_touched");
    as_root(|| {
        let dir = private_workdir()?;
        let path = dir.join("ns");
        orphan(NamespaceKind::Uts, &path)?;
        let p = entry(&persisted_under(&dir)?, &path)?.clone();
        // A plain file is bind-mounted over the namespace after the listing.
        let src = dir.join("plain");
        std::fs::write(&src, b"plain").ctx("write")?;
        rustix::mount::mount_bind(&src, &path).ctx("bind over")?;
        let before = mountinfo();

        for force in [false, true] {
            match p.namespace.remove(force) {
                Err(Error::NotANamespace { .. }) => {}
                other => return Err(format!("remove (force {force}): {other:?}")),
            }
        }
        let done = persist::cleanup(&dir).ctx("cleanup")?;
        ensure!(done.removed.is_empty(), "{done:?}");
        ensure!(
            matches!(
                done.failed.as_slice(),
                [(f, Error::NotANamespace { .. })] if f.path == path
            ),
            "{done:?}"
        );
        ensure!(mountinfo() == before, "the mount table changed");
        ensure!(
            std::fs::read(&path).ctx("read")? == b"plain",
            "the plain mount changed"
        );
        // Once the plain mount is gone, the namespace underneath is removable.
        rustix::mount::unmount(&path, rustix::mount::UnmountFlags::empty()).ctx("umount")?;
        p.namespace.remove(false).ctx("remove")?;
        ensure!(!is_mount_point(&path) && !path.exists(), "not removed");
        Ok(())
    })
    .unwrap();
}

#[test]
#[ignore = "needs root"]
fn removing_a_mount_that_is_gone_is_mount_changed_and_unmounts_nothing() {
    assert_root("removing_a_mount_that_is_gone_is_mount_changed_and_unmounts_nothing");
    as_root(|| {
        let dir = private_workdir()?;
        let path = dir.join("ns");
        let id = orphan(NamespaceKind::Network, &path)?;
        let p = entry(&persisted_under(&dir)?, &path)?.clone();
        PersistedNamespace::at(&path)
            .and_then(|p| p.remove(true))
            .ctx("unpersist")?;
        // Something else is persisted at the same path meanwhile.
        let other = orphan(NamespaceKind::Network, &path)?;
        let before = mountinfo();
        match p.namespace.remove(true) {
            Err(Error::MountChanged {
                expected, found, ..
            }) if expected == id && found == Some(other) => {}
            other => return Err(format!("remove: {other:?}")),
        }
        ensure!(mountinfo() == before, "the mount table changed");
        PersistedNamespace::at(&path)
            .and_then(|p| p.remove(true))
            .ctx("unpersist")?;
        match p.namespace.remove(true) {
            Err(Error::MountChanged { found: None, .. }) => Ok(()),
            other => Err(format!("remove of a gone mount: {other:?}")),
        }
    })
    .unwrap();
}

#[test]
#[ignore = "needs root"]
fn stacked_mounts_are_removed_top_first_and_the_file_goes_with_the_last() {
    assert_root("stacked_mounts_are_removed_top_first_and_the_file_goes_with_the_last");
    as_root(|| {
        let dir = private_workdir()?;
        let path = dir.join("ns");
        let lower = orphan(NamespaceKind::Uts, &path)?;
        let holder = Holder::new(NamespaceSet::UTS);
        let upper_ns = Namespace::open(holder.pid, NamespaceKind::Uts).ctx("open")?;
        let upper = upper_ns.id();
        rustix::mount::mount_bind(format!("/proc/{}/ns/uts", holder.pid), &path)
            .ctx("bind on top")?;
        drop(upper_ns);
        drop(holder);
        let list = persisted_under(&dir)?;
        ensure_eq!(list.len(), 2);
        // The lower one cannot be reached through the path.
        let low = list.iter().find(|p| p.namespace.id == lower).unwrap();
        match low.namespace.remove(true) {
            Err(Error::MountChanged { found, .. }) if found == Some(upper) => {}
            other => return Err(format!("remove lower: {other:?}")),
        }
        let done = persist::cleanup(&dir).ctx("cleanup")?;
        ensure!(
            done.removed.len() == 2 && done.failed.is_empty(),
            "{done:?}"
        );
        ensure!(!is_mount_point(&path) && !path.exists(), "left behind");
        Ok(())
    })
    .unwrap();
}

#[test]
#[ignore = "needs root"]
fn another_processes_table_is_listed_but_not_removed_from_ours() {
    assert_root("another_processes_table_is_listed_but_not_removed_from_ours");
    as_root(|| {
        let dir = private_workdir()?;
        let shared = dir.join("before");
        orphan(NamespaceKind::Network, &shared)?;
        // The holder's mount namespace is a copy of ours as it is now.
        let holder = Holder::new(NamespaceSet::MOUNT);
        let ours_only = dir.join("after");
        orphan(NamespaceKind::Network, &ours_only)?;

        let theirs = persist::usage(MountTable::Process(holder.pid)).ctx("theirs")?;
        let theirs: Vec<_> = theirs
            .into_iter()
            .filter(|p| p.namespace.path.starts_with(&dir))
            .collect();
        ensure!(
            theirs.len() == 1 && theirs[0].namespace.path == shared,
            "{theirs:?}"
        );
        let their_mnt = Namespace::open(holder.pid, NamespaceKind::Mount)
            .ctx("open mnt")?
            .id();
        ensure!(
            theirs[0].namespace.mount_namespace == their_mnt,
            "{theirs:?}"
        );
        let ours = Namespace::current(NamespaceKind::Mount).ctx("mnt")?.id();
        match theirs[0].namespace.remove(true) {
            Err(Error::ForeignMount {
                mount_namespace,
                caller,
                ..
            }) if mount_namespace == their_mnt && caller == ours => {}
            other => return Err(format!("remove of a foreign mount: {other:?}")),
        }
        ensure!(is_mount_point(&shared), "ours was unmounted");
        drop(holder);
        match persist::list(MountTable::Process(u32::MAX >> 1)) {
            Err(Error::NoSuchProcess { .. }) => Ok(()),
            other => Err(format!("table of no process: {other:?}")),
        }
    })
    .unwrap();
}

#[test]
fn rootless_owner_of_a_user_and_mount_namespace_manages_its_own_persisted_namespaces() {
    rootless(|| {
        let (uid, gid) = (
            rustix::process::getuid().as_raw(),
            rustix::process::getgid().as_raw(),
        );
        Namespaces::unshare_calling_thread(NamespaceSet::USER | NamespaceSet::MOUNT)
            .ctx("unshare")?;
        map_self_to_root(uid, gid)?;
        rustix::mount::mount_change(
            "/",
            rustix::mount::MountPropagationFlags::REC
                | rustix::mount::MountPropagationFlags::PRIVATE,
        )
        .ctx("rprivate")?;
        rustix::mount::mount(
            "tmpfs",
            "/tmp",
            "tmpfs",
            rustix::mount::MountFlags::empty(),
            None,
        )
        .ctx("tmpfs")?;
        let dir = PathBuf::from("/tmp/rootless");
        std::fs::create_dir(&dir).ctx("mkdir")?;
        let holder = Holder::new(NamespaceSet::NET);
        Namespace::open(holder.pid, NamespaceKind::Network)
            .ctx("open")?
            .persist(dir.join("used"))
            .ctx("persist")?;
        orphan(NamespaceKind::Uts, &dir.join("orphan"))?;
        let done = persist::cleanup(&dir).ctx("cleanup")?;
        ensure!(
            done.removed.len() == 1 && done.removed[0].path == dir.join("orphan"),
            "{done:?}"
        );
        ensure!(done.in_use.len() == 1 && done.failed.is_empty(), "{done:?}");
        drop(holder);
        Ok(())
    })
    .unwrap();
}

#[test]
fn error_messages_name_the_path_namespace_and_what_to_do() {
    let id = NamespaceId::new(NamespaceKind::Network, 4, 4026532177);
    let busy = Error::NamespaceInUse {
        path: "/run/netns/a".into(),
        id,
        pids: vec![42, 43],
    }
    .to_string();
    assert!(
        busy.contains("/run/netns/a")
            && busy.contains("net:[4026532177]")
            && busy.contains("42")
            && busy.contains("force"),
        "{busy}"
    );
    let io: std::io::Error = Error::NamespaceInUse {
        path: "/x".into(),
        id,
        pids: vec![1],
    }
    .into();
    assert_eq!(io.kind(), std::io::ErrorKind::ResourceBusy);
}

// ---------------------------------------------------------------------------------------------
// persist in a directory others can write

/// What the [`Renamer`] does to the name `persist` is given, round after round.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Attack {
    /// Replace it with a symlink to the victim (`symlink(victim, dir/.tmp)`,
    /// `rename(dir/.tmp, dir/name)`), every fourth round moving what is there away first.
    Symlink,
    /// Move what is there away (`rename(dir/name, dir/.away)`), and nothing else.
    MoveAway,
}

/// Forks a [`Racer`] that attacks `dir/name` as uid 65534 until stopped: the other user of
/// a world-writable directory that root persists into.
fn renamer(attack: Attack, dir: &Path, name: &str, victim: &Path) -> Result<Racer, String> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let c = |p: &Path| CString::new(p.as_os_str().as_bytes()).ctx("path with NUL");
    let (victim, tmp, target) = (c(victim)?, c(&dir.join(".tmp"))?, c(&dir.join(name))?);
    let away = c(&dir.join(".away"))?;
    Racer::start("renamer", drop_privileges, move |n| {
        // The file persist just created, if it has not been mounted on yet.
        let move_away = attack == Attack::MoveAway || n.is_multiple_of(4);
        // SAFETY: NUL-terminated paths that live across the call.
        if move_away && unsafe { libc::rename(target.as_ptr(), away.as_ptr()) } != 0 {
            let e = std::io::Error::last_os_error();
            // Nothing there, or a mount point there: the kernel refuses to move it.
            ensure!(
                matches!(e.raw_os_error(), Some(libc::ENOENT | libc::EBUSY)),
                "rename away: {e}"
            );
        }
        if attack == Attack::Symlink {
            // SAFETY: as above.
            if unsafe { libc::symlink(victim.as_ptr(), tmp.as_ptr()) } != 0 {
                let e = std::io::Error::last_os_error();
                // Left from a rename that failed: reuse it.
                ensure!(e.raw_os_error() == Some(libc::EEXIST), "symlink: {e}");
            }
            // SAFETY: as above.
            if unsafe { libc::rename(tmp.as_ptr(), target.as_ptr()) } != 0 {
                let e = std::io::Error::last_os_error();
                // The kernel refuses to replace a mount point: persist won.
                ensure!(e.raw_os_error() == Some(libc::EBUSY), "rename: {e}");
            }
        }
        Ok(())
    })
}

/// Where the mount with id `mount_id` is mounted, from the caller's table.
fn mount_point_of(mount_id: u64) -> Option<PathBuf> {
    mountinfo()
        .lines()
        .filter_map(linux_namespaces::inspect::parse_mountinfo_line)
        .find(|m| u64::from(m.mount_id) == mount_id)
        .map(|m| m.mount_point)
}

/// Races `persist(dir/shared/ns)` against a [`Renamer`] in the world-writable, non-sticky
/// `dir/shared`, in a private mount namespace, with a root-owned victim file in `dir`.
///
/// Each try removes what is at the path, persists, and checks: the victim is never a mount
/// point; an `Ok` means the path holds the namespace (not a symlink) on the mount returned;
/// otherwise `judge` says whether the error is one the attack may cause (and checks what it
/// must). Afterwards nothing is mounted under `dir/shared`. Tries go on past `tries` until
/// `judge` has seen `contested` errors: on a loaded machine the renamer may go long without
/// running at the same time as this process, and such tries prove nothing.
fn race_persist(
    attack: Attack,
    tries: u32,
    contested: u32,
    judge: impl Fn(&Error, &Path) -> Result<String, String>,
) -> Result<(), String> {
    const MAX_TRIES: u32 = 50_000;
    use std::os::unix::fs::PermissionsExt;
    let dir = private_workdir()?;
    let victim = dir.join("victim");
    std::fs::write(&victim, b"root's").ctx("write victim")?;
    let shared = dir.join("shared");
    std::fs::create_dir(&shared).ctx("mkdir shared")?;
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).ctx("chmod 0777")?;
    let target = shared.join("ns");
    let ns = Namespace::current(NamespaceKind::Network).ctx("current")?;
    let renamer = renamer(attack, &shared, "ns", &victim)?;
    let mut outcomes: std::collections::BTreeMap<String, u32> = Default::default();
    let mut done = 0;
    let mut run = || -> Result<(), String> {
        for i in 0..MAX_TRIES {
            let errors = i - outcomes.get("mounted").copied().unwrap_or(0);
            if i >= tries && errors >= contested {
                return Ok(());
            }
            done = i + 1;
            for leftover in [&target, &shared.join(".away")] {
                match std::fs::remove_file(leftover) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        return Err(format!("try {i}: remove {}: {e}", leftover.display()));
                    }
                    _ => {}
                }
            }
            let r = ns.persist(&target);
            ensure!(
                !is_mount_point(&victim),
                "try {i}: persist returned {r:?} and the namespace is mounted on {}",
                victim.display()
            );
            let outcome = match r {
                Ok(p) => {
                    ensure_eq!(p.path, target, "try {i}");
                    let at = rustix::fs::open(
                        &target,
                        rustix::fs::OFlags::PATH
                            | rustix::fs::OFlags::NOFOLLOW
                            | rustix::fs::OFlags::CLOEXEC,
                        rustix::fs::Mode::empty(),
                    )
                    .map_err(|e| format!("try {i}: open {}: {e}", target.display()))?;
                    let st = rustix::fs::fstat(&at).ctx("fstat")?;
                    ensure!(
                        (st.st_dev, st.st_ino) == (ns.id().dev(), ns.id().ino()),
                        "try {i}: persist returned Ok but {} does not hold {} (mode {:o})",
                        target.display(),
                        ns.id(),
                        st.st_mode
                    );
                    ensure_eq!(
                        mount_point_of(p.mount_id),
                        Some(target.clone()),
                        "try {i}: mount {}",
                        p.mount_id
                    );
                    drop(at);
                    match p.remove(true) {
                        // Unmounted, and the renamer moved the file before the unlink.
                        Ok(())
                        | Err(Error::Os {
                            op: linux_namespaces::Operation::Remove,
                            ..
                        }) => {}
                        Err(e) => return Err(format!("try {i}: remove: {e}")),
                    }
                    "mounted".to_string()
                }
                Err(e) => judge(&e, &shared).map_err(|m| format!("try {i}: {m}"))?,
            };
            ensure!(
                !mountinfo().contains("/shared/"),
                "try {i}: after {outcome:?} a mount is left under {}",
                shared.display()
            );
            *outcomes.entry(outcome).or_default() += 1;
        }
        Ok(())
    };
    let raced = run();
    let rounds = renamer.stop();
    raced?;
    let rounds = rounds?;
    eprintln!("{done} persists against {rounds} renamer rounds: {outcomes:?}");
    let errors = done - outcomes.get("mounted").copied().unwrap_or(0);
    ensure!(
        errors >= contested,
        "the renamer got in the way of only {errors} of {done} persists ({rounds} renamer \
         rounds: {outcomes:?}): nothing proved"
    );
    Ok(())
}

/// `persist` into a world-writable, non-sticky directory while an unprivileged process keeps
/// swapping the path for a symlink to a root-owned file elsewhere: the namespace is never
/// mounted on that file, and every `persist` either fails with a typed error or mounts on the
/// file it created, at the path it was given.
#[test]
#[ignore = "needs root"]
fn persist_racing_a_symlink_swapper_never_mounts_anywhere_else() {
    assert_root("persist_racing_a_symlink_swapper_never_mounts_anywhere_else");
    as_root(|| {
        race_persist(Attack::Symlink, 1000, 100, |e, _| match e {
            Error::MountChanged { .. } => Ok("mount changed".into()),
            // EEXIST: the symlink was there first; ENOENT: the file was replaced before the
            // mount.
            Error::Os { .. } if matches!(e.raw_os_error(), Some(libc::EEXIST | libc::ENOENT)) => {
                Ok(format!("{e}").replace("/tmp/lifecycle/shared/ns", "PATH"))
            }
            e => Err(format!("unexpected error: {e:?}")),
        })
    })
    .unwrap();
}

/// When the file `persist` created is moved away before the mount is checked, `persist`
/// undoes the mount, removes the file where it was moved to, and says
/// [`Error::MountChanged`].
#[test]
#[ignore = "needs root"]
fn persist_racing_a_mover_undoes_its_mount_and_removes_its_file() {
    assert_root("persist_racing_a_mover_undoes_its_mount_and_removes_its_file");
    as_root(|| {
        race_persist(Attack::MoveAway, 200, 100, |e, shared| match e {
            Error::MountChanged { .. } => {
                for left in [shared.join("ns"), shared.join(".away")] {
                    ensure!(
                        left.symlink_metadata().is_err(),
                        "MountChanged left {}",
                        left.display()
                    );
                }
                Ok("mount changed".into())
            }
            e => Err(format!("unexpected error: {e:?}")),
        })
    })
    .unwrap();
}
