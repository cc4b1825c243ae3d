//! The open-fd scan behind [`list`](super::list()): namespaces that a process holds through an
//! open nsfs file descriptor, or (network namespaces) through a socket created in them.
//!
//! Per process: one `openat(2)` of `/proc/<pid>/fd`, `getdents64(2)`, and one `statx(2)` per
//! fd (`AT_STATX_DONT_SYNC`: a file on a network or FUSE filesystem is not asked for fresh
//! attributes, so a hung server does not hang the scan). An fd on nsfs names its namespace by
//! inode. A socket costs more: its network namespace is found by duplicating it
//! (`pidfd_getfd(2)`), reading its namespace cookie (`SO_NETNS_COOKIE`) and asking
//! `SIOCGSKNS` for the first socket of each cookie only. That is done once per socket inode
//! (a socket shared by several processes is asked once) and passed over where the kernel
//! refuses it (`EPERM`: no ptrace attach access to the holder, or no `CAP_NET_ADMIN` over
//! the socket's namespace), as `lsns(8)` does.

use std::collections::HashMap;
use std::ffi::CStr;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, StatxFlags};
use rustix::io::Errno;

use crate::error::{Error, Operation, Result, Target};
use crate::namespace::{self, NamespaceId};
use crate::sys;

/// The holders of one namespace found by the scan.
#[derive(Debug, Default)]
pub(super) struct Held {
    /// `(pid, fd)` of every fd found holding it, in scan order.
    pub(super) holders: Vec<(u32, i32)>,
}

/// What one fd is, as far as the scan cares.
#[derive(Clone, Copy)]
enum FdKind {
    /// An nsfs file: the namespace's inode.
    Nsfs(u64),
    /// A socket: its inode.
    Socket(u64),
    Other,
    /// `EACCES`/`EPERM`: the process's fds may not be looked at.
    Denied,
}

/// State of the fd scan over all processes.
pub(super) struct FdScan {
    nsfs_dev: u64,
    sockets: bool,
    statx: bool,
    /// Namespaces by nsfs inode, with their holders.
    pub(super) held: HashMap<u64, Held>,
    /// Socket inode → inode of its network namespace (`None`: the kernel would not say).
    socket_ns: HashMap<u64, Option<u64>>,
    /// Whether `SO_NETNS_COOKIE` works (Linux 5.14), and the namespaces of the cookies seen.
    cookies: bool,
    cookie_ns: HashMap<u64, Option<u64>>,
}

impl FdScan {
    /// A scan that records nsfs fds, and sockets too if `sockets` (the caller asked for
    /// network namespaces).
    pub(super) fn new(nsfs_dev: u64, sockets: bool) -> FdScan {
        FdScan {
            nsfs_dev,
            sockets,
            statx: true,
            held: HashMap::new(),
            socket_ns: HashMap::new(),
            cookies: true,
            cookie_ns: HashMap::new(),
        }
    }

    /// Adds what another scan (of other processes) found.
    pub(super) fn merge(&mut self, other: FdScan) {
        for (ino, held) in other.held {
            self.held
                .entry(ino)
                .or_default()
                .holders
                .extend(held.holders);
        }
    }

    /// Scans the fds of process `pid` (its decimal digits in `name`). A process that is gone
    /// or unreadable is passed over; only an unexpected errno (such as `EMFILE`) is an error.
    pub(super) fn scan_process(
        &mut self,
        proc: BorrowedFd<'_>,
        name: &[u8],
        pid: u32,
    ) -> Result<()> {
        let mut path = [0u8; 32];
        let Some(path) = super::pid_subdir(name, b"/fd\0", &mut path) else {
            return Ok(());
        };
        let dir = match rustix::fs::openat(
            proc,
            path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => fd,
            Err(Errno::NOENT | Errno::SRCH | Errno::ACCESS | Errno::PERM) => return Ok(()),
            Err(e) => {
                return Err(Error::os(
                    Operation::Open,
                    Target::Path(format!("/proc/{pid}/fd").into()),
                    e.into(),
                ));
            }
        };
        // Sockets whose namespace is not known yet, looked up after the listing of the
        // directory (they need a pidfd, opened once for the process).
        let mut sockets: Vec<(i32, u64)> = Vec::new();
        let mut buf = [MaybeUninit::<u8>::uninit(); 4096];
        let mut entries = rustix::fs::RawDir::new(&dir, &mut buf);
        while let Some(entry) = entries.next() {
            let Ok(entry) = entry else {
                // The process exited while its fd directory was read.
                break;
            };
            let Some(fd) = parse_fd(entry.file_name().to_bytes()) else {
                continue;
            };
            match self.classify(dir.as_fd(), entry.file_name()) {
                // No access to this process's fds (the fd links need ptrace read access,
                // which the directory's open did not check): none of them can be read.
                FdKind::Denied => break,
                FdKind::Nsfs(ino) => {
                    self.held.entry(ino).or_default().holders.push((pid, fd));
                }
                FdKind::Socket(sock) if self.sockets => match self.socket_ns.get(&sock) {
                    Some(Some(ns)) => self.held.entry(*ns).or_default().holders.push((pid, fd)),
                    Some(None) => {}
                    None => sockets.push((fd, sock)),
                },
                _ => {}
            }
        }
        if !sockets.is_empty() {
            self.ask_sockets(pid, &sockets);
        }
        Ok(())
    }

