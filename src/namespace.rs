//! [`Namespace`]: one owned namespace fd, and [`NamespaceId`]: what identifies a namespace.

use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags};

use crate::error::{Error, Operation, Result, Target};
use crate::kernel::{KernelFeature, Probe, Probed};
use crate::kind::NamespaceKind;
use crate::sys;
use crate::validate;

/// The identity of a namespace: its kind and the device and inode of its nsfs file.
///
/// Two handles refer to the same namespace exactly when their ids are equal. This is what
/// `stat(2)` of `/proc/<pid>/ns/<kind>` reports and what `readlink(2)` shows as
/// `net:[4026531840]`; [`Display`](fmt::Display) prints that same text. The kernel may reuse an
/// inode number once a namespace is gone, so compare ids of namespaces that are alive (for
/// example while holding a [`Namespace`]).
///
/// # References
///  - [namespaces(7)](https://man7.org/linux/man-pages/man7/namespaces.7.html), "The /proc/pid/ns/ directory"
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NamespaceId {
    pub(crate) kind: NamespaceKind,
    dev: u64,
    ino: u64,
}

impl NamespaceId {
    /// An id from its parts, as `stat(2)` of an nsfs file reports them.
    pub const fn new(kind: NamespaceKind, dev: u64, ino: u64) -> Self {
        NamespaceId { kind, dev, ino }
    }

    /// The kind of the namespace (what `NS_GET_NSTYPE` reports, and the name before the
    /// colon in the link text).
    pub const fn kind(&self) -> NamespaceKind {
        self.kind
    }

    /// The device number of the nsfs file (`st_dev` from `fstat(2)`).
    pub const fn dev(&self) -> u64 {
        self.dev
    }

    /// The inode number of the nsfs file (`st_ino` from `fstat(2)`), the number `lsns` shows
    /// in its NS column.
    pub const fn ino(&self) -> u64 {
        self.ino
    }

    /// Parses the text of a `/proc/<pid>/ns/*` link or an nsfs mount root, such as
    /// `net:[4026531840]`, into the kind and inode. `dev` is the nsfs device, which the text does
    /// not carry (see [`nsfs_dev`](crate::inspect::nsfs_dev)).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] if `text` is not `kind:[inode]` with a known kind.
    pub fn parse_link(text: &str, dev: u64) -> Result<Self> {
        let (kind, ino) = parse_link_bytes(text.as_bytes()).ok_or_else(|| {
            Error::invalid(
                "namespace link text",
                format!("{text:?} is not like net:[4026531840]"),
            )
        })?;
        Ok(NamespaceId { kind, dev, ino })
    }

    fn of_fd(
        fd: BorrowedFd<'_>,
        kind: NamespaceKind,
        target: impl FnOnce() -> Target,
    ) -> Result<Self> {
        let st =
            rustix::fs::fstat(fd).map_err(|e| Error::os(Operation::Stat, target(), e.into()))?;
        Ok(NamespaceId {
            kind,
            dev: st.st_dev,
            ino: st.st_ino,
        })
    }
}

/// Parses link text `kind:[inode]` without allocating (the inspector calls this for every
/// link of every process).
pub(crate) fn parse_link_bytes(text: &[u8]) -> Option<(NamespaceKind, u64)> {
    let sep = text.iter().position(|&b| b == b':')?;
    let (name, rest) = text.split_at(sep);
    let digits = rest.strip_prefix(b":[")?.strip_suffix(b"]")?;
    let kind = NamespaceKind::ALL
        .into_iter()
        .find(|k| k.proc_name().as_bytes() == name)?;
    if digits.is_empty() {
        return None;
    }
    let ino = digits.iter().try_fold(0u64, |n, &d| {
        if d.is_ascii_digit() {
            n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
        } else {
            None
        }
    })?;
    Some((kind, ino))
}

impl fmt::Display for NamespaceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:[{}]", self.kind.proc_name(), self.ino)
    }
}

