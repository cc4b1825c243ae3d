//! Which namespaces processes are in: one process ([`ProcessNamespaces`]), two compared
//! ([`same_namespace`]), or the whole system like `lsns(8)` ([`list`]).
//!
//! Everything here reads `/proc`, so it describes processes as the procfs instance mounted at
//! `/proc` sees them: pids are pids in that procfs's pid namespace (normally the caller's), and
//! processes the caller may not inspect (another user's, without `CAP_SYS_PTRACE`) are either
//! an error ([`ProcessNamespaces::of`]) or passed over ([`list`]), as `lsns(8)` does.
//!
//! Nothing here starts threads or changes the caller: it is safe to call [`list`] and then
//! `unshare(2)` a user namespace, which the kernel refuses to multithreaded processes.

pub use crate::status::ProcessStatus;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::ffi::CStr;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;
use std::sync::OnceLock;

use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;

use crate::error::{Error, Operation, Result, Target};
use crate::kind::{NamespaceKind, NamespaceSet};
use crate::namespace::NamespaceId;
use crate::sys;

/// The device number (`st_dev`) of nsfs, the filesystem of every namespace file.
///
/// The text of a `/proc/<pid>/ns` link (`net:[4026531840]`) carries only the inode; this
/// supplies the device that makes it a [`NamespaceId`]. Found once with `stat(2)` of
/// `/proc/self/ns/user` and cached for the life of the process.
///
/// # Errors
/// [`Error::Os`] if `/proc` is not mounted.
///
/// # References
///  - [stat(2)](https://man7.org/linux/man-pages/man2/stat.2.html),
///    [proc_pid_ns(5)](https://man7.org/linux/man-pages/man5/proc_pid_ns.5.html)
pub fn nsfs_dev() -> Result<u64> {
    static DEV: OnceLock<u64> = OnceLock::new();
    if let Some(dev) = DEV.get() {
        return Ok(*dev);
    }
    let path = "/proc/self/ns/user";
    let st = rustix::fs::stat(path)
        .map_err(|e| Error::os(Operation::Stat, Target::Path(path.into()), e.into()))?;
    Ok(*DEV.get_or_init(|| st.st_dev))
}

/// The namespaces one process is in, by id, read from its `/proc/<pid>/ns` links.
///
/// A snapshot: the process may change namespaces (`setns(2)`, `unshare(2)`) or exit right
/// after. Hold [`Namespace`](crate::Namespace) handles to pin namespaces instead.
///
/// # References
///  - [proc_pid_ns(5)](https://man7.org/linux/man-pages/man5/proc_pid_ns.5.html)
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessNamespaces {
    pid: u32,
    ids: [Option<NamespaceId>; 8],
}

/// Why a process's links could not be read. The scan passes over such processes.
#[derive(Clone, Copy, Debug)]
struct Unreadable {
    errno: Errno,
    kind: Option<NamespaceKind>,
}

impl Unreadable {
    /// `ENOENT`/`ESRCH`: the process is gone (or a zombie, whose links are dead).
    fn is_gone(self) -> bool {
        matches!(self.errno, Errno::NOENT | Errno::SRCH)
    }
}

fn proc_dir() -> Result<OwnedFd> {
    rustix::fs::open(
        "/proc",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::os(Operation::Open, Target::Path("/proc".into()), e.into()))
}

/// The link names under `/proc/<pid>/ns/`, as C strings.
const fn link_name(kind: NamespaceKind) -> &'static CStr {
    match kind {
        NamespaceKind::Cgroup => c"cgroup",
        NamespaceKind::Ipc => c"ipc",
        NamespaceKind::Mount => c"mnt",
        NamespaceKind::Network => c"net",
        NamespaceKind::Pid => c"pid",
        NamespaceKind::Time => c"time",
        NamespaceKind::User => c"user",
        NamespaceKind::Uts => c"uts",
    }
}

/// The same links relative to `/proc/<pid>`.
const fn link_path(kind: NamespaceKind) -> &'static CStr {
    match kind {
        NamespaceKind::Cgroup => c"ns/cgroup",
        NamespaceKind::Ipc => c"ns/ipc",
        NamespaceKind::Mount => c"ns/mnt",
        NamespaceKind::Network => c"ns/net",
        NamespaceKind::Pid => c"ns/pid",
        NamespaceKind::Time => c"ns/time",
        NamespaceKind::User => c"ns/user",
        NamespaceKind::Uts => c"ns/uts",
    }
}

