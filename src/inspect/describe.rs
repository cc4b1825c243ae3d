//! The second part of [`list_with`](super::list_with): the details of each namespace found
//! (the process `lsns` shows for it, its owner and parent), and the relatives listed with
//! them, shared out over threads when asked.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::ffi::CStr;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;

use super::list::NamespaceInfo;
use super::{fds, on_threads, threads_for};
use crate::kind::{NamespaceKind, NamespaceSet};
use crate::namespace::{self, NamespaceId};
use crate::sys;

/// One namespace to describe: what the scan found of it.
pub(super) struct Job {
    pub(super) id: NamespaceId,
    pub(super) pids: Vec<u32>,
    pub(super) mounts: Vec<PathBuf>,
    pub(super) fds: Vec<(u32, i32)>,
    /// Whether its owner and parent are listed too.
    pub(super) chase: bool,
}

/// The details of `jobs` (sorted by first pid), and after them the relatives listed only as
/// such, over up to `threads` threads. With `relations`, or where a job is chased, the owner
/// and parent of a namespace shown through a process are read too.
pub(super) fn describe_all(
    proc: BorrowedFd<'_>,
    kinds: NamespaceSet,
    relations: bool,
    jobs: Vec<Job>,
    threads: usize,
) -> Vec<NamespaceInfo> {
    let known: HashSet<NamespaceId> = jobs.iter().map(|j| j.id).collect();
    // Contiguous shares that do not split a process's namespaces, so each process's
    // directory is still opened once.
    let shares = describe_shares(&jobs, threads_for(threads, jobs.len()));
    let described = on_threads(shares.len(), |t| {
        let mut describer = Describer {
            proc,
            kinds,
            relations,
            dir: None,
            shown: HashMap::new(),
            owner_uids: HashMap::new(),
            known: known.clone(),
            relatives: Vec::new(),
        };
        let infos: Vec<NamespaceInfo> = jobs[shares[t].clone()]
            .iter()
            .map(|job| describer.describe(job))
            .collect();
        (infos, describer.relatives)
    });
    let mut out = Vec::with_capacity(jobs.len());
    let mut relatives = Vec::new();
    for (infos, mut more) in described {
        out.extend(infos);
        relatives.append(&mut more);
    }
    // The shares come back in order: what the scan found moves into its row.
    for (info, job) in out.iter_mut().zip(jobs) {
        info.pids = job.pids;
        info.mounts = job.mounts;
        info.fds = job.fds;
    }
    // A relative that shares found on their own is listed once.
    relatives.sort_unstable_by_key(|n| n.id);
    relatives.dedup_by_key(|n| n.id);
    out.append(&mut relatives);
    out
}

/// `jobs` (sorted by first pid) cut into at most `n` contiguous ranges of about equal
/// length, each cut moved on past the jobs of the same first pid.
pub(super) fn describe_shares(jobs: &[Job], n: usize) -> Vec<std::ops::Range<usize>> {
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
    /// The details of `job`'s namespace; its pids, mounts and fds are for the caller to
    /// move in.
    fn describe(&mut self, job: &Job) -> NamespaceInfo {
        let id = job.id;
        let mut info = NamespaceInfo::bare(id);
        // Relations are read where asked for, and where they are to be chased.
        let relations = self.relations || job.chase;
        let mut handle = None;
        for &pid in &job.pids {
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
            handle = job
                .mounts
                .iter()
                .find_map(|p| open_mount_checked(p.as_path(), id))
                .or_else(|| fds::open_any_held(self.proc, &job.fds, id));
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
}
