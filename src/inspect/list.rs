//! The system-wide listing behind `lsns(8)`: [`list`].

use std::collections::{HashMap, HashSet};
use std::os::fd::{AsFd, BorrowedFd};
use std::path::PathBuf;

use super::describe::{Job, describe_all};
use super::fds;
use super::scan::scan;
use super::{nsfs_dev, proc_dir};
use crate::error::{Error, Operation, Result, Target};
use crate::kind::{NamespaceKind, NamespaceSet};
use crate::namespace::{Namespace, NamespaceId};
use crate::persist::{self, MountTable};
use crate::sys;

/// One namespace in a system-wide [`list`]: what `lsns(8)` shows, and its place in the
/// hierarchy.
///
/// # References
///  - [lsns(8)](https://man7.org/linux/man-pages/man8/lsns.8.html),
///    [ioctl_nsfs(2)](https://man7.org/linux/man-pages/man2/ioctl_nsfs.2.html)
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct NamespaceInfo {
    /// Its id (the NS column of `lsns` is `id.ino()`).
    pub id: NamespaceId,
    /// The processes found in it during the scan, ascending. Empty for a namespace that only a
    /// bind mount keeps alive.
    pub pids: Vec<u32>,
    /// The lowest of [`pids`](Self::pids) that was still in the namespace and readable when
    /// the details were read (the PID column of `lsns`). `None` if there was none.
    pub pid: Option<u32>,
    /// The parent of that process (field 4 of `/proc/<pid>/stat`, read through the same
    /// directory fd as the other details): the PPID column of `lsns`. `None` when
    /// [`pid`](Self::pid) is.
    pub ppid: Option<u32>,
    /// The owner of `/proc/<pid>` for that process (`fstat(2)`): its effective uid, or root
    /// if it is not dumpable; the uid `lsns` shows in its UID and USER columns. `None` for a
    /// namespace without a process: `lsns` then shows [`owner_uid`](Self::owner_uid) as USER
    /// (and UID).
    pub uid: Option<u32>,
    /// That process's command line, its arguments separated by spaces; for a process without
    /// one (a kernel thread), its command name (`comm`). The COMMAND column of `lsns`.
    pub command: Option<String>,
    /// The uid that created the user namespace owning this one (for a user namespace: this
    /// one), from `NS_GET_OWNER_UID`. Read for every namespace the listing could open, however
    /// it was found (process, bind mount, open fd or socket); for a namespace without a process
    /// it is what `lsns` shows as USER.
    pub owner_uid: Option<u32>,
    /// The parent of a pid or user namespace, from `NS_GET_PARENT` (PNS of `lsns`). `None` for
    /// other kinds, for the initial namespaces and when the parent is out of the caller's reach.
    pub parent: Option<NamespaceId>,
    /// The user namespace that owns it, from `NS_GET_USERNS` (ONS of `lsns`). `None` when the
    /// owner is out of the caller's reach.
    pub owner: Option<NamespaceId>,
    /// Mount points (in the caller's mount namespace) of nsfs bind mounts of it, as made by
    /// [`Namespace::persist`](crate::Namespace::persist) or `ip netns add`.
    pub mounts: Vec<PathBuf>,
    /// Open file descriptors that hold it, as `(pid, fd)`, ascending: an nsfs fd
    /// (`/proc/<pid>/fd/<fd>` leading to the namespace file, such as an open
    /// `/proc/<pid>/ns/net`), or, for a network namespace, a socket created in it
    /// (`SIOCGSKNS`). Filled only for namespaces that no scanned process is in, so a
    /// namespace with `fds` has empty [`pids`](Self::pids) (NPROCS 0 in `lsns`).
    pub fds: Vec<(u32, i32)>,
}

impl NamespaceInfo {
    /// Number of processes in it (NPROCS of `lsns`): the length of [`pids`](Self::pids).
    pub fn nprocs(&self) -> usize {
        self.pids.len()
    }

    /// A namespace with nothing known of it but its id.
    pub(super) fn bare(id: NamespaceId) -> NamespaceInfo {
        NamespaceInfo {
            id,
            pids: Vec::new(),
            pid: None,
            ppid: None,
            uid: None,
            command: None,
            owner_uid: None,
            parent: None,
            owner: None,
            mounts: Vec::new(),
            fds: Vec::new(),
        }
    }