/// The inode in a link text of the expected kind (`net:[4026531840]` → 4026531840).
fn parse_link_ino(text: &[u8], kind: NamespaceKind) -> Option<u64> {
    crate::namespace::parse_link_bytes(text)
        .filter(|(k, _)| *k == kind)
        .map(|(_, ino)| ino)
}

/// `/proc/<pid>/ns` for a pid given as its decimal digits, as a C string in `buf`.
fn ns_dir_path<'b>(pid: &[u8], buf: &'b mut [u8; 32]) -> Option<&'b CStr> {
    const SUFFIX: &[u8] = b"/ns\0";
    let len = pid.len() + SUFFIX.len();
    if pid.is_empty() || len > buf.len() {
        return None;
    }
    buf[..pid.len()].copy_from_slice(pid);
    buf[pid.len()..len].copy_from_slice(SUFFIX);
    CStr::from_bytes_with_nul(&buf[..len]).ok()
}

/// Reads the links of `kinds` of one process into `ids`: one `openat(2)` of
/// `/proc/<pid>/ns` (`O_PATH`) and one `readlinkat(2)` per kind relative to it, so every link
/// is read from the same process even if its pid is recycled meanwhile.
///
/// A link that is gone (`ENOENT`) means the process has exited: a zombie keeps only its pid
/// and user links. With `all_or_nothing` that makes the whole process unreadable; without,
/// the links still there are kept, as `lsns` counts them.
///
/// `Ok(Err(_))` means the process is gone or unreadable; `Err(_)` is an unexpected failure.
fn read_links(
    proc: BorrowedFd<'_>,
    pid: &[u8],
    kinds: NamespaceSet,
    dev: u64,
    all_or_nothing: bool,
    ids: &mut [Option<NamespaceId>; 8],
) -> Result<std::result::Result<(), Unreadable>> {
    let mut path = [0u8; 32];
    let Some(path) = ns_dir_path(pid, &mut path) else {
        return Ok(Err(Unreadable {
            errno: Errno::NOENT,
            kind: None,
        }));
    };
    let ns = match rustix::fs::openat(
        proc,
        path,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(errno @ (Errno::NOENT | Errno::SRCH | Errno::ACCESS | Errno::PERM)) => {
            return Ok(Err(Unreadable { errno, kind: None }));
        }
        Err(e) => {
            return Err(Error::os(
                Operation::Open,
                Target::Path(format!("/proc/{}", String::from_utf8_lossy(path.to_bytes())).into()),
                e.into(),
            ));
        }
    };
    let mut buf = [MaybeUninit::<u8>::uninit(); 64];
    for kind in kinds.kinds() {
        match rustix::fs::readlinkat_raw(&ns, link_name(kind), &mut buf) {
            Ok((text, _)) => {
                let ino = parse_link_ino(text, kind).ok_or_else(|| {
                    Error::invalid(
                        "namespace link text",
                        format!(
                            "/proc/{}/ns/{kind} reads {:?}",
                            String::from_utf8_lossy(pid),
                            String::from_utf8_lossy(text)
                        ),
                    )
                })?;
                ids[kind.index()] = Some(NamespaceId::new(kind, dev, ino));
            }
            // A kind this kernel lacks has no link, for every process alike.
            Err(Errno::NOENT) if !kind_exists(kind) => {}
            Err(Errno::NOENT | Errno::SRCH) if !all_or_nothing => {}
            Err(errno @ (Errno::NOENT | Errno::SRCH | Errno::ACCESS | Errno::PERM)) => {
                return Ok(Err(Unreadable {
                    errno,
                    kind: Some(kind),
                }));
            }
            Err(e) => {
                return Err(Error::os(
                    Operation::ReadProc,
                    Target::Process {
                        pid: parse_pid(pid).unwrap_or(0),
                        kind: Some(kind),
                    },
                    e.into(),
                ));
            }
        }
    }
    Ok(Ok(()))
}

