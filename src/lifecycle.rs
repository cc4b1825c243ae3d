//! The lifecycle of persisted namespaces: find the nsfs bind mounts of a mount namespace,
//! tell the ones still in use from the orphaned ones, and remove orphans.
//!
//! A namespace persisted with [`Namespace::persist`](crate::Namespace::persist) (or
//! `ip netns add`) lives as long as its bind mount, after every process in it has gone. Such
//! a mount is *orphaned* when no process is left in the namespace: nothing runs there, and
//! only the name keeps it alive. Test harnesses and runtimes that crash leave these behind.
//!
//! ```no_run
//! use linux_namespaces::lifecycle::{self, MountTable};
//!
//! # fn main() -> linux_namespaces::Result<()> {
//! for p in lifecycle::persisted(MountTable::Caller)? {
//!     let used_by = p.pids.len();
//!     println!("{} {} {used_by} processes", p.mount.id, p.mount.mount_point.display());
//! }
//! // Remove the orphans under /run/netns; namespaces with processes are left alone.
//! let done = lifecycle::cleanup("/run/netns")?;
//! println!("removed {}, kept {} in use", done.removed.len(), done.in_use.len());
//! # Ok(())
//! # }
//! ```
//!
//! # What "in use" means
//! A namespace is in use when the inspector's scan of `/proc` (the one behind
//! [`inspect::list`]) finds a process in it. The scan sees the processes
//! of the caller's `/proc`: a process in a pid namespace the caller cannot see, or one whose
//! links the caller may not read (another user's, without `CAP_SYS_PTRACE`), does not count.
//! Run as root in the initial pid namespace for a complete answer. An fd that holds the
//! namespace open does not count either.
//!
//! Removing a bind mount never ends a namespace that has a process in it: the process keeps
//! it alive. What removal takes away is the *name*: `ip netns exec NAME` and
//! [`Namespace::from_path`](crate::Namespace::from_path) can no longer find it. That is why
//! a namespace in use is removed only with an explicit `force`.
//!
//! # References
//!  - [proc_pid_mountinfo(5)](https://man7.org/linux/man-pages/man5/proc_pid_mountinfo.5.html),
//!    [umount2(2)](https://man7.org/linux/man-pages/man2/umount2.2.html),
//!    [ip-netns(8)](https://man7.org/linux/man-pages/man8/ip-netns.8.html),
//!    [namespaces(7)](https://man7.org/linux/man-pages/man7/namespaces.7.html)

use std::path::{Path, PathBuf};

use crate::error::{Error, Operation, Result, Target};
use crate::inspect::{self, ProcessNamespaces};
use crate::kind::{NamespaceKind, NamespaceSet};
use crate::namespace::{Namespace, NamespaceId};

/// Whose mount table to read.
///
/// # References
///  - [proc_pid_mountinfo(5)](https://man7.org/linux/man-pages/man5/proc_pid_mountinfo.5.html)
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MountTable {
    /// The calling thread's mount namespace (`/proc/thread-self/mountinfo`).
    Caller,
    /// The mount namespace of process `pid` (`/proc/<pid>/mountinfo`), with mount points
    /// relative to that process's root. Reading it needs ptrace read access to the process.
    Process(u32),
}

/// One nsfs bind mount: a persisted namespace, where it is mounted, and in which mount
/// namespace's table.
///
/// # References
///  - [proc_pid_mountinfo(5)](https://man7.org/linux/man-pages/man5/proc_pid_mountinfo.5.html)
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct NsfsMount {
    /// The namespace mounted (from the mount's root, such as `net:[4026532177]`).
    pub id: NamespaceId,
    /// The mount point, relative to the root of the process whose table was read.
    pub mount_point: PathBuf,
    /// The mount id (field 1 of mountinfo).
    pub mount_id: u32,
    /// The mount namespace whose table lists this mount.
    pub mount_namespace: NamespaceId,
}

impl NsfsMount {
    /// The kind of the namespace mounted. No system call.
    ///
    /// # References
    ///  - [namespaces(7)](https://man7.org/linux/man-pages/man7/namespaces.7.html)
    pub fn kind(&self) -> NamespaceKind {
        self.id.kind()
    }
}

/// An nsfs bind mount with the processes found in its namespace: orphaned when there are none.
///
/// A snapshot: processes may enter or leave the namespace right after the scan.
///
/// # References
///  - [proc_pid_ns(5)](https://man7.org/linux/man-pages/man5/proc_pid_ns.5.html)
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Persisted {
    /// The mount.
    pub mount: NsfsMount,
    /// The processes found in the namespace by the scan, ascending (pids as the caller's
    /// `/proc` shows them).
    pub pids: Vec<u32>,
}

