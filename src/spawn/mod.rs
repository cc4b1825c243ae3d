//! [`Command`]: spawn a process into new or existing namespaces, shaped like
//! `std::process::Command`; [`Child`]: the running process, held by a pidfd.
//!
//! All validation and allocation happen in the parent before `clone3(2)`: bad input is an
//! error before any process exists. The child only executes the prepared plan
//! (see `child.rs`); a failing step comes back over a `CLOEXEC` pipe as [`Error::Spawn`]
//! naming the [`Step`], and `spawn()` returns only once the program runs or the failed child
//! has been reaped.

mod child;
mod report;

use std::collections::BTreeMap;
use std::ffi::{CString, OsStr, OsString};
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::process::{ChildStderr, ChildStdin, ChildStdout, ExitStatus, Output};
use std::time::Duration;

pub use report::Step;

use crate::error::{Error, Hint, Result};
use crate::idmap::IdMap;
use crate::kind::{NamespaceKind, NamespaceSet};
use crate::mount::Mount;
use crate::namespace::Namespace;
use crate::pidfd::PidFd;
use crate::sys;
use crate::timens::{TimeClock, offsets_text};
use child::{Args, Join, Plan};

/// Builds a C string, rejecting interior NUL bytes with a typed error.
pub(crate) fn cstring(what: &'static str, s: &OsStr) -> Result<CString> {
    CString::new(s.as_bytes()).map_err(|_| {
        Error::invalid(
            what,
            format!("{:?} contains a NUL byte", s.to_string_lossy()),
        )
    })
}

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

/// What `/proc/<pid>/setgroups` of a new user namespace is set to.
///
/// # References
///  - [user_namespaces(7)](https://man7.org/linux/man-pages/man7/user_namespaces.7.html),
///    "The /proc/pid/setgroups file"
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetGroups {
    /// `allow`: processes in the namespace may call `setgroups(2)` (the kernel's default).
    Allow,
    /// `deny`: they may not; required before an unprivileged `gid_map` write.
    Deny,
}

/// One classic BPF instruction of a seccomp filter (`struct sock_filter`).
///
/// # References
///  - [seccomp(2)](https://man7.org/linux/man-pages/man2/seccomp.2.html)
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BpfInstruction {
    /// Opcode.
    pub code: u16,
    /// Jump offset if true.
    pub jt: u8,
    /// Jump offset if false.
    pub jf: u8,
    /// Operand.
    pub k: u32,
}

static_assertions::assert_eq_size!(BpfInstruction, libc::sock_filter);

/// A resource limit (`RLIMIT_*`).
///
/// # References
///  - [getrlimit(2)](https://man7.org/linux/man-pages/man2/getrlimit.2.html)
#[allow(missing_docs)]
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resource {
    AddressSpace,
    Core,
    Cpu,
    Data,
    FileSize,
    Locks,
    MemLock,
    MsgQueue,
    Nice,
    NoFile,
    NProc,
    Rss,
    RtPrio,
    RtTime,
    SigPending,
    Stack,
}

impl Resource {
    #[allow(clippy::unnecessary_cast)] // c_int on musl, c_uint on glibc
    fn raw(self) -> u32 {
        (match self {
            Resource::AddressSpace => libc::RLIMIT_AS,
            Resource::Core => libc::RLIMIT_CORE,
            Resource::Cpu => libc::RLIMIT_CPU,
            Resource::Data => libc::RLIMIT_DATA,
            Resource::FileSize => libc::RLIMIT_FSIZE,
            Resource::Locks => libc::RLIMIT_LOCKS,
            Resource::MemLock => libc::RLIMIT_MEMLOCK,
            Resource::MsgQueue => libc::RLIMIT_MSGQUEUE,
            Resource::Nice => libc::RLIMIT_NICE,
            Resource::NoFile => libc::RLIMIT_NOFILE,
            Resource::NProc => libc::RLIMIT_NPROC,
            Resource::Rss => libc::RLIMIT_RSS,
            Resource::RtPrio => libc::RLIMIT_RTPRIO,
            Resource::RtTime => libc::RLIMIT_RTTIME,
            Resource::SigPending => libc::RLIMIT_SIGPENDING,
            Resource::Stack => libc::RLIMIT_STACK,
        }) as u32
    }
}

/// A process builder, shaped like [`std::process::Command`], that can place the process in
/// new or existing namespaces and set it up before it runs.
///
/// ```no_run
/// use linux_namespaces::{Command, Mount, NamespaceSet};
///
/// # fn main() -> linux_namespaces::Result<()> {
/// let status = Command::new("/bin/sh")
///     .arg("-c")
///     .arg("hostname; id -u; cat /proc/self/uid_map")
///     .unshare(NamespaceSet::USER | NamespaceSet::PID | NamespaceSet::MOUNT | NamespaceSet::UTS)
///     .map_root()
///     .hostname("box")
///     .mount(Mount::proc("/proc"))
///     .status()?;
/// assert!(status.success());
/// # Ok(())
/// # }
/// ```
///
/// Setup happens in the child in this order: user namespace maps, joining namespaces, time
/// namespace offsets, host and domain name, mount steps, working directory, session, umask,
/// resource limits, `no_new_privs`, file descriptors, groups/gid/uid, capabilities,
/// parent-death signal, (init), signals, seccomp, `execve`.
///
/// # References
///  - [clone3(2)](https://man7.org/linux/man-pages/man2/clone3.2.html),
///    [namespaces(7)](https://man7.org/linux/man-pages/man7/namespaces.7.html)
#[derive(Debug)]
pub struct Command {
    program: OsString,
    arg0: Option<OsString>,
    args: Vec<OsString>,
    env_clear: bool,
    env: BTreeMap<OsString, Option<OsString>>,
    cwd: Option<PathBuf>,
    stdin: Option<Stdio>,
    stdout: Option<Stdio>,
    stderr: Option<Stdio>,
    fds: Vec<(RawFd, OwnedFd)>,
    unshare: NamespaceSet,
    joins: Vec<Namespace>,
    uid_map: Option<IdMap>,
    gid_map: Option<IdMap>,
    setgroups: Option<SetGroups>,
    newidmap: bool,
    uid: Option<u32>,
    gid: Option<u32>,
    groups: Option<Vec<u32>>,
    hostname: Option<OsString>,
    domainname: Option<OsString>,
    mounts: Vec<Mount>,
    monotonic: Option<(i64, u32)>,
    boottime: Option<(i64, u32)>,
    cgroup: Option<PathBuf>,
    setsid: bool,
    pdeathsig: Option<i32>,
    no_new_privs: bool,
    umask: Option<u32>,
    rlimits: Vec<(Resource, u64, u64)>,
    seccomp: Option<Vec<BpfInstruction>>,
    reset_signals: bool,
    sigmask: Vec<i32>,
    inheritable_caps: u64,
    ambient_caps: u64,
    init: bool,
    kill_on_drop: bool,
    loopback_up: bool,
    /// The validated plan, kept across spawns until a setter changes the command.
    cache: Option<Prepared>,
}