/// The kinds whose links exist in `/proc/self/ns` (the kinds this kernel has), probed once.
fn kind_exists(kind: NamespaceKind) -> bool {
    static PRESENT: OnceLock<NamespaceSet> = OnceLock::new();
    PRESENT
        .get_or_init(|| {
            NamespaceKind::ALL
                .into_iter()
                .filter(|k| {
                    std::path::Path::new(&format!("/proc/self/ns/{}", k.proc_name())).exists()
                })
                .collect()
        })
        .has(kind)
}

impl ProcessNamespaces {
    /// Reads the namespace ids of process `pid`: `readlink(2)` of each `/proc/<pid>/ns/<kind>`.
    /// Kinds the running kernel lacks are absent.
    ///
    /// `pid` is a pid as `/proc` shows it (normally: in the caller's pid namespace). Reading
    /// another user's process needs ptrace read access to it (`CAP_SYS_PTRACE`).
    ///
    /// # Errors
    /// [`Error::NoSuchProcess`] if the process does not exist or has exited (a zombie, exited
    /// but not yet reaped, keeps only its pid and user links: asking it for other kinds gives
    /// this error); [`Error::Os`] with `EACCES` without ptrace read access;
    /// [`Error::InvalidInput`] for pid 0 or a pid above `i32::MAX`.
    ///
    /// # References
    ///  - [proc_pid_ns(5)](https://man7.org/linux/man-pages/man5/proc_pid_ns.5.html),
    ///    [readlink(2)](https://man7.org/linux/man-pages/man2/readlink.2.html),
    ///    [ptrace(2)](https://man7.org/linux/man-pages/man2/ptrace.2.html) ("Ptrace access mode checking")
    #[doc(alias = "readlink")]
    pub fn of(pid: u32) -> Result<Self> {
        Self::of_kinds(pid, NamespaceSet::all())
    }

    /// Like [`of`](Self::of), reading the links of the kinds in `kinds` only.
    ///
    /// # Errors
    /// As for [`of`](Self::of).
    ///
    /// # References
    ///  - [proc_pid_ns(5)](https://man7.org/linux/man-pages/man5/proc_pid_ns.5.html),
    ///    [readlink(2)](https://man7.org/linux/man-pages/man2/readlink.2.html)
    #[doc(alias = "readlink")]
    pub fn of_kinds(pid: u32, kinds: NamespaceSet) -> Result<Self> {
        Error::check_pid(pid)?;
        let dev = nsfs_dev()?;
        let proc = proc_dir()?;
        let mut ids = [None; 8];
        match read_links(
            proc.as_fd(),
            pid.to_string().as_bytes(),
            kinds,
            dev,
            true,
            &mut ids,
        )? {
            Ok(()) => Ok(ProcessNamespaces { pid, ids }),
            Err(u) if u.is_gone() => Err(Error::NoSuchProcess { pid }),
            Err(u) => Err(Error::os(
                Operation::ReadProc,
                Target::Process { pid, kind: u.kind },
                u.errno.into(),
            )),
        }
    }

    /// The pid these are of. No system call: the snapshot's own field.
    ///
    /// # References
    ///  - [proc_pid_ns(5)](https://man7.org/linux/man-pages/man5/proc_pid_ns.5.html)
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The id of the namespace of `kind`, if it was read (what `readlink(2)` of
    /// `/proc/<pid>/ns/<kind>` showed when the snapshot was taken).
    ///
    /// # References
    ///  - [proc_pid_ns(5)](https://man7.org/linux/man-pages/man5/proc_pid_ns.5.html)
    pub fn get(&self, kind: NamespaceKind) -> Option<NamespaceId> {
        self.ids[kind.index()]
    }

    /// All ids read, in the order of [`NamespaceKind::ALL`]. No system call.
    ///
    /// # References
    ///  - [proc_pid_ns(5)](https://man7.org/linux/man-pages/man5/proc_pid_ns.5.html)
    pub fn iter(&self) -> impl Iterator<Item = NamespaceId> + '_ {
        self.ids.iter().flatten().copied()
    }

