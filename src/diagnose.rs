//! Diagnosis: a likely cause for an errno, found by looking at the operation, its target and
//! the system's configuration (sysctls, the LSM, the caller's thread count) when it happened.

use std::fmt;
use std::io;

use crate::error::{Operation, Target};
use crate::kind::NamespaceSet;
use crate::spawn::{Step, StepKind};

/// A likely cause of an [`Error::Os`](crate::Error::Os), found by looking at the errno, the
/// operation and the system's configuration when the error happened.
///
/// # References
///  - [setns(2)](https://man7.org/linux/man-pages/man2/setns.2.html),
///    [unshare(2)](https://man7.org/linux/man-pages/man2/unshare.2.html),
///    [user_namespaces(7)](https://man7.org/linux/man-pages/man7/user_namespaces.7.html)
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hint {
    /// The kernel refuses to move a multithreaded process into a user or mount namespace,
    /// or to unshare those (`setns(2)`, `unshare(2)`: EINVAL), and to move it into a time
    /// namespace (`setns(2)`: EUSERS).
    MultiThreaded {
        /// Threads the process had when the error was seen.
        threads: u64,
    },
    /// `user.max_user_namespaces` is 0: user namespaces are disabled.
    UserNamespacesDisabled,
    /// The `user.max_user_namespaces` (or the per-user ucount) limit is reached (ENOSPC).
    UserNamespaceLimit,
    /// `kernel.apparmor_restrict_unprivileged_userns` is 1.
    AppArmorRestricted,
    /// The Debian/Ubuntu `kernel.unprivileged_userns_clone` sysctl is 0.
    UnprivilegedUsernsCloneDisabled,
    /// The operation needs `CAP_SYS_ADMIN` over the namespace (in the user namespace that owns
    /// it), which the caller lacks.
    NeedsCapSysAdmin,
    /// Entering a user namespace the caller is already in is refused (EINVAL).
    SameUserNamespace,
    /// A `gid_map` written without `CAP_SETGID` in the parent user namespace needs
    /// `setgroups` set to "deny" first.
    SetgroupsNotDenied,
    /// `PR_SET_NO_NEW_PRIVS` (or `CAP_SYS_ADMIN`) is required to install a seccomp filter.
    SeccompNeedsNoNewPrivs,
    /// `pivot_root(2)` refuses when the new root's mount, or its parent, has shared
    /// propagation: make `/` private (or slave) first.
    PivotRootShared,
    /// Mount paths are resolved without following symlinks (so a symlink planted in a new root
    /// cannot redirect a mount); the path given has one.
    SymlinkInMountPath,
    /// Clock offsets of a time namespace can be set only before any process has entered it.
    TimeNamespaceEntered,
    /// `setresuid`/`setresgid` to an id the child's user namespace does not map (EINVAL).
    UnmappedId,
    /// `CLONE_INTO_CGROUP` was refused (EACCES): moving a process into a cgroup needs write
    /// access to `cgroup.procs` of the target and of the common ancestor of the source and
    /// target cgroups.
    CgroupProcsAccess,
}

impl fmt::Display for Hint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Hint::MultiThreaded { threads } => write!(
                f,
                "the process has {threads} threads and the kernel moves only single-threaded \
                 processes into user, mount or time namespaces; do it in a forked child or \
                 before starting threads"
            ),
            Hint::UserNamespacesDisabled => {
                f.write_str("user namespaces are disabled: sysctl user.max_user_namespaces is 0")
            }
            Hint::UserNamespaceLimit => f.write_str(
                "the user namespace limit is reached: check sysctl user.max_user_namespaces",
            ),
            Hint::AppArmorRestricted => f.write_str(
                "AppArmor restricts unprivileged user namespaces: \
                 sysctl kernel.apparmor_restrict_unprivileged_userns is 1",
            ),
            Hint::UnprivilegedUsernsCloneDisabled => f.write_str(
                "unprivileged user namespaces are disabled: sysctl kernel.unprivileged_userns_clone is 0",
            ),
            Hint::NeedsCapSysAdmin => f.write_str(
                "this needs CAP_SYS_ADMIN in the user namespace that owns the namespace: \
                 run as root or enter/create a user namespace first",
            ),
            Hint::SetgroupsNotDenied => f.write_str(
                "an unprivileged gid_map write needs setgroups \"deny\" first (SetGroups::Deny)",
            ),
            Hint::SeccompNeedsNoNewPrivs => {
                f.write_str("installing a seccomp filter needs no_new_privs(true) or CAP_SYS_ADMIN")
            }
            Hint::PivotRootShared => f.write_str(
                "pivot_root refuses shared mounts: add Mount::propagation(\"/\", Propagation::Private).recursive() first",
            ),
            Hint::TimeNamespaceEntered => f.write_str(
                "a process has already entered this time namespace, and the kernel freezes its offsets then; set them right after creating it",
            ),
            Hint::SymlinkInMountPath => f.write_str(
                "mount paths are resolved without following symlinks; give the path with its symlinks resolved (a trusted bind source may opt in with Mount::follow_source_symlinks)",
            ),
            Hint::CgroupProcsAccess => f.write_str(
                "moving into a cgroup needs write access to cgroup.procs of the target cgroup and of the common ancestor of the caller's cgroup and the target (cgroup v2 delegation): delegate a subtree to the caller and spawn into a cgroup below its own",
            ),
            Hint::UnmappedId => f.write_str(
                "the id is not mapped in the child's user namespace: add it to uid_map/gid_map or switch to a mapped one",
            ),
            Hint::SameUserNamespace => {
                f.write_str("the caller is already in that user namespace; leave USER out of the set")
            }
        }
    }
}

