//! Forked processes: the helper that works from outside the new namespaces, and waiting
//! for the forked child.

use super::*;

/// A forked helper that waits until the parent releases it (a byte on a pipe), does its work
/// and exits: 0 on success, else 1 after printing why.
pub(crate) struct Helper {
    pub(crate) process: PidFd,
    pub(crate) go: std::os::fd::OwnedFd,
}

impl Helper {
    pub(crate) fn fork(work: impl FnOnce() -> Result<(), Fatal>) -> Result<Helper, Fatal> {
        let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
            .map_err(|e| os_fatal("pipe failed", e))?;
        // The helper closes its copy of the write end (taken out of the cell in its own
        // memory), so that it sees end of file if this process fails before releasing it.
        let w = Cell::new(Some(w));
        let process = Namespaces::new()
            .fork(|| {
                drop(w.take());
                let mut b = [0u8; 1];
                loop {
                    match rustix::io::read(&r, &mut b) {
                        Err(rustix::io::Errno::INTR) => continue,
                        // The parent failed before releasing us: nothing to do.
                        Ok(0) | Err(_) => break 1,
                        Ok(_) => {
                            break match work() {
                                Ok(()) => 0,
                                Err(f) => i32::from(report(f)),
                            };
                        }
                    }
                }
            })
            .map_err(|e| lib_fatal("fork failed", e))?;
        let go = w.take().ok_or_else(|| Fatal::new("pipe lost"))?;
        Ok(Helper { process, go })
    }

    /// Lets the helper run and waits for it; its failure is this process's (exit status).
    pub(crate) fn release_and_wait(self) -> Result<(), Fatal> {
        let mut p = self.process;
        rustix::io::write(&self.go, &[1]).map_err(|e| os_fatal("write failed", e))?;
        drop(self.go);
        let st = p
            .wait()
            .map_err(|e| Fatal::new(format!("waitpid failed: {e}")))?;
        match st.code() {
            Some(0) | None => Ok(()),
            Some(code) => Err(Fatal {
                message: String::new(),
                status: code as u8,
            }),
        }
    }

    /// In a forked child: drops this copy of the pipe without releasing the helper.
    pub(crate) fn forget(self) {
        drop(self.go);
    }
}

/// Waits for the forked child; with a signalfd, sends each SIGINT and SIGTERM that arrives
/// on to the child meanwhile.
pub(crate) fn wait_forwarding(
    child: &mut PidFd,
    sigfd: Option<&SignalFd>,
) -> Result<std::process::ExitStatus, Fatal> {
    use rustix::event::{PollFd, PollFlags, poll};
    if let Some(sigfd) = sigfd {
        loop {
            let mut fds = [
                PollFd::new(child, PollFlags::IN),
                PollFd::new(sigfd, PollFlags::IN),
            ];
            match poll(&mut fds, None) {
                Ok(_) | Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(os_fatal("poll failed", e)),
            }
            if fds[0].revents().contains(PollFlags::IN) {
                break;
            }
            if fds[1].revents().contains(PollFlags::IN) {
                if let Ok(info) = sigfd.read() {
                    // The child may be gone already: then the wait below tells.
                    let _ = child.signal(info.signal);
                }
            }
        }
    }
    child
        .wait()
        .map_err(|e| Fatal::new(format!("waitpid failed: {e}")))
}

/// util-linux's end of a `-f` parent: the child's exit status, or the same death by signal
/// (the default disposition restored and the signal unblocked first).
pub(crate) fn die_like(status: std::process::ExitStatus) -> Result<u8, Fatal> {
    use std::os::unix::process::ExitStatusExt;
    if let Some(code) = status.code() {
        return Ok(code as u8);
    }
    if let Some(sig) = status.signal().and_then(Signal::from_raw) {
        // Returns only if the signal did not end this process: as the init of a pid
        // namespace, say, which the kernel does not send a signal it has no handler for.
        let _ = sig.raise_default();
    }
    Err(Fatal::new("child exit failed"))
}