    /// The kinds in which `self` and `other` are in different namespaces (a kind read for one
    /// and not the other counts as different). Compares the snapshots; no system call.
    ///
    /// # References
    ///  - [namespaces(7)](https://man7.org/linux/man-pages/man7/namespaces.7.html)
    pub fn differences(&self, other: &ProcessNamespaces) -> NamespaceSet {
        NamespaceKind::ALL
            .into_iter()
            .filter(|k| self.get(*k) != other.get(*k))
            .collect()
    }
}

/// Whether processes `a` and `b` are in the same namespace of `kind`, comparing the nsfs
/// inodes that `readlink(2)` of their `/proc/<pid>/ns/<kind>` shows.
///
/// # Errors
/// As for [`ProcessNamespaces::of`], for either process.
///
/// # References
///  - [namespaces(7)](https://man7.org/linux/man-pages/man7/namespaces.7.html),
///    [proc_pid_ns(5)](https://man7.org/linux/man-pages/man5/proc_pid_ns.5.html)
pub fn same_namespace(a: u32, b: u32, kind: NamespaceKind) -> Result<bool> {
    let ia = ProcessNamespaces::of_kinds(a, kind.set())?;
    let ib = ProcessNamespaces::of_kinds(b, kind.set())?;
    Ok(ia.get(kind) == ib.get(kind))
}

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
    /// The owner of `/proc/<pid>` for that process (`fstat(2)`): its effective uid, or root
    /// if it is not dumpable; the uid `lsns` shows in its UID and USER columns.
    pub uid: Option<u32>,
    /// That process's command line, its arguments separated by spaces; for a process without
    /// one (a kernel thread), its command name (`comm`). The COMMAND column of `lsns`.
    pub command: Option<String>,
    /// The uid that created the user namespace owning this one (for a user namespace: this
    /// one), from `NS_GET_OWNER_UID`.
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
}

impl NamespaceInfo {
    /// Number of processes in it (NPROCS of `lsns`): the length of [`pids`](Self::pids).
    ///
    /// # References
    ///  - [lsns(8)](https://man7.org/linux/man-pages/man8/lsns.8.html)
    pub fn nprocs(&self) -> usize {
        self.pids.len()
    }
}

/// Every namespace of the kinds in `kinds` that a process visible in `/proc` is in, or that an
/// nsfs bind mount in the caller's mount namespace keeps alive: the listing of `lsns(8)`.
///
/// * Processes are the thread-group leaders `/proc` lists; a thread that entered a namespace
///   of its own is not looked at (neither does `lsns`).
/// * A process whose namespaces the caller may not read (another user's, without
///   `CAP_SYS_PTRACE`; `EACCES` from procfs) is passed over, as `lsns` does; so an
///   unprivileged caller sees the namespaces of its own processes.
/// * A process that exits during the scan is counted in the namespaces whose links it still
///   had when they were read, and is never an error. A zombie (exited, not yet reaped) keeps
///   its pid and user namespaces alive and is counted in those two only, as `lsns` counts it.
/// * Details (pid, uid, command, owner, parent) come from the lowest pid that is still in the
///   namespace when they are read, through one `/proc/<pid>` directory fd, so a pid recycled
///   meanwhile is never described in place of the process that was scanned.
/// * Namespaces kept alive only by a bind mount are listed with no processes and their mount
///   points (util-linux 2.38 `lsns` leaves them out). Namespaces kept alive only by an open fd
///   are not found.
///
/// Sorted by inode (like `lsns`), then kind. Runs on the calling thread and starts no thread.
///
/// Cost: for each process one `openat(2)` and one `readlinkat(2)` per kind; for each namespace
/// found an `open(2)` of its link and a few `ioctl_nsfs(2)` calls; for each process shown, a
/// `fstat(2)` and a read of its `cmdline`; and one read of `/proc/self/mountinfo`.
///
/// # Errors
/// [`Error::Os`] only if `/proc` itself cannot be read, or an unexpected errno (such as
/// `EMFILE`) stops the scan.
///
/// # References
///  - [lsns(8)](https://man7.org/linux/man-pages/man8/lsns.8.html),
///    [proc_pid_ns(5)](https://man7.org/linux/man-pages/man5/proc_pid_ns.5.html),
///    [readlink(2)](https://man7.org/linux/man-pages/man2/readlink.2.html),
///    [ioctl_nsfs(2)](https://man7.org/linux/man-pages/man2/ioctl_nsfs.2.html),
///    [proc_pid_mountinfo(5)](https://man7.org/linux/man-pages/man5/proc_pid_mountinfo.5.html)
#[doc(alias = "lsns")]
pub fn list(kinds: NamespaceSet) -> Result<Vec<NamespaceInfo>> {
    if kinds.is_empty() {
        return Ok(Vec::new());
    }
    let dev = nsfs_dev()?;
    let proc = proc_dir()?;
    let mut found = scan(proc.as_fd(), kinds, dev)?;
    let mut mounts: HashMap<NamespaceId, Vec<PathBuf>> = HashMap::new();
    for (id, path) in nsfs_mounts()? {
        if kinds.has(id.kind()) {
            found.entry(id).or_default();
            mounts.entry(id).or_default().push(path);
        }
    }
    let mut entries: Vec<(NamespaceId, Vec<u32>)> = found.into_iter().collect();
    // Namespaces shown through the same process come one after another, so that process's
    // directory is opened once for all of them.
    entries.sort_unstable_by_key(|(id, pids)| (pids.first().copied().unwrap_or(u32::MAX), *id));
    let mut describer = Describer {
        proc: proc.as_fd(),
        dir: None,
        shown: HashMap::new(),
        owner_uids: HashMap::new(),
    };
    let mut out: Vec<NamespaceInfo> = entries
        .into_iter()
        .map(|(id, pids)| {
            let mounts = mounts.remove(&id).unwrap_or_default();
            describer.describe(id, pids, mounts)
        })
        .collect();
    out.sort_unstable_by_key(|n| (n.id.ino(), n.id.kind(), n.id.dev()));
    Ok(out)
}