impl Command {
    /// A command for `program`: a path, or a name looked up in `PATH` (the child's `PATH` if
    /// the command sets one, else the parent's). Nothing is configured: no namespaces, stdio
    /// inherited, environment inherited.
    pub fn new(program: impl AsRef<OsStr>) -> Command {
        Command {
            program: program.as_ref().to_owned(),
            arg0: None,
            args: Vec::new(),
            env_clear: false,
            env: BTreeMap::new(),
            cwd: None,
            stdin: None,
            stdout: None,
            stderr: None,
            fds: Vec::new(),
            unshare: NamespaceSet::empty(),
            joins: Vec::new(),
            uid_map: None,
            gid_map: None,
            setgroups: None,
            newidmap: false,
            uid: None,
            gid: None,
            groups: None,
            hostname: None,
            domainname: None,
            mounts: Vec::new(),
            monotonic: None,
            boottime: None,
            cgroup: None,
            setsid: false,
            pdeathsig: None,
            no_new_privs: false,
            umask: None,
            rlimits: Vec::new(),
            seccomp: None,
            reset_signals: false,
            sigmask: Vec::new(),
            inheritable_caps: 0,
            ambient_caps: 0,
            init: false,
            kill_on_drop: false,
            loopback_up: false,
            cache: None,
        }
    }

