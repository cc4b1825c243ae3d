//! The crate's error type: what failed, on what, the errno, and where the cause is knowable, a
//! hint.

use std::fmt;
use std::io;
use std::path::PathBuf;

use crate::diagnose::Hint;
use crate::kernel::KernelFeature;
use crate::kind::{NamespaceKind, NamespaceSet};
use crate::namespace::NamespaceId;

/// `Result` with this crate's [`Error`].
///
/// # References
///  - [errno(3)](https://man7.org/linux/man-pages/man3/errno.3.html)
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in this crate.
///
/// Display is one line a person can act on: the operation, its target, the errno name and,
/// where the cause is knowable, a hint (see [`Hint`]). The underlying [`io::Error`] is the
/// [`source`](std::error::Error::source) where there is one.
///
/// # References
///  - [errno(3)](https://man7.org/linux/man-pages/man3/errno.3.html)
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A system call failed.
    #[error("{op} {target}: {}{}", Errno(source), HintSuffix(hint))]
    Os {
        /// What was being done.
        op: Operation,
        /// What it was done to.
        target: Target,
        /// The error the kernel returned.
        #[source]
        source: io::Error,
        /// A likely cause, where one is knowable.
        hint: Option<Hint>,
    },
    /// The process does not exist (or exited while it was being looked at).
    #[error("{} does not exist (or has exited)", ProcessName(*pid))]
    NoSuchProcess {
        /// The pid that was asked for; 0 for the process behind a pidfd.
        pid: u32,
    },
    /// An fd or path that should refer to a namespace refers to something else.
    #[error("{target} is not a namespace (not an nsfs file)")]
    NotANamespace {
        /// The fd or path.
        target: Target,
    },
    /// A namespace of one kind was given where another kind was needed.
    #[error("{target} is a {found} namespace, expected a {expected} namespace")]
    WrongKind {
        /// The fd or path.
        target: Target,
        /// The kind that was needed.
        expected: NamespaceKind,
        /// The kind it is.
        found: NamespaceKind,
    },
    /// The operation does not exist for this kind of namespace (e.g. `parent()` of a network
    /// namespace: only pid and user namespaces are nested).
    #[error("{op} is defined only for {applies_to} namespaces, not for {kind}")]
    NotApplicable {
        /// The operation.
        op: Operation,
        /// The kind it was asked of.
        kind: NamespaceKind,
        /// The kinds it applies to.
        applies_to: &'static str,
    },
    /// The namespace the operation leads to is outside the caller's view: the parent of the
    /// initial pid or user namespace, or an ancestor above the caller's own namespace.
    #[error("{op} of {ns}: the result lies outside the caller's namespace scope (EPERM)")]
    OutOfScope {
        /// The operation (`NS_GET_PARENT` or `NS_GET_USERNS`).
        op: Operation,
        /// The namespace it was asked of.
        ns: NamespaceId,
    },
    /// The running kernel lacks a feature.
    #[error("{feature} is not supported by the running kernel")]
    Unsupported {
        /// The feature, with the first kernel that has it.
        feature: KernelFeature,
    },
    /// Spawning a process failed at a setup step. When this is returned the child (if one was
    /// created) has been reaped and nothing of it is left.
    #[error(
        "spawn {program}: {step} failed: {}{}",
        Errno(source),
        HintSuffix(hint)
    )]
    Spawn {
        /// The program that was to run.
        program: String,
        /// The step that failed.
        step: crate::spawn::Step,
        /// The error.
        #[source]
        source: io::Error,
        /// A likely cause, where one is knowable.
        hint: Option<Hint>,
    },
    /// An argument was rejected before anything was done.
    #[error("invalid {what}: {reason}")]
    InvalidInput {
        /// Which argument.
        what: &'static str,
        /// Why.
        reason: String,
    },
    /// The kernel refused a route netlink request (feature `net`).
    #[cfg(feature = "net")]
    #[error(
        "{op} ({action}){} in {ns}: {}{}",
        LinkSuffix(link),
        Errno(source),
        KernelSays(message)
    )]
    Netlink {
        /// The netlink message that was refused (`RTM_NEWLINK`, `RTM_NEWADDR`, ...).
        op: Operation,
        /// What the request was for, such as "set mtu" or "create veth".
        action: &'static str,
        /// The link the request was about, if one.
        link: Option<String>,
        /// The network namespace the request was made in.
        ns: NamespaceId,
        /// The errno from the kernel's `NLMSG_ERROR` reply.
        #[source]
        source: io::Error,
        /// The kernel's own explanation (the extended ACK's `NLMSGERR_ATTR_MSG`), if it sent one.
        message: Option<String>,
    },
    /// No network interface has this name in the network namespace (feature `net`).
    #[cfg(feature = "net")]
    #[error("no link named {name:?} in {ns} (ENODEV)")]
    NoSuchLink {
        /// The name that was looked up.
        name: String,
        /// The network namespace it was looked up in.
        ns: NamespaceId,
    },
    /// A persisted namespace still has processes in it, so its bind mount was left in place;
    /// removing it anyway takes an explicit `force`
    /// (see [`PersistedNamespace::remove`](crate::PersistedNamespace::remove)).
    #[error(
        "{} holds {id}, which {} process(es) are still in (pid {}{}); not removed without force",
        path.display(),
        pids.len(),
        pids.first().copied().unwrap_or(0),
        if pids.len() > 1 { ", ..." } else { "" }
    )]
    NamespaceInUse {
        /// The mount point.
        path: PathBuf,
        /// The namespace mounted there.
        id: NamespaceId,
        /// The processes found in it.
        pids: Vec<u32>,
    },
    /// A mount listed from another mount namespace's table cannot be unmounted from the
    /// caller's (`umount2(2)` acts on the caller's mount namespace only).
    #[error(
        "{} is mounted in {mount_namespace}, not in the caller's {caller}; enter that mount namespace to remove it",
        path.display()
    )]
    ForeignMount {
        /// The mount point, as that mount namespace sees it.
        path: PathBuf,
        /// The mount namespace whose table lists the mount.
        mount_namespace: NamespaceId,
        /// The caller's mount namespace.
        caller: NamespaceId,
    },
    /// A mount point no longer holds the namespace a listing found there (it was unmounted,
    /// or something else was mounted over it since); nothing was unmounted. From
    /// [`Namespace::persist`](crate::Namespace::persist): the file it created was moved away
    /// by someone else before the mount could be checked at the path; the mount was undone.
    #[error(
        "{} no longer holds {expected}{}; the mount table is as it was",
        path.display(),
        FoundSuffix(found)
    )]
    MountChanged {
        /// The mount point.
        path: PathBuf,
        /// The namespace the listing found there.
        expected: NamespaceId,
        /// What the path holds now, if it is a namespace at all.
        found: Option<NamespaceId>,
    },
}

