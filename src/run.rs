//! Running a closure inside namespaces: [`Namespaces::run`] forks a child that enters them,
//! runs the closure there and sends back what it returned ([`ChildValue`]).

use std::ffi::OsString;
use std::io::{self, Read};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;

use crate::error::{Error, Operation, Result, Target};
use crate::namespaces::Namespaces;
use crate::pidfd::PidFd;
use crate::sys;

/// A value a closure run by [`Namespaces::run`] can send back from its child process: turned
/// into bytes there, and back here.
pub trait ChildValue: Sized {
    /// The value as bytes.
    fn to_bytes(&self) -> Vec<u8>;
    /// The value from [`to_bytes`](Self::to_bytes)'s bytes; `None` if they are not one.
    fn from_bytes(bytes: &[u8]) -> Option<Self>;
}

impl ChildValue for () {
    fn to_bytes(&self) -> Vec<u8> {
        Vec::new()
    }
    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        bytes.is_empty().then_some(())
    }
}

impl ChildValue for bool {
    fn to_bytes(&self) -> Vec<u8> {
        vec![u8::from(*self)]
    }
    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        match bytes {
            [0] => Some(false),
            [1] => Some(true),
            _ => None,
        }
    }
}

macro_rules! child_value_int {
    ($($t:ty),*) => {$(
        impl ChildValue for $t {
            fn to_bytes(&self) -> Vec<u8> {
                self.to_le_bytes().to_vec()
            }
            fn from_bytes(bytes: &[u8]) -> Option<Self> {
                Some(<$t>::from_le_bytes(bytes.try_into().ok()?))
            }
        }
    )*};
}
child_value_int!(u8, u16, u32, u64, i32, i64, usize);

impl ChildValue for Vec<u8> {
    fn to_bytes(&self) -> Vec<u8> {
        self.clone()
    }
    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        Some(bytes.to_vec())
    }
}

impl ChildValue for String {
    fn to_bytes(&self) -> Vec<u8> {
        self.as_bytes().to_vec()
    }
    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        String::from_utf8(bytes.to_vec()).ok()
    }
}

impl ChildValue for OsString {
    fn to_bytes(&self) -> Vec<u8> {
        self.as_bytes().to_vec()
    }
    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        Some(OsString::from_vec(bytes.to_vec()))
    }
}

impl ChildValue for PathBuf {
    fn to_bytes(&self) -> Vec<u8> {
        self.as_os_str().as_bytes().to_vec()
    }
    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        Some(PathBuf::from(OsString::from_vec(bytes.to_vec())))
    }
}

/// The first byte of the child's report.
const OK: u8 = 0;
const FAILED: u8 = 1;
const PANICKED: u8 = 2;
const NOT_ENTERED: u8 = 3;

