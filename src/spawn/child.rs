//! [`Child`]: a spawned process, held by its pidfd.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::process::{ChildStderr, ChildStdin, ChildStdout, ExitStatus, Output};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::kind::NamespaceKind;
use crate::namespace::Namespace;
use crate::pidfd::PidFd;
use crate::signal::Signal;

/// A spawned process. Waiting and signalling go through its pidfd.
///
/// Dropping a `Child` does not kill or wait for it, unless
/// [`Command::kill_on_drop`](crate::Command::kill_on_drop) was set.
///
/// ```
/// use std::time::Duration;
/// use linux_namespaces::{Command, Signal, Stdio};
///
/// # fn main() -> linux_namespaces::Result<()> {
/// let mut child = Command::new("/bin/cat").stdin(Stdio::piped()).spawn()?;
/// assert!(child.is_alive()?);
/// // Still running after a short wait: cat waits for its stdin.
/// assert!(child.wait_timeout(Duration::from_millis(10))?.is_none());
/// child.signal(Signal::TERM)?;
/// let status = child.wait()?;
/// use std::os::unix::process::ExitStatusExt;
/// assert_eq!(status.signal(), Some(libc::SIGTERM));
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Child {
    pub(super) handle: PidFd,
    /// The parent's end of the child's stdin, if piped.
    pub stdin: Option<ChildStdin>,
    /// The parent's end of the child's stdout, if piped.
    pub stdout: Option<ChildStdout>,
    /// The parent's end of the child's stderr, if piped.
    pub stderr: Option<ChildStderr>,
    pub(super) kill_on_drop: bool,
}

impl Child {
    /// The child's pid in the caller's pid namespace.
    pub fn id(&self) -> u32 {
        self.handle.pid()
    }

    /// The pidfd handle.
    pub fn pidfd(&self) -> &PidFd {
        &self.handle
    }

    /// A handle to the child's namespace of `kind` (see [`Namespace::from_pidfd`]).
    ///
    /// # Errors
    /// As [`Namespace::from_pidfd`].
    pub fn namespace(&self, kind: NamespaceKind) -> Result<Namespace> {
        Namespace::from_pidfd(self.handle.as_fd(), kind)
    }

    /// Closes stdin (so a child reading it sees EOF) and waits for the child to exit.
    ///
    /// # Errors
    /// [`Error::Os`] from `waitid(2)`.
    ///
    /// # References
    ///  - [waitid(2)](https://man7.org/linux/man-pages/man2/waitid.2.html)
    pub fn wait(&mut self) -> Result<ExitStatus> {
        drop(self.stdin.take());
        self.handle.wait()
    }

    /// Reaps the child if it has exited, without blocking.
    ///
    /// # Errors
    /// [`Error::Os`] from `waitid(2)`.
    ///
    /// # References
    ///  - [waitid(2)](https://man7.org/linux/man-pages/man2/waitid.2.html)
    pub fn try_wait(&mut self) -> Result<Option<ExitStatus>> {
        self.handle.try_wait()
    }

    /// Waits at most `timeout`; `None` if the child still runs.
    ///
    /// # Errors
    /// [`Error::Os`] from `poll(2)` or `waitid(2)`.
    ///
    /// # References
    ///  - [poll(2)](https://man7.org/linux/man-pages/man2/poll.2.html)
    pub fn wait_timeout(&mut self, timeout: Duration) -> Result<Option<ExitStatus>> {
        self.handle.wait_timeout(timeout)
    }

    /// Sends `SIGKILL`.
    ///
    /// # Errors
    /// [`Error::Os`] from `pidfd_send_signal(2)` (`EPERM` if the caller may not signal it);
    /// nothing (`Ok`) once the process has exited or been reaped.
    ///
    /// # References
    ///  - [pidfd_send_signal(2)](https://man7.org/linux/man-pages/man2/pidfd_send_signal.2.html)
    pub fn kill(&mut self) -> Result<()> {
        self.handle.kill()
    }