impl Error {
    pub(crate) fn os(op: Operation, target: Target, source: io::Error) -> Self {
        let hint = Hint::diagnose(op, &target, &source);
        Error::Os {
            op,
            target,
            source,
            hint,
        }
    }

    pub(crate) fn invalid(what: &'static str, reason: impl Into<String>) -> Self {
        Error::InvalidInput {
            what,
            reason: reason.into(),
        }
    }

    /// The errno behind this error, if a system call failed.
    ///
    /// # References
    ///  - [errno(3)](https://man7.org/linux/man-pages/man3/errno.3.html)
    pub fn raw_os_error(&self) -> Option<i32> {
        match self {
            Error::Os { source, .. } | Error::Spawn { source, .. } => source.raw_os_error(),
            #[cfg(feature = "net")]
            Error::Netlink { source, .. } => source.raw_os_error(),
            #[cfg(feature = "net")]
            Error::NoSuchLink { .. } => Some(libc::ENODEV),
            Error::NoSuchProcess { .. } => Some(libc::ESRCH),
            Error::OutOfScope { .. } => Some(libc::EPERM),
            Error::NamespaceInUse { .. } => Some(libc::EBUSY),
            _ => None,
        }
    }

    /// The [`io::ErrorKind`] this error converts to (`From<Error> for io::Error`), without
    /// consuming it: the errno's kind where a system call failed, else the kind that fits
    /// (`InvalidInput`, `NotFound`, `Unsupported`, ...).
    pub fn kind(&self) -> io::ErrorKind {
        match self {
            Error::Os { source, .. } | Error::Spawn { source, .. } => source.kind(),
            #[cfg(feature = "net")]
            Error::Netlink { source, .. } => source.kind(),
            #[cfg(feature = "net")]
            Error::NoSuchLink { .. } => io::ErrorKind::NotFound,
            Error::NoSuchProcess { .. } => io::ErrorKind::NotFound,
            Error::NotANamespace { .. } | Error::WrongKind { .. } | Error::InvalidInput { .. } => {
                io::ErrorKind::InvalidInput
            }
            Error::NotApplicable { .. } | Error::Unsupported { .. } => io::ErrorKind::Unsupported,
            Error::OutOfScope { .. } => io::ErrorKind::PermissionDenied,
            Error::NamespaceInUse { .. } => io::ErrorKind::ResourceBusy,
            Error::ForeignMount { .. } => io::ErrorKind::InvalidInput,
            Error::MountChanged { .. } => io::ErrorKind::NotFound,
        }
    }