/// An owned handle to one namespace: an open nsfs file descriptor, its kind and its id.
///
/// Holding the handle keeps the namespace alive, even after every process in it has exited.
/// Dropping it closes the fd. The fd is opened `O_CLOEXEC`.
///
/// ```
/// use linux_namespaces::{Command, Namespace, NamespaceKind, NamespaceSet, Stdio};
///
/// # fn main() -> linux_namespaces::Result<()> {
/// // The caller's network namespace, and a child's new one.
/// let ours = Namespace::current(NamespaceKind::Network)?;
/// let mut child = Command::new("/bin/cat")
///     .unshare(NamespaceSet::USER | NamespaceSet::NET)
///     .map_root()
///     .stdin(Stdio::piped())
///     .spawn()?;
/// let theirs = Namespace::open(child.id(), NamespaceKind::Network)?;
/// assert_ne!(ours.id(), theirs.id());
/// // Its owner is the child's new user namespace, whose owner is us.
/// let owner = theirs.owner()?;
/// assert_eq!(owner.owner_uid()?, rustix::process::geteuid().as_raw());
/// child.wait()?;
/// // The handle keeps the namespace alive after its last process.
/// assert_eq!(theirs.kind(), NamespaceKind::Network);
/// # Ok(())
/// # }
/// ```
///
/// # References
///  - [namespaces(7)](https://man7.org/linux/man-pages/man7/namespaces.7.html),
///    [ioctl_nsfs(2)](https://man7.org/linux/man-pages/man2/ioctl_nsfs.2.html)
pub struct Namespace {
    fd: OwnedFd,
    id: NamespaceId,
}

impl fmt::Debug for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Namespace")
            .field("id", &format_args!("{}", self.id))
            .field("fd", &self.fd.as_raw_fd())
            .finish()
    }
}

fn open_ro(path: &Path) -> io::Result<OwnedFd> {
    // O_NONBLOCK|O_NOCTTY: the path may name a FIFO or a terminal; opening must neither block
    // nor acquire a controlling terminal before we find out it is not a namespace.
    rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NONBLOCK | OFlags::NOCTTY,
        Mode::empty(),
    )
    .map_err(io::Error::from)
}

/// `/proc/thread-self/fd/<fd>`: a path that leads to exactly the object `fd` refers to (the
/// kernel follows it as a "magic link", not by name), in the calling thread's fd table.
pub(crate) fn proc_fd_path(fd: BorrowedFd<'_>) -> String {
    format!("/proc/thread-self/fd/{}", fd.as_raw_fd())
}

/// Opens for reading exactly the object `probe` (an `O_PATH` fd) refers to: `open(2)` of
/// `/proc/thread-self/fd/<probe>`, which the kernel follows to that object, never through
/// its path again.
pub(crate) fn reopen(probe: BorrowedFd<'_>) -> io::Result<OwnedFd> {
    rustix::fs::open(
        proc_fd_path(probe),
        OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NONBLOCK | OFlags::NOCTTY,
        Mode::empty(),
    )
    .map_err(io::Error::from)
}

/// Whether `/proc/thread-self/fd` is there (it is not when `/proc` is not mounted).
fn proc_fd_dir_exists() -> bool {
    Path::new("/proc/thread-self/fd").is_dir()
}

/// Whether two fds refer to the same file (device and inode).
fn same_file(a: BorrowedFd<'_>, b: BorrowedFd<'_>) -> bool {
    match (rustix::fs::fstat(a), rustix::fs::fstat(b)) {
        (Ok(a), Ok(b)) => (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino),
        _ => false,
    }
}

fn proc_ns_path(pid: &str, link: &str) -> PathBuf {
    PathBuf::from(format!("/proc/{pid}/ns/{link}"))
}

/// Opens `/proc/<pid>/ns/<link>` and turns the errors into the crate's: a missing process is
/// [`Error::NoSuchProcess`], a missing link on a live process means the kernel lacks the kind.
fn open_proc_link(pid: u32, kind: NamespaceKind, link: &str) -> Result<Namespace> {
    validate::check_pid(pid)?;
    let path = proc_ns_path(&pid.to_string(), link);
    let target = || Target::Process {
        pid,
        kind: Some(kind),
    };
    let fd = match open_ro(&path) {
        Ok(fd) => fd,
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {
            return Err(Error::NoSuchProcess { pid });
        }
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) && link == "pid_for_children" => {
            return pid_for_children_by_pidfd(pid);
        }
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
            // A missing link means a kernel without this kind only if our own link is missing
            // too: an exited process that is not yet reaped (a zombie) keeps its /proc
            // directory but has no namespaces left except user and pid.
            let kernel_has_kind = proc_ns_path("thread-self", link).exists();
            return Err(
                if !kernel_has_kind && Path::new(&format!("/proc/{pid}/ns")).exists() {
                    Error::Unsupported {
                        feature: kind.since(),
                    }
                } else {
                    Error::NoSuchProcess { pid }
                },
            );
        }
        Err(e) => return Err(Error::os(Operation::Open, target(), e)),
    };
    Namespace::with_kind(fd, kind, target)
}