    /// Adds an argument.
    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Command {
        self.cache = None;
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// Adds arguments.
    pub fn args<I, S>(&mut self, args: I) -> &mut Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.cache = None;
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Sets `argv[0]` (by default the program as given).
    pub fn arg0(&mut self, arg0: impl AsRef<OsStr>) -> &mut Command {
        self.cache = None;
        self.arg0 = Some(arg0.as_ref().to_owned());
        self
    }

    /// Sets an environment variable.
    pub fn env(&mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> &mut Command {
        self.cache = None;
        self.env
            .insert(key.as_ref().to_owned(), Some(value.as_ref().to_owned()));
        self
    }

    /// Sets environment variables.
    pub fn envs<I, K, V>(&mut self, vars: I) -> &mut Command
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        for (k, v) in vars {
            self.env(k, v);
        }
        self
    }

    /// Removes an environment variable.
    pub fn env_remove(&mut self, key: impl AsRef<OsStr>) -> &mut Command {
        self.cache = None;
        self.env.insert(key.as_ref().to_owned(), None);
        self
    }

    /// Starts from an empty environment instead of the parent's.
    pub fn env_clear(&mut self) -> &mut Command {
        self.cache = None;
        self.env_clear = true;
        self.env.clear();
        self
    }

    /// The working directory, entered after the mount steps (so it is a path in the new root
    /// if one is set up).
    pub fn current_dir(&mut self, dir: impl AsRef<Path>) -> &mut Command {
        self.cache = None;
        self.cwd = Some(dir.as_ref().to_owned());
        self
    }

    /// Standard input.
    pub fn stdin(&mut self, s: impl Into<Stdio>) -> &mut Command {
        self.cache = None;
        self.stdin = Some(s.into());
        self
    }

    /// Standard output.
    pub fn stdout(&mut self, s: impl Into<Stdio>) -> &mut Command {
        self.cache = None;
        self.stdout = Some(s.into());
        self
    }

    /// Standard error.
    pub fn stderr(&mut self, s: impl Into<Stdio>) -> &mut Command {
        self.cache = None;
        self.stderr = Some(s.into());
        self
    }

    /// Passes `fd` to the child as fd number `child_fd`. The child gets 0, 1, 2 and the fds
    /// passed this way, nothing else: every other fd is closed when it `execve`s, whether or
    /// not it was marked close-on-exec.
    pub fn fd(&mut self, child_fd: RawFd, fd: impl Into<OwnedFd>) -> &mut Command {
        self.cache = None;
        self.fds.push((child_fd, fd.into()));
        self
    }

    /// Creates new namespaces of the kinds in `set` for the child (`clone3` flags; a new time
    /// namespace is made with `unshare(2)` in the child so offsets can be set first). With
    /// `PID`, the program is PID 1 of the new pid namespace.
    pub fn unshare(&mut self, set: NamespaceSet) -> &mut Command {
        self.cache = None;
        self.unshare |= set;
        self
    }

    /// Makes the child enter `ns` (`setns(2)` in the child) instead of staying in the
    /// caller's namespace of that kind. Joined namespaces are entered in a safe order: the
    /// user namespace after the namespaces the caller's privileges allow entering and before
    /// those that need the new user namespace's privileges. A duplicate of the handle is kept
    /// (`F_DUPFD_CLOEXEC`), so `ns` may be dropped afterwards.
    ///
    /// New namespaces ([`unshare`](Self::unshare)) are created by `clone3` before any join, so
    /// they are owned by the caller's user namespace (or by the new one, with `USER`), not by
    /// a joined user namespace. A joined time namespace makes the spawn fork-like (the kernel
    /// refuses `setns` into it from a child sharing the parent's memory).
    pub fn join(&mut self, ns: &Namespace) -> Result<&mut Command> {
        self.cache = None;
        self.joins.push(ns.try_clone()?);
        Ok(self)
    }

    /// The `uid_map` of the new user namespace. The child writes a single-line map of the
    /// caller's own uid itself; other maps are written by the parent (which needs
    /// `CAP_SETUID` over the parent user namespace) or by `newuidmap` with
    /// [`use_newidmap`](Self::use_newidmap).
    pub fn uid_map(&mut self, map: IdMap) -> &mut Command {
        self.cache = None;
        self.uid_map = Some(map);
        self
    }

    /// The `gid_map` of the new user namespace (see [`uid_map`](Self::uid_map)). Without
    /// `CAP_SETGID`, [`setgroups(SetGroups::Deny)`](Self::setgroups) must be set too.
    pub fn gid_map(&mut self, map: IdMap) -> &mut Command {
        self.cache = None;
        self.gid_map = Some(map);
        self
    }

    /// What to write to `/proc/<pid>/setgroups` (before `gid_map`). Nothing is written unless
    /// this is called (or [`map_root`](Self::map_root)).
    pub fn setgroups(&mut self, s: SetGroups) -> &mut Command {
        self.cache = None;
        self.setgroups = Some(s);
        self
    }

    /// A new user namespace in which the caller's uid and gid are 0: `unshare(USER)`, the maps
    /// `0 <euid> 1` and `0 <egid> 1`, and `setgroups` "deny" (which an unprivileged `gid_map`
    /// write requires). Like `unshare --map-root-user`.
    pub fn map_root(&mut self) -> &mut Command {
        self.cache = None;
        let (uid, gid) = (
            rustix::process::geteuid().as_raw(),
            rustix::process::getegid().as_raw(),
        );
        self.unshare |= NamespaceSet::USER;
        self.uid_map = Some(IdMap::single(0, uid));
        self.gid_map = Some(IdMap::single(0, gid));
        self.setgroups = Some(SetGroups::Deny);
        self
    }

    /// Writes the maps with the setuid helpers `newuidmap(1)`/`newgidmap(1)` (from shadow's
    /// `uidmap` package), which let an unprivileged user map the ranges `/etc/subuid` and
    /// `/etc/subgid` grant. Off by default.
    pub fn use_newidmap(&mut self, on: bool) -> &mut Command {
        self.cache = None;
        self.newidmap = on;
        self
    }

    /// Switches the child to this uid (`setresuid(2)`), after the namespace setup.
    pub fn uid(&mut self, uid: u32) -> &mut Command {
        self.cache = None;
        self.uid = Some(uid);
        self
    }

    /// Switches the child to this gid (`setresgid(2)`).
    pub fn gid(&mut self, gid: u32) -> &mut Command {
        self.cache = None;
        self.gid = Some(gid);
        self
    }

    /// Sets the supplementary groups (`setgroups(2)`; needs `setgroups` "allow" in a new user
    /// namespace).
    pub fn groups(&mut self, groups: &[u32]) -> &mut Command {
        self.cache = None;
        self.groups = Some(groups.to_vec());
        self
    }

    /// The host name in the child's UTS namespace (`sethostname(2)`); at most 64 bytes. Needs
    /// a new or joined UTS namespace: the caller's own is never changed.
    pub fn hostname(&mut self, name: impl AsRef<OsStr>) -> &mut Command {
        self.cache = None;
        self.hostname = Some(name.as_ref().to_owned());
        self
    }

    /// The NIS domain name (`setdomainname(2)`); as for [`hostname`](Self::hostname).
    pub fn domainname(&mut self, name: impl AsRef<OsStr>) -> &mut Command {
        self.cache = None;
        self.domainname = Some(name.as_ref().to_owned());
        self
    }

    /// Adds a mount step (applied in order). Needs a new or joined mount namespace.
    pub fn mount(&mut self, m: Mount) -> &mut Command {
        self.cache = None;
        self.mounts.push(m);
        self
    }

    /// An offset of a clock in the child's new time namespace (needs `unshare(TIME)`),
    /// written to `/proc/self/timens_offsets` before the program enters the namespace at
    /// `execve`. `nanos` must be below 1e9.
    pub fn time_offset(&mut self, clock: TimeClock, secs: i64, nanos: u32) -> &mut Command {
        self.cache = None;
        match clock {
            TimeClock::Monotonic => self.monotonic = Some((secs, nanos)),
            TimeClock::Boottime => self.boottime = Some((secs, nanos)),
        }
        self
    }

    /// Brings the loopback interface up in the child's new or joined network namespace before
    /// the program starts (`ioctl(SIOCSIFFLAGS)` on `lo` with `IFF_UP`, the way `ifconfig lo up`
    /// does it: no netlink, nothing allocated in the child). Needs `CAP_NET_ADMIN` over the
    /// namespace, which a new user namespace gives.
    ///
    /// # References
    ///  - [netdevice(7)](https://man7.org/linux/man-pages/man7/netdevice.7.html)
    pub fn loopback_up(&mut self, on: bool) -> &mut Command {
        self.cache = None;
        self.loopback_up = on;
        self
    }

    /// Starts the child directly in the cgroup v2 directory `dir` (`CLONE_INTO_CGROUP`,
    /// Linux 5.7): it never runs a moment outside it.
    pub fn cgroup(&mut self, dir: impl AsRef<Path>) -> &mut Command {
        self.cache = None;
        self.cgroup = Some(dir.as_ref().to_owned());
        self
    }

    /// Makes the child a session leader (`setsid(2)`).
    pub fn setsid(&mut self, on: bool) -> &mut Command {
        self.cache = None;
        self.setsid = on;
        self
    }

    /// The signal the child gets when the thread that spawned it exits (`PR_SET_PDEATHSIG`).
    /// If the parent is already gone by the time it is set, the child does not run on. Note:
    /// the kernel ties it to the spawning *thread*, and clears it on set-user-ID execs.
    pub fn parent_death_signal(&mut self, signal: i32) -> &mut Command {
        self.cache = None;
        self.pdeathsig = Some(signal);
        self
    }

    /// Sets `PR_SET_NO_NEW_PRIVS`: no set-user-ID or file-capability gains across `execve`.
    pub fn no_new_privs(&mut self, on: bool) -> &mut Command {
        self.cache = None;
        self.no_new_privs = on;
        self
    }

    /// The child's umask.
    pub fn umask(&mut self, mask: u32) -> &mut Command {
        self.cache = None;
        self.umask = Some(mask);
        self
    }

    /// A resource limit (`prlimit(2)`), soft and hard.
    pub fn rlimit(&mut self, resource: Resource, soft: u64, hard: u64) -> &mut Command {
        self.cache = None;
        self.rlimits.push((resource, soft, hard));
        self
    }

    /// A seccomp BPF program installed right before `execve` (`seccomp(2)`,
    /// `SECCOMP_SET_MODE_FILTER`). The crate ships no profile: the program is the caller's.
    /// Needs [`no_new_privs`](Self::no_new_privs) or `CAP_SYS_ADMIN`.
    pub fn seccomp_filter(&mut self, program: &[BpfInstruction]) -> &mut Command {
        self.cache = None;
        self.seccomp = Some(program.to_vec());
        self
    }

    /// Resets every signal disposition to `SIG_DFL` in the child, ignored ones included.
    /// Without it, handlers are reset (the kernel does that at `execve` anyway), ignored
    /// signals stay ignored, except `SIGPIPE`, which is reset as `std::process` does.
    pub fn reset_signals(&mut self, on: bool) -> &mut Command {
        self.cache = None;
        self.reset_signals = on;
        self
    }

    /// Signals blocked in the child when it starts the program (by default none).
    pub fn signal_mask(&mut self, signals: &[i32]) -> &mut Command {
        self.cache = None;
        self.sigmask = signals.to_vec();
        self
    }

    /// Inheritable capabilities (bit n = capability n, see capabilities(7)); empty by default.
    pub fn inheritable_capabilities(&mut self, caps: u64) -> &mut Command {
        self.cache = None;
        self.inheritable_caps = caps;
        self
    }

    /// Ambient capabilities to raise (they also become inheritable); empty by default. Each
    /// must be permitted in the child.
    pub fn ambient_capabilities(&mut self, caps: u64) -> &mut Command {
        self.cache = None;
        self.ambient_caps = caps;
        self
    }

    /// Runs a minimal init as PID 1 of the new pid namespace (needs `unshare(PID)`): it forks
    /// the program, reaps every process that ends up its child, forwards the signals it gets
    /// to the program, and exits with the program's status (128 + signal if killed). For
    /// programs not written to be PID 1.
    pub fn init(&mut self, on: bool) -> &mut Command {
        self.cache = None;
        self.init = on;
        self
    }

    /// Kill (`SIGKILL`) and reap the child when its [`Child`] is dropped. Off by default.
    pub fn kill_on_drop(&mut self, on: bool) -> &mut Command {
        self.cache = None;
        self.kill_on_drop = on;
        self
    }

    /// Spawns the child and returns once it runs the program; see the type docs for the
    /// order of setup steps.
    ///
    /// The first spawn validates the command and builds the child's plan (argv, the
    /// environment, the program's path, the id maps, ...); later spawns reuse it until a setter
    /// changes the command or the caller's effective uid or gid changes. So the parent's
    /// environment and a program name's `PATH` lookup are read when the plan is built, not at
    /// every spawn: after changing the process environment, call a setter (or build a new
    /// `Command`) for the children to see it.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for bad input (before any process exists), [`Error::Spawn`]
    /// for a failed step (the child has been reaped).
    pub fn spawn(&mut self) -> Result<Child> {
        let creds = (
            rustix::process::geteuid().as_raw(),
            rustix::process::getegid().as_raw(),
        );
        if self.cache.as_ref().is_none_or(|p| p.creds != creds) {
            self.cache = None;
            self.cache = Some(self.prepare(creds)?);
        }
        let prepared = self.cache.as_ref().expect("prepared above");
        let stdio = [
            self.stdin.as_ref(),
            self.stdout.as_ref(),
            self.stderr.as_ref(),
        ];
        let kill_on_drop = self.kill_on_drop;
        let mut child = launch(self, prepared, stdio)?;
        child.kill_on_drop = kill_on_drop;
        Ok(child)
    }

    /// Spawns with stdio inherited unless set, and waits for the child.
    pub fn status(&mut self) -> Result<ExitStatus> {
        self.spawn()?.wait()
    }

    /// Spawns with stdin from `/dev/null` and stdout/stderr captured unless set, and waits,
    /// collecting the output.
    pub fn output(&mut self) -> Result<Output> {
        let defaults = [
            self.stdin.is_none(),
            self.stdout.is_none(),
            self.stderr.is_none(),
        ];
        if defaults[0] {
            self.stdin = Some(Stdio::Null);
        }
        if defaults[1] {
            self.stdout = Some(Stdio::Piped);
        }
        if defaults[2] {
            self.stderr = Some(Stdio::Piped);
        }
        let r = self.spawn();
        // Leave the builder as it was.
        for (set, slot) in
            defaults
                .into_iter()
                .zip([&mut self.stdin, &mut self.stdout, &mut self.stderr])
        {
            if set {
                *slot = None;
            }
        }
        r?.wait_with_output()
    }

    fn program_display(&self) -> String {
        self.program.to_string_lossy().into_owned()
    }

    fn new_root(&self) -> Option<&Path> {
        self.mounts.iter().rev().find_map(Mount::new_root)
    }

    /// Validates everything and builds the child's plan, for a caller with the effective
    /// `(uid, gid)` `creds`.
    fn prepare(&self, creds: (u32, u32)) -> Result<Prepared> {
        if self.program.is_empty() {
            return Err(Error::invalid("program", "empty program name"));
        }
        let program_c = cstring("program", &self.program)?;
        let joined: NamespaceSet = self.joins.iter().map(Namespace::kind).collect();
        for (i, ns) in self.joins.iter().enumerate() {
            if self.joins[..i].iter().any(|o| o.kind() == ns.kind()) {
                return Err(Error::invalid(
                    "join",
                    format!("two {} namespaces to join", ns.kind()),
                ));
            }
            if self.unshare.has(ns.kind()) {
                return Err(Error::invalid(
                    "join",
                    format!(
                        "the {} namespace is both created (unshare) and joined",
                        ns.kind()
                    ),
                ));
            }
        }
        let has = |k: NamespaceKind| self.unshare.has(k) || joined.has(k);
        let new_user = self.unshare.has(NamespaceKind::User);
        let need = |cond: bool, what: &'static str, why: &str| -> Result<()> {
            if cond {
                Ok(())
            } else {
                Err(Error::invalid(what, why.to_string()))
            }
        };
        need(
            (self.uid_map.is_none() && self.gid_map.is_none() && self.setgroups.is_none())
                || new_user,
            "id map",
            "uid/gid maps and setgroups need a new user namespace (unshare USER)",
        )?;
        need(
            (self.hostname.is_none() && self.domainname.is_none()) || has(NamespaceKind::Uts),
            "hostname",
            "setting a host or domain name needs a new or joined UTS namespace; the caller's is never changed",
        )?;
        need(
            !self.mounts.iter().any(Mount::changes_mounts) || has(NamespaceKind::Mount),
            "mount",
            "mount steps need a new or joined mount namespace; the caller's is never changed",
        )?;
        need(
            !self.loopback_up || has(NamespaceKind::Network),
            "loopback",
            "bringing loopback up needs a new or joined network namespace; the caller's is never changed",
        )?;
        need(
            (self.monotonic.is_none() && self.boottime.is_none())
                || self.unshare.has(NamespaceKind::Time),
            "time offset",
            "clock offsets need a new time namespace (unshare TIME)",
        )?;
        need(
            !self.init || self.unshare.has(NamespaceKind::Pid),
            "init",
            "init needs a new pid namespace (unshare PID)",
        )?;

        let mut plan = Plan::default();

        // Program, argv, envp.
        let mut env: BTreeMap<OsString, OsString> = if self.env_clear {
            BTreeMap::new()
        } else {
            std::env::vars_os().collect()
        };
        for (k, v) in &self.env {
            if k.is_empty() || k.as_bytes().contains(&b'=') {
                return Err(Error::invalid(
                    "environment",
                    format!(
                        "{:?} is not a variable name (empty or contains '=')",
                        k.to_string_lossy()
                    ),
                ));
            }
            match v {
                Some(v) => env.insert(k.clone(), v.clone()),
                None => env.remove(k),
            };
        }
        plan.envp_store = env
            .iter()
            .map(|(k, v)| {
                let mut kv = k.clone().into_vec();
                kv.push(b'=');
                kv.extend_from_slice(v.as_bytes());
                CString::new(kv).map_err(|_| {
                    Error::invalid(
                        "environment",
                        format!("{:?} contains a NUL byte", k.to_string_lossy()),
                    )
                })
            })
            .collect::<Result<_>>()?;
        plan.argv_store.push(cstring(
            "argument",
            self.arg0.as_deref().unwrap_or(&self.program),
        )?);
        for a in &self.args {
            plan.argv_store.push(cstring("argument", a)?);
        }
        // The pointer arrays point into the CStrings' heap buffers, which stay put when the
        // Vecs holding them move.
        plan.argv = plan
            .argv_store
            .iter()
            .map(|c| c.as_ptr())
            .chain([std::ptr::null()])
            .collect();
        plan.envp = plan
            .envp_store
            .iter()
            .map(|c| c.as_ptr())
            .chain([std::ptr::null()])
            .collect();
        let path_var = env
            .get(OsStr::new("PATH"))
            .cloned()
            .or_else(|| std::env::var_os("PATH"));
        plan.programs = resolve_program(
            &self.program,
            program_c,
            path_var.as_deref(),
            self.new_root(),
        )?;

        // User namespace maps: which side writes them.
        let (euid, egid) = creds;
        let deny = self.setgroups == Some(SetGroups::Deny);
        let child_writes = !self.newidmap
            && self.uid_map.as_ref().is_none_or(|m| m.is_single_id(euid))
            && self
                .gid_map
                .as_ref()
                .is_none_or(|m| m.is_single_id(egid) && deny);
        let caps = rustix::thread::capabilities(None).ok();
        let has_cap =
            |c: rustix::thread::CapabilitySet| caps.is_some_and(|s| s.effective.contains(c));
        if !child_writes && !self.newidmap {
            if self.uid_map.is_some() && !has_cap(rustix::thread::CapabilitySet::SETUID) {
                return Err(Error::invalid(
                    "uid map",
                    format!(
                        "without CAP_SETUID only the caller's own uid can be mapped (a single line '<id> {euid} 1'); use_newidmap(true) maps subordinate ranges"
                    ),
                ));
            }
            if self.gid_map.is_some() && !has_cap(rustix::thread::CapabilitySet::SETGID) {
                return Err(Error::invalid(
                    "gid map",
                    format!(
                        "without CAP_SETGID only the caller's own gid can be mapped (a single line '<id> {egid} 1'), after setgroups(SetGroups::Deny); use_newidmap(true) maps subordinate ranges"
                    ),
                ));
            }
        }
        let setgroups_text: Option<&'static std::ffi::CStr> = self.setgroups.map(|s| match s {
            SetGroups::Allow => c"allow",
            SetGroups::Deny => c"deny",
        });
        let mut parent_maps = None;
        if child_writes {
            plan.setgroups = setgroups_text;
            plan.uid_map = self
                .uid_map
                .as_ref()
                .map(|m| CString::new(m.to_string()).expect("digits"));
            plan.gid_map = self
                .gid_map
                .as_ref()
                .map(|m| CString::new(m.to_string()).expect("digits"));
        } else {
            parent_maps = Some(ParentMaps {
                setgroups: setgroups_text,
                uid_map: self.uid_map.clone(),
                gid_map: self.gid_map.clone(),
                newidmap: self.newidmap,
            });
            plan.wait_parent = true;
        }

        // Joins: the user namespace is left out when it is the caller's own (setns refuses it).
        let own_user = match joined.has(NamespaceKind::User) {
            true => Some(Namespace::current(NamespaceKind::User)?.id()),
            false => None,
        };
        plan.joins = self
            .joins
            .iter()
            .filter(|ns| new_user || ns.kind() != NamespaceKind::User || Some(ns.id()) != own_user)
            .map(|ns| Join {
                fd: ns.as_raw_fd(),
                nstype: ns.kind().clone_flag(),
            })
            .collect();

        // Time namespace.
        plan.unshare_time = self.unshare.has(NamespaceKind::Time);
        let offsets = offsets_text(
            [
                (TimeClock::Monotonic, self.monotonic),
                (TimeClock::Boottime, self.boottime),
            ]
            .into_iter()
            .filter_map(|(c, o)| o.map(|(s, n)| (c, s, n))),
        )?;
        if !offsets.is_empty() {
            plan.time_offsets = Some(CString::new(offsets).expect("digits"));
        }

        // UTS.
        let name = |what: &'static str, n: &Option<OsString>| -> Result<Option<Vec<u8>>> {
            let Some(n) = n else { return Ok(None) };
            let b = n.as_bytes();
            if b.len() > 64 {
                return Err(Error::invalid(
                    what,
                    format!("{} bytes; the kernel allows at most 64", b.len()),
                ));
            }
            if b.contains(&0) {
                return Err(Error::invalid(what, "contains a NUL byte"));
            }
            Ok(Some(b.to_vec()))
        };
        plan.loopback_up = self.loopback_up;
        plan.hostname = name("hostname", &self.hostname)?;
        plan.domainname = name("domainname", &self.domainname)?;

        plan.mounts = self
            .mounts
            .iter()
            .map(Mount::prepare)
            .collect::<Result<_>>()?;
        plan.cwd = self
            .cwd
            .as_ref()
            .map(|d| cstring("working directory", d.as_os_str()))
            .transpose()?;
        plan.setsid = self.setsid;
        plan.umask = self.umask;
        for &(res, soft, hard) in &self.rlimits {
            if soft > hard {
                return Err(Error::invalid(
                    "rlimit",
                    format!("{res:?}: soft limit {soft} above hard limit {hard}"),
                ));
            }
            plan.rlimits.push((
                res.raw(),
                libc::rlimit64 {
                    rlim_cur: soft,
                    rlim_max: hard,
                },
            ));
        }
        plan.no_new_privs = self.no_new_privs;
        plan.groups = self.groups.clone();
        plan.gid = self.gid;
        plan.uid = self.uid;
        plan.inheritable_caps = self.inheritable_caps;
        plan.ambient_caps = self.ambient_caps;
        plan.keep_caps_for_ambient = self.ambient_caps != 0 && self.uid.is_some();
        if let Some(sig) = self.pdeathsig {
            if !(1..=64).contains(&sig) {
                return Err(Error::invalid(
                    "parent death signal",
                    format!("{sig} is not a signal number"),
                ));
            }
            plan.pdeathsig = sig;
        }
        plan.reset_all_signals = self.reset_signals;
        plan.reset_sigpipe = true;
        plan.handlers_cleared = sys::kernel_version() >= (5, 5);
        for &sig in &self.sigmask {
            if !(1..=64).contains(&sig) {
                return Err(Error::invalid(
                    "signal mask",
                    format!("{sig} is not a signal number"),
                ));
            }
            plan.sigmask |= 1 << (sig - 1);
        }
        if let Some(prog) = &self.seccomp {
            if prog.is_empty() || prog.len() > 4096 {
                return Err(Error::invalid(
                    "seccomp filter",
                    format!("{} instructions; 1 to 4096 allowed", prog.len()),
                ));
            }
            plan.seccomp = Some(
                prog.iter()
                    .map(|i| libc::sock_filter {
                        code: i.code,
                        jt: i.jt,
                        jf: i.jf,
                        k: i.k,
                    })
                    .collect(),
            );
        }
        plan.init = self.init;

        // Fds passed explicitly (conflicts with stdio are checked per spawn: `output()`
        // changes stdio without touching the plan).
        let mut targets: Vec<RawFd> = Vec::new();
        for (n, _) in &self.fds {
            if *n < 0 {
                return Err(Error::invalid("fd", format!("{n} is not an fd number")));
            }
            if targets.contains(n) {
                return Err(Error::invalid("fd", format!("fd {n} is given twice")));
            }
            targets.push(*n);
        }

        // setns(2) into a time namespace fails with EUSERS while the caller shares its memory
        // with another process, as a vfork or shared-VM child shares the parent's.
        let needs_own_address_space = self.init || joined.has(NamespaceKind::Time);
        let mode = if needs_own_address_space || !sys::raw::HAS_CLONE_VM_TRAMPOLINE {
            Mode::Fork
        } else if plan.wait_parent {
            Mode::SharedVm
        } else {
            Mode::Vfork
        };
        let mut flags =
            (self.unshare - NamespaceSet::TIME).bits() as u64 | libc::CLONE_PIDFD as u64;
        if plan.handlers_cleared {
            flags |= CLONE_CLEAR_SIGHAND;
        }
        Ok(Prepared {
            plan,
            mode,
            flags,
            parent_maps,
            new_user,
            creds,
        })
    }
}

