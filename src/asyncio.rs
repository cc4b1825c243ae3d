//! Awaiting a child's exit on tokio's reactor (feature `tokio`): [`Child::wait_async`] and
//! [`PidFd::wait_async`]; [`Command::status_async`] and [`Command::output_async`]; the
//! child's pipes as tokio pipe ends ([`Child::stdout_async`] and the like).
//!
//! Spawning itself stays synchronous: `spawn` returns once the program runs, which takes about
//! as long as `execve` (well under a millisecond), as `tokio::process` spawns too.
//!
//! A pidfd becomes readable when its process exits (`poll(2)` reports `POLLIN`). The pidfd is
//! registered with the reactor of the running tokio runtime (`tokio::io::unix::AsyncFd`, an
//! `epoll(7)` registration), the task sleeps until the fd is readable, and then the child is
//! reaped with `waitid(P_PIDFD, WNOHANG)`. No thread is started and none is blocked, however
//! many children are awaited: a current-thread runtime awaits hundreds of children on its one
//! thread.
//!
//! # Cancellation
//! The future only borrows the child. Dropping it before it completes (for example when
//! `tokio::time::timeout` elapses, or in a losing `select!` branch) deregisters the pidfd
//! and leaves the child exactly as it was: still running or exited-but-unreaped, and still
//! waitable with [`Child::wait`], [`Child::try_wait`] or another `wait_async`. Nothing is
//! killed and nothing is reaped behind the caller's back; the pidfd stays open in the child's
//! handle, so a recycled pid can never be hit later.
//!
//! To make sure a child does not outlive the task awaiting it (a task that is aborted drops
//! its futures and the `Child` it owns), spawn it with
//! [`Command::kill_on_drop`](crate::Command::kill_on_drop): dropping the `Child` then sends
//! `SIGKILL` and reaps it. That reap is a blocking `waitid(2)`, but after `SIGKILL` it is
//! short (the process is already dying).
//!
//! # References
//!  - [pidfd_open(2)](https://man7.org/linux/man-pages/man2/pidfd_open.2.html) ("the file
//!    descriptor becomes readable when the process terminates"),
//!    [waitid(2)](https://man7.org/linux/man-pages/man2/waitid.2.html),
//!    [epoll(7)](https://man7.org/linux/man-pages/man7/epoll.7.html)

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::process::{ExitStatus, Output};

use tokio::io::AsyncReadExt;
use tokio::net::unix::pipe;

use crate::error::{Error, Operation, Result, Target};
use crate::pidfd::PidFd;
use crate::spawn::{Child, Command};

fn reactor_error(pid: u32, e: io::Error) -> Error {
    Error::os(Operation::Wait, Target::Process { pid, kind: None }, e)
}

/// Waits on the reactor until `reap` (a `WNOHANG` reap) reports a status.
async fn wait_readable(
    pidfd: io::Result<OwnedFd>,
    pid: u32,
    mut reap: impl FnMut() -> Result<Option<ExitStatus>>,
) -> Result<ExitStatus> {
    if let Some(status) = reap()? {
        return Ok(status);
    }
    // `pidfd` is a duplicate of the caller's, owned by the registration: it stays valid however
    // the caller's handle or this future is dropped, and leaves `self` free to be borrowed
    // mutably by the reaps.
    let owned = pidfd.map_err(|e| reactor_error(pid, e))?;
    let registration = crate::sys::register_readable(owned).map_err(|e| reactor_error(pid, e))?;
    loop {
        let mut ready = registration
            .readable()
            .await
            .map_err(|e| reactor_error(pid, e))?;
        // Readable means exited: the reap finds the status. The check is repeated anyway
        // because readiness can be stale (it is edge-triggered and cached by the reactor).
        if let Some(status) = reap()? {
            return Ok(status);
        }
        ready.clear_ready();
    }
}

#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
impl PidFd {
    /// Waits for the process to exit without blocking the thread, and reaps it: the pidfd is
    /// registered with the current tokio runtime's reactor (`epoll(7)`), the task sleeps until
    /// the pidfd is readable, then `waitid(P_PIDFD, WEXITED | WNOHANG)` reaps it. Feature
    /// `tokio`.
    ///
    /// Cancel-safe: dropping the future leaves the process as it was (running, or exited and
    /// not yet reaped) and still waitable; see [`Child::wait_async`].
    ///
    /// # Errors
    /// [`Error::Os`] with [`Operation::Wait`] if `waitid` fails or the reactor refuses the fd.
    ///
    /// # Panics
    /// When polled outside a tokio runtime, or in one built without `enable_io()`
    /// (`AsyncFd` needs the reactor).
    ///
    /// # References
    ///  - [pidfd_open(2)](https://man7.org/linux/man-pages/man2/pidfd_open.2.html),
    ///    [waitid(2)](https://man7.org/linux/man-pages/man2/waitid.2.html),
    ///    [epoll(7)](https://man7.org/linux/man-pages/man7/epoll.7.html)
    #[doc(alias = "waitid")]
    pub async fn wait_async(&mut self) -> Result<ExitStatus> {
        let (pid, fd) = (self.pid(), self.as_fd().try_clone_to_owned());
        wait_readable(fd, pid, || self.try_wait()).await
    }
}