/// Opens the pid namespace for children of `tid` through a pidfd, for when
/// `/proc/<tid>/ns/pid_for_children` reads as missing: the kernel hides that link while the
/// namespace has no process yet (after `unshare(CLONE_NEWPID)`, before the first `fork`).
fn pid_for_children_by_pidfd(tid: u32) -> Result<Namespace> {
    let kind = NamespaceKind::Pid;
    let target = || Target::Process {
        pid: tid,
        kind: Some(kind),
    };
    let unsupported = || Error::Unsupported {
        feature: KernelFeature::PidfdNamespaceIoctls,
    };
    let pidfd = match sys::pidfd_open_thread(tid as i32) {
        Ok(fd) => fd,
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {
            return Err(Error::NoSuchProcess { pid: tid });
        }
        // No pidfd_open, or no PIDFD_THREAD (6.9): the ioctl (6.11) is missing as well.
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOSYS | libc::EINVAL)) => {
            return Err(unsupported());
        }
        Err(e) => return Err(Error::os(Operation::PidfdOpen, target(), e)),
    };
    match sys::pidfd_get_pid_for_children(pidfd.as_fd()) {
        Ok(fd) => Namespace::with_kind(fd, kind, target),
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Err(Error::NoSuchProcess { pid: tid }),
        // An old kernel, or the ioctl refused by policy (seccomp).
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::ENOTTY | libc::EINVAL | libc::ENOSYS)
            ) =>
        {
            Err(unsupported())
        }
        Err(e) => Err(Error::os(Operation::PidfdGetNamespace, target(), e)),
    }
}

fn open_self_link(kind: NamespaceKind, link: &str) -> Result<Namespace> {
    let path = proc_ns_path("thread-self", link);
    let target = || Target::Caller(kind.as_set());
    match open_ro(&path) {
        Ok(fd) => Namespace::with_kind(fd, kind, target),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) && link == "pid_for_children" => {
            pid_for_children_by_pidfd(rustix::thread::gettid().as_raw_nonzero().get() as u32)
        }
        Err(e)
            if e.raw_os_error() == Some(libc::ENOENT)
                && Path::new("/proc/thread-self/ns").exists() =>
        {
            Err(Error::Unsupported {
                feature: kind.since(),
            })
        }
        Err(e) => Err(Error::os(Operation::Open, Target::Path(path), e)),
    }
}

/// Whether the `PIDFD_GET_*_NAMESPACE` ioctls work here (else `/proc` is used).
static PIDFD_IOCTLS: Probe = Probe::new();

/// The pid (in the caller's pid namespace) of the process a pidfd refers to, from the `Pid:`
/// line of `/proc/self/fdinfo/<fd>` (Linux 5.3). `None` if the fd is not a pidfd; `Some(-1)`
/// if the process has been reaped.
pub(crate) fn pidfd_pid(pidfd: BorrowedFd<'_>) -> Result<Option<i64>> {
    let path = format!("/proc/self/fdinfo/{}", pidfd.as_raw_fd());
    let text = std::fs::read_to_string(&path)
        .map_err(|e| Error::os(Operation::ReadProc, Target::Path(path.into()), e))?;
    Ok(text
        .lines()
        .find_map(|l| l.strip_prefix("Pid:"))
        .and_then(|v| v.trim().parse().ok()))
}

impl Namespace {
    /// Wraps an fd already known to be a namespace of `kind`; reads its id.
    fn with_kind(
        fd: OwnedFd,
        kind: NamespaceKind,
        target: impl FnOnce() -> Target,
    ) -> Result<Self> {
        let id = NamespaceId::of_fd(fd.as_fd(), kind, target)?;
        Ok(Namespace { fd, id })
    }

