//! Creating the child: the `clone3` trampolines live in [`raw`](super::raw); here are the
//! per-thread stack a `CLONE_VM` child runs on, the signal mask held across `clone3`, and
//! taking ownership of the pidfd the kernel returns.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

/// Takes ownership of the pidfd that `clone3(CLONE_PIDFD)` stored. Call only with that value,
/// once, right after a successful clone.
pub(crate) fn pidfd_from_clone(raw: RawFd) -> OwnedFd {
    // SAFETY: the kernel created this fd for the caller in the clone that just succeeded;
    // nothing else owns it.
    unsafe { OwnedFd::from_raw_fd(raw) }
}

/// Blocks every signal on the calling thread until dropped, then restores the old mask.
/// Spawning holds it across `clone3` so the child starts with all signals blocked.
pub(crate) struct SignalsBlocked {
    old: libc::sigset_t,
}

pub(crate) fn block_all_signals() -> SignalsBlocked {
    // SAFETY: sigset_t is plain old data; sigfillset/pthread_sigmask only write the sets we
    // pass, which are live locals.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
        SignalsBlocked { old }
    }
}

impl Drop for SignalsBlocked {
    fn drop(&mut self) {
        // SAFETY: restores the mask saved by block_all_signals on this same thread.
        unsafe {
            libc::pthread_sigmask(libc::SIG_SETMASK, &self.old, std::ptr::null_mut());
        }
    }
}

/// A stack for a `CLONE_VM` child: anonymous memory with a guard page below it, so an
/// overflow faults instead of writing into the parent's memory.
pub(crate) struct Stack {
    base: *mut std::ffi::c_void,
    len: usize,
}

impl Stack {
    pub(crate) const SIZE: usize = 64 * 1024;

    pub(crate) fn new() -> io::Result<Stack> {
        let page = rustix::param::page_size();
        let len = Self::SIZE + page;
        // SAFETY: a fresh private anonymous mapping aliases nothing; the guard page is inside
        // it. The mapping is released in Drop.
        unsafe {
            let base = rustix::mm::mmap_anonymous(
                std::ptr::null_mut(),
                len,
                rustix::mm::ProtFlags::READ | rustix::mm::ProtFlags::WRITE,
                rustix::mm::MapFlags::PRIVATE | rustix::mm::MapFlags::STACK,
            )?;
            let stack = Stack { base, len };
            rustix::mm::mprotect(base, page, rustix::mm::MprotectFlags::empty())?;
            Ok(stack)
        }
    }

    /// Lowest usable address (above the guard page) and usable size.
    pub(crate) fn region(&self) -> (u64, u64) {
        let page = self.len - Self::SIZE;
        (self.base as u64 + page as u64, Self::SIZE as u64)
    }
}

thread_local! {
    /// One stack per thread, reused across spawns: no mmap/munmap (and no page faults on a
    /// fresh mapping) per spawn, and no shared state between threads that spawn at once.
    static STACK: std::cell::Cell<Option<Stack>> = const { std::cell::Cell::new(None) };
}

impl Stack {
    /// This thread's cached stack, or a new one. Give it back with [`Stack::release`].
    pub(crate) fn take() -> io::Result<Stack> {
        match STACK.with(|s| s.take()) {
            Some(s) => Ok(s),
            None => Stack::new(),
        }
    }

    /// Keeps the stack for the next spawn on this thread. Only call once no child runs on it.
    pub(crate) fn release(self) {
        STACK.with(|s| s.set(Some(self)));
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in new(); no child runs on it any more
        // (spawn drops the stack only after the child exec'd or was reaped).
        unsafe {
            let _ = rustix::mm::munmap(self.base, self.len);
        }
    }
}