const CLONE_CLEAR_SIGHAND: u64 = 0x1_0000_0000;
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;
const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;

/// How the child is created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// `CLONE_VM|CLONE_VFORK` on a separate stack: no page-table copy, the parent sleeps until
    /// the child execs or exits.
    Vfork,
    /// `CLONE_VM` without `CLONE_VFORK`: the parent writes the id maps while the child waits
    /// on a pipe.
    SharedVm,
    /// Fork-like: the child gets a copy of the address space (init mode, or no trampoline for
    /// this architecture).
    Fork,
}

#[derive(Debug)]
struct ParentMaps {
    setgroups: Option<&'static std::ffi::CStr>,
    uid_map: Option<IdMap>,
    gid_map: Option<IdMap>,
    newidmap: bool,
}

#[derive(Debug)]
struct Prepared {
    plan: Plan,
    mode: Mode,
    flags: u64,
    parent_maps: Option<ParentMaps>,
    new_user: bool,
    /// The effective uid and gid the plan was built for (which side writes the maps, and
    /// what they may contain, depend on them).
    creds: (u32, u32),
}

/// Finds what to `execve`: a path as given, or a name searched in `PATH`, in the parent
/// (checked now) or, when the root changes, as a list of candidates the child tries in turn.
fn resolve_program(
    program: &OsStr,
    c: CString,
    path: Option<&OsStr>,
    new_root: Option<&Path>,
) -> Result<Vec<CString>> {
    if program.as_bytes().contains(&b'/') {
        return Ok(vec![c]);
    }
    let path = path.unwrap_or(OsStr::new("/usr/local/bin:/usr/bin:/bin"));
    let dirs = path.as_bytes().split(|b| *b == b':').map(|d| {
        if d.is_empty() {
            Path::new(".")
        } else {
            Path::new(OsStr::from_bytes(d))
        }
    });
    if new_root.is_some() {
        return dirs
            .map(|d| cstring("program", d.join(program).as_os_str()))
            .collect();
    }
    // As execvp: the first candidate that can be executed; EACCES if some candidate (or a
    // directory on the way) was there but not permitted, else ENOENT.
    let mut errno = libc::ENOENT;
    for d in dirs {
        let cand = d.join(program);
        match rustix::fs::access(&cand, rustix::fs::Access::EXEC_OK) {
            Ok(()) if !cand.is_dir() => return Ok(vec![cstring("program", cand.as_os_str())?]),
            Ok(()) => errno = libc::EACCES,
            Err(rustix::io::Errno::ACCESS) => errno = libc::EACCES,
            Err(_) => {}
        }
    }
    Err(Error::Spawn {
        program: program.to_string_lossy().into_owned(),
        step: Step::Exec(PathBuf::from(program)),
        source: io::Error::from_raw_os_error(errno),
        hint: None,
    })
}

