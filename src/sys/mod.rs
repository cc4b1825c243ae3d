//! The system-call boundary: every `unsafe` block of the crate outside the spawn child path
//! lives under this module.
//!
//! * [`nsfs`]: the nsfs and pidfs ioctls and namespace system calls rustix does not wrap.
//! * [`raw`]: the typed raw system calls the code between `clone3` and `execve` makes.
//! * [`clone`]: the `clone3` trampolines, the child's stack and signal blocking around clone.
#![allow(unsafe_code)]

pub(crate) mod clone;
pub(crate) mod nsfs;
pub(crate) mod raw;

use std::io;
#[cfg(feature = "tokio")]
use std::os::fd::OwnedFd;

pub(crate) use clone::{Stack, block_all_signals, pidfd_from_clone};
pub(crate) use nsfs::*;

/// The running kernel's `(major, minor)` from `uname(2)`, parsed once.
pub(crate) fn kernel_version() -> (u32, u32) {
    static V: std::sync::OnceLock<(u32, u32)> = std::sync::OnceLock::new();
    *V.get_or_init(|| {
        let uname = rustix::system::uname();
        parse_release(&uname.release().to_string_lossy())
    })
}

fn parse_release(release: &str) -> (u32, u32) {
    let mut parts = release
        .split(|c: char| !c.is_ascii_digit())
        .map(|s| s.parse::<u32>().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

/// Registers an owned fd (a pidfd) with tokio's reactor for readability.
#[cfg(feature = "tokio")]
pub(crate) fn register_readable(fd: OwnedFd) -> io::Result<tokio::io::unix::AsyncFd<OwnedFd>> {
    // SAFETY: the AsyncFd takes ownership of `fd`, so for the registration's whole lifetime the
    // fd stays open, names the same file description, and `as_raw_fd()` returns the same
    // number; it is closed only when the AsyncFd is dropped, after deregistering.
    unsafe { tokio::io::unix::AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE) }
        .map_err(io::Error::from)
}

#[cfg(test)]
mod tests {
    #[test]
    fn release_parses_major_minor() {
        assert_eq!(super::parse_release("6.18.44-fc-v669"), (6, 18));
        assert_eq!(super::parse_release("5.8.0"), (5, 8));
        assert_eq!(super::parse_release("garbage"), (0, 0));
    }
}