    /// Checks that `fd` is an nsfs file and finds its kind (`fstatfs(2)` and `NS_GET_NSTYPE`).
    fn checked(fd: OwnedFd, target: impl Fn() -> Target) -> Result<Self> {
        let fs =
            rustix::fs::fstatfs(&fd).map_err(|e| Error::os(Operation::Stat, target(), e.into()))?;
        if fs.f_type as i64 != sys::NSFS_MAGIC {
            return Err(Error::NotANamespace { target: target() });
        }
        let flag = sys::ns_get_nstype(fd.as_fd()).map_err(|e| {
            if e.raw_os_error() == Some(libc::ENOTTY) {
                Error::Unsupported {
                    feature: KernelFeature::NsGetNstype,
                }
            } else {
                Error::os(Operation::GetType, target(), e)
            }
        })?;
        let kind = NamespaceKind::from_clone_flag(flag)
            .ok_or_else(|| Error::NotANamespace { target: target() })?;
        Self::with_kind(fd, kind, target)
    }

    /// Opens the namespace of `kind` that process `pid` is in (`/proc/<pid>/ns/<kind>`).
    ///
    /// `pid` is a pid in the caller's pid namespace, as `/proc` shows it. Opening another user's
    /// process needs ptrace read access to it (same uid, or `CAP_SYS_PTRACE`).
    ///
    /// # Errors
    /// [`Error::NoSuchProcess`] if there is no such process; [`Error::Unsupported`] if the
    /// kernel lacks this kind; [`Error::Os`] with `EACCES` without ptrace access.
    ///
    /// # References
    ///  - [namespaces(7)](https://man7.org/linux/man-pages/man7/namespaces.7.html),
    ///    [open(2)](https://man7.org/linux/man-pages/man2/open.2.html)
    pub fn open(pid: u32, kind: NamespaceKind) -> Result<Self> {
        open_proc_link(pid, kind, kind.proc_name())
    }

    /// Opens the pid or time namespace that future children of `pid` will be created in
    /// (`/proc/<pid>/ns/pid_for_children`, `time_for_children`). For other kinds this is
    /// [`open`](Self::open).
    ///
    /// # Errors
    /// [`Error::Os`] if the process is gone (`ENOENT`/`ESRCH`) or may not be inspected
    /// (`EACCES`/`EPERM`), [`Error::InvalidInput`] for pid 0 or above `i32::MAX`.
    ///
    /// # References
    ///  - [pid_namespaces(7)](https://man7.org/linux/man-pages/man7/pid_namespaces.7.html),
    ///    [time_namespaces(7)](https://man7.org/linux/man-pages/man7/time_namespaces.7.html)
    pub fn open_for_children(pid: u32, kind: NamespaceKind) -> Result<Self> {
        open_proc_link(
            pid,
            kind,
            kind.for_children_proc_name().unwrap_or(kind.proc_name()),
        )
    }

    /// Opens the calling thread's namespace of `kind` (`/proc/thread-self/ns/<kind>`).
    ///
    /// # Errors
    /// [`Error::Unsupported`] if the kernel lacks the kind,
    /// [`Error::Os`] if the link cannot be opened (no `/proc` mounted).
    ///
    /// # References
    ///  - [namespaces(7)](https://man7.org/linux/man-pages/man7/namespaces.7.html),
    ///    [proc_pid_ns(5)](https://man7.org/linux/man-pages/man5/proc_pid_ns.5.html)
    pub fn current(kind: NamespaceKind) -> Result<Self> {
        open_self_link(kind, kind.proc_name())
    }