    /// The hint attached to this error, if any.
    pub fn hint(&self) -> Option<&Hint> {
        match self {
            Error::Os { hint, .. } | Error::Spawn { hint, .. } => hint.as_ref(),
            _ => None,
        }
    }
}

/// ` (it holds net:[...] now)` or ` (it is no longer mounted)` for [`Error::MountChanged`].
struct FoundSuffix<'a>(&'a Option<NamespaceId>);

impl fmt::Display for FoundSuffix<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(id) => write!(f, " (it holds {id} now)"),
            None => f.write_str(" (it is no longer mounted there)"),
        }
    }
}

impl From<Error> for io::Error {
    fn from(e: Error) -> io::Error {
        io::Error::new(e.kind(), e)
    }
}

/// The operation that failed, named after the system call or ioctl that carries it.
///
/// # References
///  - [syscalls(2)](https://man7.org/linux/man-pages/man2/syscalls.2.html),
///    [ioctl_nsfs(2)](https://man7.org/linux/man-pages/man2/ioctl_nsfs.2.html)
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// Opening a namespace file (`open(2)` of `/proc/<pid>/ns/<kind>` or a path).
    Open,
    /// Reading file status (`fstat(2)`, `fstatfs(2)`).
    Stat,
    /// `setns(2)`.
    Setns,
    /// `unshare(2)`.
    Unshare,
    /// `NS_GET_NSTYPE`.
    GetType,
    /// `NS_GET_PARENT`.
    GetParent,
    /// `NS_GET_USERNS`.
    GetOwner,
    /// `NS_GET_OWNER_UID`.
    GetOwnerUid,
    /// `PIDFD_GET_<KIND>_NAMESPACE`.
    PidfdGetNamespace,
    /// `pidfd_open(2)`.
    PidfdOpen,
    /// `pidfd_getfd(2)`: duplicating another process's file descriptor.
    PidfdGetfd,
    /// `SIOCGSKNS`: the network namespace of a socket.
    SocketNamespace,
    /// Creating the file a namespace is bind-mounted on.
    CreateMountPoint,
    /// `mount(2)` with `MS_BIND`.
    BindMount,
    /// `umount2(2)`.
    Unmount,
    /// `unlink(2)`.
    Remove,
    /// Reading a file under `/proc`.
    ReadProc,
    /// Writing `/proc/<pid>/timens_offsets`.
    TimeOffsets,
    /// Writing `/proc/<pid>/uid_map` (or running `newuidmap(1)` for it).
    UidMap,
    /// Writing `/proc/<pid>/gid_map` (or running `newgidmap(1)` for it).
    GidMap,
    /// Writing `/proc/<pid>/setgroups`.
    Setgroups,
    /// `waitid(2)` on a pidfd.
    Wait,
    /// `pidfd_send_signal(2)`.
    Signal,
    /// `pthread_sigmask(3)`: changing or reading the calling thread's signal mask.
    SignalMask,
    /// `signalfd(2)`: creating a signalfd, or reading from one.
    Signalfd,
    /// `sigaction(2)`: setting a signal's disposition.
    Sigaction,
    /// `prctl(PR_SET_PDEATHSIG)`.
    ParentDeathSignal,
    /// `fork(2)`.
    Fork,
    /// Reading or writing a child's pipe.
    Io,
    /// Creating a netlink socket (`socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE)`).
    #[cfg(feature = "net")]
    NetlinkSocket,
    /// Sending to or receiving from a netlink socket, or decoding what it returned.
    #[cfg(feature = "net")]
    NetlinkIo,
    /// `RTM_NEWLINK`: create a link.
    #[cfg(feature = "net")]
    NewLink,
    /// `RTM_SETLINK`: change a link (flags, name, MTU, master, namespace).
    #[cfg(feature = "net")]
    SetLink,
    /// `RTM_DELLINK`: delete a link.
    #[cfg(feature = "net")]
    DelLink,
    /// `RTM_GETLINK`: look up or list links.
    #[cfg(feature = "net")]
    GetLink,
    /// `RTM_NEWADDR`: add an address.
    #[cfg(feature = "net")]
    NewAddress,
    /// `RTM_DELADDR`: remove an address.
    #[cfg(feature = "net")]
    DelAddress,
    /// `RTM_GETADDR`: list addresses.
    #[cfg(feature = "net")]
    GetAddress,
    /// `RTM_NEWROUTE`: add a route.
    #[cfg(feature = "net")]
    NewRoute,
    /// `RTM_DELROUTE`: remove a route.
    #[cfg(feature = "net")]
    DelRoute,
    /// `RTM_GETROUTE`: list routes.
    #[cfg(feature = "net")]
    GetRoute,
    /// `RTM_GETNSID`: the id a network namespace gave another (`ip netns list-id`).
    #[cfg(feature = "net")]
    GetNsid,
    /// `RTM_NEWNSID`: give another network namespace an id (`ip netns set`).
    #[cfg(feature = "net")]
    NewNsid,
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Operation::Open => "open",
            Operation::Stat => "fstat",
            Operation::Setns => "setns",
            Operation::Unshare => "unshare",
            Operation::GetType => "NS_GET_NSTYPE",
            Operation::GetParent => "NS_GET_PARENT",
            Operation::GetOwner => "NS_GET_USERNS",
            Operation::GetOwnerUid => "NS_GET_OWNER_UID",
            Operation::PidfdGetNamespace => "PIDFD_GET_*_NAMESPACE",
            Operation::PidfdOpen => "pidfd_open",
            Operation::PidfdGetfd => "pidfd_getfd",
            Operation::SocketNamespace => "SIOCGSKNS",
            Operation::CreateMountPoint => "create mount point",
            Operation::BindMount => "bind mount",
            Operation::Unmount => "umount",
            Operation::Remove => "unlink",
            Operation::ReadProc => "read",
            Operation::TimeOffsets => "write timens_offsets",
            Operation::UidMap => "write uid_map",
            Operation::GidMap => "write gid_map",
            Operation::Setgroups => "write setgroups",
            Operation::Wait => "waitid",
            Operation::Signal => "pidfd_send_signal",
            Operation::SignalMask => "pthread_sigmask",
            Operation::Signalfd => "signalfd",
            Operation::Sigaction => "sigaction",
            Operation::ParentDeathSignal => "prctl(PR_SET_PDEATHSIG)",
            Operation::Fork => "fork",
            Operation::Io => "pipe i/o",
            #[cfg(feature = "net")]
            Operation::NetlinkSocket => "socket(AF_NETLINK)",
            #[cfg(feature = "net")]
            Operation::NetlinkIo => "netlink i/o",
            #[cfg(feature = "net")]
            Operation::NewLink => "RTM_NEWLINK",
            #[cfg(feature = "net")]
            Operation::SetLink => "RTM_SETLINK",
            #[cfg(feature = "net")]
            Operation::DelLink => "RTM_DELLINK",
            #[cfg(feature = "net")]
            Operation::GetLink => "RTM_GETLINK",
            #[cfg(feature = "net")]
            Operation::NewAddress => "RTM_NEWADDR",
            #[cfg(feature = "net")]
            Operation::DelAddress => "RTM_DELADDR",
            #[cfg(feature = "net")]
            Operation::GetAddress => "RTM_GETADDR",
            #[cfg(feature = "net")]
            Operation::NewRoute => "RTM_NEWROUTE",
            #[cfg(feature = "net")]
            Operation::DelRoute => "RTM_DELROUTE",
            #[cfg(feature = "net")]
            Operation::GetRoute => "RTM_GETROUTE",
            #[cfg(feature = "net")]
            Operation::GetNsid => "RTM_GETNSID",
            #[cfg(feature = "net")]
            Operation::NewNsid => "RTM_NEWNSID",
        })
    }
}