fn spawn_error(cmd: &Command, step: Step, source: io::Error, new_user: bool) -> Error {
    let hint = source
        .raw_os_error()
        .and_then(|e| Hint::for_spawn(&step, e, new_user));
    Error::Spawn {
        program: cmd.program_display(),
        step,
        source,
        hint,
    }
}

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).map_err(io::Error::from)
}

/// Kills and reaps a child on drop unless disarmed: nothing is left behind when the parent's
/// part of the setup fails or panics.
struct ReapGuard<'a> {
    pidfd: Option<&'a mut PidFd>,
}

impl Drop for ReapGuard<'_> {
    fn drop(&mut self) {
        if let Some(p) = self.pidfd.take() {
            let _ = p.kill();
            let _ = p.wait();
        }
    }
}

fn launch(cmd: &Command, prep: &Prepared, stdio: [Option<&Stdio>; 3]) -> Result<Child> {
    let io_err = |step: Step| move |e: io::Error| spawn_error(cmd, step.clone(), e, prep.new_user);

    // Per-spawn fds: stdio, the error pipe, the sync pipe, the cgroup.
    let mut child_ends: Vec<OwnedFd> = Vec::new();
    let mut parent_ends: [Option<OwnedFd>; 3] = [None, None, None];
    let mut moves: Vec<(RawFd, RawFd)> = Vec::new();
    for (n, s) in stdio.iter().enumerate() {
        let src = match s {
            None | Some(Stdio::Inherit) => continue,
            Some(Stdio::Null) => {
                let fd = rustix::fs::open(
                    "/dev/null",
                    rustix::fs::OFlags::RDWR | rustix::fs::OFlags::CLOEXEC,
                    rustix::fs::Mode::empty(),
                )
                .map_err(|e| io_err(Step::Open("/dev/null".into()))(e.into()))?;
                let raw = fd.as_raw_fd();
                child_ends.push(fd);
                raw
            }
            Some(Stdio::Piped) => {
                let (r, w) = pipe().map_err(io_err(Step::Pipe))?;
                let (mine, theirs) = if n == 0 { (w, r) } else { (r, w) };
                let raw = theirs.as_raw_fd();
                parent_ends[n] = Some(mine);
                child_ends.push(theirs);
                raw
            }
            Some(Stdio::Fd(fd)) => fd.as_raw_fd(),
        };
        moves.push((src, n as RawFd));
    }
    for (target, fd) in &cmd.fds {
        if *target <= 2 && moves.iter().any(|m| m.1 == *target) {
            return Err(Error::invalid(
                "fd",
                format!("fd {target} is given twice (as stdio and as a passed fd)"),
            ));
        }
        moves.push((fd.as_raw_fd(), *target));
    }
    moves.sort_by_key(|m| m.1);
    // With stdio inherited and no fds passed (the common case) nothing here allocates.
    let keep_moved: Vec<RawFd>;
    let keep: &[RawFd] = if moves.is_empty() {
        &[0, 1, 2]
    } else {
        let mut k: Vec<RawFd> = (0..3).chain(moves.iter().map(|m| m.1)).collect();
        k.sort_unstable();
        k.dedup();
        keep_moved = k;
        &keep_moved
    };
    let mut scratch = vec![-1i32; moves.len()];

    let (err_r, err_w) = pipe().map_err(io_err(Step::Pipe))?;
    let sync = if prep.plan.wait_parent {
        Some(pipe().map_err(io_err(Step::Pipe))?)
    } else {
        None
    };
    let mut flags = prep.flags;
    let cgroup_fd = match &cmd.cgroup {
        Some(dir) => Some(open_cgroup(dir).map_err(|e| match e {
            Error::Os { source, .. } => io_err(Step::Open(dir.clone()))(source),
            other => other,
        })?),
        None => None,
    };
    if cgroup_fd.is_some() {
        flags |= CLONE_INTO_CGROUP;
    }

    let stack = match prep.mode {
        Mode::Vfork | Mode::SharedVm => Some(sys::Stack::take().map_err(io_err(Step::Clone))?),
        Mode::Fork => None,
    };
    if prep.mode == Mode::Vfork {
        flags |= (libc::CLONE_VM | libc::CLONE_VFORK) as u64;
    } else if prep.mode == Mode::SharedVm {
        flags |= libc::CLONE_VM as u64;
    }

    let args = Args {
        plan: &prep.plan,
        err_w: err_w.as_raw_fd(),
        sync_r: sync.as_ref().map_or(-1, |s| s.0.as_raw_fd()),
        sync_w: sync.as_ref().map_or(-1, |s| s.1.as_raw_fd()),
        moves: &moves,
        keep,
        scratch: scratch.as_mut_ptr(),
        parent_pid: std::process::id() as i32,
        handlers_cleared: std::cell::Cell::new(prep.plan.handlers_cleared),
    };
    let mut pidfd_raw: RawFd = -1;
    let mut clone_args = sys::raw::CloneArgs {
        flags,
        pidfd: &mut pidfd_raw as *mut RawFd as u64,
        exit_signal: libc::SIGCHLD as u64,
        cgroup: cgroup_fd.as_ref().map_or(0, |f| f.as_raw_fd() as u64),
        ..Default::default()
    };
    if let Some(s) = &stack {
        let (lo, size) = s.region();
        clone_args.stack = lo;
        clone_args.stack_size = size;
    }
    let started = {
        let _blocked = sys::block_all_signals();
        child::start(&mut clone_args, &args, prep.mode != Mode::Fork)
    };
    let pid = started.map_err(|errno| {
        if errno == libc::ENOSYS {
            return Error::Unsupported {
                feature: "clone3 or clone with CLONE_PIDFD",
                min_kernel: "5.3",
            };
        }
        if errno == libc::EINVAL && cgroup_fd.is_some() && sys::kernel_version() < (5, 7) {
            return Error::Unsupported {
                feature: "CLONE_INTO_CGROUP",
                min_kernel: "5.7",
            };
        }
        spawn_error(
            cmd,
            Step::Clone,
            io::Error::from_raw_os_error(errno),
            prep.new_user,
        )
    })?;
    let pidfd_owned = sys::pidfd_from_clone(pidfd_raw);
    let mut handle = PidFd::from_parts(pidfd_owned, pid as u32);

    // The child has its own copies of these now.
    drop(err_w);
    drop(child_ends);
    drop(cgroup_fd);

    {
        let mut guard = ReapGuard {
            pidfd: Some(&mut handle),
        };
        if let Some((sync_r, sync_w)) = sync {
            drop(sync_r);
            if let Some(maps) = &prep.parent_maps {
                write_parent_maps(pid as u32, maps)
                    .map_err(|(step, e)| spawn_error(cmd, step, e, prep.new_user))?;
            }
            rustix::io::write(&sync_w, &[1]).map_err(|e| io_err(Step::WaitParent)(e.into()))?;
        }

        // EOF: the program runs. A record: a step failed, and the child exits.
        let mut rec = [0u8; report::RECORD_LEN];
        let mut got = 0;
        let mut f = File::from(err_r);
        while got < rec.len() {
            match f.read(&mut rec[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(io_err(Step::Pipe)(e)),
            }
        }
        if got == rec.len() {
            let r = report::Record::decode(&rec);
            // The guard reaps the child when this returns.
            return Err(spawn_error(
                cmd,
                decode_step(cmd, prep, &r),
                io::Error::from_raw_os_error(r.errno),
                prep.new_user,
            ));
        }
        guard.pidfd = None;
    }
    // The child has exec'd (or, on the error path above, was reaped by the guard before the
    // stack is dropped): nothing runs on the stack any more.
    if let Some(s) = stack {
        s.release();
    }
    drop(scratch);

    let [stdin, stdout, stderr] = parent_ends;
    Ok(Child {
        handle,
        stdin: stdin.map(ChildStdin::from),
        stdout: stdout.map(ChildStdout::from),
        stderr: stderr.map(ChildStderr::from),
        kill_on_drop: false,
    })
}

fn open_cgroup(dir: &Path) -> Result<OwnedFd> {
    let fd = rustix::fs::open(
        dir,
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .map_err(|e| {
        Error::os(
            crate::Operation::Open,
            crate::Target::Path(dir.into()),
            e.into(),
        )
    })?;
    let fs = rustix::fs::fstatfs(&fd).map_err(|e| {
        Error::os(
            crate::Operation::Stat,
            crate::Target::Path(dir.into()),
            e.into(),
        )
    })?;
    if fs.f_type as i64 != CGROUP2_SUPER_MAGIC {
        return Err(Error::invalid(
            "cgroup",
            format!(
                "{} is not a cgroup v2 directory (CLONE_INTO_CGROUP needs the unified hierarchy; this system may mount only cgroup v1 there)",
                dir.display()
            ),
        ));
    }
    Ok(fd)
}

fn write_parent_maps(pid: u32, maps: &ParentMaps) -> std::result::Result<(), (Step, io::Error)> {
    let proc_write =
        |file: &str, text: &[u8], step: Step| -> std::result::Result<(), (Step, io::Error)> {
            std::fs::write(format!("/proc/{pid}/{file}"), text).map_err(|e| (step, e))
        };
    if let Some(s) = maps.setgroups {
        proc_write("setgroups", s.to_bytes(), Step::Setgroups)?;
    }
    for (map, file, helper, step) in [
        (&maps.uid_map, "uid_map", "newuidmap", Step::UidMap),
        (&maps.gid_map, "gid_map", "newgidmap", Step::GidMap),
    ] {
        let Some(map) = map else { continue };
        if maps.newidmap {
            let mut c = std::process::Command::new(helper);
            c.arg(pid.to_string());
            for r in map.ranges() {
                c.args([
                    r.inside.to_string(),
                    r.outside.to_string(),
                    r.count.to_string(),
                ]);
            }
            let out = c.stdin(std::process::Stdio::null()).output().map_err(|e| {
                (
                    step.clone(),
                    io::Error::new(e.kind(), format!("running {helper}: {e}")),
                )
            })?;
            if !out.status.success() {
                let msg = String::from_utf8_lossy(&out.stderr).trim().to_string();
                return Err((
                    step,
                    io::Error::new(
                        io::ErrorKind::PermissionDenied,
                        format!("{helper} failed ({}): {msg}", out.status),
                    ),
                ));
            }
        } else {
            proc_write(file, map.to_string().as_bytes(), step)?;
        }
    }
    Ok(())
}

fn decode_step(cmd: &Command, prep: &Prepared, r: &report::Record) -> Step {
    use report::Code;
    let Some(code) = Code::from_u32(r.code) else {
        return Step::Unknown(r.code);
    };
    match code {
        Code::WaitParent => Step::WaitParent,
        Code::SetgroupsFile => Step::Setgroups,
        Code::UidMap => Step::UidMap,
        Code::GidMap => Step::GidMap,
        Code::Join => {
            NamespaceKind::from_clone_flag(r.index).map_or(Step::Unknown(r.code), Step::Join)
        }
        Code::TimeNamespace => Step::TimeNamespace,
        Code::TimeOffsets => Step::TimeOffsets,
        Code::Hostname => Step::Hostname,
        Code::Domainname => Step::Domainname,
        Code::Mount => Step::Mount {
            index: r.index as usize,
            mount: cmd
                .mounts
                .get(r.index as usize)
                .map(|m| m.to_string())
                .unwrap_or_default(),
        },
        Code::Chdir => Step::Chdir(cmd.cwd.clone().unwrap_or_default()),
        Code::Setsid => Step::Setsid,
        Code::Rlimit => Step::Rlimit(r.index),
        Code::NoNewPrivs => Step::NoNewPrivs,
        Code::Fd => Step::Fd(r.index as i32),
        Code::CloseFds => Step::CloseFds,
        Code::Groups => Step::Groups,
        Code::Gid => Step::Gid,
        Code::Uid => Step::Uid,
        Code::Capabilities => Step::Capabilities,
        Code::ParentDeathSignal => Step::ParentDeathSignal,
        Code::ParentExited => Step::ParentExited,
        Code::Signals => Step::Signals,
        Code::Seccomp => Step::Seccomp,
        // A single path names itself; a search over PATH names the program as given.
        Code::Exec => Step::Exec(match prep.plan.programs.as_slice() {
            [one] => PathBuf::from(OsStr::from_bytes(one.to_bytes())),
            _ => PathBuf::from(&cmd.program),
        }),
        Code::InitFork => Step::InitFork,
        Code::Loopback => Step::Loopback,
    }
}

/// A spawned process. Waiting and signalling go through its pidfd.
///
/// Dropping a `Child` does not kill or wait for it, unless
/// [`Command::kill_on_drop`] was set.
#[derive(Debug)]
pub struct Child {
    handle: PidFd,
    /// The parent's end of the child's stdin, if piped.
    pub stdin: Option<ChildStdin>,
    /// The parent's end of the child's stdout, if piped.
    pub stdout: Option<ChildStdout>,
    /// The parent's end of the child's stderr, if piped.
    pub stderr: Option<ChildStderr>,
    kill_on_drop: bool,
}

impl Child {
    /// The child's pid in the caller's pid namespace.
    pub fn id(&self) -> u32 {
        self.handle.pid()
    }

    /// The pidfd handle.
    pub fn pidfd(&self) -> &PidFd {
        &self.handle
    }

    /// A handle to the child's namespace of `kind` (see [`Namespace::from_pidfd`]).
    pub fn namespace(&self, kind: NamespaceKind) -> Result<Namespace> {
        Namespace::from_pidfd(self.handle.as_fd(), kind)
    }

    /// Closes stdin (so a child reading it sees EOF) and waits for the child to exit.
    pub fn wait(&mut self) -> Result<ExitStatus> {
        drop(self.stdin.take());
        self.handle.wait()
    }

    /// Reaps the child if it has exited, without blocking.
    pub fn try_wait(&mut self) -> Result<Option<ExitStatus>> {
        self.handle.try_wait()
    }

    /// Waits at most `timeout`; `None` if the child still runs.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Result<Option<ExitStatus>> {
        self.handle.wait_timeout(timeout)
    }

    /// Sends `SIGKILL`.
    pub fn kill(&mut self) -> Result<()> {
        self.handle.kill()
    }

    /// Sends a signal.
    pub fn signal(&self, signal: i32) -> Result<()> {
        self.handle.signal(signal)
    }

    /// Sends `SIGTERM`, waits up to `grace`, then sends `SIGKILL`, and reaps the child.
    pub fn stop(&mut self, grace: Duration) -> Result<ExitStatus> {
        self.handle.signal(libc::SIGTERM)?;
        if let Some(s) = self.handle.wait_timeout(grace)? {
            return Ok(s);
        }
        self.handle.kill()?;
        self.handle.wait()
    }

    /// Closes stdin, reads stdout and stderr to their ends (both at once, with `poll(2)`),
    /// and waits.
    pub fn wait_with_output(mut self) -> Result<Output> {
        drop(self.stdin.take());
        let (stdout, stderr) = read2(
            self.stdout.take().map(OwnedFd::from),
            self.stderr.take().map(OwnedFd::from),
        )
        .map_err(|e| {
            Error::os(
                crate::Operation::Io,
                crate::Target::Process {
                    pid: self.id(),
                    kind: None,
                },
                e,
            )
        })?;
        let status = self.wait()?;
        Ok(Output {
            status,
            stdout,
            stderr,
        })
    }
}

impl AsFd for Child {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.handle.as_fd()
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if self.kill_on_drop && self.handle.status().is_none() {
            let _ = self.handle.kill();
            let _ = self.handle.wait();
        }
    }
}

