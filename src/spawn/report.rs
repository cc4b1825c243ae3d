//! The error pipe's message: one fixed-size record naming the step that failed and its errno.

use std::fmt;
use std::path::PathBuf;

use crate::kind::NamespaceKind;

/// Declares the step codes and the list of all of them in one place.
macro_rules! codes {
    ($first:ident $(, $rest:ident)* $(,)?) => {
        /// Step codes carried in a [`Record`]; the child knows only these numbers.
        #[repr(u32)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub(crate) enum Code {
            $first = 1,
            $($rest,)*
        }

        impl Code {
            const ALL: &[Code] = &[Code::$first $(, Code::$rest)*];
        }
    };
}

codes!(
    WaitParent,
    SetgroupsFile,
    UidMap,
    GidMap,
    Join,
    TimeNamespace,
    TimeOffsets,
    Hostname,
    Domainname,
    Mount,
    Chdir,
    Setsid,
    Rlimit,
    NoNewPrivs,
    Fd,
    CloseFds,
    Groups,
    Gid,
    Uid,
    Capabilities,
    ParentDeathSignal,
    ParentExited,
    Signals,
    Seccomp,
    Exec,
    InitFork,
    Loopback,
);

impl Code {
    pub(crate) fn from_u32(v: u32) -> Option<Code> {
        Code::ALL.iter().copied().find(|c| *c as u32 == v)
    }
}

/// What the child writes to the error pipe when a step fails: 12 bytes, well under
/// `PIPE_BUF`, so the write is atomic and the parent reads it whole or not at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Record {
    pub(crate) code: u32,
    /// Which item of the step (the mount's index, the fd number, the kind's clone flag).
    pub(crate) index: u32,
    pub(crate) errno: i32,
}

pub(crate) const RECORD_LEN: usize = 12;

impl Record {
    pub(crate) fn encode(&self) -> [u8; RECORD_LEN] {
        let mut b = [0u8; RECORD_LEN];
        b[0..4].copy_from_slice(&self.code.to_ne_bytes());
        b[4..8].copy_from_slice(&self.index.to_ne_bytes());
        b[8..12].copy_from_slice(&self.errno.to_ne_bytes());
        b
    }

    pub(crate) fn decode(b: &[u8; RECORD_LEN]) -> Record {
        let word = |i: usize| [b[i], b[i + 1], b[i + 2], b[i + 3]];
        Record {
            code: u32::from_ne_bytes(word(0)),
            index: u32::from_ne_bytes(word(4)),
            errno: i32::from_ne_bytes(word(8)),
        }
    }
}

