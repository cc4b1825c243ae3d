//! The system-wide listing behind `lsns(8)`: [`list`].

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::ffi::CStr;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;

use super::fds::{self, FdScan};
use super::ids::read_links;
use super::{nsfs_dev, parse_pid, proc_dir};
use crate::error::{Error, Operation, Result, Target};
use crate::kind::{NamespaceKind, NamespaceSet};
use crate::namespace::{self, Namespace, NamespaceId};
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
    fn bare(id: NamespaceId) -> NamespaceInfo {
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
/// for each socket inode not seen before a `pidfd_getfd(2)` and `SIOCGSKNS`; for each
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
    let known: HashSet<NamespaceId> = entries.iter().map(|(id, _)| *id).collect();
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
    // Contiguous shares that do not split a process's namespaces, so each process's
    // directory is still opened once.
    let shares = describe_shares(&jobs, threads_for(options.threads, jobs.len()));
    let described = on_threads(shares.len(), |t| {
        let mut describer = Describer {
            proc: proc.as_fd(),
            kinds,
            relations: options.relations || options.all_relatives,
            dir: None,
            shown: HashMap::new(),
            owner_uids: HashMap::new(),
            known: known.clone(),
            relatives: Vec::new(),
        };
        let mut out: Vec<NamespaceInfo> = jobs[shares[t].clone()]
            .iter()
            .map(|job| describer.describe(job))
            .collect();
        out.append(&mut describer.relatives);
        out
    });
    let mut out: Vec<NamespaceInfo> = described.into_iter().flatten().collect();
    // A relative that shares found on their own is listed once.
    out.sort_unstable_by_key(|n| (n.id.ino(), n.id.kind(), n.id.dev()));
    out.dedup_by_key(|n| n.id);
    Ok(out)
}

/// One namespace to describe: what the scan found of it.
struct Job {
    id: NamespaceId,
    pids: Vec<u32>,
    mounts: Vec<PathBuf>,
    fds: Vec<(u32, i32)>,
    /// Whether its owner and parent are listed too.
    chase: bool,
}

/// How many threads to use for `items` pieces of work when `asked` for: below a few dozen
/// pieces per thread, a thread costs more than it saves.
fn threads_for(asked: usize, items: usize) -> usize {
    asked.clamp(1, items / 32 + 1)
}

/// `jobs` (sorted by first pid) cut into at most `n` contiguous ranges of about equal
/// length, each cut moved on past the jobs of the same first pid.
fn describe_shares(jobs: &[Job], n: usize) -> Vec<std::ops::Range<usize>> {
    let first = |j: &Job| j.pids.first().copied();
    let mut shares = Vec::with_capacity(n);
    let mut start = 0;
    for t in 1..=n {
        let mut end = (jobs.len() * t / n).max(start);
        while end > 0 && end < jobs.len() && first(&jobs[end]) == first(&jobs[end - 1]) {
            end += 1;
        }
        if end > start {
            shares.push(start..end);
        }
        start = end;
    }
    if shares.is_empty() {
        shares.push(0..0);
    }
    shares
}

/// Runs `work(share)` for each share in `0..n`: share 0 on the calling thread, the others on
/// scoped threads (or on the calling thread too, if the system will not start one). The
/// results come in share order; a panic in a helper is resumed on the caller.
fn on_threads<T: Send>(n: usize, work: impl Fn(usize) -> T + Sync) -> Vec<T> {
    if n <= 1 {
        return vec![work(0)];
    }
    std::thread::scope(|s| {
        let work = &work;
        let helpers: Vec<_> = (1..n)
            .map(|t| {
                std::thread::Builder::new()
                    .spawn_scoped(s, move || work(t))
                    .map_err(|_| t)
            })
            .collect();
        let mut out = Vec::with_capacity(n);
        out.push(work(0));
        for h in helpers {
            out.push(match h {
                Ok(h) => h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)),
                // No thread (EAGAIN: a process or thread limit): done here instead.
                Err(t) => work(t),
            });
        }
        out
    })
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

/// The scan behind [`list`] without the details: which processes (ascending pids) are in
/// which namespace of the kinds in `kinds`. For [`persist`](crate::persist).
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

/// Which processes (ascending pids) are in which namespace.
type ByNamespace = HashMap<NamespaceId, Vec<u32>>;