#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
impl Child {
    /// Closes stdin (as [`wait`](Self::wait) does) and waits for the child to exit without
    /// blocking the thread, then reaps it. See [`PidFd::wait_async`]: the child's pidfd is
    /// registered with the tokio reactor; no thread per child. Feature `tokio`.
    ///
    /// Cancel-safe: dropping the future (a `tokio::time::timeout` that elapses, a `select!`
    /// branch that loses) leaves the child running or unreaped, and still waitable:
    ///
    /// ```no_run
    /// # async fn demo() -> linux_namespaces::Result<()> {
    /// use std::time::Duration;
    /// use linux_namespaces::Command;
    ///
    /// let mut child = Command::new("sleep").arg("60").spawn()?;
    /// match tokio::time::timeout(Duration::from_secs(1), child.wait_async()).await {
    ///     Ok(status) => println!("exited: {}", status?),
    ///     Err(_elapsed) => {
    ///         // The wait was cancelled; the child is untouched. Stop and reap it.
    ///         child.kill()?;
    ///         println!("killed: {}", child.wait_async().await?);
    ///     }
    /// }
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// A `Child` dropped without being reaped stays a zombie until the process exits, as with
    /// `std::process`; [`Command::kill_on_drop`](crate::Command::kill_on_drop) kills and reaps
    /// it on drop instead, which covers a task that is aborted while it awaits.
    ///
    /// # Errors
    /// [`Error::Os`] with [`Operation::Wait`] if `waitid` fails or the reactor refuses the fd.
    ///
    /// # Panics
    /// When polled outside a tokio runtime, or in one built without `enable_io()`.
    ///
    /// # References
    ///  - [pidfd_open(2)](https://man7.org/linux/man-pages/man2/pidfd_open.2.html),
    ///    [waitid(2)](https://man7.org/linux/man-pages/man2/waitid.2.html),
    ///    [epoll(7)](https://man7.org/linux/man-pages/man7/epoll.7.html)
    #[doc(alias = "waitid")]
    pub async fn wait_async(&mut self) -> Result<ExitStatus> {
        drop(self.stdin.take());
        let (pid, fd) = (self.id(), self.pidfd().as_fd().try_clone_to_owned());
        wait_readable(fd, pid, || self.try_wait()).await
    }
}

#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
impl Child {
    /// Takes the parent's end of a piped stdin as a tokio pipe writer (`AsyncWrite`), set
    /// non-blocking and registered with the reactor. `None` if stdin is not piped (or was
    /// taken). Feature `tokio`.
    ///
    /// # Errors
    /// The `io::Error` of the registration (outside a runtime with I/O enabled).
    pub fn stdin_async(&mut self) -> Option<io::Result<pipe::Sender>> {
        let end = OwnedFd::from(self.stdin.take()?);
        Some(pipe::Sender::from_owned_fd(end))
    }

    /// Takes the parent's end of a piped stdout as a tokio pipe reader (`AsyncRead`).
    ///
    /// # Errors
    /// As for [`stdin_async`](Self::stdin_async).
    pub fn stdout_async(&mut self) -> Option<io::Result<pipe::Receiver>> {
        let end = OwnedFd::from(self.stdout.take()?);
        Some(pipe::Receiver::from_owned_fd(end))
    }

    /// Takes the parent's end of a piped stderr as a tokio pipe reader (`AsyncRead`).
    ///
    /// # Errors
    /// As for [`stdin_async`](Self::stdin_async).
    pub fn stderr_async(&mut self) -> Option<io::Result<pipe::Receiver>> {
        let end = OwnedFd::from(self.stderr.take()?);
        Some(pipe::Receiver::from_owned_fd(end))
    }

    /// Closes stdin, reads stdout and stderr to their ends (both at once) and waits, without
    /// blocking the thread: the asynchronous [`wait_with_output`](Self::wait_with_output).
    ///
    /// # Errors
    /// [`Error::Os`] with [`Operation::Io`] if a pipe cannot be read, as for
    /// [`wait_async`](Self::wait_async) otherwise.
    pub async fn wait_with_output_async(mut self) -> Result<Output> {
        drop(self.stdin.take());
        let pid = self.id();
        let io_err =
            |e: io::Error| Error::os(Operation::Io, Target::Process { pid, kind: None }, e);
        let out = self.stdout_async().transpose().map_err(io_err)?;
        let err = self.stderr_async().transpose().map_err(io_err)?;
        async fn read_all(p: Option<pipe::Receiver>) -> io::Result<Vec<u8>> {
            let mut buf = Vec::new();
            if let Some(mut p) = p {
                p.read_to_end(&mut buf).await?;
            }
            Ok(buf)
        }
        let (stdout, stderr) = tokio::try_join!(read_all(out), read_all(err)).map_err(io_err)?;
        let status = self.wait_async().await?;
        Ok(Output {
            status,
            stdout,
            stderr,
        })
    }
}

#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
impl Command {
    /// Spawns (stdio inherited unless set) and awaits the child's exit on the reactor: the
    /// asynchronous [`status`](Self::status). Feature `tokio`.
    ///
    /// # Errors
    /// As for [`spawn`](Self::spawn) and [`Child::wait_async`].
    pub async fn status_async(&mut self) -> Result<ExitStatus> {
        self.spawn()?.wait_async().await
    }

    /// Spawns with stdin from `/dev/null` and stdout and stderr piped (unless set), reads them
    /// and awaits the exit, all on the reactor: the asynchronous [`output`](Self::output).
    ///
    /// ```no_run
    /// # async fn demo() -> linux_namespaces::Result<()> {
    /// use linux_namespaces::{Command, NamespaceSet};
    ///
    /// let out = Command::new("/bin/sh")
    ///     .args(["-c", "hostname"])
    ///     .unshare(NamespaceSet::USER | NamespaceSet::UTS)
    ///     .map_root()
    ///     .hostname("async")
    ///     .output_async()
    ///     .await?;
    /// assert_eq!(out.stdout, b"async\n");
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// As for [`spawn`](Self::spawn) and [`Child::wait_with_output_async`].
    pub async fn output_async(&mut self) -> Result<Output> {
        self.spawn_for_output()?.wait_with_output_async().await
    }
}