/// What an operation was applied to.
///
/// # References
///  - [namespaces(7)](https://man7.org/linux/man-pages/man7/namespaces.7.html)
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A namespace of a process, or the process itself when `kind` is `None`.
    Process {
        /// The pid.
        pid: u32,
        /// The kind, if one.
        kind: Option<NamespaceKind>,
    },
    /// The calling thread's namespaces of these kinds.
    Caller(NamespaceSet),
    /// A path.
    Path(PathBuf),
    /// A namespace the caller holds a handle to.
    Namespace(NamespaceId),
    /// Namespaces of a process named by a pidfd.
    Pidfd(NamespaceSet),
    /// A file descriptor of unknown nature.
    Fd(i32),
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Process { pid, kind: Some(k) } => write!(f, "{k} namespace of pid {pid}"),
            Target::Process { pid, kind: None } => write!(f, "pid {pid}"),
            Target::Caller(set) => write!(f, "{set} namespace(s) of the caller"),
            Target::Path(p) => write!(f, "{}", p.display()),
            Target::Namespace(id) => write!(f, "{id}"),
            Target::Pidfd(set) => write!(f, "{set} namespace(s) of a pidfd's process"),
            Target::Fd(fd) => write!(f, "fd {fd}"),
        }
    }
}

struct ProcessName(u32);