    /// The calling thread's pid or time namespace *for children*
    /// (`/proc/thread-self/ns/pid_for_children`, `time_for_children`): after `unshare(2)` of
    /// those kinds the caller stays where it was and only its children are in the new
    /// namespace. For other kinds this is [`current`](Self::current).
    ///
    /// The kernel hides `pid_for_children` while that pid namespace has no process yet (after
    /// `unshare(CLONE_NEWPID)`, before the first `fork`); the namespace is then opened through
    /// `PIDFD_GET_PID_FOR_CHILDREN_NAMESPACE` on a pidfd of the calling thread (Linux 6.11,
    /// else [`Error::Unsupported`]). [`open_for_children`](Self::open_for_children) does the same.
    ///
    /// # Errors
    /// [`Error::Unsupported`] if the kernel lacks the kind,
    /// [`Error::Os`] if the link cannot be opened (no `/proc` mounted).
    ///
    /// # References
    ///  - [proc_pid_ns(5)](https://man7.org/linux/man-pages/man5/proc_pid_ns.5.html),
    ///    [pid_namespaces(7)](https://man7.org/linux/man-pages/man7/pid_namespaces.7.html),
    ///    [ioctl_pidfd(2)](https://man7.org/linux/man-pages/man2/ioctl_pidfd.2.html)
    pub fn current_for_children(kind: NamespaceKind) -> Result<Self> {
        open_self_link(
            kind,
            kind.for_children_proc_name().unwrap_or(kind.proc_name()),
        )
    }

