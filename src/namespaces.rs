//! [`Namespaces`]: at most one handle per kind, opened and entered together.

use std::os::fd::{AsRawFd, BorrowedFd};

use crate::error::{Error, Operation, Result, Target};
use crate::kernel::KernelFeature;
use crate::kind::{NamespaceKind, NamespaceSet};
use crate::namespace::{Namespace, pidfd_pid};
use crate::sys;

/// At most one [`Namespace`] per kind: the namespaces of one process, or a set to enter together.
///
/// # References
///  - [setns(2)](https://man7.org/linux/man-pages/man2/setns.2.html),
///    [nsenter(1)](https://man7.org/linux/man-pages/man1/nsenter.1.html)
#[derive(Debug, Default)]
pub struct Namespaces {
    slots: [Option<Namespace>; 8],
}

impl Namespaces {
    /// An empty set (no system call).
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves the *calling thread* into new namespaces of the kinds in `set` (`unshare(2)`) and
    /// returns handles to them. Named for what it changes, so it is not mistaken for
    /// [`Command::unshare`](crate::Command::unshare), which creates namespaces for a child
    /// and leaves the caller alone.
    ///
    /// For pid and time namespaces, the caller itself stays where it is: its *children* will be
    /// in the new namespace, and the returned handle is that namespace (`*_for_children`).
    /// Creating a user namespace, or a mount namespace together with one, is refused by the
    /// kernel in a multithreaded process; do it in a forked child. Other kinds need
    /// `CAP_SYS_ADMIN` unless a user namespace is created in the same call.
    ///
    /// The handles are opened after `unshare(2)` succeeded: if opening one fails (a new pid
    /// namespace on a kernel before 6.11, see
    /// [`Namespace::current_for_children`]), the error is returned but the
    /// caller is in the new namespaces all the same.
    ///
    /// # References
    ///  - [unshare(2)](https://man7.org/linux/man-pages/man2/unshare.2.html)
    /// # Errors
    /// [`Error::Os`] from `unshare(2)` (with a hint where the cause is knowable: a
    /// multithreaded caller, disabled user namespaces), or from opening a handle.
    #[doc(alias = "unshare")]
    pub fn unshare_calling_thread(set: NamespaceSet) -> Result<Namespaces> {
        sys::unshare(set).map_err(|e| Error::os(Operation::Unshare, Target::Caller(set), e))?;
        let mut out = Namespaces::new();
        for kind in set.kinds() {
            out.insert(Namespace::current_for_children(kind)?);
        }
        Ok(out)
    }

    /// Opens the namespaces of `pid` of the kinds in `set` (`open(2)` of each
    /// `/proc/<pid>/ns/<kind>`, see [`Namespace::open`]).
    ///
    /// # Errors
    /// As for [`Namespace::open`], for the first kind that fails; handles opened before it
    /// are closed.
    ///
    /// # References
    ///  - [proc_pid_ns(5)](https://man7.org/linux/man-pages/man5/proc_pid_ns.5.html)
    pub fn open(pid: u32, set: NamespaceSet) -> Result<Self> {
        set.kinds().map(|k| Namespace::open(pid, k)).collect()
    }

    /// Opens the namespaces of the process behind `pidfd` of the kinds in `set`
    /// (`PIDFD_GET_<KIND>_NAMESPACE` for each, see [`Namespace::from_pidfd`]).
    ///
    /// # Errors
    /// As for [`Namespace::from_pidfd`], for the first kind that fails.
    ///
    /// # References
    ///  - [ioctl_pidfd(2)](https://man7.org/linux/man-pages/man2/ioctl_pidfd.2.html)
    pub fn from_pidfd(pidfd: BorrowedFd<'_>, set: NamespaceSet) -> Result<Self> {
        set.kinds()
            .map(|k| Namespace::from_pidfd(pidfd, k))
            .collect()
    }

    /// Opens the calling thread's namespaces of the kinds in `set`
    /// (`/proc/thread-self/ns/<kind>`, see [`Namespace::current`]).
    ///
    /// # Errors
    /// As for [`Namespace::current`], for the first kind that fails.
    ///
    /// # References
    ///  - [proc_pid_ns(5)](https://man7.org/linux/man-pages/man5/proc_pid_ns.5.html)
    pub fn current(set: NamespaceSet) -> Result<Self> {
        set.kinds().map(Namespace::current).collect()
    }

    /// The handle for `kind`, if the set has one. No system call.
    pub fn get(&self, kind: NamespaceKind) -> Option<&Namespace> {
        self.slots[kind.index()].as_ref()
    }

    /// Takes the handle for `kind` out of the set. No system call.
    pub fn take(&mut self, kind: NamespaceKind) -> Option<Namespace> {
        self.slots[kind.index()].take()
    }

    /// Puts `ns` in the set, returning the handle of the same kind it replaces. No system call.
    pub fn insert(&mut self, ns: Namespace) -> Option<Namespace> {
        self.slots[ns.kind().index()].replace(ns)
    }

    /// The kinds the set holds. No system call.
    pub fn kinds(&self) -> NamespaceSet {
        self.iter().map(Namespace::kind).collect()
    }