impl Persisted {
    /// Whether no process was found in the namespace. No system call.
    ///
    /// # References
    ///  - [namespaces(7)](https://man7.org/linux/man-pages/man7/namespaces.7.html)
    pub fn is_orphaned(&self) -> bool {
        self.pids.is_empty()
    }
}

/// What [`cleanup`] did.
///
/// # References
///  - [umount2(2)](https://man7.org/linux/man-pages/man2/umount2.2.html)
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct Cleanup {
    /// Orphans whose mounts were removed (unmounted and unlinked).
    pub removed: Vec<Persisted>,
    /// Mounts of namespaces in use, left in place.
    pub in_use: Vec<Persisted>,
    /// Orphans whose removal failed, with why. Nothing was unmounted for those whose error is
    /// [`Error::MountChanged`] or [`Error::NotANamespace`].
    pub failed: Vec<(Persisted, Error)>,
}

/// The nsfs bind mounts in a mount table, in the table's order (parents before the mounts on
/// top of them): each namespace's id, kind, mount point and mount id. Lines whose filesystem
/// type is not `nsfs` are passed over.
///
/// For [`MountTable::Process`], the process's mount namespace is read before and after its
/// table, and the read is repeated if the process moved to another mount namespace meanwhile.
///
/// # Errors
/// [`Error::NoSuchProcess`] if the process is gone; [`Error::Os`] if the table cannot be read
/// (`EACCES` without ptrace read access).
///
/// # References
///  - [proc_pid_mountinfo(5)](https://man7.org/linux/man-pages/man5/proc_pid_mountinfo.5.html),
///    [readlink(2)](https://man7.org/linux/man-pages/man2/readlink.2.html)
pub fn nsfs_mounts(table: MountTable) -> Result<Vec<NsfsMount>> {
    let dev = inspect::nsfs_dev()?;
    let mount_ns = || -> Result<NamespaceId> {
        match table {
            MountTable::Caller => Ok(Namespace::current(NamespaceKind::Mount)?.id()),
            MountTable::Process(pid) => ProcessNamespaces::of_kinds(pid, NamespaceSet::MOUNT)?
                .get(NamespaceKind::Mount)
                .ok_or(Error::NoSuchProcess { pid }),
        }
    };
    let path = match table {
        MountTable::Caller => PathBuf::from("/proc/thread-self/mountinfo"),
        MountTable::Process(pid) => PathBuf::from(format!("/proc/{pid}/mountinfo")),
    };
    let mut attempts = 0;
    loop {
        let before = mount_ns()?;
        let text = std::fs::read_to_string(&path).map_err(|e| match (table, e.raw_os_error()) {
            (MountTable::Process(pid), Some(libc::ENOENT | libc::ESRCH)) => {
                Error::NoSuchProcess { pid }
            }
            _ => Error::os(Operation::ReadProc, Target::Path(path.clone()), e),
        })?;
        let after = mount_ns()?;
        attempts += 1;
        if before != after && attempts < 3 {
            continue;
        }
        return Ok(parse_table(&text, dev, after));
    }
}

/// The nsfs lines of a mountinfo text.
fn parse_table(text: &str, dev: u64, mount_namespace: NamespaceId) -> Vec<NsfsMount> {
    text.lines()
        .filter(|l| l.contains(" - nsfs "))
        .filter_map(inspect::parse_mountinfo_line)
        .filter(|m| m.fstype == "nsfs")
        .filter_map(|m| {
            let id = NamespaceId::parse_link(m.root.to_str()?, dev).ok()?;
            Some(NsfsMount {
                id,
                mount_point: m.mount_point,
                mount_id: m.mount_id,
                mount_namespace,
            })
        })
        .collect()
}

/// Finds which of `mounts` hold a namespace some process is in: one scan of `/proc` for the
/// kinds present (see the [module docs](self) for what the scan sees).
///
/// # Errors
/// [`Error::Os`] if `/proc` cannot be read.
///
/// # References
///  - [proc_pid_ns(5)](https://man7.org/linux/man-pages/man5/proc_pid_ns.5.html),
///    [readlink(2)](https://man7.org/linux/man-pages/man2/readlink.2.html)
pub fn classify(mounts: Vec<NsfsMount>) -> Result<Vec<Persisted>> {
    let kinds: NamespaceSet = mounts.iter().map(NsfsMount::kind).collect();
    let found = inspect::processes_by_namespace(kinds)?;
    Ok(mounts
        .into_iter()
        .map(|mount| Persisted {
            pids: found.get(&mount.id).cloned().unwrap_or_default(),
            mount,
        })
        .collect())
}