    /// `statx(2)` of `/proc/<pid>/fd/<fd>` (which follows the link to the open file).
    fn classify(&mut self, dir: BorrowedFd<'_>, name: &CStr) -> FdKind {
        let (dev, ino, mode) = if self.statx {
            match rustix::fs::statx(
                dir,
                name,
                AtFlags::STATX_DONT_SYNC,
                StatxFlags::TYPE | StatxFlags::INO,
            ) {
                Ok(x) => (
                    rustix::fs::makedev(x.stx_dev_major, x.stx_dev_minor),
                    x.stx_ino,
                    u32::from(x.stx_mode),
                ),
                // No statx (before Linux 4.11, or filtered out): plain stat from now on.
                Err(Errno::NOSYS) => {
                    self.statx = false;
                    return self.classify(dir, name);
                }
                Err(Errno::ACCESS | Errno::PERM) => return FdKind::Denied,
                Err(_) => return FdKind::Other,
            }
        } else {
            match rustix::fs::statat(dir, name, AtFlags::empty()) {
                Ok(st) => (st.st_dev, st.st_ino, st.st_mode),
                Err(Errno::ACCESS | Errno::PERM) => return FdKind::Denied,
                Err(_) => return FdKind::Other,
            }
        };
        if dev == self.nsfs_dev {
            FdKind::Nsfs(ino)
        } else if FileType::from_raw_mode(mode).is_socket() {
            FdKind::Socket(ino)
        } else {
            FdKind::Other
        }
    }

    /// Finds the network namespaces of `sockets` (fd, inode) of process `pid`: through a
    /// pidfd and `pidfd_getfd(2)`, then the socket's network namespace cookie
    /// (`SO_NETNS_COOKIE`, Linux 5.14), and `SIOCGSKNS` only for a cookie not seen before
    /// (or without cookies).
    fn ask_sockets(&mut self, pid: u32, sockets: &[(i32, u64)]) {
        let Some(pid_nr) = i32::try_from(pid)
            .ok()
            .and_then(rustix::process::Pid::from_raw)
        else {
            return;
        };
        let Ok(pidfd) = rustix::process::pidfd_open(pid_nr, rustix::process::PidfdFlags::empty())
        else {
            return;
        };
        for &(fd, sock) in sockets {
            if let Some(known) = self.socket_ns.get(&sock) {
                if let Some(ns) = known {
                    self.held.entry(*ns).or_default().holders.push((pid, fd));
                }
                continue;
            }
            let dup = match rustix::process::pidfd_getfd(
                &pidfd,
                fd,
                rustix::process::PidfdGetfdFlags::empty(),
            ) {
                Ok(dup) => dup,
                // No ptrace attach access (another user's process, Yama): none of this
                // process's sockets can be asked.
                Err(Errno::PERM | Errno::ACCESS | Errno::SRCH | Errno::NOSYS) => return,
                // Closed meanwhile.
                Err(_) => continue,
            };
            // Only the socket seen in the fd directory counts: the fd may have been closed
            // and its number reused since, or the pid recycled, and a socket's inode number
            // is not reused while the system runs (a 32-bit counter would have to wrap).
            if !rustix::fs::fstat(&dup).is_ok_and(|st| st.st_ino == sock) {
                continue;
            }
            let ns = self.socket_namespace(dup.as_fd());
            self.socket_ns.insert(sock, ns);
            if let Some(ns) = ns {
                self.held.entry(ns).or_default().holders.push((pid, fd));
            }
        }
    }