/// Reads every process's links: which namespace has which pids; and with `fds` (whether
/// sockets are looked at), every process's open fds. With `threads` above 1 the pids are
/// shared out over that many threads (the calling one included), pid `i` to share
/// `i % threads`, each with a scan of its own, merged at the end.
fn scan(
    proc: BorrowedFd<'_>,
    kinds: NamespaceSet,
    dev: u64,
    fds: Option<bool>,
    threads: usize,
) -> Result<(ByNamespace, Option<FdScan>)> {
    let mut pids = Vec::with_capacity(512);
    let mut buf = vec![MaybeUninit::<u8>::uninit(); 32 * 1024];
    let mut dir = rustix::fs::RawDir::new(proc, &mut buf);
    while let Some(entry) = dir.next() {
        let entry = entry
            .map_err(|e| Error::os(Operation::ReadProc, Target::Path("/proc".into()), e.into()))?;
        if let Some(pid) = parse_pid(entry.file_name().to_bytes()) {
            pids.push(pid);
        }
    }
    scan_shared(
        proc,
        kinds,
        dev,
        fds,
        &pids,
        threads_for(threads, pids.len()),
    )
}

/// The part of [`scan`] after `/proc` is listed: `pids` shared out over `threads` threads.
fn scan_shared(
    proc: BorrowedFd<'_>,
    kinds: NamespaceSet,
    dev: u64,
    fds: Option<bool>,
    pids: &[u32],
    threads: usize,
) -> Result<(ByNamespace, Option<FdScan>)> {
    let mut shares = on_threads(threads, |t| {
        let mut fd_scan = fds.map(|sockets| FdScan::new(dev, sockets));
        let mine = pids.iter().copied().skip(t).step_by(threads);
        scan_pids(proc, kinds, dev, fd_scan.as_mut(), mine).map(|found| (found, fd_scan))
    })
    .into_iter();
    let (mut found, mut fd_scan) = shares.next().expect("share 0")?;
    for share in shares {
        let (more, more_fds) = share?;
        if let (Some(fd_scan), Some(more_fds)) = (fd_scan.as_mut(), more_fds) {
            fd_scan.merge(more_fds);
        }
        for (id, p) in more {
            found.entry(id).or_default().extend(p);
        }
    }
    // /proc lists pids in ascending order, but the shares' lists are merged.
    for pids in found.values_mut() {
        pids.sort_unstable();
        pids.dedup();
    }
    Ok((found, fd_scan))
}

/// The part of [`scan`] for the processes `pids`.
fn scan_pids(
    proc: BorrowedFd<'_>,
    kinds: NamespaceSet,
    dev: u64,
    mut fds: Option<&mut FdScan>,
    pids: impl Iterator<Item = u32>,
) -> Result<HashMap<NamespaceId, Vec<u32>>> {
    let mut found: HashMap<NamespaceId, Vec<u32>> = HashMap::new();
    let mut digits = [0u8; 10];
    for pid in pids {
        let name = decimal(pid, &mut digits);
        let mut ids = [None; 8];
        if read_links(proc, name, kinds, dev, false, &mut ids)?.is_ok() {
            for id in ids.into_iter().flatten() {
                found.entry(id).or_default().push(pid);
            }
            // A process whose links are unreadable (the same ptrace read check guards its
            // fds) or gone has no fds to look at either.
            if let Some(fds) = fds.as_deref_mut() {
                fds.scan_process(proc, name, pid)?;
            }
        }
    }
    Ok(found)
}

/// The decimal digits of `n`, in `buf`.
fn decimal(mut n: u32, buf: &mut [u8; 10]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[i..];
        }
    }
}

/// What `lsns` shows of the process it names for a namespace.
#[derive(Clone)]
struct Shown {
    uid: u32,
    ppid: Option<u32>,
    command: String,
}

/// Fills in the details of namespaces, reusing what several namespaces have in common.
struct Describer<'a> {
    proc: BorrowedFd<'a>,
    kinds: NamespaceSet,
    /// Whether namespaces shown through a process are opened for their relations.
    relations: bool,
    /// The `/proc/<pid>` directory last opened (`None` inside: it could not be).
    dir: Option<(u32, Option<OwnedFd>)>,
    shown: HashMap<u32, Option<Shown>>,
    owner_uids: HashMap<NamespaceId, Option<u32>>,
    /// Every namespace listed so far.
    known: HashSet<NamespaceId>,
    /// Owners and parents listed only as such.
    relatives: Vec<NamespaceInfo>,
}