    /// Opens the namespace again, for `ioctl_nsfs(2)` queries or `setns(2)`: through the first
    /// route that still leads to it, checking the id (device and inode) each time, so a pid
    /// recycled or a mount replaced since the listing is never taken for it:
    ///
    /// 1. `/proc/<pid>/ns/<kind>` of each of [`pids`](Self::pids), lowest first;
    /// 2. each of [`mounts`](Self::mounts) ([`Namespace::from_path`], which opens nothing
    ///    but an nsfs file);
    /// 3. each of [`fds`](Self::fds): `/proc/<pid>/fd/<fd>` opened `O_PATH` and looked at
    ///    (`fstat(2)`); an nsfs file of this namespace is then reopened for reading through
    ///    it (ptrace read access to the holder suffices); a socket is duplicated from its
    ///    process with `pidfd_getfd(2)` (as [`PidFd::get_fd`](crate::PidFd::get_fd); ptrace
    ///    attach access), checked to be the same socket, and asked for its network namespace
    ///    (`SIOCGSKNS`, as [`Namespace::from_socket`]).
    ///
    /// # Errors
    /// The error of the last route tried when none leads to the namespace any more (all
    /// its processes have exited or moved, its mounts and fds are gone) or none may be
    /// used: from the pids, [`Error::NoSuchProcess`] or [`Error::Os`] with `EACCES`; from
    /// the mounts, as for [`Namespace::from_path`]; [`Error::Os`] with `ENOENT` when the
    /// held fds lead nowhere (closed, or `pidfd_getfd(2)` or `SIOCGSKNS` refused) and when
    /// the listing found no route at all (a namespace listed only as the owner or parent of
    /// another).
    ///
    /// # References
    ///  - [proc_pid_ns(5)](https://man7.org/linux/man-pages/man5/proc_pid_ns.5.html),
    ///    [pidfd_getfd(2)](https://man7.org/linux/man-pages/man2/pidfd_getfd.2.html),
    ///    [ioctl_nsfs(2)](https://man7.org/linux/man-pages/man2/ioctl_nsfs.2.html),
    ///    [socket(7)](https://man7.org/linux/man-pages/man7/socket.7.html) (`SIOCGSKNS`)
    pub fn open(&self) -> Result<Namespace> {
        let id = self.id;
        let gone = || {
            Error::os(
                Operation::Open,
                Target::Namespace(id),
                std::io::Error::from_raw_os_error(libc::ENOENT),
            )
        };
        let mut last = gone();
        let checked = |r: Result<Namespace>, last: &mut Error| match r {
            Ok(ns) if ns.id() == id => Some(ns),
            Ok(_) => {
                *last = gone();
                None
            }
            Err(e) => {
                *last = e;
                None
            }
        };
        for &pid in &self.pids {
            if let Some(ns) = checked(Namespace::open(pid, id.kind()), &mut last) {
                return Ok(ns);
            }
        }
        for path in &self.mounts {
            if let Some(ns) = checked(Namespace::from_path(path), &mut last) {
                return Ok(ns);
            }
        }
        if !self.fds.is_empty() {
            // open_held checks that the fd leads to this very namespace (device and inode).
            let proc = proc_dir()?;
            if let Some(fd) = fds::open_any_held(proc.as_fd(), &self.fds, id) {
                return Namespace::try_from(fd);
            }
            last = gone();
        }
        Err(last)
    }
}

/// What [`list_with`] looks at besides the processes in `/proc`, and which related namespaces
/// it adds. [`ListOptions::new`] gives what `lsns(8)` lists by default, which is what [`list`]
/// does.
///
/// How `lsns` options and columns map onto the listing: `--type` is the kinds given here;
/// `--tree=owner` and `--tree=parent` want [`all_relatives(true)`](Self::all_relatives) (and
/// [`owner`](NamespaceInfo::owner), [`parent`](NamespaceInfo::parent)); `--persistent` shows
/// the entries with no [`pids`](NamespaceInfo::pids); NSFS is
/// [`mounts`](NamespaceInfo::mounts); PPID is [`ppid`](NamespaceInfo::ppid); USER and UID are
/// [`uid`](NamespaceInfo::uid), or [`owner_uid`](NamespaceInfo::owner_uid) for a namespace
/// without a process; NETNSID (feature `net`) is `Netlink::nsid_of` of the caller's network
/// namespace asked about [`NamespaceInfo::open`].
///
/// # References
///  - [lsns(8)](https://man7.org/linux/man-pages/man8/lsns.8.html)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListOptions {
    kinds: NamespaceSet,
    fds: bool,
    all_relatives: bool,
    relations: bool,
    threads: usize,
}

