//! Which namespaces processes are in: one process ([`ProcessNamespaces`]), two compared
//! ([`same_namespace`]), or the whole system like `lsns(8)` ([`list`]).

use std::collections::HashMap;
use std::ffi::CStr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;
use std::sync::OnceLock;

use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;

use crate::error::{Error, Operation, Result, Target};
use crate::kind::{NamespaceKind, NamespaceSet};
use crate::namespace::{Namespace, NamespaceId};
use crate::sys;

/// The device number (`st_dev`) of nsfs, the filesystem of every namespace file. The text of a
/// `/proc/<pid>/ns` link carries only the inode; this supplies the device to make a
/// [`NamespaceId`]. Found once with `stat(2)` of `/proc/self/ns/user` and cached.
///
/// # References
///  - [stat(2)](https://man7.org/linux/man-pages/man2/stat.2.html)
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

/// The namespaces one process is in, by id, read from the `/proc/<pid>/ns` links.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessNamespaces {
    pid: u32,
    ids: [Option<NamespaceId>; 8],
}

/// What reading a process's ns links can come to.
enum Read {
    Ok,
    /// The process is gone or not ours to look at; the scan passes over it.
    Skip(Errno),
}

fn proc_dir() -> Result<OwnedFd> {
    rustix::fs::open(
        "/proc",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::os(Operation::Open, Target::Path("/proc".into()), e.into()))
}

/// Reads the links of `kinds` for one process below `/proc/<pid>/ns` into `ids`.
fn read_links(
    proc: BorrowedFd<'_>,
    pid: &CStr,
    kinds: NamespaceSet,
    dev: u64,
    ids: &mut [Option<NamespaceId>; 8],
) -> Result<Read> {
    let ns = match rustix::fs::openat(
        proc,
        pid,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .and_then(|dir| {
        rustix::fs::openat(
            &dir,
            c"ns",
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
    }) {
        Ok(fd) => fd,
        Err(e @ (Errno::NOENT | Errno::SRCH | Errno::ACCESS | Errno::PERM)) => {
            return Ok(Read::Skip(e));
        }
        Err(e) => {
            return Err(Error::os(
                Operation::Open,
                Target::Path(format!("/proc/{}/ns", pid.to_string_lossy()).into()),
                e.into(),
            ));
        }
    };
    let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 64];
    for kind in kinds.kinds() {
        match rustix::fs::readlinkat_raw(&ns, kind.proc_name(), &mut buf) {
            Ok((text, _)) => {
                let text = std::str::from_utf8(text).unwrap_or("");
                ids[kind.index()] = Some(NamespaceId::parse_link(text, dev)?);
            }
            // A kind this kernel lacks has no link; every process lacks it alike.
            Err(Errno::NOENT)
                if std::path::Path::new("/proc/self/ns").exists() && !kind_exists(kind) => {}
            Err(e @ (Errno::NOENT | Errno::SRCH | Errno::ACCESS | Errno::PERM)) => {
                return Ok(Read::Skip(e));
            }
            Err(e) => {
                return Err(Error::os(
                    Operation::ReadProc,
                    Target::Process {
                        pid: pid.to_str().ok().and_then(|p| p.parse().ok()).unwrap_or(0),
                        kind: Some(kind),
                    },
                    e.into(),
                ));
            }
        }
    }
    Ok(Read::Ok)
}

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
    /// Reads the namespace ids of process `pid` (`readlink(2)` of each `/proc/<pid>/ns/<kind>`).
    /// Kinds the kernel lacks are absent.
    ///
    /// # Errors
    /// [`Error::NoSuchProcess`] if the process does not exist; [`Error::Os`] with `EACCES`
    /// without ptrace read access to it.
    ///
    /// # References
    ///  - [proc_pid_ns(5)](https://man7.org/linux/man-pages/man5/proc_pid_ns.5.html)
    pub fn of(pid: u32) -> Result<Self> {
        Self::of_kinds(pid, NamespaceSet::all())
    }

    /// Like [`of`](Self::of), for the kinds in `kinds` only.
    pub fn of_kinds(pid: u32, kinds: NamespaceSet) -> Result<Self> {
        if pid == 0 || pid > i32::MAX as u32 {
            return Err(Error::invalid("pid", format!("{pid} is not a process id")));
        }
        let dev = nsfs_dev()?;
        let proc = proc_dir()?;
        let mut ids = [None; 8];
        let name = std::ffi::CString::new(pid.to_string()).expect("digits have no NUL");
        match read_links(proc.as_fd(), &name, kinds, dev, &mut ids)? {
            Read::Ok => Ok(ProcessNamespaces { pid, ids }),
            Read::Skip(Errno::NOENT | Errno::SRCH) => Err(Error::NoSuchProcess { pid }),
            Read::Skip(e) => Err(Error::os(
                Operation::ReadProc,
                Target::Process { pid, kind: None },
                e.into(),
            )),
        }
    }

    /// The pid these are of.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The id of the namespace of `kind`, if it was read.
    pub fn get(&self, kind: NamespaceKind) -> Option<NamespaceId> {
        self.ids[kind.index()]
    }

    /// All ids read, in the order of [`NamespaceKind::ALL`].
    pub fn iter(&self) -> impl Iterator<Item = NamespaceId> + '_ {
        self.ids.iter().flatten().copied()
    }

    /// The kinds in which `self` and `other` are in different namespaces.
    pub fn differences(&self, other: &ProcessNamespaces) -> NamespaceSet {
        NamespaceKind::ALL
            .into_iter()
            .filter(|k| self.get(*k) != other.get(*k))
            .collect()
    }
}

