//! Signal dispositions and the signal mask the program starts with.

use super::{Fail, OrFail, Plan, Step, StepKind};
use crate::sys::raw;

pub(super) fn reset_signals(plan: &Plan, handlers_cleared: bool) -> Step<()> {
    for sig in 1..=64 {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        let reset = plan.reset_all_signals
            || (sig == libc::SIGPIPE && plan.reset_sigpipe)
            || (!handlers_cleared && raw::sigaction_is_handler(sig));
        if reset {
            // EINVAL for the signals glibc reserves (32, 33) is harmless.
            match raw::sigaction_default(sig) {
                Ok(_) | Err(libc::EINVAL) => {}
                Err(errno) => {
                    return Err(Fail {
                        code: StepKind::Signals,
                        index: sig as u32,
                        errno,
                    });
                }
            }
        }
    }
    raw::sigprocmask(libc::SIG_SETMASK, &plan.sigmask).at(StepKind::Signals, 0)?;
    Ok(())
}
