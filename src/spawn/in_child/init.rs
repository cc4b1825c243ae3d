//! The minimal init for a new pid namespace.
#![allow(unsafe_code)]

use super::{OrFail, Step, StepKind};
use crate::sys::clone::{self, CloneArgs};
use crate::sys::raw::{self, Prctl};

/// The minimal init: this process stays as PID 1 (or the subreaper in a joined pid
/// namespace), forks the program (which goes on to exec),
/// reaps every child, forwards signals to the program and exits with its status.
pub(super) fn init() -> Step<()> {
    // In a joined pid namespace this process is not PID 1: the program's orphans go to the
    // namespace's own init unless this one is their subreaper.
    if raw::getpid() != Ok(1) {
        raw::prctl(Prctl::SetChildSubreaper, 0).at(StepKind::InitFork, 0)?;
    }
    let mut args = CloneArgs {
        exit_signal: libc::SIGCHLD as u64,
        ..Default::default()
    };
    // SAFETY: fork-like clones return twice; both branches are handled right below, and the
    // child's copy of memory is its own (init mode never shares the address space).
    let pid = unsafe {
        clone::clone3_fork(&mut args).or_else(|e| {
            if e == libc::ENOSYS {
                let mut unused = 0;
                clone::clone_fork(libc::SIGCHLD as u64, &mut unused)
            } else {
                Err(e)
            }
        })
    }
    .at(StepKind::InitFork, 0)? as i32;
    if pid == 0 {
        // The program: carry on to exec.
        return Ok(());
    }
    // Init: hold no fd, so the parent sees the error pipe close when the program execs, and
    // pipes to the program reach EOF when it exits.
    let _ = raw::close_range(0, u32::MAX, 0);
    let _ = raw::sigaction_default(libc::SIGCHLD);
    let all: u64 = !0;
    let _ = raw::sigprocmask(libc::SIG_SETMASK, &all);
    // SAFETY: siginfo_t is plain old data; all-zero is a valid value.
    let mut info: libc::siginfo_t = unsafe { core::mem::zeroed() };
    loop {
        // Reap before every wait, the first one included: a program that exited before the
        // SIGCHLD disposition was reset above had its pending SIGCHLD discarded by that reset
        // (setting SIG_DFL drops a pending signal whose default action is to ignore it), so
        // no SIGCHLD may ever come for it.
        loop {
            let mut status = 0;
            match raw::wait4(-1, &mut status, libc::WNOHANG) {
                Ok(0) | Err(_) => break,
                Ok(reaped) if reaped as i32 == pid => {
                    let code = if libc::WIFEXITED(status) {
                        libc::WEXITSTATUS(status)
                    } else {
                        libc::WTERMSIG(status).saturating_add(128)
                    };
                    raw::exit(code);
                }
                Ok(_) => {}
            }
        }
        let sig = match raw::sigwaitinfo(&all, &mut info) {
            Ok(s) => s as i32,
            Err(_) => continue,
        };
        if sig != libc::SIGCHLD {
            let _ = raw::kill(pid, sig);
        }
    }
}