/// The scan behind [`list`] without the details: which processes (ascending pids) are in
/// which namespace of the kinds in `kinds`. For [`lifecycle`](crate::lifecycle).
pub(crate) fn processes_by_namespace(
    kinds: NamespaceSet,
) -> Result<HashMap<NamespaceId, Vec<u32>>> {
    if kinds.is_empty() {
        return Ok(HashMap::new());
    }
    let dev = nsfs_dev()?;
    let proc = proc_dir()?;
    scan(proc.as_fd(), kinds, dev)
}

/// Reads every process's links: which namespace has which pids.
fn scan(
    proc: BorrowedFd<'_>,
    kinds: NamespaceSet,
    dev: u64,
) -> Result<HashMap<NamespaceId, Vec<u32>>> {
    let mut found: HashMap<NamespaceId, Vec<u32>> = HashMap::new();
    let mut buf = vec![MaybeUninit::<u8>::uninit(); 32 * 1024];
    let mut dir = rustix::fs::RawDir::new(proc, &mut buf);
    while let Some(entry) = dir.next() {
        let entry = entry
            .map_err(|e| Error::os(Operation::ReadProc, Target::Path("/proc".into()), e.into()))?;
        let name = entry.file_name().to_bytes();
        let Some(pid) = parse_pid(name) else {
            continue;
        };
        let mut ids = [None; 8];
        if read_links(proc, name, kinds, dev, false, &mut ids)?.is_ok() {
            for id in ids.into_iter().flatten() {
                found.entry(id).or_default().push(pid);
            }
        }
    }
    // /proc lists pids in ascending order already; this is cheap and makes it a guarantee.
    for pids in found.values_mut() {
        pids.sort_unstable();
        pids.dedup();
    }
    Ok(found)
}

fn parse_pid(name: &[u8]) -> Option<u32> {
    if name.is_empty() || name.len() > 10 || !name.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let pid = name.iter().fold(0u64, |n, &d| n * 10 + u64::from(d - b'0'));
    u32::try_from(pid).ok().filter(|p| *p != 0)
}

/// What `lsns` shows of the process it names for a namespace.
#[derive(Clone)]
struct Shown {
    uid: u32,
    command: String,
}

/// Fills in the details of namespaces, reusing what several namespaces have in common.
struct Describer<'a> {
    proc: BorrowedFd<'a>,
    /// The `/proc/<pid>` directory last opened (`None` inside: it could not be).
    dir: Option<(u32, Option<OwnedFd>)>,
    shown: HashMap<u32, Option<Shown>>,
    owner_uids: HashMap<NamespaceId, Option<u32>>,
}