    /// Opens a namespace file by path: a `/proc/<pid>/ns/*` link or a bind mount of one such as
    /// `/run/netns/NAME`.
    ///
    /// The path is first opened with `O_PATH` (which runs no device's open routine and never
    /// blocks on a FIFO) and checked to be an nsfs file; then exactly that object is opened
    /// for reading, through `/proc/thread-self/fd/<probe>`, so a file swapped in at the path
    /// meanwhile is never opened. Without `/proc` mounted, the path is opened again (with
    /// `O_NONBLOCK | O_NOCTTY`) and the result kept only if it is the same file.
    ///
    /// # Errors
    /// [`Error::NotANamespace`] if the path is not an nsfs file (a regular file, a directory, an
    /// empty mount point), [`Error::Os`] with `ENOENT` if it does not exist.
    ///
    /// # References
    ///  - [open(2)](https://man7.org/linux/man-pages/man2/open.2.html) (`O_PATH`),
    ///    [proc_pid_fd(5)](https://man7.org/linux/man-pages/man5/proc_pid_fd.5.html),
    ///    [ioctl_nsfs(2)](https://man7.org/linux/man-pages/man2/ioctl_nsfs.2.html) (`NS_GET_NSTYPE`)
    pub fn from_path(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        validate::check_path("namespace path", path)?;
        let target = || Target::Path(path.to_path_buf());
        // Look before opening: an O_PATH open has no side effects (a device node's open
        // routine does not run, a FIFO does not block), so only nsfs files are ever really
        // opened, and the object opened is the one looked at, not what the path leads to now.
        let probe = rustix::fs::open(path, OFlags::PATH | OFlags::CLOEXEC, Mode::empty())
            .map_err(|e| Error::os(Operation::Open, target(), e.into()))?;
        let fs = rustix::fs::fstatfs(&probe)
            .map_err(|e| Error::os(Operation::Stat, target(), e.into()))?;
        if fs.f_type as i64 != sys::NSFS_MAGIC {
            return Err(Error::NotANamespace { target: target() });
        }
        let fd = match reopen(probe.as_fd()) {
            Ok(fd) => fd,
            // No /proc: reopen by path, and keep the result only if it is the object checked.
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) && !proc_fd_dir_exists() => {
                let fd = open_ro(path).map_err(|e| Error::os(Operation::Open, target(), e))?;
                if !same_file(fd.as_fd(), probe.as_fd()) {
                    return Err(Error::NotANamespace { target: target() });
                }
                fd
            }
            Err(e) => return Err(Error::os(Operation::Open, target(), e)),
        };
        Self::checked(fd, target)
    }

    /// Opens the namespace of `kind` of the process a pidfd refers to.
    ///
    /// Uses the `PIDFD_GET_<KIND>_NAMESPACE` ioctl (Linux 6.11). On older kernels it reads the
    /// pid from `/proc/self/fdinfo`, opens `/proc/<pid>/ns/<kind>` and then checks through the
    /// pidfd that the process is still alive, so a recycled pid is never opened by mistake.
    ///
    /// # Errors
    /// [`Error::NoSuchProcess`] (pid 0 in the error when unknown) if the process has exited;
    /// [`Error::InvalidInput`] if the fd is not a pidfd.
    ///
    /// # References
    ///  - [pidfd_open(2)](https://man7.org/linux/man-pages/man2/pidfd_open.2.html),
    ///    [ioctl_pidfd(2)](https://man7.org/linux/man-pages/man2/ioctl_pidfd.2.html)
    #[doc(alias = "PIDFD_GET_NET_NAMESPACE")]
    pub fn from_pidfd(pidfd: BorrowedFd<'_>, kind: NamespaceKind) -> Result<Self> {
        let target = || Target::Pidfd(kind.as_set());
        if PIDFD_IOCTLS.get() != Probed::Absent {
            match sys::pidfd_get_namespace(pidfd, kind) {
                Ok(fd) => {
                    PIDFD_IOCTLS.set(Probed::Present);
                    return Self::with_kind(fd, kind, target);
                }
                Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {
                    return Err(Error::NoSuchProcess { pid: 0 });
                }
                Err(e)
                    if matches!(
                        e.raw_os_error(),
                        Some(libc::ENOTTY | libc::ENOSYS | libc::EINVAL | libc::EPERM)
                    ) =>
                {
                    // An old kernel, an ioctl refused by policy (seccomp, an LSM: for missing
                    // ptrace access the kernel itself answers EACCES), or not a pidfd;
                    // /proc/self/fdinfo tells which.
                }
                Err(e) if e.raw_os_error() == Some(libc::EOPNOTSUPP) => {
                    return Err(Error::Unsupported {
                        feature: kind.since(),
                    });
                }
                Err(e) => return Err(Error::os(Operation::PidfdGetNamespace, target(), e)),
            }
        }
        let pid = match pidfd_pid(pidfd)? {
            None => {
                return Err(Error::invalid(
                    "pidfd",
                    format!("fd {} is not a pidfd", pidfd.as_raw_fd()),
                ));
            }
            Some(pid) if pid <= 0 => return Err(Error::NoSuchProcess { pid: 0 }),
            Some(pid) => pid as u32,
        };
        // The fd was a pidfd, so the ioctl failure meant an old kernel: stop asking.
        PIDFD_IOCTLS.set(Probed::Absent);
        let ns = Self::open(pid, kind)?;
        // The pid might have been recycled between reading fdinfo and opening /proc/<pid>:
        // if the pidfd's process is still alive, the pid still names it.
        match sys::pidfd_is_alive(pidfd) {
            Ok(true) => Ok(ns),
            Ok(false) => Err(Error::NoSuchProcess { pid }),
            Err(e) => Err(Error::os(Operation::PidfdGetNamespace, target(), e)),
        }
    }

    /// Opens the network namespace a socket belongs to: the one it was created in, which stays
    /// its namespace wherever the socket is passed (`SIOCGSKNS`, Linux 4.9).
    ///
    /// A socket keeps its network namespace alive, so this reaches a namespace that no process
    /// is in and no bind mount holds (as `nsenter --net-socket` and `lsns` do). To reach a
    /// socket of another process, duplicate it first with [`PidFd::get_fd`](crate::PidFd::get_fd).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] if the fd is not a socket; [`Error::Os`] from the ioctl (`EPERM`
    /// without `CAP_NET_ADMIN` in the user namespace that owns the socket's network namespace).
    ///
    /// # Examples
    /// ```
    /// use linux_namespaces::{Namespace, NamespaceKind};
    /// use std::os::fd::AsFd;
    ///
    /// let socket = std::net::UdpSocket::bind("127.0.0.1:0")?;
    /// let ns = Namespace::from_socket(socket.as_fd())?;
    /// assert_eq!(ns.id(), Namespace::current(NamespaceKind::Network)?.id());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # References
    ///  - [socket(7)](https://man7.org/linux/man-pages/man7/socket.7.html),
    ///    [network_namespaces(7)](https://man7.org/linux/man-pages/man7/network_namespaces.7.html),
    ///    [ioctl_nsfs(2)](https://man7.org/linux/man-pages/man2/ioctl_nsfs.2.html)
    #[doc(alias = "SIOCGSKNS")]
    pub fn from_socket(socket: BorrowedFd<'_>) -> Result<Self> {
        let raw = socket.as_raw_fd();
        match sys::socket_netns(socket) {
            Ok(fd) => Self::with_kind(fd, NamespaceKind::Network, || Target::Fd(raw)),
            Err(e) if e.raw_os_error() == Some(libc::ENOTTY) => {
                // ENOTTY is also what a kernel without SIOCGSKNS answers for a socket.
                if rustix::fs::fstat(socket)
                    .is_ok_and(|st| rustix::fs::FileType::from_raw_mode(st.st_mode).is_socket())
                {
                    Err(Error::Unsupported {
                        feature: KernelFeature::SocketNamespace,
                    })
                } else {
                    Err(Error::invalid(
                        "socket",
                        format!("fd {raw} is not a socket"),
                    ))
                }
            }
            Err(e) => Err(Error::os(Operation::SocketNamespace, Target::Fd(raw), e)),
        }
    }

    /// Moves the calling thread into this namespace (`setns(2)`).
    ///
    /// Needs `CAP_SYS_ADMIN` in the user namespace that owns the target (for a user namespace:
    /// in the target itself). Entering a pid namespace affects only children created
    /// afterwards (`pid_for_children`); entering a time namespace moves the caller and its
    /// future children. The kernel refuses to move a multithreaded process into a user or
    /// mount namespace (`EINVAL`) or a time namespace (`EUSERS`); the error then carries
    /// [`Hint::MultiThreaded`](crate::Hint::MultiThreaded).
    ///
    /// # Errors
    /// [`Error::Os`] from `setns(2)` with a hint: `EINVAL` for a user or mount
    /// namespace entered by a multithreaded caller, `EPERM` without `CAP_SYS_ADMIN` in the
    /// namespace's owning user namespace.
    ///
    /// # References
    ///  - [setns(2)](https://man7.org/linux/man-pages/man2/setns.2.html)
    #[doc(alias = "setns")]
    pub fn enter(&self) -> Result<()> {
        rustix::thread::move_into_link_name_space(self.fd.as_fd(), Some(self.kind().setns_type()))
            .map_err(|e| Error::os(Operation::Setns, Target::Namespace(self.id), e.into()))
    }

    /// The namespace's id: device and inode of the nsfs file (`fstat(2)`, read once when the
    /// handle was made).
    pub fn id(&self) -> NamespaceId {
        self.id
    }

    /// The namespace's kind (`NS_GET_NSTYPE`, or known from the link it was opened by).
    pub fn kind(&self) -> NamespaceKind {
        self.id.kind
    }

    /// Returns `self` if it is of `kind`, else [`Error::WrongKind`] (the fd is closed). Checks
    /// up front what `setns(2)` with a non-zero `nstype` would refuse with `EINVAL`.
    ///
    /// # Errors
    /// [`Error::WrongKind`] if the handle is of another kind.
    pub fn ensure_kind(self, kind: NamespaceKind) -> Result<Self> {
        if self.kind() == kind {
            Ok(self)
        } else {
            Err(Error::WrongKind {
                target: Target::Namespace(self.id),
                expected: kind,
                found: self.kind(),
            })
        }
    }

    /// The parent of a pid or user namespace (`NS_GET_PARENT`, Linux 4.9).
    ///
    /// # Errors
    /// [`Error::NotApplicable`] for the other kinds; [`Error::OutOfScope`] for the initial
    /// namespace or when the parent lies outside the caller's own namespace.
    ///
    /// # References
    ///  - [ioctl_nsfs(2)](https://man7.org/linux/man-pages/man2/ioctl_nsfs.2.html)
    #[doc(alias = "NS_GET_PARENT")]
    pub fn parent(&self) -> Result<Namespace> {
        if !self.kind().is_hierarchical() {
            return Err(Error::NotApplicable {
                op: Operation::GetParent,
                kind: self.kind(),
                applies_to: "pid and user",
            });
        }
        self.related(sys::ns_get_parent, Operation::GetParent, self.kind())
    }

    /// The user namespace that owns this namespace (`NS_GET_USERNS`, Linux 4.9). For a user
    /// namespace that is its parent.
    ///
    /// # Errors
    /// [`Error::OutOfScope`] when the owner lies outside the caller's user namespace.
    ///
    /// # References
    ///  - [ioctl_nsfs(2)](https://man7.org/linux/man-pages/man2/ioctl_nsfs.2.html)
    #[doc(alias = "NS_GET_USERNS")]
    pub fn owner(&self) -> Result<Namespace> {
        self.related(sys::ns_get_userns, Operation::GetOwner, NamespaceKind::User)
    }

    fn related(
        &self,
        ioctl: fn(BorrowedFd<'_>) -> io::Result<OwnedFd>,
        op: Operation,
        kind: NamespaceKind,
    ) -> Result<Namespace> {
        match ioctl(self.fd.as_fd()) {
            Ok(fd) => Self::with_kind(fd, kind, || Target::Namespace(self.id)),
            Err(e) if e.raw_os_error() == Some(libc::EPERM) => {
                Err(Error::OutOfScope { op, ns: self.id })
            }
            Err(e) => Err(Error::os(op, Target::Namespace(self.id), e)),
        }
    }

    /// The uid (in the caller's user namespace) of the process that created this user namespace
    /// (`NS_GET_OWNER_UID`, Linux 4.11).
    ///
    /// # Errors
    /// [`Error::NotApplicable`] for kinds other than user.
    ///
    /// # References
    ///  - [ioctl_nsfs(2)](https://man7.org/linux/man-pages/man2/ioctl_nsfs.2.html)
    #[doc(alias = "NS_GET_OWNER_UID")]
    pub fn owner_uid(&self) -> Result<u32> {
        if self.kind() != NamespaceKind::User {
            return Err(Error::NotApplicable {
                op: Operation::GetOwnerUid,
                kind: self.kind(),
                applies_to: "user",
            });
        }
        sys::ns_get_owner_uid(self.fd.as_fd())
            .map_err(|e| Error::os(Operation::GetOwnerUid, Target::Namespace(self.id), e))
    }

    /// A second handle to the same namespace (`fcntl(F_DUPFD_CLOEXEC)`).
    ///
    /// # Errors
    /// [`Error::Os`] if the fd cannot be duplicated (`EMFILE`).
    ///
    /// # References
    ///  - [fcntl(2)](https://man7.org/linux/man-pages/man2/fcntl.2.html)
    pub fn try_clone(&self) -> Result<Namespace> {
        let fd = self
            .fd
            .try_clone()
            .map_err(|e| Error::os(Operation::Open, Target::Namespace(self.id), e))?;
        Ok(Namespace { fd, id: self.id })
    }
}

