//! [`PidFd`]: a handle to a child process through a pidfd. Waiting and signalling go through
//! the fd, so a pid the kernel has recycled can never be hit.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags};
use rustix::process::{WaitId, WaitIdOptions};

use crate::error::{Error, Operation, Result, Target};
use crate::kernel::KernelFeature;
use crate::signal::Signal;
use crate::sys;

/// What [`PidFd::wait_stopped_or_exited`] saw happen to the process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitEvent {
    /// The process was stopped by this signal; it is still there, stopped, until sent
    /// [`Signal::CONT`].
    Stopped(Signal),
    /// The process exited or was killed, and has been reaped: its status, as
    /// [`PidFd::wait`] gives it.
    Exited(ExitStatus),
}

/// A child process of the caller, held by a pidfd.
///
/// After the child has been reaped (by [`wait`](Self::wait) or a [`try_wait`](Self::try_wait)
/// that saw it exit) the status is remembered; signalling then does nothing.
///
/// # References
///  - [pidfd_open(2)](https://man7.org/linux/man-pages/man2/pidfd_open.2.html),
///    [waitid(2)](https://man7.org/linux/man-pages/man2/waitid.2.html) (`P_PIDFD`, Linux 5.4),
///    [pidfd_send_signal(2)](https://man7.org/linux/man-pages/man2/pidfd_send_signal.2.html)
#[derive(Debug)]
pub struct PidFd {
    fd: OwnedFd,
    pid: u32,
    status: Option<ExitStatus>,
}

fn wait_error(pid: u32, e: rustix::io::Errno) -> Error {
    Error::os(
        Operation::Wait,
        Target::Process { pid, kind: None },
        e.into(),
    )
}

impl PidFd {
    pub(crate) fn from_parts(fd: OwnedFd, pid: u32) -> PidFd {
        PidFd {
            fd,
            pid,
            status: None,
        }
    }

    /// Opens a pidfd for `pid` (`pidfd_open(2)`, Linux 5.3). Waiting works only for children
    /// of the caller; signalling works for any process the caller may signal.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for pid 0 or above `i32::MAX`, [`Error::Os`] from
    /// `pidfd_open(2)` (`ESRCH` for no such process).
    ///
    /// # References
    ///  - [pidfd_open(2)](https://man7.org/linux/man-pages/man2/pidfd_open.2.html)
    pub fn open(pid: u32) -> Result<PidFd> {
        crate::validate::check_pid(pid)?;
        let raw = rustix::process::Pid::from_raw(pid as i32)
            .ok_or_else(|| Error::invalid("pid", "0 is not a process id"))?;
        match rustix::process::pidfd_open(raw, rustix::process::PidfdFlags::empty()) {
            Ok(fd) => Ok(PidFd::from_parts(fd, pid)),
            Err(rustix::io::Errno::SRCH) => Err(Error::NoSuchProcess { pid }),
            Err(rustix::io::Errno::NOSYS) => Err(Error::Unsupported {
                feature: KernelFeature::PidfdOpen,
            }),
            Err(e) => Err(Error::os(
                Operation::PidfdOpen,
                Target::Process { pid, kind: None },
                e.into(),
            )),
        }
    }