    /// Whether the set is empty. No system call.
    pub fn is_empty(&self) -> bool {
        self.slots.iter().all(Option::is_none)
    }

    /// The handles, in the order of [`NamespaceKind::ALL`]. No system call.
    pub fn iter(&self) -> impl Iterator<Item = &Namespace> {
        self.slots.iter().flatten()
    }

    /// Moves the calling thread into every namespace in the set (`setns(2)` for each),
    /// ordered so the caller does not have to: the user namespace is left out if the caller is
    /// already in it (the kernel refuses to re-enter it); the others are entered first while
    /// the caller still has its privileges, then the user namespace, then any that needed the
    /// privileges of the new user namespace (as `nsenter(1)` does). Returns the kinds entered.
    ///
    /// Not atomic: if a step fails, the namespaces entered before it stay entered. Use
    /// [`enter_process`](Self::enter_process) for an atomic switch to another process's
    /// namespaces.
    ///
    /// # Errors
    /// [`Error::Os`] from the first `setns(2)` that fails (with a hint for a multithreaded
    /// caller or a missing capability); the namespaces entered before it stay entered.
    ///
    /// # References
    ///  - [setns(2)](https://man7.org/linux/man-pages/man2/setns.2.html),
    ///    [nsenter(1)](https://man7.org/linux/man-pages/man1/nsenter.1.html)
    #[doc(alias = "setns")]
    pub fn enter(&self) -> Result<NamespaceSet> {
        let user = match self.get(NamespaceKind::User) {
            Some(u) if u.id() != Namespace::current(NamespaceKind::User)?.id() => Some(u),
            _ => None,
        };
        let mut entered = NamespaceSet::empty();
        let mut deferred = Vec::new();
        for ns in self.iter().filter(|ns| ns.kind() != NamespaceKind::User) {
            match ns.enter() {
                Ok(()) => entered |= ns.kind().as_set(),
                // Without the user namespace's privileges yet; try again after entering it.
                Err(e) if user.is_some() && e.raw_os_error() == Some(libc::EPERM) => {
                    deferred.push(ns)
                }
                Err(e) => return Err(e),
            }
        }
        if let Some(u) = user {
            u.enter()?;
            entered |= NamespaceSet::USER;
        }
        for ns in deferred {
            ns.enter()?;
            entered |= ns.kind().as_set();
        }
        Ok(entered)
    }

    /// Moves the calling thread into the namespaces of the kinds in `set` of the process behind
    /// `pidfd`, as `nsenter --target PID` does. Returns the kinds entered.
    ///
    /// On Linux 5.8 and later this is one atomic `setns(pidfd, flags)`: either every namespace
    /// is entered or none. The user namespace is left out when the caller is already in the
    /// target's user namespace. On older kernels the namespaces are opened first and entered
    /// one by one as [`enter`](Self::enter) does.
    ///
    /// # Errors
    /// [`Error::NoSuchProcess`] if the process has exited; [`Error::InvalidInput`] if the fd is
    /// not a pidfd; [`Error::Os`] from `setns(2)` (nothing is entered then, on 5.8 and later).
    ///
    /// # References
    ///  - [setns(2)](https://man7.org/linux/man-pages/man2/setns.2.html)
    #[doc(alias = "setns")]
    pub fn enter_process(pidfd: BorrowedFd<'_>, set: NamespaceSet) -> Result<NamespaceSet> {
        let mut set = set;
        if set.has(NamespaceKind::User)
            && Namespace::from_pidfd(pidfd, NamespaceKind::User)?.id()
                == Namespace::current(NamespaceKind::User)?.id()
        {
            set.remove(NamespaceSet::USER);
        }
        if set.is_empty() {
            return Ok(set);
        }
        if !KernelFeature::SetnsPidfd.in_kernel_version() {
            return Self::from_pidfd(pidfd, set)?.enter();
        }
        let flags = rustix::thread::ThreadNameSpaceType::from_bits_retain(set.bits());
        match rustix::thread::move_into_thread_name_spaces(pidfd, flags) {
            Ok(()) => Ok(set),
            Err(rustix::io::Errno::SRCH) => Err(Error::NoSuchProcess { pid: 0 }),
            // setns answers EINVAL for an fd that is neither a namespace nor a pidfd.
            Err(rustix::io::Errno::INVAL) if pidfd_pid(pidfd)?.is_none() => Err(Error::invalid(
                "pidfd",
                format!("fd {} is not a pidfd", pidfd.as_raw_fd()),
            )),
            Err(e) => Err(Error::os(Operation::Setns, Target::Pidfd(set), e.into())),
        }
    }
}

impl FromIterator<Namespace> for Namespaces {
    /// Collects handles; a later handle of a kind replaces an earlier one.
    fn from_iter<I: IntoIterator<Item = Namespace>>(iter: I) -> Self {
        let mut out = Namespaces::new();
        for ns in iter {
            out.insert(ns);
        }
        out
    }
}

impl IntoIterator for Namespaces {
    type Item = Namespace;
    type IntoIter = std::iter::Flatten<std::array::IntoIter<Option<Namespace>, 8>>;

    fn into_iter(self) -> Self::IntoIter {
        self.slots.into_iter().flatten()
    }
}
