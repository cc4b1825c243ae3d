//! The error pipe's message: one fixed-size record naming the step that failed and its errno,
//! and the public [`Step`] it becomes in the parent.

use std::fmt;
use std::path::{Path, PathBuf};

use super::command::Resource;
use crate::kind::NamespaceKind;

/// Which setup step of a spawn failed, without its details. Its number is what the child
/// writes to the error pipe.
#[non_exhaustive]
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StepKind {
    /// Creating the pipes the parent and child talk over.
    Pipe = 1,
    /// Opening a file the child needs (`/dev/null` for a null stdio, the cgroup directory).
    Open,
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
    Join,
    /// `unshare(2)` of the new namespaces after joining a user namespace.
    Unshare,
    /// Forking the program into the joined or new pid namespace.
    ForkProgram,
    /// `unshare(CLONE_NEWTIME)` in the child.
    TimeNamespace,
    /// Writing `/proc/self/timens_offsets`.
    TimeOffsets,
    /// Bringing the loopback interface up.
    Loopback,
    /// `sethostname(2)`.
    Hostname,
    /// `setdomainname(2)`.
    Domainname,
    /// One of the [`Command::mount`](crate::Command::mount) steps.
    Mount,
    /// `chdir(2)` to the working directory.
    Chdir,
    /// `setsid(2)`.
    Setsid,
    /// `prlimit(2)` of a resource.
    Rlimit,
    /// `PR_SET_NO_NEW_PRIVS`.
    NoNewPrivs,
    /// Placing a file descriptor at its number in the child.
    Fd,
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
    /// The minimal init forking the program.
    InitFork,
    /// Resetting signal dispositions and the signal mask.
    Signals,
    /// Installing the seccomp filter.
    Seccomp,
    /// `execve(2)` of the program.
    Exec,
}

impl StepKind {
    const ALL: [StepKind; 32] = [
        StepKind::Pipe,
        StepKind::Open,
        StepKind::Clone,
        StepKind::WaitParent,
        StepKind::Setgroups,
        StepKind::UidMap,
        StepKind::GidMap,
        StepKind::Join,
        StepKind::Unshare,
        StepKind::ForkProgram,
        StepKind::TimeNamespace,
        StepKind::TimeOffsets,
        StepKind::Loopback,
        StepKind::Hostname,
        StepKind::Domainname,
        StepKind::Mount,
        StepKind::Chdir,
        StepKind::Setsid,
        StepKind::Rlimit,
        StepKind::NoNewPrivs,
        StepKind::Fd,
        StepKind::CloseFds,
        StepKind::Groups,
        StepKind::Gid,
        StepKind::Uid,
        StepKind::Capabilities,
        StepKind::ParentDeathSignal,
        StepKind::ParentExited,
        StepKind::InitFork,
        StepKind::Signals,
        StepKind::Seccomp,
        StepKind::Exec,
    ];

    /// The kind with this wire number, if one.
    pub(crate) fn from_wire(code: u32) -> Option<StepKind> {
        Self::ALL.iter().copied().find(|k| *k as u32 == code)
    }
}

impl fmt::Display for StepKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StepKind::Pipe => "creating pipes",
            StepKind::Open => "opening a file",
            StepKind::Clone => "clone3",
            StepKind::WaitParent => "waiting for the parent's setup",
            StepKind::Setgroups => "writing setgroups",
            StepKind::UidMap => "writing uid_map",
            StepKind::GidMap => "writing gid_map",
            StepKind::Join => "setns",
            StepKind::Unshare => "unshare after the joins",
            StepKind::ForkProgram => "forking the program into the pid namespace",
            StepKind::TimeNamespace => "unshare of the time namespace",
            StepKind::TimeOffsets => "writing timens_offsets",
            StepKind::Loopback => "bringing loopback up",
            StepKind::Hostname => "sethostname",
            StepKind::Domainname => "setdomainname",
            StepKind::Mount => "mount step",
            StepKind::Chdir => "chdir",
            StepKind::Setsid => "setsid",
            StepKind::Rlimit => "prlimit",
            StepKind::NoNewPrivs => "PR_SET_NO_NEW_PRIVS",
            StepKind::Fd => "placing an fd",
            StepKind::CloseFds => "closing inherited fds",
            StepKind::Groups => "setgroups",
            StepKind::Gid => "setresgid",
            StepKind::Uid => "setresuid",
            StepKind::Capabilities => "setting capabilities",
            StepKind::ParentDeathSignal => "PR_SET_PDEATHSIG",
            StepKind::ParentExited => "checking the parent is alive",
            StepKind::InitFork => "init forking the program",
            StepKind::Signals => "resetting signals",
            StepKind::Seccomp => "installing the seccomp filter",
            StepKind::Exec => "execve",
        })
    }
}

/// What the child writes to the error pipe when a step fails: 12 bytes, well under
/// `PIPE_BUF`, so the write is atomic and the parent reads it whole or not at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Record {
    /// A [`StepKind`] number.
    pub(crate) code: u32,
    /// Which item of the step (the mount's index, the fd number, the kind's clone flag).
    pub(crate) index: u32,
    pub(crate) errno: i32,
}

pub(crate) const RECORD_LEN: usize = 12;

/// The `code` of a record that is not a failure: the first child forked the program into a
/// pid namespace, and `index` is the program's pid (in the spawner's pid namespace).
pub(crate) const PROGRAM_PID: u32 = 0x8000_0001;

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

