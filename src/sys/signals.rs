//! The calling thread's signal mask, signalfd(2), and raising a signal with its default
//! action, through the C library (which keeps the signals it reserves for itself out of
//! every mask it is given).
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{FromRawFd, OwnedFd};

/// A C library `sigset_t` holding the signals whose bits are set in `mask` (bit `n - 1` for
/// signal `n`, as the kernel's 64-bit sigset).
fn to_sigset(mask: u64) -> libc::sigset_t {
    // SAFETY: sigset_t is plain data; sigemptyset initialises it before any other use.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a live sigset_t of this frame; sigaddset rejects (EINVAL) a number the
    // C library does not know, which leaves the set as it was.
    unsafe {
        libc::sigemptyset(&mut set);
        for sig in 1..=64 {
            if mask & (1u64 << (sig - 1)) != 0 {
                libc::sigaddset(&mut set, sig);
            }
        }
    }
    set
}

/// The kernel-style 64-bit mask of a C library `sigset_t`.
fn from_sigset(set: &libc::sigset_t) -> u64 {
    (1..=64)
        // SAFETY: `set` is a live, initialised sigset_t; sigismember only reads it.
        .filter(|&sig| unsafe { libc::sigismember(set, sig) } == 1)
        .fold(0, |mask, sig| mask | 1u64 << (sig - 1))
}

/// `pthread_sigmask(how, mask, &old)` on the calling thread; returns the old mask.
pub(crate) fn thread_sigmask(how: i32, mask: u64) -> io::Result<u64> {
    let set = to_sigset(mask);
    // SAFETY: as in to_sigset.
    let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: both sets are live locals; pthread_sigmask reads `set` and writes `old` only.
    match unsafe { libc::pthread_sigmask(how, &set, &mut old) } {
        0 => Ok(from_sigset(&old)),
        errno => Err(io::Error::from_raw_os_error(errno)),
    }
}

/// The calling thread's signal mask.
pub(crate) fn thread_mask() -> io::Result<u64> {
    // SAFETY: as in to_sigset.
    let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: a NULL new set only reads the mask, into the live local `old`.
    match unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), &mut old) } {
        0 => Ok(from_sigset(&old)),
        errno => Err(io::Error::from_raw_os_error(errno)),
    }
}

/// A new close-on-exec `signalfd(2)` for the signals in `mask`.
pub(crate) fn signalfd(mask: u64) -> io::Result<OwnedFd> {
    let set = to_sigset(mask);
    // SAFETY: `set` is a live sigset_t; -1 asks for a new fd.
    let fd = unsafe { libc::signalfd(-1, &set, libc::SFD_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: signalfd returned a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Sets signal `sig`'s disposition to `SIG_DFL` (`sigaction(2)`).
pub(crate) fn set_default_action(sig: i32) -> io::Result<()> {
    // SAFETY: sigaction is plain data; all zeroes is SIG_DFL with no flags and an empty mask.
    let mut act: libc::sigaction = unsafe { std::mem::zeroed() };
    act.sa_sigaction = libc::SIG_DFL;
    // SAFETY: `act` is a live, initialised sigaction; the old-action pointer is NULL. SIG_DFL
    // installs no code to run.
    if unsafe { libc::sigaction(sig, &act, std::ptr::null_mut()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `raise(3)`: sends `sig` to the calling thread; returns once it has been handled, ignored
/// or left pending (a fatal signal does not return).
pub(crate) fn raise(sig: i32) -> io::Result<()> {
    // SAFETY: raise takes a signal number and touches no memory of the caller's.
    if unsafe { libc::raise(sig) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