impl Describer<'_> {
    fn describe(&mut self, job: &Job) -> NamespaceInfo {
        let id = job.id;
        let mut info = NamespaceInfo::bare(id);
        info.pids.clone_from(&job.pids);
        info.mounts.clone_from(&job.mounts);
        info.fds.clone_from(&job.fds);
        let mut handle = None;
        for &pid in &info.pids {
            // Relations are read where asked for, and where they are to be chased.
            let relations = self.relations || job.chase;
            let Some(dir) = self.proc_pid_dir(pid) else {
                continue;
            };
            // Through the directory fd, a pid recycled since the scan is never looked at; the
            // id check catches a process that moved to another namespace.
            let ns = if relations {
                let Some(ns) = open_checked(dir.as_fd(), id.kind().ns_path(), id) else {
                    continue;
                };
                Some(ns)
            } else {
                if !link_is(dir.as_fd(), id) {
                    continue;
                }
                None
            };
            let Some(shown) = self.shown(pid) else {
                continue;
            };
            info.pid = Some(pid);
            info.uid = Some(shown.uid);
            info.ppid = shown.ppid;
            info.command = Some(shown.command);
            handle = ns;
            break;
        }
        if info.pid.is_none() {
            handle = info
                .mounts
                .iter()
                .find_map(|p| open_mount_checked(p.as_path(), id))
                .or_else(|| fds::open_any_held(self.proc, &info.fds, id));
        }
        if let Some(ns) = handle {
            self.relations(&mut info, ns.as_fd(), job.chase);
        }
        info
    }

    /// The `/proc/<pid>` directory (`O_PATH`), kept open while namespaces shown through the
    /// same pid are described.
    fn proc_pid_dir(&mut self, pid: u32) -> Option<BorrowedFd<'_>> {
        if self.dir.as_ref().is_none_or(|(p, _)| *p != pid) {
            let fd = rustix::fs::openat(
                self.proc,
                pid.to_string(),
                OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .ok();
            self.dir = Some((pid, fd));
        }
        self.dir.as_ref()?.1.as_ref().map(AsFd::as_fd)
    }

    /// Uid and command of `pid`, read once per pid through the open directory.
    fn shown(&mut self, pid: u32) -> Option<Shown> {
        if let Some(s) = self.shown.get(&pid) {
            return s.clone();
        }
        let dir = self
            .dir
            .as_ref()
            .and_then(|(p, fd)| fd.as_ref().filter(|_| *p == pid))?;
        let s = read_shown(dir.as_fd());
        self.shown.insert(pid, s.clone());
        s
    }

    /// Owner, owner uid and parent, by `ioctl_nsfs(2)` on an open namespace fd; with `chase`,
    /// the owner and parent are listed too if nothing else lists them (and theirs, in turn).
    fn relations(&mut self, info: &mut NamespaceInfo, ns: BorrowedFd<'_>, chase: bool) {
        let kind = info.id.kind();
        let owner = sys::ns_get_userns(ns)
            .ok()
            .and_then(|fd| Some((id_of(fd.as_fd(), NamespaceKind::User)?, fd)));
        info.owner = owner.as_ref().map(|(id, _)| *id);
        info.owner_uid = if kind == NamespaceKind::User {
            sys::ns_get_owner_uid(ns).ok()
        } else {
            match &owner {
                Some((oid, ofd)) => match self.owner_uids.entry(*oid) {
                    Entry::Occupied(e) => *e.get(),
                    Entry::Vacant(e) => *e.insert(sys::ns_get_owner_uid(ofd.as_fd()).ok()),
                },
                None => None,
            }
        };
        let parent = if kind.is_hierarchical() {
            sys::ns_get_parent(ns)
                .ok()
                .and_then(|fd| Some((id_of(fd.as_fd(), kind)?, fd)))
        } else {
            None
        };
        info.parent = parent.as_ref().map(|(id, _)| *id);
        if chase {
            for (rid, rfd) in [owner, parent].into_iter().flatten() {
                if self.kinds.has(rid.kind()) && self.known.insert(rid) {
                    let mut rel = NamespaceInfo::bare(rid);
                    self.relations(&mut rel, rfd.as_fd(), true);
                    self.relatives.push(rel);
                }
            }
        }
    }
}