/// The persisted namespaces of a mount table, classified: [`nsfs_mounts`] then [`classify`].
///
/// # Errors
/// As for those two.
///
/// # References
///  - [proc_pid_mountinfo(5)](https://man7.org/linux/man-pages/man5/proc_pid_mountinfo.5.html),
///    [proc_pid_ns(5)](https://man7.org/linux/man-pages/man5/proc_pid_ns.5.html)
pub fn persisted(table: MountTable) -> Result<Vec<Persisted>> {
    classify(nsfs_mounts(table)?)
}

/// The orphaned persisted namespaces of a mount table: those no process is in.
///
/// # Errors
/// As for [`persisted`].
///
/// # References
///  - [proc_pid_mountinfo(5)](https://man7.org/linux/man-pages/man5/proc_pid_mountinfo.5.html),
///    [proc_pid_ns(5)](https://man7.org/linux/man-pages/man5/proc_pid_ns.5.html)
pub fn orphans(table: MountTable) -> Result<Vec<Persisted>> {
    Ok(persisted(table)?
        .into_iter()
        .filter(Persisted::is_orphaned)
        .collect())
}

/// Removes one persisted namespace's bind mount ([`Namespace::unpersist`]: `umount2(2)` with
/// `MNT_DETACH | UMOUNT_NOFOLLOW`, then `unlink(2)` of the mount point).
///
/// Before anything is unmounted:
/// * unless `force`, `/proc` is scanned again for the namespace's kind, and if a process is in
///   the namespace the mount is left alone: [`Error::NamespaceInUse`] with the pids. `p.pids`
///   is not trusted, as it may be stale;
/// * the mount must be in the caller's mount namespace, else [`Error::ForeignMount`];
/// * the caller's table must still list the mount, and the path must still hold the same
///   namespace (an `nsfs` file with the same device and inode), else
///   [`Error::MountChanged`] (or [`Error::NotANamespace`] if something that is not a
///   namespace is there now). A mount that is not nsfs is never unmounted.
///
/// When another nsfs mount lies underneath at the same mount point, only the top one is
/// unmounted and the file is kept (it is still a mount point).
///
/// Forcing removes the name only: processes in the namespace keep it alive (see the
/// [module docs](self)). Needs `CAP_SYS_ADMIN` over the caller's mount namespace.
///
/// # Errors
/// The above, and [`Error::Os`] from `umount2` or `unlink`.
///
/// # References
///  - [umount2(2)](https://man7.org/linux/man-pages/man2/umount2.2.html),
///    [unlink(2)](https://man7.org/linux/man-pages/man2/unlink.2.html),
///    [proc_pid_mountinfo(5)](https://man7.org/linux/man-pages/man5/proc_pid_mountinfo.5.html)
#[doc(alias = "umount2")]
#[doc(alias = "ip netns delete")]
pub fn remove(p: &Persisted, force: bool) -> Result<()> {
    check_table(&p.mount)?;
    if !force {
        let found = inspect::processes_by_namespace(p.mount.kind().as_set())?;
        if let Some(pids) = found.get(&p.mount.id).filter(|v| !v.is_empty()) {
            return Err(in_use(&p.mount, pids.clone()));
        }
    }
    remove_mount(&p.mount)
}

fn in_use(m: &NsfsMount, pids: Vec<u32>) -> Error {
    Error::NamespaceInUse {
        path: m.mount_point.clone(),
        id: m.id,
        pids,
    }
}

/// [`Error::ForeignMount`] unless `m` is in the caller's mount table.
fn check_table(m: &NsfsMount) -> Result<()> {
    let caller = Namespace::current(NamespaceKind::Mount)?.id();
    if m.mount_namespace != caller {
        return Err(Error::ForeignMount {
            path: m.mount_point.clone(),
            mount_namespace: m.mount_namespace,
            caller,
        });
    }
    Ok(())
}

