//! [`Stdio`]: where a child's standard input, output or error goes, and the conversions from
//! std's and the crate's pipe ends.

use std::fs::File;
use std::os::fd::OwnedFd;

#[cfg(doc)]
use crate::{Child, Command};

/// Where a child's standard input, output or error goes.
#[derive(Debug)]
pub enum Stdio {
    /// The parent's fd (the default for [`Command::spawn`] and [`Command::status`]).
    Inherit,
    /// `/dev/null`.
    Null,
    /// A new pipe; the parent's end is in [`Child::stdin`], [`Child::stdout`] or
    /// [`Child::stderr`].
    Piped,
    /// This fd (a file, a socket, one end of a pipe the caller made).
    Fd(OwnedFd),
}

impl Stdio {
    /// [`Stdio::Inherit`].
    pub fn inherit() -> Stdio {
        Stdio::Inherit
    }
    /// [`Stdio::Null`].
    pub fn null() -> Stdio {
        Stdio::Null
    }
    /// [`Stdio::Piped`].
    pub fn piped() -> Stdio {
        Stdio::Piped
    }
}

impl From<OwnedFd> for Stdio {
    fn from(fd: OwnedFd) -> Stdio {
        Stdio::Fd(fd)
    }
}

impl From<File> for Stdio {
    fn from(f: File) -> Stdio {
        Stdio::Fd(f.into())
    }
}

/// Conversions from the handles a pipeline is built of, so that one child's output becomes
/// another's input without an `OwnedFd::from` in between (as `std::process::Stdio` converts).
/// [`Child`]'s pipe ends are the `std::process` types, so they convert too.
macro_rules! stdio_from_fd {
    ($($t:ty),* $(,)?) => {$(
        impl From<$t> for Stdio {
            fn from(h: $t) -> Stdio {
                Stdio::Fd(OwnedFd::from(h))
            }
        }
    )*};
}

stdio_from_fd!(
    std::process::ChildStdin,
    std::process::ChildStdout,
    std::process::ChildStderr,
    std::io::PipeReader,
    std::io::PipeWriter,
    std::os::unix::net::UnixStream,
);
