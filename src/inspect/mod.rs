//! Which namespaces processes are in: one process ([`NamespaceIds`]), two compared
//! ([`same_namespace`]), or the whole system like `lsns(8)` ([`list()`]).
//!
//! Everything here reads `/proc`, so it describes processes as the procfs instance mounted at
//! `/proc` sees them: pids are pids in that procfs's pid namespace (normally the caller's), and
//! processes the caller may not inspect (another user's, without `CAP_SYS_PTRACE`) are either
//! an error ([`NamespaceIds::of`]) or passed over ([`list()`]), as `lsns(8)` does.
//!
//! The listing finds namespaces the way `lsns` does: through the processes in them, through
//! nsfs bind mounts (`ip netns add`), and through open file descriptors (an open namespace
//! file, or a socket created in a network namespace) of processes that are elsewhere; plus
//! the owners and parents of those. [`list_with`] and [`ListOptions`] choose what is scanned;
//! [`NamespaceInfo::open`] gets a handle to a listed namespace, for `ioctl_nsfs(2)` or
//! `setns(2)`.
//!
//! Nothing here changes the caller, and nothing starts a thread unless [`ListOptions::threads`]
//! asks for more than one: it is safe to call [`list()`] and then `unshare(2)` a user
//! namespace, which the kernel refuses to multithreaded processes.
//!
//! ```
//! use linux_namespaces::{inspect, Command, NamespaceKind, NamespaceSet, Stdio};
//!
//! # fn main() -> linux_namespaces::Result<()> {
//! let mut child = Command::new("/bin/cat")
//!     .unshare(NamespaceSet::USER | NamespaceSet::UTS)
//!     .map_root()
//!     .stdin(Stdio::piped())
//!     .spawn()?;
//! // Which kinds the child does not share with us.
//! let me = inspect::NamespaceIds::of(std::process::id())?;
//! let it = inspect::NamespaceIds::of(child.id())?;
//! assert_eq!(me.differences(&it), NamespaceSet::USER | NamespaceSet::UTS);
//! // The system-wide listing finds its UTS namespace, with the child in it.
//! let uts = it.get(NamespaceKind::Uts).unwrap();
//! let listed = inspect::list(NamespaceSet::UTS)?;
//! assert!(listed.iter().any(|n| n.id == uts && n.pids.contains(&child.id())));
//! child.wait()?;
//! # Ok(())
//! # }
//! ```

//!
//! * `ids.rs`: [`NamespaceIds`] and [`same_namespace`], from one process's links.
//! * `list.rs`: [`list()`], [`list_with`], the system-wide listing, in two parts:
//!   `scan.rs`, which processes are in which namespace, with `fds.rs`, the scan of open fds
//!   (nsfs files and sockets); and `describe.rs`, each namespace's details and relatives.
//! * `mountinfo.rs`: [`parse_mountinfo_line`].
//! * `status.rs`: [`ProcessStatus`], a process's `/proc/<pid>/status`.

mod describe;
mod fds;
mod ids;
mod list;
mod mountinfo;
mod scan;
mod status;

pub use ids::{NamespaceIds, same_namespace};
pub(crate) use list::processes_by_namespace;
pub use list::{ListOptions, NamespaceInfo, list, list_with};
pub use mountinfo::{MountInfo, parse_mountinfo_line};
pub use status::ProcessStatus;

use std::os::fd::OwnedFd;
use std::sync::OnceLock;

use rustix::fs::{Mode, OFlags};

use crate::error::{Error, Operation, Result, Target};

/// The device number (`st_dev`) of nsfs, the filesystem of every namespace file.
///
/// The text of a `/proc/<pid>/ns` link (`net:[4026531840]`) carries only the inode; this
/// supplies the device that makes it a [`NamespaceId`](crate::NamespaceId). Found once with
/// `stat(2)` of `/proc/self/ns/user` and cached for the life of the process.
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

fn proc_dir() -> Result<OwnedFd> {
    rustix::fs::open(
        "/proc",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::os(Operation::Open, Target::Path("/proc".into()), e.into()))
}

fn parse_pid(name: &[u8]) -> Option<u32> {
    parse_decimal(name)
        .and_then(|n| u32::try_from(n).ok())
        .filter(|p| *p != 0)
}

/// A `/proc` directory entry name of at most 10 decimal digits (a pid, an fd number), without
/// allocating.
fn parse_decimal(name: &[u8]) -> Option<u64> {
    if name.is_empty() || name.len() > 10 || !name.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(name.iter().fold(0u64, |n, &d| n * 10 + u64::from(d - b'0')))
}

/// `<pid><suffix>` (a suffix such as `b"/ns\0"`, NUL included) for a pid given as its decimal
/// digits, as a C string in `buf`, relative to a `/proc` directory fd. `None` if it does not
/// fit.
fn pid_subdir<'b>(pid: &[u8], suffix: &[u8], buf: &'b mut [u8; 32]) -> Option<&'b std::ffi::CStr> {
    let len = pid.len() + suffix.len();
    if pid.is_empty() || len > buf.len() {
        return None;
    }
    buf[..pid.len()].copy_from_slice(pid);
    buf[pid.len()..len].copy_from_slice(suffix);
    std::ffi::CStr::from_bytes_with_nul(&buf[..len]).ok()
}

/// How many threads to use for `items` pieces of work when `asked` for: below a few dozen
/// pieces per thread, a thread costs more than it saves.
fn threads_for(asked: usize, items: usize) -> usize {
    asked.clamp(1, items / 32 + 1)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_entries_that_are_pids() {
        assert_eq!(parse_pid(b"1"), Some(1));
        assert_eq!(parse_pid(b"4194304"), Some(4194304));
        for not in [&b""[..], b"0", b"self", b"12a", b"99999999999", b"-1"] {
            assert_eq!(parse_pid(not), None, "{not:?}");
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