/// The setup step at which spawning failed, as [`Error::Spawn`](crate::Error::Spawn) reports it.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Creating the pipes the parent and child talk over.
    Pipe,
    /// Opening a file the child needs (`/dev/null` for a null stdio, the cgroup directory).
    Open(PathBuf),
    /// `clone3(2)` (or `clone(2)`) itself.
    Clone,
    /// The child waiting for the parent to finish its part (the parent failed or died).
    WaitParent,
    /// Writing `/proc/<pid>/setgroups`.
    Setgroups,
    /// Writing `/proc/<pid>/uid_map` (or running `newuidmap`).
    UidMap,
    /// Writing `/proc/<pid>/gid_map` (or running `newgidmap`).
    GidMap,
    /// `setns(2)` into a namespace given to [`Command::join`](crate::Command::join).
    Join(NamespaceKind),
    /// `unshare(CLONE_NEWTIME)` in the child.
    TimeNamespace,
    /// Writing `/proc/self/timens_offsets`.
    TimeOffsets,
    /// `sethostname(2)`.
    Hostname,
    /// `setdomainname(2)`.
    Domainname,
    /// One of the [`Command::mount`](crate::Command::mount) steps: its position and what it does.
    Mount {
        /// Position among the mount steps, from 0.
        index: usize,
        /// The step, as [`Mount`](crate::Mount) displays it.
        mount: String,
    },
    /// `chdir(2)` to the working directory.
    Chdir(PathBuf),
    /// `setsid(2)`.
    Setsid,
    /// `prlimit(2)` of a resource (the `RLIMIT_*` number).
    Rlimit(u32),
    /// `PR_SET_NO_NEW_PRIVS`.
    NoNewPrivs,
    /// Placing a file descriptor at its number in the child.
    Fd(i32),
    /// Closing every file descriptor not passed on.
    CloseFds,
    /// `setgroups(2)` of supplementary groups.
    Groups,
    /// `setresgid(2)`.
    Gid,
    /// `setresuid(2)`.
    Uid,
    /// Setting the inheritable and ambient capability sets.
    Capabilities,
    /// `PR_SET_PDEATHSIG`.
    ParentDeathSignal,
    /// The parent exited before the child could be told to die with it.
    ParentExited,
    /// Resetting signal dispositions and the signal mask.
    Signals,
    /// Installing the seccomp filter.
    Seccomp,
    /// `execve(2)` of the program.
    Exec(PathBuf),
    /// The minimal init forking the program.
    InitFork,
    /// Bringing the loopback interface up.
    Loopback,
    /// Something the child reported that this version does not know.
    Unknown(u32),
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Pipe => f.write_str("creating pipes"),
            Step::Open(p) => write!(f, "opening {}", p.display()),
            Step::Clone => f.write_str("clone3"),
            Step::WaitParent => f.write_str("waiting for the parent's setup"),
            Step::Setgroups => f.write_str("writing setgroups"),
            Step::UidMap => f.write_str("writing uid_map"),
            Step::GidMap => f.write_str("writing gid_map"),
            Step::Join(k) => write!(f, "setns into the {k} namespace"),
            Step::TimeNamespace => f.write_str("unshare of the time namespace"),
            Step::TimeOffsets => f.write_str("writing timens_offsets"),
            Step::Hostname => f.write_str("sethostname"),
            Step::Domainname => f.write_str("setdomainname"),
            Step::Mount { index, mount } => write!(f, "mount step {index} ({mount})"),
            Step::Chdir(p) => write!(f, "chdir to {}", p.display()),
            Step::Setsid => f.write_str("setsid"),
            Step::Rlimit(r) => write!(f, "prlimit of resource {r}"),
            Step::NoNewPrivs => f.write_str("PR_SET_NO_NEW_PRIVS"),
            Step::Fd(fd) => write!(f, "placing fd {fd}"),
            Step::CloseFds => f.write_str("closing inherited fds"),
            Step::Groups => f.write_str("setgroups"),
            Step::Gid => f.write_str("setresgid"),
            Step::Uid => f.write_str("setresuid"),
            Step::Capabilities => f.write_str("setting capabilities"),
            Step::ParentDeathSignal => f.write_str("PR_SET_PDEATHSIG"),
            Step::ParentExited => f.write_str("checking the parent is alive"),
            Step::Signals => f.write_str("resetting signals"),
            Step::Seccomp => f.write_str("installing the seccomp filter"),
            Step::Exec(p) => write!(f, "execve of {}", p.display()),
            Step::InitFork => f.write_str("init forking the program"),
            Step::Loopback => f.write_str("bringing loopback up"),
            Step::Unknown(c) => write!(f, "step {c}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn record_round_trips(code in any::<u32>(), index in any::<u32>(), errno in any::<i32>()) {
            let r = Record { code, index, errno };
            prop_assert_eq!(Record::decode(&r.encode()), r);
        }
    }

    #[test]
    fn codes_round_trip() {
        for &c in Code::ALL {
            assert_eq!(Code::from_u32(c as u32), Some(c));
        }
        assert_eq!(Code::from_u32(0), None);
        const { assert!(RECORD_LEN <= libc::PIPE_BUF) };
    }
}