impl ListOptions {
    /// Namespaces of the kinds in `kinds`, found through processes, nsfs bind mounts and
    /// open fds (nsfs fds, and sockets for network namespaces), with the owners and parents
    /// of those found only through a mount or an fd: the default listing of `lsns(8)`.
    pub fn new(kinds: NamespaceSet) -> ListOptions {
        ListOptions {
            kinds,
            fds: true,
            all_relatives: false,
            relations: true,
            threads: 1,
        }
    }

    /// Whether to scan every process's open fds (`/proc/<pid>/fd`) for namespaces held only
    /// that way (default: yes). Without it the listing misses those, and costs about half as
    /// much.
    pub fn open_fds(mut self, scan: bool) -> ListOptions {
        self.fds = scan;
        self
    }

    /// Whether to add the owner and parent of every listed namespace that is not listed
    /// otherwise (the "ghost" namespaces that `lsns --tree=owner` and `--tree=parent` show,
    /// such as a user namespace no process is in that owns another process's network
    /// namespace), recursively. Default: only those of namespaces found through a mount or
    /// an fd, as `lsns` without `--tree` does.
    pub fn all_relatives(mut self, all: bool) -> ListOptions {
        self.all_relatives = all;
        self
    }

    /// Whether to read the owner, parent and owner uid ([`owner`](NamespaceInfo::owner),
    /// [`parent`](NamespaceInfo::parent), [`owner_uid`](NamespaceInfo::owner_uid)) of the
    /// namespaces shown through a process (default: yes). Each costs an `open(2)` of the
    /// namespace and two or three `ioctl_nsfs(2)` calls, about a tenth of a listing, and
    /// `lsns`'s default columns show none of them: without, the process's link is checked
    /// with one `readlinkat(2)` instead, and those fields are `None`. A namespace without a
    /// process gets them either way (its owner uid is the USER `lsns` shows for it), and so
    /// does one whose owner and parent are listed too, as `lsns` lists them: one that an open
    /// fd also holds, and with [`all_relatives`](Self::all_relatives) every one.
    pub fn relations(mut self, read: bool) -> ListOptions {
        self.relations = read;
        self
    }

    /// How many threads do the listing (the calling one included; default 1, so no thread
    /// is started). The processes are shared out among them for the scan (each reads its
    /// processes' links and fds), and then the namespaces for the details (each opens its
    /// share's namespaces and reads their processes' command lines); the listing is the same
    /// whatever the count. Fewer threads are used below 32 processes, or 32 namespaces, per
    /// thread; and where the system will not start a thread (`EAGAIN`: a process or thread
    /// limit), its share is done on the calling thread. With the bench's crowd of 200
    /// processes (`cargo bench --bench lsns`) on two CPUs, two threads take a listing down by
    /// about a third; more threads than CPUs gain nothing. 0 counts as 1.
    ///
    /// The threads are scoped (`std::thread::scope`): all have returned when [`list_with`]
    /// returns. The kernel may still count an exiting thread for a moment after that, so a
    /// caller that goes on to create or enter a user namespace, or to enter a mount
    /// namespace (which the kernel refuses a multithreaded process with `EINVAL`), keeps
    /// the default.
    ///
    /// # References
    ///  - [pthread_create(3)](https://man7.org/linux/man-pages/man3/pthread_create.3.html),
    ///    [unshare(2)](https://man7.org/linux/man-pages/man2/unshare.2.html),
    ///    [setns(2)](https://man7.org/linux/man-pages/man2/setns.2.html)
    pub fn threads(mut self, n: usize) -> ListOptions {
        self.threads = n.max(1);
        self
    }

    /// The kinds asked for.
    pub fn kinds(&self) -> NamespaceSet {
        self.kinds
    }
}

/// Every namespace of the kinds in `kinds` that a process visible in `/proc` is in, that an
/// nsfs bind mount in the caller's mount namespace keeps alive, or that a process holds
/// through an open fd: the listing of `lsns(8)`. The same as
/// [`list_with(&ListOptions::new(kinds))`](list_with).
///
/// # Errors
/// As for [`list_with`].
///
/// # References
///  - [lsns(8)](https://man7.org/linux/man-pages/man8/lsns.8.html),
///    [proc_pid_ns(5)](https://man7.org/linux/man-pages/man5/proc_pid_ns.5.html)
#[doc(alias = "lsns")]
pub fn list(kinds: NamespaceSet) -> Result<Vec<NamespaceInfo>> {
    list_with(&ListOptions::new(kinds))
}