impl Describer<'_> {
    fn describe(&mut self, id: NamespaceId, pids: Vec<u32>, mounts: Vec<PathBuf>) -> NamespaceInfo {
        let mut info = NamespaceInfo {
            id,
            pids,
            pid: None,
            uid: None,
            command: None,
            owner_uid: None,
            parent: None,
            owner: None,
            mounts,
        };
        let mut handle = None;
        for &pid in &info.pids {
            let Some(dir) = self.proc_pid_dir(pid) else {
                continue;
            };
            // Through the directory fd, a pid recycled since the scan is never looked at; the
            // id check catches a process that moved to another namespace.
            let Some(ns) = open_checked(dir.as_fd(), link_path(id.kind()), id) else {
                continue;
            };
            let Some(shown) = self.shown(pid) else {
                continue;
            };
            info.pid = Some(pid);
            info.uid = Some(shown.uid);
            info.command = Some(shown.command);
            handle = Some(ns);
            break;
        }
        if handle.is_none() {
            handle = info.mounts.iter().find_map(|p| {
                let cwd = rustix::fs::CWD;
                open_checked(cwd, p.as_path(), id)
            });
        }
        if let Some(ns) = handle {
            self.relations(&mut info, ns.as_fd());
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

    /// Owner, owner uid and parent, by `ioctl_nsfs(2)` on an open namespace fd.
    fn relations(&mut self, info: &mut NamespaceInfo, ns: BorrowedFd<'_>) {
        let kind = info.id.kind();
        let owner = sys::ns_get_userns(ns)
            .ok()
            .and_then(|fd| Some((id_of(fd.as_fd(), NamespaceKind::User)?, fd)));
        info.owner = owner.as_ref().map(|(id, _)| *id);
        info.owner_uid = if kind == NamespaceKind::User {
            sys::ns_get_owner_uid(ns).ok()
        } else {
            match owner {
                Some((oid, ofd)) => match self.owner_uids.entry(oid) {
                    Entry::Occupied(e) => *e.get(),
                    Entry::Vacant(e) => *e.insert(sys::ns_get_owner_uid(ofd.as_fd()).ok()),
                },
                None => None,
            }
        };
        if kind.is_hierarchical() {
            info.parent = sys::ns_get_parent(ns)
                .ok()
                .and_then(|fd| id_of(fd.as_fd(), kind));
        }
    }
}

/// Opens a namespace file and checks it is the namespace `id` (`openat(2)`, `fstat(2)`).
fn open_checked<P: rustix::path::Arg>(
    dir: BorrowedFd<'_>,
    path: P,
    id: NamespaceId,
) -> Option<OwnedFd> {
    let fd = rustix::fs::openat(dir, path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()).ok()?;
    (id_of(fd.as_fd(), id.kind()) == Some(id)).then_some(fd)
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
    Some(Shown { uid, command })
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

/// The nsfs bind mounts of the caller's mount namespace: each mounted namespace and its mount
/// point, from `/proc/self/mountinfo` (mounts with filesystem type `nsfs`, whose root is the
/// namespace's link text such as `net:[4026532177]`).
///
/// # Errors
/// [`Error::Os`] if `/proc/self/mountinfo` cannot be read.
///
/// # References
///  - [proc_pid_mountinfo(5)](https://man7.org/linux/man-pages/man5/proc_pid_mountinfo.5.html),
///    [ip-netns(8)](https://man7.org/linux/man-pages/man8/ip-netns.8.html)
pub fn nsfs_mounts() -> Result<Vec<(NamespaceId, PathBuf)>> {
    let dev = nsfs_dev()?;
    let path = "/proc/self/mountinfo";
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::os(Operation::ReadProc, Target::Path(path.into()), e))?;
    Ok(text
        .lines()
        // Cheap filter first: most systems have many mounts and few of them nsfs.
        .filter(|l| l.contains(" - nsfs "))
        .filter_map(parse_mountinfo_line)
        .filter(|m| m.fstype == "nsfs")
        .filter_map(|m| {
            let id = NamespaceId::parse_link(m.root.to_str()?, dev).ok()?;
            Some((id, m.mount_point))
        })
        .collect())
}

/// The fields of one `/proc/<pid>/mountinfo` line, unescaped.
///
/// # References
///  - [proc_pid_mountinfo(5)](https://man7.org/linux/man-pages/man5/proc_pid_mountinfo.5.html)
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct MountInfo {
    /// Mount id (field 1).
    pub mount_id: u32,
    /// Parent mount id (field 2).
    pub parent_id: u32,
    /// The device, `major:minor` (field 3).
    pub dev: (u32, u32),
    /// The root of the mount within its filesystem (field 4). For an nsfs mount, the
    /// namespace's link text, such as `net:[4026532177]`.
    pub root: PathBuf,
    /// The mount point (field 5), relative to the reading process's root.
    pub mount_point: PathBuf,
    /// Per-mount options (field 6), e.g. `rw,nosuid`.
    pub options: String,
    /// Optional fields (propagation: `shared:N`, `master:N`, `propagate_from:N`, `unbindable`).
    pub optional: Vec<String>,
    /// Filesystem type, e.g. `nsfs`.
    pub fstype: String,
    /// Mount source (non-UTF-8 bytes replaced).
    pub source: String,
    /// Superblock options.
    pub super_options: String,
}

/// Parses one line of `/proc/<pid>/mountinfo`; `None` if it is malformed.
///
/// Paths keep their bytes exactly (the kernel's octal escapes `\040`, `\011`, `\012`, `\134`
/// are undone), so mount points that are not UTF-8 survive.
///
/// # References
///  - [proc_pid_mountinfo(5)](https://man7.org/linux/man-pages/man5/proc_pid_mountinfo.5.html)
pub fn parse_mountinfo_line(line: &str) -> Option<MountInfo> {
    use std::os::unix::ffi::OsStringExt;
    let path = |f: &str| Some(PathBuf::from(std::ffi::OsString::from_vec(unescape(f)?)));
    let text = |f: &str| Some(String::from_utf8_lossy(&unescape(f)?).into_owned());
    let mut fields = line.split(' ');
    let mount_id = fields.next()?.parse().ok()?;
    let parent_id = fields.next()?.parse().ok()?;
    let (major, minor) = fields.next()?.split_once(':')?;
    let dev = (major.parse().ok()?, minor.parse().ok()?);
    let root = path(fields.next()?)?;
    let mount_point = path(fields.next()?)?;
    let options = fields.next()?.to_string();
    let mut optional = Vec::new();
    loop {
        let f = fields.next()?;
        if f == "-" {
            break;
        }
        optional.push(f.to_string());
    }
    let fstype = text(fields.next()?)?;
    let source = text(fields.next()?)?;
    let super_options = fields.next()?.to_string();
    if fields.next().is_some() {
        return None;
    }
    Some(MountInfo {
        mount_id,
        parent_id,
        dev,
        root,
        mount_point,
        options,
        optional,
        fstype,
        source,
        super_options,
    })
}

/// Undoes the kernel's octal escapes (`\040` for space, `\011`, `\012`, `\134`).
fn unescape(field: &str) -> Option<Vec<u8>> {
    let b = field.as_bytes();
    if !b.contains(&b'\\') {
        return Some(b.to_vec());
    }
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' {
            let oct = b.get(i + 1..i + 4)?;
            if !oct.iter().all(|c| (b'0'..=b'7').contains(c)) {
                return None;
            }
            let v = oct.iter().fold(0u32, |n, c| n * 8 + u32::from(c - b'0'));
            out.push(u8::try_from(v).ok()?);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_nsfs_mount_line() {
        let m = parse_mountinfo_line(
            "43 42 0:4 net:[4026532177] /run/netns/t1 rw shared:2 - nsfs nsfs rw",
        )
        .unwrap();
        assert_eq!(m.fstype, "nsfs");
        assert_eq!(m.root, PathBuf::from("net:[4026532177]"));
        assert_eq!(m.dev, (0, 4));
        assert_eq!(m.mount_point, PathBuf::from("/run/netns/t1"));
        assert_eq!(m.optional, vec!["shared:2".to_string()]);
    }

    #[test]
    fn unescapes_spaces_in_mount_points() {
        let m = parse_mountinfo_line("1 2 0:4 / /a\\040b rw - tmpfs tmp\\134x rw").unwrap();
        assert_eq!(m.mount_point, PathBuf::from("/a b"));
        assert_eq!(m.source, "tmp\\x");
        assert!(parse_mountinfo_line("1 2 0:4 / /a\\04 rw - tmpfs t rw").is_none());
        assert!(parse_mountinfo_line("1 2 0:4 / /a rw shared:1").is_none());
    }

    #[test]
    fn keeps_non_utf8_mount_points() {
        use std::os::unix::ffi::OsStrExt;
        let m = parse_mountinfo_line("1 2 0:4 / /a\\377b rw - tmpfs t rw").unwrap();
        assert_eq!(m.mount_point.as_os_str().as_bytes(), b"/a\xffb");
        assert!(parse_mountinfo_line("1 2 04 / /a rw - tmpfs t rw").is_none());
    }

    #[test]
    fn link_inodes_parse_only_for_the_expected_kind() {
        assert_eq!(
            parse_link_ino(b"net:[4026531840]", NamespaceKind::Network),
            Some(4026531840)
        );
        assert_eq!(
            parse_link_ino(b"net:[4026531840]", NamespaceKind::Uts),
            None
        );
        for bad in [
            &b"net:[]"[..],
            b"net:[12",
            b"net[12]",
            b"net:[1a]",
            b"net:[18446744073709551616]",
            b"net:[-1]",
        ] {
            assert_eq!(parse_link_ino(bad, NamespaceKind::Network), None, "{bad:?}");
        }
        assert_eq!(
            parse_link_ino(b"net:[18446744073709551615]", NamespaceKind::Network),
            Some(u64::MAX)
        );
    }

    #[test]
    fn proc_entries_that_are_pids() {
        assert_eq!(parse_pid(b"1"), Some(1));
        assert_eq!(parse_pid(b"4194304"), Some(4194304));
        for not in [&b""[..], b"0", b"self", b"12a", b"99999999999", b"-1"] {
            assert_eq!(parse_pid(not), None, "{not:?}");
        }
        let mut buf = [0u8; 32];
        assert_eq!(ns_dir_path(b"42", &mut buf), Some(c"42/ns"));
        assert_eq!(ns_dir_path(&[b'9'; 40], &mut buf), None);
    }

    proptest! {
        #[test]
        fn link_inode_round_trips(k in proptest::sample::select(NamespaceKind::ALL.to_vec()), ino in any::<u64>()) {
            let text = NamespaceId::new(k, 0, ino).to_string();
            prop_assert_eq!(parse_link_ino(text.as_bytes(), k), Some(ino));
        }
    }

    fn escape(s: &str) -> String {
        s.bytes()
            .map(|b| match b {
                b' ' | b'\t' | b'\n' | b'\\' => format!("\\{b:03o}"),
                _ => (b as char).to_string(),
            })
            .collect()
    }

    proptest! {
        #[test]
        fn mountinfo_line_round_trips(
            id in 1u32..100000, parent in 1u32..100000,
            root in "/[a-z \\\\]{0,12}", mp in "/[a-z0-9 \\t]{0,16}",
            opt in proptest::collection::vec("(shared|master):[0-9]{1,3}", 0..3),
            fstype in "[a-z0-9]{1,8}", source in "[a-z/]{1,10}",
        ) {
            let line = format!("{id} {parent} 0:42 {} {} rw,relatime {}{}- {fstype} {source} rw",
                escape(&root), escape(&mp), opt.join(" "), if opt.is_empty() { "" } else { " " });
            let m = parse_mountinfo_line(&line).unwrap();
            prop_assert_eq!(m.mount_id, id);
            prop_assert_eq!(m.parent_id, parent);
            prop_assert_eq!(m.root, PathBuf::from(root));
            prop_assert_eq!(m.mount_point, PathBuf::from(mp));
            prop_assert_eq!(m.optional, opt);
            prop_assert_eq!(m.fstype, fstype);
        }

        #[test]
        fn mountinfo_parser_never_panics(line in "\\PC{0,80}") {
            let _ = parse_mountinfo_line(&line);
        }
    }
}