fn read_sysctl(path: &str) -> Option<i64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Number of threads of the calling process, from `/proc/self/task`.
pub(crate) fn thread_count() -> Option<u64> {
    // The entries of /proc/self/task, one per thread (this also holds under qemu-user,
    // whose /proc/self/stat is its own emulation).
    let n = std::fs::read_dir("/proc/self/task").ok()?.count();
    u64::try_from(n).ok().filter(|n| *n > 0)
}

impl Hint {
    fn user_namespace_creation(errno: i32) -> Option<Hint> {
        if errno == libc::ENOSPC {
            return Some(
                if read_sysctl("/proc/sys/user/max_user_namespaces") == Some(0) {
                    Hint::UserNamespacesDisabled
                } else {
                    Hint::UserNamespaceLimit
                },
            );
        }
        if errno != libc::EPERM && errno != libc::EACCES {
            return None;
        }
        if read_sysctl("/proc/sys/user/max_user_namespaces") == Some(0) {
            Some(Hint::UserNamespacesDisabled)
        } else if read_sysctl("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") == Some(1) {
            Some(Hint::AppArmorRestricted)
        } else if read_sysctl("/proc/sys/kernel/unprivileged_userns_clone") == Some(0) {
            Some(Hint::UnprivilegedUsernsCloneDisabled)
        } else {
            None
        }
    }

    /// The hint for a failed spawn step.
    pub(crate) fn for_spawn(step: &Step, errno: i32, new_user: bool) -> Option<Hint> {
        use StepKind as K;
        match (step.kind(), errno) {
            (K::Clone, libc::EACCES) if step.file().is_some() => Some(Hint::CgroupProcsAccess),
            (K::Clone, _) if new_user => Hint::user_namespace_creation(errno),
            (K::GidMap, libc::EPERM) => Some(Hint::SetgroupsNotDenied),
            (K::Seccomp, libc::EACCES) => Some(Hint::SeccompNeedsNoNewPrivs),
            (K::Uid | K::Gid, libc::EINVAL) => Some(Hint::UnmappedId),
            (K::Mount, libc::ELOOP) => Some(Hint::SymlinkInMountPath),
            (K::Mount, libc::EINVAL)
                if step
                    .mount_text()
                    .is_some_and(|m| m.starts_with("pivot_root")) =>
            {
                Some(Hint::PivotRootShared)
            }
            (K::Clone | K::Hostname | K::Domainname | K::Mount | K::Join, libc::EPERM) => {
                Some(Hint::NeedsCapSysAdmin)
            }
            _ => None,
        }
    }

    /// The hint for `errno` from `op` on `target`, if the cause can be known.
    pub(crate) fn diagnose(op: Operation, target: &Target, source: &io::Error) -> Option<Hint> {
        let errno = source.raw_os_error()?;
        let kinds = match target {
            Target::Caller(set) | Target::Pidfd(set) => *set,
            Target::Process { kind: Some(k), .. } => k.as_set(),
            Target::Namespace(id) => id.kind.as_set(),
            _ => NamespaceSet::empty(),
        };
        let user_or_mount = kinds.intersects(NamespaceSet::USER | NamespaceSet::MOUNT);
        match (op, errno) {
            (Operation::Setns | Operation::Unshare, libc::EINVAL) if user_or_mount => {
                match thread_count() {
                    Some(threads) if threads > 1 => Some(Hint::MultiThreaded { threads }),
                    _ if op == Operation::Setns && kinds.contains(NamespaceSet::USER) => {
                        Some(Hint::SameUserNamespace)
                    }
                    _ => None,
                }
            }
            (Operation::Setns, libc::EUSERS) if kinds.contains(NamespaceSet::TIME) => {
                match thread_count() {
                    Some(threads) if threads > 1 => Some(Hint::MultiThreaded { threads }),
                    _ => None,
                }
            }
            (Operation::Unshare, _) if kinds.contains(NamespaceSet::USER) => {
                Hint::user_namespace_creation(errno)
            }
            (Operation::Unshare | Operation::Setns | Operation::BindMount, libc::EPERM) => {
                Some(Hint::NeedsCapSysAdmin)
            }
            _ => None,
        }
    }
}