    /// Duplicates file descriptor `fd` of the process into the caller (`pidfd_getfd(2)`,
    /// Linux 5.6), close-on-exec. The new fd refers to the same open file description, as
    /// after `SCM_RIGHTS`.
    ///
    /// Needs ptrace attach access to the process (`PTRACE_MODE_ATTACH_REALCREDS`: same
    /// uid and not more privileged, or `CAP_SYS_PTRACE`), and Yama's `ptrace_scope` may
    /// refuse it for non-descendants.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a negative `fd`; [`Error::NoSuchProcess`] if the process has
    /// exited; [`Error::Os`] from `pidfd_getfd(2)`: `EBADF` if the process has no such fd,
    /// `EPERM` without ptrace access.
    ///
    /// # Examples
    /// ```
    /// use linux_namespaces::PidFd;
    /// use std::os::fd::AsRawFd;
    ///
    /// let file = std::fs::File::open("/proc/self/status")?;
    /// let me = PidFd::open(std::process::id())?;
    /// let copy = me.get_fd(file.as_raw_fd())?;
    /// assert_ne!(copy.as_raw_fd(), file.as_raw_fd());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # References
    ///  - [pidfd_getfd(2)](https://man7.org/linux/man-pages/man2/pidfd_getfd.2.html),
    ///    [ptrace(2)](https://man7.org/linux/man-pages/man2/ptrace.2.html) (access mode checking)
    #[doc(alias = "pidfd_getfd")]
    pub fn get_fd(&self, fd: RawFd) -> Result<OwnedFd> {
        if fd < 0 {
            return Err(Error::invalid(
                "fd",
                format!("{fd} is not a file descriptor"),
            ));
        }
        match rustix::process::pidfd_getfd(
            self.fd.as_fd(),
            fd,
            rustix::process::PidfdGetfdFlags::empty(),
        ) {
            Ok(fd) => Ok(fd),
            Err(rustix::io::Errno::SRCH) => Err(Error::NoSuchProcess { pid: self.pid }),
            Err(rustix::io::Errno::NOSYS) => Err(Error::Unsupported {
                feature: KernelFeature::PidfdGetfd,
            }),
            Err(e) => Err(Error::os(
                Operation::PidfdGetfd,
                Target::Process {
                    pid: self.pid,
                    kind: None,
                },
                e.into(),
            )),
        }
    }