impl fmt::Display for ProcessName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            0 => f.write_str("the pidfd's process"),
            pid => write!(f, "process {pid}"),
        }
    }
}

#[cfg(feature = "net")]
struct LinkSuffix<'a>(&'a Option<String>);

#[cfg(feature = "net")]
impl fmt::Display for LinkSuffix<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(link) => write!(f, " on link {link:?}"),
            None => Ok(()),
        }
    }
}

#[cfg(feature = "net")]
struct KernelSays<'a>(&'a Option<String>);

#[cfg(feature = "net")]
impl fmt::Display for KernelSays<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(m) => write!(f, ": the kernel says {m:?}"),
            None => Ok(()),
        }
    }
}

struct HintSuffix<'a>(&'a Option<Hint>);

impl fmt::Display for HintSuffix<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(h) => write!(f, " (hint: {h})"),
            None => Ok(()),
        }
    }
}

/// Shows an `io::Error` as `EPERM (Operation not permitted)` where it carries an errno.
pub(crate) struct Errno<'a>(pub(crate) &'a io::Error);

impl fmt::Display for Errno<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.raw_os_error() {
            Some(n) => {
                let text = io::Error::from_raw_os_error(n).to_string();
                let text = text.split(" (os error").next().unwrap_or(&text);
                match errno_name(n) {
                    Some(name) => write!(f, "{name} ({text})"),
                    None => write!(f, "errno {n} ({text})"),
                }
            }
            None => write!(f, "{}", self.0),
        }
    }
}