/// Whether processes `a` and `b` are in the same namespace of `kind` (compared by nsfs device
/// and inode, as `stat(2)` of their `/proc/<pid>/ns/<kind>` reports).
///
/// # References
///  - [namespaces(7)](https://man7.org/linux/man-pages/man7/namespaces.7.html)
pub fn same_namespace(a: u32, b: u32, kind: NamespaceKind) -> Result<bool> {
    let ia = ProcessNamespaces::of_kinds(a, kind.set())?;
    let ib = ProcessNamespaces::of_kinds(b, kind.set())?;
    Ok(ia.get(kind) == ib.get(kind))
}

/// One namespace in a system-wide [`list`]: what `lsns(8)` shows, and its place in the
/// hierarchy.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct NamespaceInfo {
    /// Its id (the NS column of `lsns` is `id.ino()`).
    pub id: NamespaceId,
    /// The processes in it, ascending. Empty for a namespace kept alive only by a bind mount.
    pub pids: Vec<u32>,
    /// The lowest pid in it for which details could be read (the PID column of `lsns`).
    pub pid: Option<u32>,
    /// The real uid of that process (USER/UID of `lsns`).
    pub uid: Option<u32>,
    /// Its command line, arguments joined by spaces; the command name for kernel threads.
    pub command: Option<String>,
    /// The uid that created the user namespace owning this one (this one, for a user
    /// namespace), from `NS_GET_OWNER_UID`.
    pub owner_uid: Option<u32>,
    /// The parent namespace, for pid and user namespaces (PNS of `lsns`).
    pub parent: Option<NamespaceId>,
    /// The user namespace that owns it (ONS of `lsns`).
    pub owner: Option<NamespaceId>,
    /// Mount points (in the caller's mount namespace) of nsfs bind mounts of it, as made by
    /// [`Namespace::persist`] or `ip netns add`.
    pub mounts: Vec<PathBuf>,
}

impl NamespaceInfo {
    /// Number of processes in it (NPROCS of `lsns`).
    pub fn nprocs(&self) -> usize {
        self.pids.len()
    }
}