    /// The process id (in the caller's pid namespace).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    fn reap(&mut self, options: WaitIdOptions) -> Result<Option<ExitStatus>> {
        // Without WSTOPPED, waitid reports exits only.
        Ok(match self.wait_event(options)? {
            Some(WaitEvent::Exited(status)) => Some(status),
            Some(WaitEvent::Stopped(_)) | None => None,
        })
    }

    /// `waitid(P_PIDFD, WEXITED | options)`; an exit is reaped and remembered.
    fn wait_event(&mut self, options: WaitIdOptions) -> Result<Option<WaitEvent>> {
        if let Some(s) = self.status {
            return Ok(Some(WaitEvent::Exited(s)));
        }
        loop {
            match rustix::process::waitid(
                WaitId::PidFd(self.fd.as_fd()),
                WaitIdOptions::EXITED | options,
            ) {
                Ok(Some(st)) => {
                    if let Some(sig) = st.stopping_signal().or(st.trapping_signal()) {
                        // si_status of a stop is the signal that stopped it: always valid.
                        return Ok(Signal::from_raw(sig).map(WaitEvent::Stopped));
                    }
                    let raw = if let Some(sig) = st.terminating_signal() {
                        sig | if st.dumped() { 0x80 } else { 0 }
                    } else {
                        (st.exit_status().unwrap_or(0) & 0xff) << 8
                    };
                    let status = ExitStatus::from_raw(raw);
                    self.status = Some(status);
                    return Ok(Some(WaitEvent::Exited(status)));
                }
                Ok(None) => return Ok(None),
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(wait_error(self.pid, e)),
            }
        }
    }

    /// Waits until the process stops or exits (`waitid(P_PIDFD, WEXITED | WSTOPPED)`, what
    /// `waitpid(pid, WUNTRACED)` reports): [`WaitEvent::Stopped`] with the signal that stopped
    /// it (`SIGSTOP`, `SIGTSTP`, `SIGTTIN`, `SIGTTOU`; or the signal of a ptrace stop, for
    /// a tracer), the process staying there to be continued ([`signal`](Self::signal) with
    /// [`Signal::CONT`]); or [`WaitEvent::Exited`] with its status, the process reaped as
    /// by [`wait`](Self::wait) (and the status remembered: later calls return it again).
    /// Each stop is reported once. A supervisor that stops when its child stops (the
    /// `nsenter` example: Ctrl-Z in a shell stops the program and then the supervisor, whose
    /// shell then sees it stopped) waits with this.
    ///
    /// ```
    /// use linux_namespaces::{Namespaces, Signal, WaitEvent};
    ///
    /// # fn main() -> linux_namespaces::Result<()> {
    /// let mut child = Namespaces::new().fork(|| {
    ///     let me = rustix::process::getpid();
    ///     let _ = rustix::process::kill_process(me, rustix::process::Signal::STOP);
    ///     7
    /// })?;
    /// assert_eq!(child.wait_stopped_or_exited()?, WaitEvent::Stopped(Signal::STOP));
    /// child.signal(Signal::CONT)?;
    /// match child.wait_stopped_or_exited()? {
    ///     WaitEvent::Exited(status) => assert_eq!(status.code(), Some(7)),
    ///     other => panic!("{other:?}"),
    /// }
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::Os`] from `waitid(2)` (`ECHILD` if the process is not the caller's child, or if
    /// `SIGCHLD` is ignored (`SIG_IGN`), which makes the kernel reap children itself; `EINVAL`
    /// before Linux 5.4, which has no `P_PIDFD`).
    ///
    /// # References
    ///  - [waitid(2)](https://man7.org/linux/man-pages/man2/waitid.2.html) (`WSTOPPED`),
    ///    [waitpid(2)](https://man7.org/linux/man-pages/man2/waitpid.2.html) (`WUNTRACED`),
    ///    [signal(7)](https://man7.org/linux/man-pages/man7/signal.7.html) (stop signals)
    #[doc(alias = "WSTOPPED", alias = "WUNTRACED", alias = "waitid")]
    pub fn wait_stopped_or_exited(&mut self) -> Result<WaitEvent> {
        // A blocking waitid returns only with an event; the loop is for the type.
        loop {
            if let Some(event) = self.wait_event(WaitIdOptions::STOPPED)? {
                return Ok(event);
            }
        }
    }

    /// Waits for the process to exit and reaps it (`waitid(P_PIDFD, WEXITED)`).
    ///
    /// # Errors
    /// [`Error::Os`] from `waitid(2)` (`ECHILD` if the process is not the caller's child).
    ///
    /// # References
    ///  - [waitid(2)](https://man7.org/linux/man-pages/man2/waitid.2.html)
    pub fn wait(&mut self) -> Result<ExitStatus> {
        // A blocking waitid returns only with a status; the loop is for the type, not for time.
        loop {
            if let Some(status) = self.reap(WaitIdOptions::empty())? {
                return Ok(status);
            }
        }
    }

    /// Reaps the process if it has exited (`WNOHANG`), without blocking.
    ///
    /// # Errors
    /// [`Error::Os`] from `waitid(2)` (`ECHILD` if the process is not the caller's child).
    ///
    /// # References
    ///  - [waitid(2)](https://man7.org/linux/man-pages/man2/waitid.2.html)
    pub fn try_wait(&mut self) -> Result<Option<ExitStatus>> {
        self.reap(WaitIdOptions::NOHANG)
    }

    /// Waits at most `timeout` for the process to exit: `poll(2)` on the pidfd, which becomes
    /// readable when the process exits, then a reap. `None` if it is still running.
    ///
    /// # Errors
    /// [`Error::Os`] from `poll(2)` or `waitid(2)`.
    ///
    /// # References
    ///  - [poll(2)](https://man7.org/linux/man-pages/man2/poll.2.html)
    pub fn wait_timeout(&mut self, timeout: Duration) -> Result<Option<ExitStatus>> {
        if let Some(s) = self.status {
            return Ok(Some(s));
        }
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(s) = self.try_wait()? {
                return Ok(Some(s));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            let ts = rustix::time::Timespec::try_from(left).unwrap_or(rustix::time::Timespec {
                tv_sec: i64::MAX,
                tv_nsec: 0,
            });
            let mut fds = [PollFd::new(&self.fd, PollFlags::IN)];
            match rustix::event::poll(&mut fds, Some(&ts)) {
                Ok(_) | Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(wait_error(self.pid, e)),
            }
        }
    }

    /// Sends `signal` to the process (`pidfd_send_signal(2)`): any [`Signal`], the real-time
    /// ones included. Does nothing once the process has been reaped, or if it has already
    /// exited.
    ///
    /// # Errors
    /// [`Error::Os`] from the call (`EPERM` without permission to signal the process).
    ///
    /// # References
    ///  - [pidfd_send_signal(2)](https://man7.org/linux/man-pages/man2/pidfd_send_signal.2.html),
    ///    [signal(7)](https://man7.org/linux/man-pages/man7/signal.7.html)
    pub fn signal(&self, signal: Signal) -> Result<()> {
        self.send(signal.as_raw()).map(|_| ())
    }

    /// Whether the process exists and may be signalled: `pidfd_send_signal(2)` of signal 0,
    /// which sends nothing. `false` once it has exited (or been reaped).
    ///
    /// # Errors
    /// [`Error::Os`] from the call (`EPERM` without permission to signal the process).
    ///
    /// # References
    ///  - [pidfd_send_signal(2)](https://man7.org/linux/man-pages/man2/pidfd_send_signal.2.html)
    pub fn is_alive(&self) -> Result<bool> {
        self.send(0)
    }

    /// `pidfd_send_signal`; `false` if the process is gone.
    fn send(&self, signal: i32) -> Result<bool> {
        if self.status.is_some() {
            return Ok(false);
        }
        match sys::pidfd_send_signal(self.fd.as_fd(), signal) {
            Ok(()) => Ok(true),
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Ok(false),
            Err(e) => Err(Error::os(
                Operation::Signal,
                Target::Process {
                    pid: self.pid,
                    kind: None,
                },
                e,
            )),
        }
    }

    /// Sends `SIGKILL`.
    ///
    /// # Errors
    /// [`Error::Os`] from `pidfd_send_signal(2)` (`EPERM` if the caller may
    /// not signal it); nothing (`Ok`) once the process has exited or been reaped.
    ///
    /// # References
    ///  - [pidfd_send_signal(2)](https://man7.org/linux/man-pages/man2/pidfd_send_signal.2.html)
    pub fn kill(&self) -> Result<()> {
        self.signal(Signal::KILL)
    }

    /// The status, if the process has been reaped.
    pub fn status(&self) -> Option<ExitStatus> {
        self.status
    }
}

impl AsFd for PidFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for PidFd {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl From<PidFd> for OwnedFd {
    fn from(p: PidFd) -> OwnedFd {
        p.fd
    }
}

impl TryFrom<OwnedFd> for PidFd {
    type Error = Error;

    /// Takes over a pidfd made elsewhere (`pidfd_open(2)`, `clone3` with `CLONE_PIDFD`, one
    /// received over a socket), checked with the `Pid:` line of `/proc/self/fdinfo/<fd>`. The
    /// fd is closed on error.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] if the fd is not a pidfd; [`Error::NoSuchProcess`] if its
    /// process has been reaped; [`Error::Os`] if fdinfo cannot be read.
    fn try_from(fd: OwnedFd) -> Result<PidFd> {
        match crate::namespace::pidfd_pid(fd.as_fd())? {
            None => Err(Error::invalid(
                "pidfd",
                format!("fd {} is not a pidfd", std::os::fd::AsRawFd::as_raw_fd(&fd)),
            )),
            Some(pid) => match u32::try_from(pid) {
                Ok(pid) if pid > 0 => Ok(PidFd::from_parts(fd, pid)),
                _ => Err(Error::NoSuchProcess { pid: 0 }),
            },
        }
    }
}