    /// Sends `signal` ([`PidFd::signal`]: `pidfd_send_signal(2)`, every signal the real-time
    /// ones included); nothing once the child has been reaped.
    ///
    /// # Errors
    /// [`Error::Os`] from the call.
    ///
    /// # References
    ///  - [pidfd_send_signal(2)](https://man7.org/linux/man-pages/man2/pidfd_send_signal.2.html)
    pub fn signal(&self, signal: Signal) -> Result<()> {
        self.handle.signal(signal)
    }

    /// Whether the child is still running ([`PidFd::is_alive`]: signal 0).
    ///
    /// # Errors
    /// [`Error::Os`] from the call.
    ///
    /// # References
    ///  - [pidfd_send_signal(2)](https://man7.org/linux/man-pages/man2/pidfd_send_signal.2.html)
    pub fn is_alive(&self) -> Result<bool> {
        self.handle.is_alive()
    }

    /// Sends `SIGTERM`, waits up to `grace`, then sends `SIGKILL`, and reaps the child.
    ///
    /// # Errors
    /// [`Error::Os`] from signalling, `poll(2)` or `waitid(2)`.
    ///
    /// # References
    ///  - [pidfd_send_signal(2)](https://man7.org/linux/man-pages/man2/pidfd_send_signal.2.html)
    pub fn stop(&mut self, grace: Duration) -> Result<ExitStatus> {
        self.handle.signal(Signal::TERM)?;
        if let Some(s) = self.handle.wait_timeout(grace)? {
            return Ok(s);
        }
        self.handle.kill()?;
        self.handle.wait()
    }

    /// Closes stdin, reads stdout and stderr to their ends (both at once, with `poll(2)`),
    /// and waits.
    ///
    /// # Errors
    /// [`Error::Os`] from reading the pipes, `poll(2)` or `waitid(2)`.
    ///
    /// # References
    ///  - [poll(2)](https://man7.org/linux/man-pages/man2/poll.2.html)
    pub fn wait_with_output(mut self) -> Result<Output> {
        drop(self.stdin.take());
        let (stdout, stderr) = read2(
            self.stdout.take().map(OwnedFd::from),
            self.stderr.take().map(OwnedFd::from),
        )
        .map_err(|e| {
            Error::os(
                crate::Operation::Io,
                crate::Target::Process {
                    pid: self.id(),
                    kind: None,
                },
                e,
            )
        })?;
        let status = self.wait()?;
        Ok(Output {
            status,
            stdout,
            stderr,
        })
    }
}

impl AsFd for Child {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.handle.as_fd()
    }
}

impl AsRawFd for Child {
    /// The pidfd's number.
    fn as_raw_fd(&self) -> RawFd {
        self.handle.as_raw_fd()
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if self.kill_on_drop && self.handle.status().is_none() {
            let _ = self.handle.kill();
            let _ = self.handle.wait();
        }
    }
}

fn read2(out: Option<OwnedFd>, err: Option<OwnedFd>) -> io::Result<(Vec<u8>, Vec<u8>)> {
    use rustix::event::{PollFd, PollFlags};
    let mut bufs = (Vec::new(), Vec::new());
    let mut fds = [out, err];
    let mut chunk = [0u8; 8192];
    loop {
        let open: Vec<usize> = (0..2).filter(|i| fds[*i].is_some()).collect();
        if open.is_empty() {
            return Ok(bufs);
        }
        let mut pfds: Vec<PollFd<'_>> = open
            .iter()
            .map(|i| PollFd::new(fds[*i].as_ref().expect("open"), PollFlags::IN))
            .collect();
        match rustix::event::poll(&mut pfds, None) {
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
        let ready: Vec<(usize, bool)> = open
            .iter()
            .zip(pfds.iter())
            .map(|(i, p)| (*i, !p.revents().is_empty()))
            .collect();
        drop(pfds);
        for (i, r) in ready {
            if !r {
                continue;
            }
            let fd = fds[i].as_ref().expect("open");
            match rustix::io::read(fd, &mut chunk) {
                Ok(0) => fds[i] = None,
                Ok(n) => {
                    if i == 0 {
                        bufs.0.extend_from_slice(&chunk[..n])
                    } else {
                        bufs.1.extend_from_slice(&chunk[..n])
                    }
                }
                Err(rustix::io::Errno::INTR | rustix::io::Errno::AGAIN) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
}