fn read2(out: Option<OwnedFd>, err: Option<OwnedFd>) -> io::Result<(Vec<u8>, Vec<u8>)> {
    use rustix::event::{PollFd, PollFlags};
    let mut bufs = (Vec::new(), Vec::new());
    let mut fds = [out, err];
    let mut chunk = [0u8; 8192];
    loop {
        let open: Vec<usize> = (0..2).filter(|i| fds[*i].is_some()).collect();
        if open.is_empty() {
            return Ok(bufs);
        }
        let mut pfds: Vec<PollFd<'_>> = open
            .iter()
            .map(|i| PollFd::new(fds[*i].as_ref().expect("open"), PollFlags::IN))
            .collect();
        match rustix::event::poll(&mut pfds, None) {
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
        let ready: Vec<(usize, bool)> = open
            .iter()
            .zip(pfds.iter())
            .map(|(i, p)| (*i, !p.revents().is_empty()))
            .collect();
        drop(pfds);
        for (i, r) in ready {
            if !r {
                continue;
            }
            let fd = fds[i].as_ref().expect("open");
            match rustix::io::read(fd, &mut chunk) {
                Ok(0) => fds[i] = None,
                Ok(n) => {
                    if i == 0 {
                        bufs.0.extend_from_slice(&chunk[..n])
                    } else {
                        bufs.1.extend_from_slice(&chunk[..n])
                    }
                }
                Err(rustix::io::Errno::INTR | rustix::io::Errno::AGAIN) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
}