    /// The inode of the network namespace of `sock`, a socket of ours now. `None` if the
    /// kernel will not say (`SIOCGSKNS` needs `CAP_NET_ADMIN` over that namespace).
    fn socket_namespace(&mut self, sock: BorrowedFd<'_>) -> Option<u64> {
        let cookie = if self.cookies {
            match sys::socket_netns_cookie(sock) {
                Ok(c) => Some(c),
                Err(_) => {
                    self.cookies = false;
                    None
                }
            }
        } else {
            None
        };
        if let Some(ino) = cookie.and_then(|c| self.cookie_ns.get(&c)) {
            return *ino;
        }
        let ino = sys::socket_netns(sock)
            .ok()
            .and_then(|ns| rustix::fs::fstat(&ns).ok())
            .filter(|st| st.st_dev == self.nsfs_dev)
            .map(|st| st.st_ino);
        // A refusal (EPERM) depends on the namespace only: remembered with the cookie too.
        if let Some(c) = cookie {
            self.cookie_ns.insert(c, ino);
        }
        ino
    }
}

/// Opens the namespace `id` that process `pid` holds at `fd`, checking the object each step
/// leads to: `/proc/<pid>/fd/<fd>` is opened `O_PATH` (no open routine runs, nothing blocks)
/// and looked at; an nsfs file of `id` is then reopened for reading through that probe, a
/// socket is duplicated from the process (`pidfd_getfd(2)`: needs ptrace attach access),
/// checked to be the same socket and asked for its network namespace (`SIOCGSKNS`). `None`
/// when any step fails or leads elsewhere.
pub(super) fn open_held(
    proc: BorrowedFd<'_>,
    pid: u32,
    fd: i32,
    dev: u64,
    ino: u64,
) -> Option<OwnedFd> {
    let probe = rustix::fs::openat(
        proc,
        format!("{pid}/fd/{fd}"),
        OFlags::PATH | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .ok()?;
    let st = rustix::fs::fstat(&probe).ok()?;
    if st.st_dev == dev {
        return (st.st_ino == ino)
            .then(|| namespace::reopen(probe.as_fd()).ok())
            .flatten();
    }
    if !FileType::from_raw_mode(st.st_mode).is_socket() {
        return None;
    }
    let pid_nr = rustix::process::Pid::from_raw(i32::try_from(pid).ok()?)?;
    let pidfd = rustix::process::pidfd_open(pid_nr, rustix::process::PidfdFlags::empty()).ok()?;
    let sock =
        rustix::process::pidfd_getfd(&pidfd, fd, rustix::process::PidfdGetfdFlags::empty()).ok()?;
    // The probe keeps the socket (and so its inode number) alive: a process that took over
    // the pid, or the fd number, holds another socket there.
    let got = rustix::fs::fstat(&sock).ok()?;
    if (got.st_dev, got.st_ino) != (st.st_dev, st.st_ino) {
        return None;
    }
    let ns = sys::socket_netns(sock.as_fd()).ok()?;
    let nst = rustix::fs::fstat(&ns).ok()?;
    ((nst.st_dev, nst.st_ino) == (dev, ino)).then_some(ns)
}

/// Opens the namespace `id` through the first of `holders` that still leads to it.
pub(super) fn open_any_held(
    proc: BorrowedFd<'_>,
    holders: &[(u32, i32)],
    id: NamespaceId,
) -> Option<OwnedFd> {
    holders
        .iter()
        .find_map(|&(pid, fd)| open_held(proc, pid, fd, id.dev(), id.ino()))
}

/// An entry of `/proc/<pid>/fd`: a non-negative decimal `int`.
fn parse_fd(name: &[u8]) -> Option<i32> {
    super::parse_decimal(name).and_then(|n| i32::try_from(n).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fd_entries_parse() {
        assert_eq!(parse_fd(b"0"), Some(0));
        assert_eq!(parse_fd(b"2147483647"), Some(i32::MAX));
        for not in [&b""[..], b"2147483648", b"-1", b"1a", b"99999999999"] {
            assert_eq!(parse_fd(not), None, "{not:?}");
        }
    }

    #[test]
    fn fd_dir_paths_fit() {
        let mut p = [0u8; 32];
        assert_eq!(
            super::super::pid_subdir(b"42", b"/fd\0", &mut p),
            Some(c"42/fd")
        );
        assert_eq!(
            super::super::pid_subdir(&[b'9'; 40], b"/fd\0", &mut p),
            None
        );
    }
}