/// Every namespace of the kinds in `kinds` that a process visible in `/proc` is in, or that a
/// nsfs bind mount in the caller's mount namespace keeps alive: the listing of `lsns(8)`.
///
/// Processes that exit during the scan, or whose namespaces the caller may not read (other
/// users' processes, without `CAP_SYS_PTRACE`), are passed over, as `lsns` does. Only threads
/// leaders are looked at. Sorted by kind, then inode.
///
/// Cost: one `openat` and one `readlinkat` per kind for each process, then for each namespace
/// found a few reads and `ioctl_nsfs(2)` calls for the details. Command lines are read only for
/// the one process shown per namespace.
///
/// # References
///  - [lsns(8)](https://man7.org/linux/man-pages/man8/lsns.8.html),
///    [ioctl_nsfs(2)](https://man7.org/linux/man-pages/man2/ioctl_nsfs.2.html)
pub fn list(kinds: NamespaceSet) -> Result<Vec<NamespaceInfo>> {
    let dev = nsfs_dev()?;
    let proc = proc_dir()?;
    let mut found: HashMap<NamespaceId, Vec<u32>> = HashMap::new();
    let mut dir = rustix::fs::Dir::read_from(&proc)
        .map_err(|e| Error::os(Operation::ReadProc, Target::Path("/proc".into()), e.into()))?;
    while let Some(entry) = dir.read() {
        let entry = entry
            .map_err(|e| Error::os(Operation::ReadProc, Target::Path("/proc".into()), e.into()))?;
        let name = entry.file_name();
        let Some(pid) = parse_pid(name.to_bytes()) else {
            continue;
        };
        let mut ids = [None; 8];
        if let Read::Ok = read_links(proc.as_fd(), name, kinds, dev, &mut ids)? {
            for id in ids.into_iter().flatten() {
                found.entry(id).or_default().push(pid);
            }
        }
    }
    let mut mounts: HashMap<NamespaceId, Vec<PathBuf>> = HashMap::new();
    for (id, path) in nsfs_mounts(dev)? {
        if kinds.has(id.kind()) {
            found.entry(id).or_default();
            mounts.entry(id).or_default().push(path);
        }
    }
    let mut out: Vec<NamespaceInfo> = found
        .into_iter()
        .map(|(id, mut pids)| {
            pids.sort_unstable();
            let mounts = mounts.remove(&id).unwrap_or_default();
            describe(proc.as_fd(), id, pids, mounts)
        })
        .collect();
    out.sort_by_key(|n| (n.id.kind(), n.id.ino()));
    Ok(out)
}

fn parse_pid(name: &[u8]) -> Option<u32> {
    if name.is_empty() || !name.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(name).ok()?.parse().ok()
}

/// Fills in the details of one namespace: the first of its processes that can still be read
/// gives pid, uid and command, and a handle opened through it gives owner and parent.
fn describe(
    proc: BorrowedFd<'_>,
    id: NamespaceId,
    pids: Vec<u32>,
    mounts: Vec<PathBuf>,
) -> NamespaceInfo {
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
        let Ok(ns) = Namespace::open(pid, id.kind()) else {
            continue;
        };
        // The pid may have been recycled into another namespace since the scan.
        if ns.id() != id {
            continue;
        }
        let Some((uid, command)) = process_details(proc, pid) else {
            continue;
        };
        info.pid = Some(pid);
        info.uid = Some(uid);
        info.command = Some(command);
        handle = Some(ns);
        break;
    }
    if handle.is_none() {
        handle = info
            .mounts
            .iter()
            .find_map(|p| Namespace::from_path(p).ok().filter(|ns| ns.id() == id));
    }
    if let Some(ns) = handle {
        let owner = ns.owner().ok();
        info.owner = owner.as_ref().map(Namespace::id);
        info.owner_uid = if id.kind() == NamespaceKind::User {
            ns.owner_uid().ok()
        } else {
            owner.and_then(|o| o.owner_uid().ok())
        };
        if id.kind().is_hierarchical() {
            info.parent = ns.parent().ok().map(|p| p.id());
        }
    }
    info
}