/// Opens a `/proc/<pid>/ns/<kind>` link and checks it is the namespace `id` (`openat(2)`,
/// `fstat(2)`). Procfs makes these links lead to nsfs files only, so they are opened directly.
fn open_checked<P: rustix::path::Arg>(
    dir: BorrowedFd<'_>,
    path: P,
    id: NamespaceId,
) -> Option<OwnedFd> {
    let fd = rustix::fs::openat(dir, path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()).ok()?;
    (id_of(fd.as_fd(), id.kind()) == Some(id)).then_some(fd)
}

/// Whether the `/proc/<pid>/ns/<kind>` link under `dir` names the namespace `id`
/// (`readlinkat(2)`).
fn link_is(dir: BorrowedFd<'_>, id: NamespaceId) -> bool {
    let mut buf = [MaybeUninit::<u8>::uninit(); 64];
    rustix::fs::readlinkat_raw(dir, id.kind().ns_path(), &mut buf)
        .is_ok_and(|(text, _)| namespace::parse_link_bytes(text) == Some((id.kind(), id.ino())))
}

/// Opens the namespace `id` through a mount point the mount table lists for it. The path may
/// hold something else by now (a FIFO or a device mounted over it): it is opened with
/// `O_PATH` (which neither blocks nor runs an open routine), checked to be `id` (`fstat(2)`),
/// and only then is that very object opened for reading (through `/proc/thread-self/fd`).
fn open_mount_checked(path: &Path, id: NamespaceId) -> Option<OwnedFd> {
    let probe = rustix::fs::open(path, OFlags::PATH | OFlags::CLOEXEC, Mode::empty()).ok()?;
    if id_of(probe.as_fd(), id.kind()) != Some(id) {
        return None;
    }
    namespace::reopen(probe.as_fd()).ok()
}

fn id_of(fd: BorrowedFd<'_>, kind: NamespaceKind) -> Option<NamespaceId> {
    let st = rustix::fs::fstat(fd).ok()?;
    Some(NamespaceId::new(kind, st.st_dev, st.st_ino))
}

/// The owner of `/proc/<pid>` and the command line, as `lsns` shows them: NULs between
/// arguments become spaces; an empty command line (a kernel thread) gives `comm` instead.
fn read_shown(dir: BorrowedFd<'_>) -> Option<Shown> {
    let uid = rustix::fs::fstat(dir).ok()?.st_uid;
    let mut cmdline = read_small(dir, c"cmdline")?;
    if cmdline.last() == Some(&0) {
        cmdline.pop();
    }
    let command = if cmdline.is_empty() {
        let mut comm = read_small(dir, c"comm")?;
        if comm.last() == Some(&b'\n') {
            comm.pop();
        }
        String::from_utf8_lossy(&comm).into_owned()
    } else {
        for b in &mut cmdline {
            if *b == 0 {
                *b = b' ';
            }
        }
        String::from_utf8_lossy(&cmdline).into_owned()
    };
    let ppid = read_small(dir, c"stat").and_then(|stat| parse_stat_ppid(&stat));
    Some(Shown { uid, ppid, command })
}

/// The parent pid in a `/proc/<pid>/stat` text: the second field after the command name,
/// which is in parentheses and may itself hold spaces and parentheses (so the last `)` ends
/// it). 0 (no parent in this pid namespace) is kept as 0, as `lsns` shows it.
fn parse_stat_ppid(stat: &[u8]) -> Option<u32> {
    let close = stat.iter().rposition(|&b| b == b')')?;
    let mut fields = stat[close + 1..]
        .split(|&b| b == b' ')
        .filter(|f| !f.is_empty());
    let _state = fields.next()?;
    let ppid = fields.next()?;
    if ppid.is_empty() || ppid.len() > 10 || !ppid.iter().all(u8::is_ascii_digit) {
        return None;
    }
    u32::try_from(ppid.iter().fold(0u64, |n, &d| n * 10 + u64::from(d - b'0'))).ok()
}