impl AsFd for Namespace {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for Namespace {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl From<Namespace> for OwnedFd {
    fn from(ns: Namespace) -> OwnedFd {
        ns.fd
    }
}

impl TryFrom<OwnedFd> for Namespace {
    type Error = Error;

    /// Checks that `fd` is a namespace (`fstatfs(2)` for nsfs, then `NS_GET_NSTYPE` for its
    /// kind). Anything else is [`Error::NotANamespace`] and the fd is closed.
    fn try_from(fd: OwnedFd) -> Result<Self> {
        let raw = fd.as_raw_fd();
        Self::checked(fd, || Target::Fd(raw))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn link_text_round_trips(k in proptest::sample::select(NamespaceKind::ALL.to_vec()), ino in any::<u64>(), dev in any::<u64>()) {
            let id = NamespaceId::new(k, dev, ino);
            prop_assert_eq!(NamespaceId::parse_link(&id.to_string(), dev).unwrap(), id);
        }

        #[test]
        fn malformed_link_text_is_rejected(s in "\\PC{0,24}") {
            let parsed = NamespaceId::parse_link(&s, 0);
            let well_formed = s.split_once(":[").is_some_and(|(name, rest)| {
                NamespaceKind::from_proc_name(name).is_some()
                    && rest.strip_suffix(']').is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()) && d.parse::<u64>().is_ok())
            });
            prop_assert_eq!(parsed.is_ok(), well_formed);
        }
    }

    #[test]
    fn link_text_examples() {
        assert_eq!(
            NamespaceId::parse_link("net:[4026531840]", 4)
                .unwrap()
                .ino(),
            4026531840
        );
        for bad in [
            "net:[]",
            "net:[12",
            "net[12]",
            "pid_for_children:[1]",
            "net:[-1]",
            "net:[1]x",
            "net:[18446744073709551616]",
        ] {
            assert!(NamespaceId::parse_link(bad, 0).is_err(), "{bad}");
        }
    }
}