/// The checks and the unmount shared by [`remove`] and [`cleanup`] (usage already checked).
fn remove_mount(m: &NsfsMount) -> Result<()> {
    check_table(m)?;
    let changed = |found| Error::MountChanged {
        path: m.mount_point.clone(),
        expected: m.id,
        found,
    };
    // The table as it is now. Later lines are mounted on top of earlier ones, so the last
    // mount at this mount point is the one the path reaches.
    let now = nsfs_mounts(MountTable::Caller)?;
    let mut here = now.iter().filter(|n| n.mount_point == m.mount_point);
    let count = here.clone().count();
    match here.next_back() {
        Some(top) if top.mount_id == m.mount_id => {}
        Some(top) => return Err(changed(Some(top.id))),
        None => return Err(changed(None)),
    }
    // The table may lag a mount made over this one by something other than nsfs; the path
    // itself must hold the namespace.
    let held = Namespace::from_path(&m.mount_point).map_err(|e| match e {
        Error::Os { ref source, .. } if source.raw_os_error() == Some(libc::ENOENT) => {
            changed(None)
        }
        other => other,
    })?;
    if held.id() != m.id {
        return Err(changed(Some(held.id())));
    }
    drop(held);
    if count > 1 {
        // Another nsfs mount lies underneath: the file stays a mount point, so only unmount.
        return rustix::mount::unmount(
            &m.mount_point,
            rustix::mount::UnmountFlags::DETACH | rustix::mount::UnmountFlags::NOFOLLOW,
        )
        .map_err(|e| {
            Error::os(
                Operation::Unmount,
                Target::Path(m.mount_point.clone()),
                e.into(),
            )
        });
    }
    Namespace::unpersist(&m.mount_point)
}

/// Removes every orphaned persisted namespace whose mount point is under the absolute path
/// `under` (compared by whole path components; `/` for all) in the caller's mount
/// namespace: one read of the mount table, one scan of `/proc`, then [`remove`]'s checks and
/// unmount for each orphan, topmost mounts first. Mounts of namespaces in use are left and
/// reported.
///
/// A process may enter an orphan through its mount between the scan and the removal; the
/// namespace then lives on through that process, and only its name is gone.
///
/// # Errors
/// [`Error::InvalidInput`] for a relative `under`; [`Error::Os`] if the table or `/proc`
/// cannot be read. Failures to remove one mount do not stop the others: they are in
/// [`Cleanup::failed`].
///
/// # References
///  - [umount2(2)](https://man7.org/linux/man-pages/man2/umount2.2.html),
///    [proc_pid_mountinfo(5)](https://man7.org/linux/man-pages/man5/proc_pid_mountinfo.5.html),
///    [ip-netns(8)](https://man7.org/linux/man-pages/man8/ip-netns.8.html)
pub fn cleanup(under: impl AsRef<Path>) -> Result<Cleanup> {
    let under = under.as_ref();
    if !under.is_absolute() {
        return Err(Error::invalid(
            "cleanup directory",
            format!("{} is not an absolute path", under.display()),
        ));
    }
    let mounts: Vec<NsfsMount> = nsfs_mounts(MountTable::Caller)?
        .into_iter()
        .filter(|m| m.mount_point.starts_with(under))
        .collect();
    let mut out = Cleanup::default();
    // Later lines are mounted on top of earlier ones: remove them first.
    for p in classify(mounts)?.into_iter().rev() {
        if !p.is_orphaned() {
            out.in_use.push(p);
            continue;
        }
        match remove_mount(&p.mount) {
            Ok(()) => out.removed.push(p),
            Err(e) => out.failed.push((p, e)),
        }
    }
    out.removed.reverse();
    out.in_use.reverse();
    out.failed.reverse();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_nsfs_lines_with_namespace_roots_are_taken() {
        let mnt = NamespaceId::new(NamespaceKind::Mount, 4, 1);
        let text = "\
22 1 0:21 / /proc rw,nosuid - proc proc rw
43 22 0:4 net:[4026532177] /run/netns/a\\040b rw shared:2 - nsfs nsfs rw
44 22 0:4 uts:[4026532178] /tmp/u rw - nsfs nsfs rw
45 22 0:50 / /tmp/fake rw - tmpfs nsfs rw
46 22 0:4 / /tmp/whole rw - nsfs nsfs rw
47 22 0:4 bogus:[1] /tmp/bogus rw - nsfs nsfs rw
";
        let got = parse_table(text, 4, mnt);
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(
            got[0].id,
            NamespaceId::new(NamespaceKind::Network, 4, 4026532177)
        );
        assert_eq!(got[0].mount_point, PathBuf::from("/run/netns/a b"));
        assert_eq!(got[0].mount_id, 43);
        assert_eq!(got[0].mount_namespace, mnt);
        assert_eq!(got[1].kind(), NamespaceKind::Uts);
    }
}
