//! Placing the passed fds at their numbers and closing every other fd.

use super::{Args, Fail, OrFail, Step, StepKind};
use crate::sys::raw;

/// How [`close_span`] gets a span of fds closed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Close {
    /// Marked close-on-exec with `close_range(CLOSE_RANGE_CLOEXEC)` (Linux 5.11), which sets a
    /// range of the close-on-exec bitmap where closing visits every slot of the fd table (a
    /// few µs per spawn, measured in benches/spawn.rs).
    OnExec,
    /// Closed now, with `close_range(2)` (Linux 5.9) or one by one up to the fd limit.
    Now,
}

/// Gets every fd in `[lo, hi]` closed by the time the program runs. `Ok(false)`: this kernel
/// cannot mark close-on-exec (before 5.11); nothing was changed.
fn close_span(lo: u32, hi: u32, how: Close) -> Step<bool> {
    if how == Close::OnExec {
        return match raw::close_range(lo, hi, libc::CLOSE_RANGE_CLOEXEC) {
            Ok(_) => Ok(true),
            Err(libc::EINVAL | libc::ENOSYS) => Ok(false),
            Err(errno) => Err(Fail {
                code: StepKind::CloseFds,
                index: lo,
                errno,
            }),
        };
    }
    match raw::close_range(lo, hi, 0) {
        Ok(_) => Ok(true),
        Err(libc::ENOSYS) => {
            let mut lim = libc::rlimit64 {
                rlim_cur: 0,
                rlim_max: 0,
            };
            // prlimit64(0, RLIMIT_NOFILE, NULL, &lim) reads the limit; reuse the setter form
            // with the new-limit pointer absent.
            let top = match raw_getrlimit_nofile(&mut lim) {
                Ok(_) => lim.rlim_cur.min(1 << 20) as u32,
                Err(_) => 1 << 16,
            };
            if let Some(last) = top.checked_sub(1) {
                for fd in lo..=hi.min(last) {
                    let _ = raw::close(fd as i32);
                }
            }
            Ok(true)
        }
        Err(errno) => Err(Fail {
            code: StepKind::CloseFds,
            index: lo,
            errno,
        }),
    }
}

/// Closes every fd not in `keep` (sorted) and not `extra`, span by span. `Ok(false)`: `how`
/// is [`Close::OnExec`] and this kernel lacks it (found at the first span, so nothing that
/// matters was done).
fn close_gaps(keep: &[i32], extra: Option<i32>, how: Close) -> Step<bool> {
    let mut lo: u32 = 0;
    let mut extra = extra;
    let mut keep = keep.iter().copied().peekable();
    loop {
        let next = match (keep.peek().copied(), extra) {
            (Some(k), Some(e)) if e < k => {
                extra = None;
                e
            }
            (Some(k), _) => {
                keep.next();
                k
            }
            (None, Some(e)) => {
                extra = None;
                e
            }
            (None, None) => break,
        };
        let next = next as u32;
        if next > lo && !close_span(lo, next.saturating_sub(1), how)? {
            return Ok(false);
        }
        lo = lo.max(next.saturating_add(1));
    }
    close_span(lo, u32::MAX, how)
}

fn raw_getrlimit_nofile(out: &mut libc::rlimit64) -> raw::R {
    #[allow(clippy::unnecessary_cast)] // c_int on musl, c_uint on glibc
    raw::prlimit_get(libc::RLIMIT_NOFILE as u32, out)
}

/// Puts each passed fd at its number, then closes everything else except the error pipe.
pub(super) fn place_fds(a: &Args<'_>, err_w: &mut i32) -> Step<()> {
    let top = a.keep.last().copied().unwrap_or(2);
    let floor = top.saturating_add(1).max(3);
    if *err_w >= 0 && *err_w <= top {
        // Failing here means fds up to `top` cannot exist (fd limit): report that fd.
        *err_w = raw::dup_cloexec_from(*err_w, floor).at(StepKind::Fd, top as u32)? as i32;
    }
    // First every source out of the way (above every target), then each onto its target:
    // a source that is another move's target is never overwritten before it is copied.
    for ((src, dst), slot) in a.moves.iter().zip(a.scratch) {
        slot.set(raw::dup_cloexec_from(*src, floor).at(StepKind::Fd, *dst as u32)? as i32);
    }
    for ((_, dst), slot) in a.moves.iter().zip(a.scratch) {
        raw::dup3(slot.get(), *dst, 0).at(StepKind::Fd, *dst as u32)?;
    }
    if a.plan.inherit_fds {
        // Only the sources of the moves go (this process's copies): every other fd that is
        // not close-on-exec is the program's. The scratch copies are close-on-exec.
        for (src, _) in a.moves {
            if a.keep.binary_search(src).is_err() {
                let _ = raw::close(*src);
            }
        }
        return Ok(());
    }
    // Close the gaps between the kept fds. Marking close-on-exec leaves the error pipe's
    // write end as it is (close-on-exec already), so it needs no gap of its own; closing now
    // must spare it.
    if close_gaps(a.keep, None, Close::OnExec)? {
        return Ok(());
    }
    let extra = (*err_w >= 0).then_some(*err_w);
    close_gaps(a.keep, extra, Close::Now).map(|_| ())
}