/// Reads a small `/proc` file whole.
fn read_small(dir: BorrowedFd<'_>, name: &CStr) -> Option<Vec<u8>> {
    let fd = rustix::fs::openat(dir, name, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()).ok()?;
    let mut chunk = [0u8; 4096];
    let mut out = Vec::new();
    loop {
        match rustix::io::read(&fd, &mut chunk) {
            Ok(0) => return Some(out),
            Ok(n) => out.extend_from_slice(&chunk[..n]),
            Err(Errno::INTR) => {}
            Err(_) => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    /// Whichever thread scans a process, what it found (its links, and an nsfs fd it holds)
    /// is in the merged result: this process as the share of thread 0, 1 and 2.
    #[test]
    fn every_thread_share_reaches_the_result() {
        let me = std::process::id();
        let net = crate::Namespace::current(NamespaceKind::Network).expect("our net namespace");
        let dev = nsfs_dev().expect("nsfs device");
        let proc = proc_dir().expect("/proc");
        for (pids, threads) in [(&[me][..], 1), (&[1, me][..], 2), (&[1, 1, me][..], 3)] {
            let (found, fd_scan) = scan_shared(
                proc.as_fd(),
                NamespaceSet::NET,
                dev,
                Some(true),
                pids,
                threads,
            )
            .expect("scan");
            assert!(
                found.get(&net.id()).is_some_and(|p| p.contains(&me)),
                "{threads} threads: our pid not in our net namespace: {found:?}"
            );
            let held = fd_scan.expect("an fd scan").held.remove(&net.id().ino());
            assert!(
                held.is_some_and(|h| h.holders.contains(&(me, net.as_raw_fd()))),
                "{threads} threads: our fd {} not found",
                net.as_raw_fd()
            );
        }
    }

    /// Jobs whose namespaces are shown through these pids (`None`: no process).
    fn jobs(first_pids: &[Option<u32>]) -> Vec<Job> {
        first_pids
            .iter()
            .enumerate()
            .map(|(i, p)| Job {
                id: NamespaceId::new(NamespaceKind::Network, 0, i as u64),
                pids: p.iter().copied().collect(),
                mounts: Vec::new(),
                fds: Vec::new(),
                chase: false,
            })
            .collect()
    }

    proptest::proptest! {
        /// The describing shares cover every job once, in order, in at most `n` ranges, and
        /// never split the jobs of one process (whose directory each share opens).
        #[test]
        fn describe_shares_cover_and_do_not_split_a_process(
            mut firsts in proptest::collection::vec(proptest::option::of(1u32..20), 0..80),
            n in 1usize..6,
        ) {
            // Sorted as list_with sorts them: by first pid, processless ones last.
            firsts.sort_by_key(|p| p.unwrap_or(u32::MAX));
            let jobs = jobs(&firsts);
            let shares = describe_shares(&jobs, n);
            proptest::prop_assert!(!shares.is_empty() && shares.len() <= n);
            let mut next = 0;
            for r in &shares {
                proptest::prop_assert_eq!(r.start, next);
                next = r.end;
            }
            proptest::prop_assert_eq!(next, jobs.len());
            for w in shares.windows(2) {
                let cut = w[1].start;
                proptest::prop_assert!(
                    jobs[cut].pids.is_empty()
                        || jobs[cut].pids.first() != jobs[cut - 1].pids.first(),
                    "cut at {} splits pid {:?}", cut, jobs[cut].pids.first()
                );
            }
        }
    }

    /// Every share's result comes back, in share order, whether it ran on a helper thread
    /// or (one share) on the caller.
    #[test]
    fn on_threads_returns_every_share_in_order() {
        for n in [0, 1, 2, 5] {
            let me = std::thread::current().id();
            let out = on_threads(n, |t| (t, std::thread::current().id() == me));
            let shares: Vec<usize> = out.iter().map(|(t, _)| *t).collect();
            assert_eq!(shares, (0..n.max(1)).collect::<Vec<_>>(), "{n} shares");
            assert!(out[0].1, "share 0 runs on the calling thread");
            assert!(
                out[1..].iter().all(|(_, here)| !here),
                "{n}: helpers ran here"
            );
        }
    }
}