/// The setup step at which spawning failed, as [`Error::Spawn`](crate::Error::Spawn) reports
/// it: its [`kind`](Self::kind) and, for steps that act on one item of several, which.
///
/// ```
/// use linux_namespaces::{Command, Error, Mount, NamespaceSet, StepKind};
///
/// let e = Command::new("/bin/true")
///     .unshare(NamespaceSet::USER | NamespaceSet::MOUNT)
///     .map_root()
///     .mount(Mount::bind("/nonexistent", "/mnt"))
///     .spawn()
///     .unwrap_err();
/// let Error::Spawn { step, .. } = e else { panic!("{e}") };
/// assert_eq!(step.kind(), StepKind::Mount);
/// assert_eq!(step.mount_index(), Some(0));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    kind: StepKind,
    item: Item,
}

/// Which item of its kind a step acted on.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Item {
    None,
    Path(PathBuf),
    Namespace(NamespaceKind),
    Mount { index: usize, text: String },
    Resource(Resource),
    Fd(i32),
    Id(u32),
}

impl Step {
    /// A step without an item.
    pub(crate) fn new(kind: StepKind) -> Step {
        Step {
            kind,
            item: Item::None,
        }
    }

    /// `Open`, `Chdir` or `Exec` of a path.
    pub(crate) fn path(kind: StepKind, path: impl Into<PathBuf>) -> Step {
        Step {
            kind,
            item: Item::Path(path.into()),
        }
    }

    /// Joining a namespace of `kind`.
    pub(crate) fn join(kind: NamespaceKind) -> Step {
        Step {
            kind: StepKind::Join,
            item: Item::Namespace(kind),
        }
    }

    /// Mount step `index`, shown as `text`.
    pub(crate) fn mount(index: usize, text: String) -> Step {
        Step {
            kind: StepKind::Mount,
            item: Item::Mount { index, text },
        }
    }

    /// The limit of `resource`.
    pub(crate) fn rlimit(resource: Resource) -> Step {
        Step {
            kind: StepKind::Rlimit,
            item: Item::Resource(resource),
        }
    }

    /// Placing fd `fd`.
    pub(crate) fn fd(fd: i32) -> Step {
        Step {
            kind: StepKind::Fd,
            item: Item::Fd(fd),
        }
    }

    /// A credential step (`Uid`, `Gid`) for this id.
    pub(crate) fn id(kind: StepKind, id: u32) -> Step {
        Step {
            kind,
            item: Item::Id(id),
        }
    }

    /// Which step it was.
    pub fn kind(&self) -> StepKind {
        self.kind
    }

    /// The path of an `Open`, `Chdir` or `Exec` step (for a program searched in `PATH`, the
    /// name as given), or the cgroup directory of a `Clone` into a cgroup.
    pub fn file(&self) -> Option<&Path> {
        match &self.item {
            Item::Path(p) => Some(p),
            _ => None,
        }
    }

    /// The kind of namespace a `Join` step entered.
    pub fn namespace_kind(&self) -> Option<NamespaceKind> {
        match self.item {
            Item::Namespace(k) => Some(k),
            _ => None,
        }
    }

    /// The position of a `Mount` step among the command's mount steps, from 0.
    pub fn mount_index(&self) -> Option<usize> {
        match self.item {
            Item::Mount { index, .. } => Some(index),
            _ => None,
        }
    }

    /// A `Mount` step as [`Mount`](crate::Mount) displays it.
    pub fn mount_text(&self) -> Option<&str> {
        match &self.item {
            Item::Mount { text, .. } => Some(text),
            _ => None,
        }
    }

    /// The resource of an `Rlimit` step.
    pub fn resource(&self) -> Option<Resource> {
        match self.item {
            Item::Resource(r) => Some(r),
            _ => None,
        }
    }

    /// The fd number an `Fd` step was placing.
    pub fn fd_number(&self) -> Option<i32> {
        match self.item {
            Item::Fd(fd) => Some(fd),
            _ => None,
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.item, self.kind) {
            (Item::Path(p), StepKind::Open) => write!(f, "opening {}", p.display()),
            (Item::Path(p), StepKind::Chdir) => write!(f, "chdir to {}", p.display()),
            (Item::Path(p), StepKind::Exec) => write!(f, "execve of {}", p.display()),
            (Item::Path(p), StepKind::Clone) => write!(f, "clone3 into the cgroup {}", p.display()),
            (Item::Namespace(k), _) => write!(f, "setns into the {k} namespace"),
            (Item::Mount { index, text }, _) => write!(f, "mount step {index} ({text})"),
            (Item::Resource(r), _) => write!(f, "prlimit of {r:?}"),
            (Item::Fd(fd), _) => write!(f, "placing fd {fd}"),
            (Item::Id(id), kind) => write!(f, "{kind} to {id}"),
            (_, kind) => write!(f, "{kind}"),
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
    fn step_kinds_round_trip_through_their_wire_numbers() {
        for k in StepKind::ALL {
            assert_eq!(StepKind::from_wire(k as u32), Some(k));
        }
        assert_eq!(StepKind::from_wire(0), None);
        assert_eq!(StepKind::from_wire(StepKind::ALL.len() as u32 + 1), None);
        const { assert!(RECORD_LEN <= libc::PIPE_BUF) };
    }

    #[test]
    fn steps_display_their_item() {
        assert_eq!(
            Step::mount(2, "proc on /proc".into()).to_string(),
            "mount step 2 (proc on /proc)"
        );
        assert_eq!(
            Step::join(NamespaceKind::Network).to_string(),
            "setns into the net namespace"
        );
        assert_eq!(Step::new(StepKind::Clone).to_string(), "clone3");
        assert_eq!(
            Step::path(StepKind::Exec, "/bin/x").to_string(),
            "execve of /bin/x"
        );
    }
}