/// The real uid (owner of `/proc/<pid>`) and command line of a process.
fn process_details(proc: BorrowedFd<'_>, pid: u32) -> Option<(u32, String)> {
    let dir = rustix::fs::openat(
        proc,
        pid.to_string(),
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .ok()?;
    let uid = rustix::fs::fstat(&dir).ok()?.st_uid;
    let cmdline = read_small(dir.as_fd(), c"cmdline")?;
    let mut command = cmdline
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(String::from_utf8_lossy)
        .collect::<Vec<_>>()
        .join(" ");
    if command.is_empty() {
        command = String::from_utf8_lossy(&read_small(dir.as_fd(), c"comm")?)
            .trim_end()
            .to_string();
    }
    Some((uid, command))
}

fn read_small(dir: BorrowedFd<'_>, name: &CStr) -> Option<Vec<u8>> {
    use std::io::Read as _;
    let fd = rustix::fs::openat(dir, name, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()).ok()?;
    let mut out = Vec::new();
    std::fs::File::from(fd).read_to_end(&mut out).ok()?;
    Some(out)
}

/// The nsfs mounts of the caller's mount namespace: each mounted namespace and its mount point,
/// from `/proc/self/mountinfo`.
///
/// # References
///  - [proc_pid_mountinfo(5)](https://man7.org/linux/man-pages/man5/proc_pid_mountinfo.5.html)
pub fn nsfs_mounts(dev: u64) -> Result<Vec<(NamespaceId, PathBuf)>> {
    let path = "/proc/self/mountinfo";
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::os(Operation::ReadProc, Target::Path(path.into()), e))?;
    Ok(text
        .lines()
        .filter_map(parse_mountinfo_line)
        .filter(|m| m.fstype == "nsfs")
        .filter_map(|m| {
            let id = NamespaceId::parse_link(&m.root, dev).ok()?;
            Some((id, m.mount_point))
        })
        .collect())
}

/// The fields of one `/proc/<pid>/mountinfo` line this crate uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MountInfo {
    /// Mount id (field 1).
    pub mount_id: u32,
    /// Parent mount id (field 2).
    pub parent_id: u32,
    /// The root of the mount within its filesystem (field 4), unescaped.
    pub root: String,
    /// The mount point (field 5), unescaped.
    pub mount_point: PathBuf,
    /// Per-mount options (field 6), e.g. `rw,nosuid`.
    pub options: String,
    /// Optional fields (propagation: `shared:N`, `master:N`, `unbindable`).
    pub optional: Vec<String>,
    /// Filesystem type.
    pub fstype: String,
    /// Mount source.
    pub source: String,
    /// Superblock options.
    pub super_options: String,
}

/// Parses one line of `/proc/<pid>/mountinfo`; `None` if it is malformed.
///
/// # References
///  - [proc_pid_mountinfo(5)](https://man7.org/linux/man-pages/man5/proc_pid_mountinfo.5.html)
pub fn parse_mountinfo_line(line: &str) -> Option<MountInfo> {
    let mut fields = line.split(' ');
    let mount_id = fields.next()?.parse().ok()?;
    let parent_id = fields.next()?.parse().ok()?;
    let devno = fields.next()?;
    if !devno.contains(':') {
        return None;
    }
    let root = unescape(fields.next()?)?;
    let mount_point = PathBuf::from(unescape(fields.next()?)?);
    let options = fields.next()?.to_string();
    let mut optional = Vec::new();
    loop {
        let f = fields.next()?;
        if f == "-" {
            break;
        }
        optional.push(f.to_string());
    }
    let fstype = unescape(fields.next()?)?;
    let source = unescape(fields.next()?)?;
    let super_options = fields.next()?.to_string();
    if fields.next().is_some() {
        return None;
    }
    Some(MountInfo {
        mount_id,
        parent_id,
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
fn unescape(field: &str) -> Option<String> {
    if !field.contains('\\') {
        return Some(field.to_string());
    }
    let b = field.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' {
            let oct = b.get(i + 1..i + 4)?;
            if !oct.iter().all(|c| (b'0'..=b'7').contains(c)) {
                return None;
            }
            let v =
                (oct[0] - b'0') as u32 * 64 + (oct[1] - b'0') as u32 * 8 + (oct[2] - b'0') as u32;
            out.push(u8::try_from(v).ok()?);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

// The nsfs superblock magic is what `Namespace::from_path` checks; keep the two in one place.
const _: i64 = sys::NSFS_MAGIC;

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
        assert_eq!(m.root, "net:[4026532177]");
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
            prop_assert_eq!(&m.root, &root);
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
