//! The code that runs in the child between `clone3` and `execve`, and nothing else.
//!
//! Rules, because the child may share the parent's memory (`CLONE_VM`) and runs while other
//! parent threads may hold locks: no allocation, no locks, no libc (raw system calls only, so no
//! `errno`), no panics, no thread-locals; read only the [`Plan`] and [`Args`] the parent built,
//! write only to this stack, to the `scratch` slice the parent set aside and to the `failure`
//! slot. Integer arithmetic is checked or saturating, slices are walked with iterators, never
//! indexed. Every failing step reports one [`Record`] (over the error pipe, or in the
//! `failure` slot of a vfork child) and exits.
//!
//! Layout: [`run`] is the sequence of steps from entry to `execve`; [`mounts`], [`fds`],
//! [`creds`], [`signals`] and [`init`] are the steps that take more than a call or two.

// The child may share the parent's memory: a panic here would run the panic machinery on the
// parent's heap and thread-locals. Nothing here may panic.
#![deny(
    clippy::arithmetic_side_effects,
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unreachable,
    clippy::todo,
    clippy::unimplemented
)]

mod creds;
mod fds;
mod init;
mod mounts;
mod run;
mod signals;

use core::cell::Cell;
use core::ffi::CStr;
use std::ffi::CString;

use super::report::{RECORD_LEN, Record, StepKind};
use crate::mount::PreparedMount;
use crate::sys::argv::{CStringArray, Envp};
use crate::sys::raw;

pub(crate) use run::start;

/// A namespace to enter in the child: the fd the `Command` owns and its `CLONE_NEW*` flag.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Join {
    pub(crate) fd: i32,
    pub(crate) nstype: u32,
}

/// Everything the child does, prepared by the parent: strings are C strings, lists are ready
/// to walk, nothing is left to compute.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    /// Paths to try, in order, for `execve` (one unless the program is searched in `PATH`
    /// inside a new root).
    pub(crate) programs: Vec<CString>,
    pub(crate) argv: CStringArray,
    pub(crate) envp: Envp,
    /// Maps the child writes for itself: `setgroups` text, `uid_map`, `gid_map`.
    pub(crate) setgroups: Option<&'static CStr>,
    pub(crate) uid_map: Option<CString>,
    pub(crate) gid_map: Option<CString>,
    /// The parent has work between clone and the child going on: wait for its byte.
    pub(crate) wait_parent: bool,
    pub(crate) joins: Vec<Join>,
    /// `CLONE_NEW*` flags to `unshare(2)` after the joins (when a user namespace is joined,
    /// so that the new namespaces belong to it).
    pub(crate) unshare_after_join: u32,
    /// Fork the program into the pid namespace the joins or unshares made the child's
    /// `pid_for_children` (`CLONE_PARENT`: the program is the spawner's child), and end the
    /// first child.
    pub(crate) fork_program: bool,
    pub(crate) unshare_time: bool,
    pub(crate) time_offsets: Option<CString>,
    pub(crate) loopback_up: bool,
    pub(crate) hostname: Option<Vec<u8>>,
    pub(crate) domainname: Option<Vec<u8>>,
    pub(crate) mounts: Vec<PreparedMount>,
    /// Do the mount steps with the path-based calls (no `openat2`, and the caller allowed it).
    pub(crate) path_based_mounts: bool,
    pub(crate) cwd: Option<CString>,
    pub(crate) setsid: bool,
    pub(crate) umask: Option<u32>,
    pub(crate) rlimits: Vec<(u32, libc::rlimit64)>,
    pub(crate) no_new_privs: bool,
    /// Leave the fds that are not close-on-exec open (no closing of the gaps).
    pub(crate) inherit_fds: bool,
    pub(crate) groups: Option<Vec<u32>>,
    pub(crate) gid: Option<u32>,
    pub(crate) uid: Option<u32>,
    pub(crate) inheritable_caps: u64,
    pub(crate) ambient_caps: u64,
    pub(crate) keep_caps_for_ambient: bool,
    /// Capabilities to keep in the bounding set (the others are dropped).
    pub(crate) bounding_caps: Option<u64>,
    pub(crate) permitted_caps: Option<u64>,
    pub(crate) effective_caps: Option<u64>,
    /// `/proc/sys/kernel/cap_last_cap`, read by the parent.
    pub(crate) last_cap: u32,
    pub(crate) pdeathsig: i32,
    /// Reset every signal disposition to `SIG_DFL` (not only handlers).
    pub(crate) reset_all_signals: bool,
    /// The kernel already reset handlers (`CLONE_CLEAR_SIGHAND`).
    pub(crate) handlers_cleared: bool,
    pub(crate) reset_sigpipe: bool,
    pub(crate) sigmask: u64,
    pub(crate) seccomp: Option<Vec<libc::sock_filter>>,
    pub(crate) init: bool,
}

/// Per-spawn inputs that are not part of the reusable [`Plan`].
pub(crate) struct Args<'a> {
    pub(crate) plan: &'a Plan,
    /// The error pipe's write end; -1 when the child reports in [`failure`](Self::failure).
    pub(crate) err_w: i32,
    /// Where a `CLONE_VM|CLONE_VFORK` child without an error pipe leaves its failure: the
    /// parent reads it once the kernel let it go on, at the child's `execve` or exit, which
    /// orders the child's write before the read (posix_spawn's way).
    pub(crate) failure: Cell<Option<Record>>,
    pub(crate) sync_r: i32,
    /// The parent's end of the sync pipe: the child closes its copy first, so that the read
    /// sees EOF if the parent dies before writing.
    pub(crate) sync_w: i32,
    /// `(source, target)` fd pairs, sorted by target; targets 0..=2 included where stdio is
    /// not inherited.
    pub(crate) moves: &'a [(i32, i32)],
    /// Every fd number the program keeps (0, 1, 2 and the targets), sorted, unique.
    pub(crate) keep: &'a [i32],
    /// One slot per move, for the child's temporary fds: the only memory the child writes
    /// outside its own stack.
    pub(crate) scratch: &'a [Cell<i32>],
    /// The parent's pid, to see whether it died before `PR_SET_PDEATHSIG` took hold.
    pub(crate) parent_pid: i32,
    /// Whether the kernel reset signal handlers at clone (`CLONE_CLEAR_SIGHAND`); cleared by
    /// [`start`] when it falls back to `clone(2)`.
    pub(crate) handlers_cleared: Cell<bool>,
}

struct Fail {
    code: StepKind,
    index: u32,
    errno: i32,
}

type Step<T = usize> = Result<T, Fail>;

trait OrFail<T> {
    fn at(self, code: StepKind, index: u32) -> Step<T>;
}

impl<T> OrFail<T> for Result<T, raw::Errno> {
    #[inline(always)]
    fn at(self, code: StepKind, index: u32) -> Step<T> {
        self.map_err(|errno| Fail { code, index, errno })
    }
}

/// An fd the child closes when done with it (on every path, errors included).
pub(super) struct Fd(pub(super) i32);

impl Drop for Fd {
    fn drop(&mut self) {
        let _ = raw::close(self.0);
    }
}

const _: () = assert!(RECORD_LEN == core::mem::size_of::<[u8; 12]>());