/// The symbolic name of the errno values this crate's operations can produce, for
/// [`Errno`]'s display.
pub(crate) fn errno_name(errno: i32) -> Option<&'static str> {
    Some(match errno {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::ESRCH => "ESRCH",
        libc::EINTR => "EINTR",
        libc::EIO => "EIO",
        libc::E2BIG => "E2BIG",
        libc::ENOEXEC => "ENOEXEC",
        libc::EBADF => "EBADF",
        libc::ECHILD => "ECHILD",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::EBUSY => "EBUSY",
        libc::EEXIST => "EEXIST",
        libc::EXDEV => "EXDEV",
        libc::ENODEV => "ENODEV",
        libc::ENOTDIR => "ENOTDIR",
        libc::EISDIR => "EISDIR",
        libc::EINVAL => "EINVAL",
        libc::ENFILE => "ENFILE",
        libc::EMFILE => "EMFILE",
        libc::ENOTTY => "ENOTTY",
        libc::ETXTBSY => "ETXTBSY",
        libc::EFBIG => "EFBIG",
        libc::ENOSPC => "ENOSPC",
        libc::EROFS => "EROFS",
        libc::EMLINK => "EMLINK",
        libc::ERANGE => "ERANGE",
        libc::ENAMETOOLONG => "ENAMETOOLONG",
        libc::ENOSYS => "ENOSYS",
        libc::ENOTEMPTY => "ENOTEMPTY",
        libc::ELOOP => "ELOOP",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::EUSERS => "EUSERS",
        libc::EOVERFLOW => "EOVERFLOW",
        libc::ESTALE => "ESTALE",
        libc::EDQUOT => "EDQUOT",
        libc::ECONNREFUSED => "ECONNREFUSED",
        libc::EADDRINUSE => "EADDRINUSE",
        libc::EADDRNOTAVAIL => "EADDRNOTAVAIL",
        libc::ENETUNREACH => "ENETUNREACH",
        libc::ENODATA => "ENODATA",
        libc::ENOBUFS => "ENOBUFS",
        libc::ETIMEDOUT => "ETIMEDOUT",
        libc::EAFNOSUPPORT => "EAFNOSUPPORT",
        libc::EPROTONOSUPPORT => "EPROTONOSUPPORT",
        libc::EMSGSIZE => "EMSGSIZE",
        libc::ENETDOWN => "ENETDOWN",
        libc::EHOSTUNREACH => "EHOSTUNREACH",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_one_line_with_errno_name() {
        let e = Error::os(
            Operation::Open,
            Target::Path("/nonexistent/x".into()),
            io::Error::from_raw_os_error(libc::ENOENT),
        );
        let s = e.to_string();
        assert_eq!(s, "open /nonexistent/x: ENOENT (No such file or directory)");
        assert!(!s.contains('\n'));
        assert_eq!(e.raw_os_error(), Some(libc::ENOENT));
    }

    #[test]
    fn eperm_from_setns_suggests_capability() {
        let e = Error::os(
            Operation::Setns,
            Target::Process {
                pid: 1,
                kind: Some(NamespaceKind::Network),
            },
            io::Error::from_raw_os_error(libc::EPERM),
        );
        assert_eq!(e.hint(), Some(&Hint::NeedsCapSysAdmin));
        assert!(e.to_string().contains("CAP_SYS_ADMIN"), "{e}");
    }

    #[test]
    fn einval_from_setns_mount_in_threaded_process_names_threads() {
        // The unit-test harness runs on several threads, so this process is multithreaded.
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let t = std::thread::spawn(move || rx.recv());
        let e = Error::os(
            Operation::Setns,
            Target::Caller(NamespaceSet::MOUNT),
            io::Error::from_raw_os_error(libc::EINVAL),
        );
        tx.send(()).unwrap();
        t.join().unwrap().unwrap();
        assert!(
            matches!(e.hint(), Some(Hint::MultiThreaded { threads }) if *threads >= 2),
            "{e}"
        );
    }
}
