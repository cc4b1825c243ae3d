//! The namespaces of one process, by id: [`NamespaceIds`] and [`same_namespace`].

use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::OnceLock;

use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;

use super::{nsfs_dev, parse_pid, proc_dir};
use crate::error::{Error, Operation, Result, Target};
use crate::kind::{NamespaceKind, NamespaceSet};
use crate::namespace::NamespaceId;

/// The namespaces one process is in, by id, read from its `/proc/<pid>/ns` links.
///
/// A snapshot: the process may change namespaces (`setns(2)`, `unshare(2)`) or exit right
/// after. Hold [`Namespace`](crate::Namespace) handles to pin namespaces instead.
///
/// # References
///  - [proc_pid_ns(5)](https://man7.org/linux/man-pages/man5/proc_pid_ns.5.html)
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamespaceIds {
    pid: u32,
    ids: [Option<NamespaceId>; 8],
}

/// Why a process's links could not be read. The scan passes over such processes.
#[derive(Clone, Copy, Debug)]
pub(super) struct Unreadable {
    errno: Errno,
    kind: Option<NamespaceKind>,
}

impl Unreadable {
    /// `ENOENT`/`ESRCH`: the process is gone (or a zombie, whose links are dead).
    fn is_gone(self) -> bool {
        matches!(self.errno, Errno::NOENT | Errno::SRCH)
    }
}

/// The inode in a link text of the expected kind (`net:[4026531840]` → 4026531840).
fn parse_link_ino(text: &[u8], kind: NamespaceKind) -> Option<u64> {
    crate::namespace::parse_link_bytes(text)
        .filter(|(k, _)| *k == kind)
        .map(|(_, ino)| ino)
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
pub(super) fn read_links(
    proc: BorrowedFd<'_>,
    pid: &[u8],
    kinds: NamespaceSet,
    dev: u64,
    all_or_nothing: bool,
    ids: &mut [Option<NamespaceId>; 8],
) -> Result<std::result::Result<(), Unreadable>> {
    let mut path = [0u8; 32];
    let Some(path) = super::pid_subdir(pid, b"/ns\0", &mut path) else {
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
        match rustix::fs::readlinkat_raw(&ns, kind.link_name(), &mut buf) {
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

impl NamespaceIds {
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
        crate::validate::check_pid(pid)?;
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
            Ok(()) => Ok(NamespaceIds { pid, ids }),
            Err(u) if u.is_gone() => Err(Error::NoSuchProcess { pid }),
            Err(u) => Err(Error::os(
                Operation::ReadProc,
                Target::Process { pid, kind: u.kind },
                u.errno.into(),
            )),
        }
    }

    /// The pid these are of. No system call: the snapshot's own field.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The id of the namespace of `kind`, if it was read (what `readlink(2)` of
    /// `/proc/<pid>/ns/<kind>` showed when the snapshot was taken).
    pub fn get(&self, kind: NamespaceKind) -> Option<NamespaceId> {
        self.ids[kind.index()]
    }

    /// All ids read, in the order of [`NamespaceKind::ALL`]. No system call.
    pub fn iter(&self) -> impl Iterator<Item = NamespaceId> + '_ {
        self.ids.iter().flatten().copied()
    }

    /// The kinds in which `self` and `other` are in different namespaces (a kind read for one
    /// and not the other counts as different). Compares the snapshots; no system call.
    pub fn differences(&self, other: &NamespaceIds) -> NamespaceSet {
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
/// As for [`NamespaceIds::of`], for either process.
///
/// # References
///  - [namespaces(7)](https://man7.org/linux/man-pages/man7/namespaces.7.html),
///    [proc_pid_ns(5)](https://man7.org/linux/man-pages/man5/proc_pid_ns.5.html)
pub fn same_namespace(a: u32, b: u32, kind: NamespaceKind) -> Result<bool> {
    let ia = NamespaceIds::of_kinds(a, kind.as_set())?;
    let ib = NamespaceIds::of_kinds(b, kind.as_set())?;
    Ok(ia.get(kind) == ib.get(kind))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

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
    fn ns_dir_paths_fit_the_buffer() {
        let mut buf = [0u8; 32];
        assert_eq!(
            super::super::pid_subdir(b"42", b"/ns\0", &mut buf),
            Some(c"42/ns")
        );
        assert_eq!(
            super::super::pid_subdir(&[b'9'; 40], b"/ns\0", &mut buf),
            None
        );
    }

    proptest! {
        #[test]
        fn link_inode_round_trips(k in proptest::sample::select(NamespaceKind::ALL.to_vec()), ino in any::<u64>()) {
            let text = NamespaceId::new(k, 0, ino).to_string();
            prop_assert_eq!(parse_link_ino(text.as_bytes(), k), Some(ino));
        }
    }
}
