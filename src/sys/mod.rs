//! The system-call boundary: every `unsafe` block of the crate outside the spawn child path
//! lives under this module.
//!
//! * [`nsfs`]: the nsfs and pidfs ioctls and namespace system calls rustix does not wrap.
//! * [`raw`]: the typed raw system calls the code between `clone3` and `execve` makes.
//! * [`argv`]: argv and envp for `execve`, built in the parent.
//! * [`clone`]: the `clone3` trampolines, the child's stack and signal blocking around clone.
//! * [`signals`]: the calling thread's signal mask, signalfd(2), raising a signal.
#![allow(unsafe_code)]

pub(crate) mod argv;
pub(crate) mod clone;
pub(crate) mod nsfs;
pub(crate) mod raw;
pub(crate) mod signals;

#[cfg(feature = "tokio")]
use std::io;
#[cfg(feature = "tokio")]
use std::os::fd::OwnedFd;

pub(crate) use clone::{Stack, block_all_signals, fork_running};
pub(crate) use nsfs::*;

/// Registers an owned fd (a pidfd) with tokio's reactor for readability.
#[cfg(feature = "tokio")]
pub(crate) fn register_readable(fd: OwnedFd) -> io::Result<tokio::io::unix::AsyncFd<OwnedFd>> {
    // SAFETY: the AsyncFd takes ownership of `fd`, so for the registration's whole lifetime the
    // fd stays open, names the same file description, and `as_raw_fd()` returns the same
    // number; it is closed only when the AsyncFd is dropped, after deregistering.
    unsafe { tokio::io::unix::AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE) }
        .map_err(io::Error::from)
}

/// Takes over `fd`, a netlink socket, as `netlink_sys`'s socket type.
#[cfg(feature = "net")]
pub(crate) fn netlink_socket(fd: std::os::fd::OwnedFd) -> netlink_sys::Socket {
    use std::os::fd::{FromRawFd, IntoRawFd};
    // SAFETY: `fd` is an open socket owned by nothing else; into_raw_fd gives up its
    // ownership to the Socket, which closes it on drop.
    unsafe { netlink_sys::Socket::from_raw_fd(fd.into_raw_fd()) }
}