/// The system-wide listing of `lsns(8)`, with [`ListOptions`]: every namespace of the kinds
/// asked for that
///
/// * a process visible in `/proc` is in ([`pids`](NamespaceInfo::pids));
/// * an nsfs bind mount in the caller's mount namespace keeps alive
///   ([`mounts`](NamespaceInfo::mounts); util-linux 2.38 `lsns` leaves these out);
/// * a process holds through an open fd: an nsfs file (an open `/proc/<pid>/ns/<kind>`, or a
///   bind mount opened and unmounted since) or, for a network namespace, a socket created in
///   it ([`fds`](NamespaceInfo::fds), filled for namespaces no process is in; unless
///   [`open_fds(false)`](ListOptions::open_fds));
/// * is the owner or parent of a namespace found through a mount or an fd (or of any listed
///   one, with [`all_relatives`](ListOptions::all_relatives)) and is not listed otherwise:
///   these have no pids, mounts or fds.
///
/// Details:
///
/// * Processes are the thread-group leaders `/proc` lists; a thread that entered a namespace
///   of its own, or has an fd table of its own, is not looked at (neither does `lsns`).
/// * A process whose namespaces or fds the caller may not read (another user's, without
///   `CAP_SYS_PTRACE`; `EACCES` from procfs) is passed over, as `lsns` does; so an
///   unprivileged caller sees the namespaces of its own processes. A socket's namespace
///   needs more: `pidfd_getfd(2)` (ptrace attach access to the holder; Yama's `ptrace_scope`
///   may refuse it) and `SIOCGSKNS` (`CAP_NET_ADMIN` over the socket's namespace); where
///   either is refused the socket is passed over.
/// * A process that exits during the scan is counted in the namespaces whose links it still
///   had when they were read, and is never an error. A zombie (exited, not yet reaped) keeps
///   its pid and user namespaces alive and is counted in those two only, as `lsns` counts it.
///   A namespace whose only holder closed its fd or exited before the holder could be
///   looked at again is left out.
/// * Details (pid, ppid, uid, command, owner, parent) come from the lowest pid that is still
///   in the namespace when they are read, through one `/proc/<pid>` directory fd, so a pid
///   recycled meanwhile is never described in place of the process that was scanned.
///   Namespaces without a process get owner, parent and owner uid through a mount or a held
///   fd, each opened only after checking that it leads to the namespace.
///
/// Sorted by inode (like `lsns`), then kind. Runs on the calling thread and starts no thread,
/// unless [`threads`](ListOptions::threads) asks for more.
///
/// Cost: for each process one `openat(2)` and one `readlinkat(2)` per kind, and with the fd
/// scan an `openat(2)` and `getdents64(2)` of its fd directory and one `statx(2)` per fd;
/// for each process with a socket not seen before a `pidfd_open(2)`, and per such socket a
/// `pidfd_getfd(2)` and a `getsockopt(2)` of its namespace cookie (`SO_NETNS_COOKIE`;
/// `SIOCGSKNS` once per cookie); for each
/// namespace found an `open(2)` of its link and a few `ioctl_nsfs(2)` calls (one
/// `readlinkat(2)` instead without [`relations`](ListOptions::relations)); for each
/// process shown a `fstat(2)` and reads of its `cmdline` and `stat`; and one read of
/// `/proc/self/mountinfo`. [`threads`](ListOptions::threads) shares the per-process and
/// per-namespace parts out.
///
/// # Errors
/// [`Error::Os`] only if `/proc` itself cannot be read, or an unexpected errno (such as
/// `EMFILE`) stops the scan.
///
/// # References
///  - [lsns(8)](https://man7.org/linux/man-pages/man8/lsns.8.html),
///    [proc_pid_ns(5)](https://man7.org/linux/man-pages/man5/proc_pid_ns.5.html),
///    [proc_pid_fd(5)](https://man7.org/linux/man-pages/man5/proc_pid_fd.5.html),
///    [readlink(2)](https://man7.org/linux/man-pages/man2/readlink.2.html),
///    [statx(2)](https://man7.org/linux/man-pages/man2/statx.2.html),
///    [pidfd_getfd(2)](https://man7.org/linux/man-pages/man2/pidfd_getfd.2.html),
///    [getsockopt(2)](https://man7.org/linux/man-pages/man2/getsockopt.2.html),
///    [ioctl_nsfs(2)](https://man7.org/linux/man-pages/man2/ioctl_nsfs.2.html),
///    [proc_pid_mountinfo(5)](https://man7.org/linux/man-pages/man5/proc_pid_mountinfo.5.html)
#[doc(alias = "lsns")]
pub fn list_with(options: &ListOptions) -> Result<Vec<NamespaceInfo>> {
    let kinds = options.kinds;
    if kinds.is_empty() {
        return Ok(Vec::new());
    }
    let dev = nsfs_dev()?;
    let proc = proc_dir()?;
    let sockets = kinds.has(NamespaceKind::Network);
    let (mut found, fd_scan) = scan(
        proc.as_fd(),
        kinds,
        dev,
        options.fds.then_some(sockets),
        options.threads,
    )?;
    // Namespaces whose owners and parents are listed too.
    let mut chase: HashSet<NamespaceId> = HashSet::new();
    let mut mounts: HashMap<NamespaceId, Vec<PathBuf>> = HashMap::new();
    for m in persist::list(MountTable::Caller)? {
        if kinds.has(m.kind()) {
            let pids = found.entry(m.id).or_default();
            if pids.is_empty() {
                chase.insert(m.id);
            }
            mounts.entry(m.id).or_default().push(m.path);
        }
    }
    let mut fds: HashMap<NamespaceId, Vec<(u32, i32)>> = HashMap::new();
    if let Some(fd_scan) = fd_scan {
        let by_ino: HashMap<u64, NamespaceId> = found.keys().map(|id| (id.ino(), *id)).collect();
        for (ino, held) in fd_scan.held {
            let mut holders = held.holders;
            holders.sort_unstable();
            holders.dedup();
            let id = match by_ino.get(&ino) {
                Some(id) => *id,
                // Not a namespace of a scanned process or a mount: which kind it is, the
                // fd itself tells (NS_GET_NSTYPE).
                None => match identify(proc.as_fd(), &holders, dev, ino) {
                    Some(id) if kinds.has(id.kind()) => id,
                    _ => continue,
                },
            };
            chase.insert(id);
            if found.entry(id).or_default().is_empty() {
                fds.insert(id, holders);
            }
        }
    }
    let mut entries: Vec<(NamespaceId, Vec<u32>)> = found.into_iter().collect();
    // Namespaces shown through the same process come one after another, so that process's
    // directory is opened once for all of them.
    entries.sort_unstable_by_key(|(id, pids)| (pids.first().copied().unwrap_or(u32::MAX), *id));
    let jobs: Vec<Job> = entries
        .into_iter()
        .map(|(id, pids)| Job {
            mounts: mounts.remove(&id).unwrap_or_default(),
            fds: fds.remove(&id).unwrap_or_default(),
            chase: options.all_relatives || chase.contains(&id),
            id,
            pids,
        })
        .collect();
    let mut out = describe_all(
        proc.as_fd(),
        kinds,
        options.relations,
        jobs,
        options.threads,
    );
    out.sort_unstable_by_key(|n| (n.id.ino(), n.id.kind(), n.id.dev()));
    Ok(out)
}

/// The id of the namespace with inode `ino` that one of `holders` holds (kind by
/// `NS_GET_NSTYPE` on an fd opened through it).
fn identify(
    proc: BorrowedFd<'_>,
    holders: &[(u32, i32)],
    dev: u64,
    ino: u64,
) -> Option<NamespaceId> {
    holders.iter().find_map(|&(pid, fd)| {
        let ns = fds::open_held(proc, pid, fd, dev, ino)?;
        let kind = NamespaceKind::from_clone_flag(sys::ns_get_nstype(ns.as_fd()).ok()?)?;
        Some(NamespaceId::new(kind, dev, ino))
    })
}

/// The scan behind [`list`] without the details: which processes (ascending pids) are in which
/// namespace of the kinds in `kinds`. For [`persist`].
pub(crate) fn processes_by_namespace(
    kinds: NamespaceSet,
) -> Result<HashMap<NamespaceId, Vec<u32>>> {
    if kinds.is_empty() {
        return Ok(HashMap::new());
    }
    let dev = nsfs_dev()?;
    let proc = proc_dir()?;
    Ok(scan(proc.as_fd(), kinds, dev, None, 1)?.0)
}