impl Namespaces {
    /// Runs `f` in a forked child process that has entered these namespaces (in the order of
    /// [`enter`](Self::enter)), and returns what `f` returned there. The caller's threads
    /// never move; the child is reaped before this returns.
    ///
    /// The child is single-threaded, so `f` may enter user and mount namespaces or create new
    /// ones ([`Namespaces::unshare_calling_thread`]), which a multithreaded caller cannot. It
    /// is forked from a possibly multithreaded process: it may allocate (libc's `fork` makes
    /// the allocator usable), but must not wait for a lock another thread of the caller may
    /// have held at the fork (a `Mutex` of yours, `std::io::stdout`'s); print with
    /// `eprintln!`, which takes no lock that outlives a call. A panic in `f` runs the panic
    /// hook, which takes locks of its own (the backtrace's): if another thread was panicking
    /// at the fork, the child can block there. Its result comes back through
    /// [`ChildValue`]; an `Err` comes back with its errno and message, a panic as an error
    /// naming it.
    ///
    /// ```
    /// use linux_namespaces::{Namespace, NamespaceKind, NamespaceSet, Namespaces};
    ///
    /// # fn main() -> linux_namespaces::Result<()> {
    /// // A host name in a new UTS namespace, read back from the child that set it.
    /// let name: String = Namespaces::new().run(|| {
    ///     Namespaces::unshare_calling_thread(NamespaceSet::USER | NamespaceSet::UTS)
    ///         .map_err(std::io::Error::from)?;
    ///     rustix::system::sethostname(b"inside")?;
    ///     Ok(rustix::system::uname().nodename().to_string_lossy().into_owned())
    /// })?;
    /// assert_eq!(name, "inside");
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::Os`] if entering a namespace fails in the child (with the errno and a hint as
    /// [`enter`](Self::enter) gives it), if `f` returns an `Err` (its errno or kind and its
    /// message), if `f` panics, or if the fork or the pipe fails.
    ///
    /// # References
    ///  - [fork(2)](https://man7.org/linux/man-pages/man2/fork.2.html),
    ///    [setns(2)](https://man7.org/linux/man-pages/man2/setns.2.html)
    pub fn run<T: ChildValue>(&self, f: impl FnOnce() -> io::Result<T>) -> Result<T> {
        let target = || Target::Caller(self.kinds());
        let io_err = |e: io::Error| Error::os(Operation::Io, target(), e);
        let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
            .map_err(|e| io_err(e.into()))?;
        let mut child = fork_held(
            || {
                let report = match self.enter() {
                    Err(e) => error_report(NOT_ENTERED, e.raw_os_error(), &e),
                    Ok(_) => match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
                        Ok(Ok(v)) => {
                            let mut b = vec![OK];
                            b.extend(v.to_bytes());
                            b
                        }
                        Ok(Err(e)) => error_report(FAILED, e.raw_os_error(), &e),
                        Err(p) => {
                            let mut b = vec![PANICKED];
                            let msg = p
                                .downcast_ref::<String>()
                                .cloned()
                                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                                .unwrap_or_else(|| "panic".into());
                            b.extend_from_slice(msg.as_bytes());
                            b
                        }
                    },
                };
                i32::from(write_all(&w, &report).is_err())
            },
            target,
        )?;
        drop(w);
        let mut report = Vec::new();
        let read = std::fs::File::from(r).read_to_end(&mut report);
        reap(&mut child)?;
        read.map_err(io_err)?;
        decode(&report, target)
    }
}

impl Namespaces {
    /// Forks a child process that enters these namespaces (as [`run`](Self::run) does) and
    /// then runs `f`, ending with what `f` returns as its exit status (`exit_group(2)`: only
    /// the low 8 bits reach a waiter; 101 if `f` panics, as for a Rust program). Returns
    /// once the child has entered the namespaces, with its [`PidFd`] to wait for it or
    /// signal it; the caller reaps it. The child starts only once this pidfd is open, so it
    /// is the child's even where the kernel reaps children at once (`SIGCHLD` ignored); a
    /// [`wait`](PidFd::wait) then fails with `ECHILD`. With no namespaces
    /// (`Namespaces::new()`) this is a plain fork running a closure: a helper process that
    /// does its work in parallel, or a child that sets itself up and executes a program
    /// (`std::process::Command::exec`).
    ///
    /// What `f` may do is as for [`run`](Self::run): it runs in a single-threaded copy of
    /// the caller, so after a fork from a multithreaded process it must not wait for a lock
    /// another thread may have held. It runs on a copy of the caller's memory: what it
    /// changes, the caller does not see. Values `f` takes by move are dropped by the caller
    /// when this returns; to close the child's copy of an fd the caller keeps (the write
    /// end of a pipe the child reads until EOF), hold it in a `Cell<Option<OwnedFd>>` and
    /// `take()` it in `f`. No destructor or at-exit handler runs when `f` returns: flush
    /// buffered output (`std::io::stdout`) first.
    ///
    /// ```
    /// use std::cell::Cell;
    /// use std::io::Read;
    /// use linux_namespaces::Namespaces;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// // A helper that waits for its go-ahead on a pipe: end of file without a byte means
    /// // the caller gave up, so it must not hold the write end itself.
    /// let (mut r, w) = std::io::pipe()?;
    /// let w = Cell::new(Some(w));
    /// let mut helper = Namespaces::new().fork(|| {
    ///     drop(w.take());
    ///     let mut go = Vec::new();
    ///     match r.read_to_end(&mut go) {
    ///         Ok(_) if go == b"go" => 0,
    ///         _ => 1,
    ///     }
    /// })?;
    /// std::io::Write::write_all(&mut w.take().unwrap(), b"go")?;
    /// assert_eq!(helper.wait()?.code(), Some(0));
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::Os`] from `fork(2)` or the pipe the child reports on, or if entering a
    /// namespace fails in the child (which has then been reaped; with the errno as
    /// [`enter`](Self::enter) gives it); [`Error::NoSuchProcess`] or [`Error::Unsupported`]
    /// from `pidfd_open(2)` (before Linux 5.3).
    ///
    /// # References
    ///  - [fork(2)](https://man7.org/linux/man-pages/man2/fork.2.html),
    ///    [setns(2)](https://man7.org/linux/man-pages/man2/setns.2.html),
    ///    [pidfd_open(2)](https://man7.org/linux/man-pages/man2/pidfd_open.2.html)
    pub fn fork(&self, f: impl FnOnce() -> i32) -> Result<PidFd> {
        let target = || Target::Caller(self.kinds());
        let io_err = |e: io::Error| Error::os(Operation::Io, target(), e);
        let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
            .map_err(|e| io_err(e.into()))?;
        let w = std::cell::Cell::new(Some(w));
        let mut child = fork_held(
            || {
                let Some(w) = w.take() else { return 1 };
                if let Err(e) = self.enter() {
                    let _ = write_all(&w, &error_report(NOT_ENTERED, e.raw_os_error(), &e));
                    return 1;
                }
                if write_all(&w, &[OK]).is_err() {
                    return 1;
                }
                drop(w);
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or(101)
            },
            target,
        )?;
        drop(w.take());
        // The child writes one report before `f` runs: a lone OK byte, or why it failed and
        // then exits. Read no further than an OK byte: another thread's fork may hold a copy
        // of the write end for a while.
        let mut r = std::fs::File::from(r);
        let mut first = [0u8; 1];
        let read = loop {
            match r.read(&mut first) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Ok(1) if first[0] == OK => return Ok(child),
                Ok(n) => {
                    let mut report = first[..n].to_vec();
                    break r.read_to_end(&mut report).map(|_| report);
                }
                Err(e) => break Err(e),
            }
        };
        reap(&mut child)?;
        decode::<()>(&read.map_err(io_err)?, target).map(|()| child)
    }
}

/// Forks a child that runs `child` once this process holds its pidfd, and returns that
/// pidfd. The child waits for a byte on a pipe first: until then it cannot exit, so its pid
/// is its own when `pidfd_open(2)` is called, even where the kernel reaps children at once
/// (`SIGCHLD` ignored, or `SA_NOCLDWAIT`) and could give a freed pid to another process.
fn fork_held(child: impl FnOnce() -> i32, target: impl Fn() -> Target) -> Result<PidFd> {
    let (go_r, go_w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
        .map_err(|e| Error::os(Operation::Io, target(), e.into()))?;
    let (go_r, go_w) = (
        std::cell::Cell::new(Some(go_r)),
        std::cell::Cell::new(Some(go_w)),
    );
    let pid = sys::fork_running(|| {
        // Its own copy of the write end goes, so that the read sees EOF if the parent dies.
        drop(go_w.take());
        let Some(go) = go_r.take() else { return 1 };
        let mut b = [0u8; 1];
        loop {
            match rustix::io::read(&go, &mut b) {
                Err(rustix::io::Errno::INTR) => {}
                Ok(1) => break,
                // The parent could not open the pidfd: it reaps this process.
                _ => return 1,
            }
        }
        drop(go);
        child()
    })
    .map_err(|e| Error::os(Operation::Fork, target(), e))?;
    drop(go_r.take());
    let go = go_w.take().expect("the parent's write end");
    let pidfd = match PidFd::open(pid) {
        Ok(p) => p,
        Err(e) => {
            // The child reads EOF and exits; reap it where the kernel does not.
            drop(go);
            let _ = rustix::process::waitpid(
                rustix::process::Pid::from_raw(pid as i32),
                rustix::process::WaitOptions::empty(),
            );
            return Err(e);
        }
    };
    if let Err(e) = write_all(&go, &[1]) {
        // Only a child that died (a signal from elsewhere) closes the read end.
        let mut pidfd = pidfd;
        let _ = reap(&mut pidfd);
        return Err(Error::os(Operation::Io, target(), e));
    }
    Ok(pidfd)
}

/// Waits for a child that has ended (or is ending), for its exit status not to linger: with
/// `SIGCHLD` ignored the kernel reaped it already, and `ECHILD` is no error.
fn reap(child: &mut PidFd) -> Result<()> {
    match child.wait() {
        Err(e) if e.raw_os_error() == Some(libc::ECHILD) => Ok(()),
        r => r.map(drop),
    }
}

/// A child's report of an error: `tag`, the errno (0 for none) and the message, as
/// [`decode`] reads them.
fn error_report(tag: u8, errno: Option<i32>, msg: &dyn std::fmt::Display) -> Vec<u8> {
    let mut b = vec![tag];
    b.extend_from_slice(&errno.unwrap_or(0).to_le_bytes());
    b.extend_from_slice(msg.to_string().as_bytes());
    b
}

fn write_all(fd: &std::os::fd::OwnedFd, mut buf: &[u8]) -> io::Result<()> {
    while !buf.is_empty() {
        match rustix::io::write(fd, buf) {
            Ok(n) => buf = &buf[n..],
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

fn decode<T: ChildValue>(report: &[u8], target: impl Fn() -> Target) -> Result<T> {
    let malformed = || {
        Error::os(
            Operation::Io,
            target(),
            io::Error::new(io::ErrorKind::InvalidData, "no report from the child"),
        )
    };
    let (tag, rest) = report.split_first().ok_or_else(malformed)?;
    let word = |b: &[u8]| -> Option<u32> { Some(u32::from_le_bytes(b.get(..4)?.try_into().ok()?)) };
    match *tag {
        OK => T::from_bytes(rest).ok_or_else(malformed),
        NOT_ENTERED | FAILED => {
            let errno = word(rest).ok_or_else(malformed)? as i32;
            let msg = String::from_utf8_lossy(rest.get(4..).unwrap_or_default()).into_owned();
            let source = match errno {
                0 => io::Error::other(msg),
                errno => io::Error::from_raw_os_error(errno),
            };
            // No hint: it would describe this process (its threads, say), not the child.
            Err(Error::Os {
                op: if *tag == NOT_ENTERED {
                    Operation::Setns
                } else {
                    Operation::Io
                },
                target: target(),
                source,
                hint: None,
            })
        }
        PANICKED => Err(Error::os(
            Operation::Io,
            target(),
            io::Error::other(format!(
                "the closure panicked in the child: {}",
                String::from_utf8_lossy(rest)
            )),
        )),
        _ => Err(malformed()),
    }
}
