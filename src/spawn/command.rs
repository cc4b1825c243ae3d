//! The builder ([`Command`]).

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::os::fd::{OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Output};

use super::child::Child;
use super::launch::launch;
use super::plan::Prepared;
use crate::caps::Capabilities;
use crate::error::Result;
use crate::idmap::IdMap;
use crate::kind::NamespaceSet;
use crate::mount::Mount;
use crate::namespace::{Namespace, NamespaceId};
use crate::signal::Signal;
use crate::timens::TimeClock;

pub use super::settings::{BpfInstruction, Resource, SetGroups};
pub use super::stdio::Stdio;

/// A process builder, shaped like [`std::process::Command`], that can place the process in
/// new or existing namespaces and set it up before it runs.
///
/// ```
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
/// Setup happens in the child in this order: user namespace maps, joining namespaces (then,
/// after a joined user namespace, creating the new ones; after a joined or new pid namespace
/// made that way, forking the program into it), time namespace offsets, host and domain name,
/// mount steps, working directory, session, umask, resource limits, `no_new_privs`, file
/// descriptors, groups/gid/uid, capabilities, parent-death signal, (init), signals, seccomp,
/// `execve`.
///
/// # Where it differs from `std::process::Command`
///
/// * There is no `pre_exec`. The child may share the parent's memory (`CLONE_VM`) and runs
///   while other threads of the parent may hold locks (the allocator's, stdout's), so a
///   closure there could deadlock or corrupt the parent, and its failure could not come back
///   as a typed [`Step`](crate::Step). What such closures usually do is a setter here:
///   namespaces, id maps, mounts, credentials, capabilities, resource limits, signals,
///   seccomp, fds. To run Rust code inside namespaces, use
///   [`Namespaces::run`](crate::Namespaces::run) (a forked child that enters them, runs a
///   closure and sends its result back), or run a helper program.
/// * The environment is read at each spawn, as std reads it: without changes the child gets
///   the caller's `environ` as it is then (nothing is copied); with changes, the caller's
///   variables at that spawn with the changes applied. A reused `Command` allocates nothing
///   for it. Unlike std, it takes no environment lock (std's is private): a
///   `std::env::set_var` on another thread during a spawn breaks `set_var`'s safety contract.
/// * A program name without `/` is searched at each spawn in the `PATH` of that spawn (the
///   one set with [`env`](Self::env), else the caller's): by the child, after the mount
///   steps, when there are any (as std's child searches); without mount steps by the parent,
///   and a name not found is an error before any process exists. The candidate paths are
///   built in the parent at each spawn: the one allocation a reused `Command` makes.
/// * Spawning returns only once the program runs or a setup step failed: there is no window
///   in which a `Child` exists for a process that then fails to exec. "Runs" means `execve`
///   is past its point of no return; the kernel may still be loading the program, so its
///   `/proc/<pid>/cmdline` can be empty for a moment. Wait for the program's own output to
///   know it has started.
///
/// # References
///  - [clone3(2)](https://man7.org/linux/man-pages/man2/clone3.2.html),
///    [namespaces(7)](https://man7.org/linux/man-pages/man7/namespaces.7.html)
pub struct Command {
    /// What the child is to be; every setter of it drops the cached plan.
    spec: Spec,
    /// Stdin, stdout, stderr: per spawn, not part of the plan.
    stdio: [Option<Stdio>; 3],
    kill_on_drop: bool,
    /// The validated plan, kept across spawns until a setter changes the spec.
    cache: Option<Prepared>,
}

impl fmt::Debug for Command {
    /// The command line the way `std::process::Command` shows it (environment changes and
    /// the working directory first, each word quoted), then, with `{:#?}`, the namespace and
    /// process settings.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.spec;
        if let Some(dir) = &s.cwd {
            write!(f, "cd {dir:?} && ")?;
        }
        if s.env_clear {
            f.write_str("env -i ")?;
        }
        for (k, v) in &s.env {
            match v {
                Some(v) => write!(f, "{}={v:?} ", k.to_string_lossy())?,
                None => write!(f, "-u {} ", k.to_string_lossy())?,
            }
        }
        if let Some(arg0) = &s.arg0 {
            write!(f, "[{arg0:?}] ")?;
        }
        write!(f, "{:?}", s.program)?;
        for a in &s.args {
            write!(f, " {a:?}")?;
        }
        if f.alternate() {
            write!(f, " {:#?}", s)?;
        }
        Ok(())
    }
}

/// The capability sets a command asks for.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct CapSpec {
    pub(super) inheritable: Capabilities,
    pub(super) ambient: Capabilities,
    pub(super) bounding: Option<Capabilities>,
    pub(super) permitted: Option<Capabilities>,
    pub(super) effective: Option<Capabilities>,
}

/// Everything a [`Command`] says about the child, as plain data (the plan is built from it).
#[derive(Debug)]
pub(super) struct Spec {
    pub(super) program: OsString,
    pub(super) arg0: Option<OsString>,
    pub(super) args: Vec<OsString>,
    pub(super) env_clear: bool,
    pub(super) env: BTreeMap<OsString, Option<OsString>>,
    pub(super) cwd: Option<PathBuf>,
    pub(super) fds: Vec<(RawFd, OwnedFd)>,
    /// Keep the caller's fds that are not close-on-exec (no closing of the others).
    pub(super) inherit_fds: bool,
    pub(super) unshare: NamespaceSet,
    pub(super) joins: Vec<Namespace>,
    /// A handle `join` could not duplicate, and the errno: reported at spawn.
    pub(super) join_error: Option<(NamespaceId, i32)>,
    pub(super) uid_map: Option<IdMap>,
    pub(super) gid_map: Option<IdMap>,
    pub(super) setgroups: Option<SetGroups>,
    pub(super) newidmap: bool,
    pub(super) uid: Option<u32>,
    pub(super) gid: Option<u32>,
    pub(super) groups: Option<Vec<u32>>,
    pub(super) hostname: Option<OsString>,
    pub(super) domainname: Option<OsString>,
    pub(super) mounts: Vec<Mount>,
    pub(super) monotonic: Option<(i64, u32)>,
    pub(super) boottime: Option<(i64, u32)>,
    pub(super) cgroup: Option<PathBuf>,
    pub(super) setsid: bool,
    pub(super) pdeathsig: Option<Signal>,
    pub(super) no_new_privs: bool,
    pub(super) umask: Option<u32>,
    pub(super) rlimits: Vec<(Resource, u64, u64)>,
    pub(super) seccomp: Option<Vec<BpfInstruction>>,
    pub(super) reset_signals: bool,
    pub(super) sigmask: Vec<Signal>,
    pub(super) caps: CapSpec,
    pub(super) init: bool,
    pub(super) loopback_up: bool,
    /// Mount steps may use the path-based `mount(2)` calls where `openat2` is missing.
    pub(super) path_based_mounts: bool,
    /// Input a setter that cannot fail found invalid (`what`, why): reported by every spawn,
    /// as `std::process::Command` reports a NUL in an argument.
    pub(super) invalid: Option<(&'static str, String)>,
}

impl Command {
    /// A command for `program`: a path, or a name looked up in `PATH` (the child's `PATH` if
    /// the command sets one, else the parent's). Nothing is configured: no namespaces, stdio
    /// inherited, environment inherited.
    pub fn new(program: impl AsRef<OsStr>) -> Command {
        Command {
            spec: Spec {
                program: program.as_ref().to_owned(),
                arg0: None,
                args: Vec::new(),
                env_clear: false,
                env: BTreeMap::new(),
                cwd: None,
                fds: Vec::new(),
                inherit_fds: false,
                unshare: NamespaceSet::empty(),
                joins: Vec::new(),
                join_error: None,
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
                caps: CapSpec::default(),
                init: false,
                loopback_up: false,
                path_based_mounts: false,
                invalid: None,
            },
            stdio: [None, None, None],
            kill_on_drop: false,
            cache: None,
        }
    }

    /// Adds an argument.
    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Command {
        self.spec_mut().args.push(arg.as_ref().to_owned());
        self
    }

    /// Adds arguments.
    pub fn args<I, S>(&mut self, args: I) -> &mut Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.spec_mut()
            .args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Sets `argv[0]` (by default the program as given).
    pub fn arg0(&mut self, arg0: impl AsRef<OsStr>) -> &mut Command {
        self.spec_mut().arg0 = Some(arg0.as_ref().to_owned());
        self
    }

    /// Sets an environment variable.
    pub fn env(&mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> &mut Command {
        self.spec_mut()
            .env
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
        self.spec_mut().env.insert(key.as_ref().to_owned(), None);
        self
    }

    /// Starts from an empty environment instead of the parent's.
    pub fn env_clear(&mut self) -> &mut Command {
        let spec = self.spec_mut();
        spec.env_clear = true;
        spec.env.clear();
        self
    }

    /// The working directory, entered after the mount steps (so it is a path in the new root
    /// if one is set up).
    pub fn current_dir(&mut self, dir: impl AsRef<Path>) -> &mut Command {
        self.spec_mut().cwd = Some(dir.as_ref().to_owned());
        self
    }

    /// Standard input.
    pub fn stdin(&mut self, s: impl Into<Stdio>) -> &mut Command {
        self.stdio[0] = Some(s.into());
        self
    }

    /// Standard output.
    pub fn stdout(&mut self, s: impl Into<Stdio>) -> &mut Command {
        self.stdio[1] = Some(s.into());
        self
    }

    /// Standard error.
    pub fn stderr(&mut self, s: impl Into<Stdio>) -> &mut Command {
        self.stdio[2] = Some(s.into());
        self
    }

    /// Passes `fd` to the child as fd number `child_fd`. The child gets 0, 1, 2 and the fds
    /// passed this way, nothing else: every other fd is closed when it `execve`s, whether or
    /// not it was marked close-on-exec (unless [`inherit_fds`](Self::inherit_fds) is on).
    pub fn fd(&mut self, child_fd: RawFd, fd: impl Into<OwnedFd>) -> &mut Command {
        self.spec_mut().fds.push((child_fd, fd.into()));
        self
    }

    /// Lets the program inherit every fd of the caller that is not close-on-exec, as a
    /// process started by a shell or by `fork(2)` + `execve(2)` does (util-linux `unshare`
    /// and `nsenter` pass the caller's fds this way: `exec 7<file; unshare -U cat <&7`). Off
    /// by default: the child then gets only 0, 1, 2 and the fds passed with
    /// [`fd`](Self::fd), and every other fd is closed at `execve` (`close_range(2)` with
    /// `CLOSE_RANGE_CLOEXEC`, or `close_range(2)`, or `close(2)` one by one), whatever the
    /// caller's close-on-exec hygiene.
    ///
    /// With it on, the child skips that closing: fds marked close-on-exec (everything this
    /// crate and the standard library open) are still closed by the kernel at `execve`, and
    /// the others reach the program at their numbers. Stdio and [`fd`](Self::fd) are placed
    /// as usual; the source fd of a passed fd is closed in the child after it was placed, so
    /// it does not also appear at its old number.
    ///
    /// # References
    ///  - [close_range(2)](https://man7.org/linux/man-pages/man2/close_range.2.html),
    ///    [execve(2)](https://man7.org/linux/man-pages/man2/execve.2.html) ("File
    ///    descriptors open in the calling process image remain open in the new process
    ///    image, except for those for which the close-on-exec flag is set"),
    ///    [fcntl(2)](https://man7.org/linux/man-pages/man2/fcntl.2.html) (`FD_CLOEXEC`)
    pub fn inherit_fds(&mut self, on: bool) -> &mut Command {
        self.spec_mut().inherit_fds = on;
        self
    }

    /// Creates new namespaces of the kinds in `set` for the child (`clone3` flags; a new time
    /// namespace is made with `unshare(2)` in the child so offsets can be set first). With
    /// `PID`, the program is PID 1 of the new pid namespace.
    ///
    /// When the command also [joins](Self::join) a user namespace other than the caller's, the
    /// new namespaces are made after the joins with `unshare(2)` in the child, so they are
    /// owned by the joined user namespace (whose root may then mount, set the host name, ...);
    /// a new pid namespace then gets the program forked into it as its PID 1. Creating a new
    /// user namespace while joining one is an [`Error::InvalidInput`](crate::Error::InvalidInput).
    ///
    /// # References
    ///  - [clone3(2)](https://man7.org/linux/man-pages/man2/clone3.2.html),
    ///    [unshare(2)](https://man7.org/linux/man-pages/man2/unshare.2.html)
    pub fn unshare(&mut self, set: NamespaceSet) -> &mut Command {
        self.spec_mut().unshare |= set;
        self
    }

    /// Makes the child enter `ns` (`setns(2)` in the child) instead of staying in the
    /// caller's namespace of that kind. Joined namespaces are entered in a safe order: the
    /// user namespace after the namespaces the caller's privileges allow entering and before
    /// those that need the new user namespace's privileges. A duplicate of the handle is kept
    /// (`F_DUPFD_CLOEXEC`), so `ns` may be dropped afterwards.
    ///
    /// A joined pid namespace holds the program itself: `setns(2)` of a pid namespace moves
    /// only the children of the caller, so the child forks the program into it after the joins
    /// (with `CLONE_PARENT`, so the program is the spawner's own child and [`Child`] refers to
    /// it: its pid, exit status and signals are the program's, as with `nsenter --target`).
    /// [`init`](Self::init) works there too, as a subreaper of the program's orphans.
    ///
    /// With a user namespace other than the caller's joined, new namespaces
    /// ([`unshare`](Self::unshare)) are created after the joins and belong to it. Joining the
    /// caller's own namespace of a kind isolates nothing: a host name, mount steps or
    /// `loopback_up` still need a namespace that is not the caller's. A joined time namespace
    /// makes the spawn fork-like (the kernel refuses `setns` into it from a child sharing the
    /// parent's memory).
    ///
    /// Infallible like every setter: if the handle cannot be duplicated (`EMFILE`), the
    /// next [`spawn`](Self::spawn) returns that error.
    ///
    /// # References
    ///  - [setns(2)](https://man7.org/linux/man-pages/man2/setns.2.html),
    ///    [fcntl(2)](https://man7.org/linux/man-pages/man2/fcntl.2.html) (`F_DUPFD_CLOEXEC`),
    ///    [pid_namespaces(7)](https://man7.org/linux/man-pages/man7/pid_namespaces.7.html)
    pub fn join(&mut self, ns: &Namespace) -> &mut Command {
        match ns.try_clone() {
            Ok(dup) => self.spec_mut().joins.push(dup),
            // As std's saw_nul: the setter stays infallible, the spawn reports it.
            Err(e) => {
                let errno = e.raw_os_error().unwrap_or(libc::EMFILE);
                self.spec_mut().join_error.get_or_insert((ns.id(), errno));
            }
        }
        self
    }

    /// The `uid_map` of the new user namespace. The child writes a single-line map of the
    /// caller's own uid itself; other maps are written by the parent (which needs
    /// `CAP_SETUID` over the parent user namespace) or by `newuidmap` with
    /// [`use_newidmap`](Self::use_newidmap).
    ///
    /// A map that leaves out the caller's effective uid leaves the child's own uid unmapped:
    /// inside, the process shows as the overflow uid (`nobody`, 65534), but outside, for every
    /// permission check on files and processes, it is still the caller's uid (for root: uid
    /// 0's file access). Map the caller's uid, or switch to a mapped one with
    /// [`uid`](Self::uid) (a `setresuid` to an unmapped uid fails with `EINVAL`, with a hint).
    pub fn uid_map(&mut self, map: IdMap) -> &mut Command {
        self.spec_mut().uid_map = Some(map);
        self
    }

    /// The `gid_map` of the new user namespace (see [`uid_map`](Self::uid_map)). Without
    /// `CAP_SETGID`, [`setgroups(SetGroups::Deny)`](Self::setgroups) must be set too.
    pub fn gid_map(&mut self, map: IdMap) -> &mut Command {
        self.spec_mut().gid_map = Some(map);
        self
    }

    /// What to write to `/proc/<pid>/setgroups` (before `gid_map`). Nothing is written unless
    /// this is called (or [`map_root`](Self::map_root)).
    pub fn setgroups(&mut self, s: SetGroups) -> &mut Command {
        self.spec_mut().setgroups = Some(s);
        self
    }

    /// A new user namespace in which the caller's uid and gid are 0: `unshare(USER)`, the maps
    /// `0 <euid> 1` and `0 <egid> 1`, and `setgroups` "deny" (which an unprivileged `gid_map`
    /// write requires). Like `unshare --map-root-user`.
    ///
    /// A uid or gid that cannot be mapped (`u32::MAX`, see [`IdMap::single`]) makes every
    /// [`spawn`](Self::spawn) fail with [`Error::InvalidInput`](crate::Error::InvalidInput)
    /// before any process exists.
    pub fn map_root(&mut self) -> &mut Command {
        let (uid, gid) = (
            rustix::process::geteuid().as_raw(),
            rustix::process::getegid().as_raw(),
        );
        self.map_root_to(uid, gid)
    }

    /// [`map_root`](Self::map_root) for the given outside uid and gid.
    fn map_root_to(&mut self, uid: u32, gid: u32) -> &mut Command {
        let spec = self.spec_mut();
        spec.unshare |= NamespaceSet::USER;
        spec.setgroups = Some(SetGroups::Deny);
        match (IdMap::single(0, uid), IdMap::single(0, gid)) {
            (Ok(u), Ok(g)) => {
                spec.uid_map = Some(u);
                spec.gid_map = Some(g);
            }
            (Err(e), _) | (_, Err(e)) => {
                if spec.invalid.is_none() {
                    spec.invalid = Some(("id map", format!("map_root: {e}")));
                }
            }
        }
        self
    }

    /// Writes the maps with the setuid helpers `newuidmap(1)`/`newgidmap(1)` (from shadow's
    /// `uidmap` package), which let an unprivileged user map the ranges `/etc/subuid` and
    /// `/etc/subgid` grant. Off by default.
    pub fn use_newidmap(&mut self, on: bool) -> &mut Command {
        self.spec_mut().newidmap = on;
        self
    }

    /// Switches the child to this uid (`setresuid(2)`), after the namespace setup.
    ///
    /// Unless [`groups`](Self::groups) is set, the supplementary groups are cleared too
    /// (`setgroups(0, NULL)`), as `std::process::Command` does, so a root parent dropping to
    /// an unprivileged uid leaves no root groups behind. In a user namespace whose
    /// `setgroups` is "deny" (as after [`map_root`](Self::map_root) without privilege) the
    /// kernel refuses that call; the groups then stay the parent's, which for an unprivileged
    /// parent are its own.
    pub fn uid(&mut self, uid: u32) -> &mut Command {
        self.spec_mut().uid = Some(uid);
        self
    }

    /// Switches the child to this gid (`setresgid(2)`); the supplementary groups are cleared
    /// as for [`uid`](Self::uid) unless [`groups`](Self::groups) is set.
    pub fn gid(&mut self, gid: u32) -> &mut Command {
        self.spec_mut().gid = Some(gid);
        self
    }

    /// Sets the supplementary groups (`setgroups(2)`; needs `setgroups` "allow" in a new user
    /// namespace).
    pub fn groups(&mut self, groups: &[u32]) -> &mut Command {
        self.spec_mut().groups = Some(groups.to_vec());
        self
    }

    /// The host name in the child's UTS namespace (`sethostname(2)`); at most 64 bytes. Needs
    /// a new or joined UTS namespace: the caller's own is never changed.
    pub fn hostname(&mut self, name: impl AsRef<OsStr>) -> &mut Command {
        self.spec_mut().hostname = Some(name.as_ref().to_owned());
        self
    }

    /// The NIS domain name (`setdomainname(2)`); as for [`hostname`](Self::hostname).
    pub fn domainname(&mut self, name: impl AsRef<OsStr>) -> &mut Command {
        self.spec_mut().domainname = Some(name.as_ref().to_owned());
        self
    }

    /// Adds a mount step (applied in order). Needs a new or joined mount namespace.
    pub fn mount(&mut self, m: Mount) -> &mut Command {
        self.spec_mut().mounts.push(m);
        self
    }

    /// Lets the mount steps fall back to path-based `mount(2)`, `umount2(2)`, `chroot(2)`,
    /// ... calls where the kernel lacks `openat2(2)` (before Linux 5.6, or a seccomp profile
    /// that answers `ENOSYS`). Off by default: without `openat2`, a command with mount steps
    /// fails with [`Error::Unsupported`](crate::Error::Unsupported) (`KernelFeature::Openat2`)
    /// before any process exists.
    ///
    /// **The path-based calls follow symlinks** in every path, sources and targets alike: a
    /// symlink planted in a new root or a bind source redirects the step. Allow them only when
    /// every path of every mount step is trusted. Where `openat2` works this setting changes
    /// nothing.
    ///
    /// # References
    ///  - [openat2(2)](https://man7.org/linux/man-pages/man2/openat2.2.html),
    ///    [mount(2)](https://man7.org/linux/man-pages/man2/mount.2.html)
    pub fn allow_path_based_mounts(&mut self, on: bool) -> &mut Command {
        self.spec_mut().path_based_mounts = on;
        self
    }

    /// An offset of a clock in the child's new time namespace (needs `unshare(TIME)`),
    /// written to `/proc/self/timens_offsets` before the program enters the namespace at
    /// `execve`. `nanos` must be below 1e9.
    pub fn time_offset(&mut self, clock: TimeClock, secs: i64, nanos: u32) -> &mut Command {
        let spec = self.spec_mut();
        match clock {
            TimeClock::Monotonic => spec.monotonic = Some((secs, nanos)),
            TimeClock::Boottime => spec.boottime = Some((secs, nanos)),
        }
        self
    }

    /// Brings the loopback interface up in the child's new or joined network namespace before
    /// the program starts (`ioctl(SIOCSIFFLAGS)` on `lo` with `IFF_UP`, the way `ifconfig lo up`
    /// does it: no netlink, nothing allocated in the child). Needs `CAP_NET_ADMIN` over the
    /// namespace, which a new user namespace gives.
    pub fn loopback_up(&mut self, on: bool) -> &mut Command {
        self.spec_mut().loopback_up = on;
        self
    }

    /// Starts the child directly in the cgroup v2 directory `dir` (`CLONE_INTO_CGROUP`,
    /// Linux 5.7): it never runs a moment outside it.
    pub fn cgroup(&mut self, dir: impl AsRef<Path>) -> &mut Command {
        self.spec_mut().cgroup = Some(dir.as_ref().to_owned());
        self
    }

    /// Makes the child a session leader (`setsid(2)`).
    pub fn setsid(&mut self, on: bool) -> &mut Command {
        self.spec_mut().setsid = on;
        self
    }

    /// The signal the child gets when the thread that spawned it exits (`PR_SET_PDEATHSIG`).
    /// If the parent is already gone by the time it is set, the child does not run on. Note:
    /// the kernel ties it to the spawning *thread*, and clears it on set-user-ID execs.
    pub fn parent_death_signal(&mut self, signal: Signal) -> &mut Command {
        self.spec_mut().pdeathsig = Some(signal);
        self
    }

    /// Sets `PR_SET_NO_NEW_PRIVS`: no set-user-ID or file-capability gains across `execve`.
    pub fn no_new_privs(&mut self, on: bool) -> &mut Command {
        self.spec_mut().no_new_privs = on;
        self
    }

    /// The child's umask.
    pub fn umask(&mut self, mask: u32) -> &mut Command {
        self.spec_mut().umask = Some(mask);
        self
    }

    /// A resource limit (`prlimit(2)`), soft and hard.
    pub fn rlimit(&mut self, resource: Resource, soft: u64, hard: u64) -> &mut Command {
        self.spec_mut().rlimits.push((resource, soft, hard));
        self
    }

    /// A seccomp BPF program installed right before `execve` (`seccomp(2)`,
    /// `SECCOMP_SET_MODE_FILTER`). The crate ships no profile: the program is the caller's.
    /// Needs [`no_new_privs`](Self::no_new_privs) or `CAP_SYS_ADMIN`.
    pub fn seccomp_filter(&mut self, program: &[BpfInstruction]) -> &mut Command {
        self.spec_mut().seccomp = Some(program.to_vec());
        self
    }

    /// Resets every signal disposition to `SIG_DFL` in the child, ignored ones included.
    /// Without it, handlers are reset (the kernel does that at `execve` anyway), ignored
    /// signals stay ignored, except `SIGPIPE`, which is reset as `std::process` does.
    pub fn reset_signals(&mut self, on: bool) -> &mut Command {
        self.spec_mut().reset_signals = on;
        self
    }

    /// Signals blocked in the child when it starts the program (by default none).
    pub fn signal_mask(&mut self, signals: &[Signal]) -> &mut Command {
        self.spec_mut().sigmask = signals.to_vec();
        self
    }

    /// The inheritable set (`capset(2)`); empty by default.
    ///
    /// # References
    ///  - [capabilities(7)](https://man7.org/linux/man-pages/man7/capabilities.7.html)
    pub fn inheritable_capabilities(&mut self, caps: Capabilities) -> &mut Command {
        self.spec_mut().caps.inheritable = caps;
        self
    }

    /// Ambient capabilities to raise (`PR_CAP_AMBIENT_RAISE`; they also become inheritable);
    /// empty by default. Each must be permitted in the child.
    ///
    /// # References
    ///  - [capabilities(7)](https://man7.org/linux/man-pages/man7/capabilities.7.html),
    ///    [prctl(2)](https://man7.org/linux/man-pages/man2/prctl.2.html)
    pub fn ambient_capabilities(&mut self, caps: Capabilities) -> &mut Command {
        self.spec_mut().caps.ambient = caps;
        self
    }

    /// The bounding set: every capability not in `caps` is dropped from it
    /// (`PR_CAPBSET_DROP`, which needs `CAP_SETPCAP`), so no exec can gain it back. Left as
    /// inherited unless set.
    ///
    /// # References
    ///  - [capabilities(7)](https://man7.org/linux/man-pages/man7/capabilities.7.html),
    ///    [prctl(2)](https://man7.org/linux/man-pages/man2/prctl.2.html)
    pub fn bounding_capabilities(&mut self, caps: Capabilities) -> &mut Command {
        self.spec_mut().caps.bounding = Some(caps);
        self
    }

    /// The permitted set after the uid switch (`capset(2)`; it can only shrink). Left as the
    /// kernel makes it unless set; with [`uid`](Self::uid) the capabilities are kept across
    /// the switch (`PR_SET_KEEPCAPS`) so that this set can be kept.
    ///
    /// # References
    ///  - [capabilities(7)](https://man7.org/linux/man-pages/man7/capabilities.7.html)
    pub fn permitted_capabilities(&mut self, caps: Capabilities) -> &mut Command {
        self.spec_mut().caps.permitted = Some(caps);
        self
    }

    /// The effective set after the uid switch (`capset(2)`; a subset of the permitted set).
    /// Note that `execve` recomputes the effective set from the file's capabilities, the
    /// ambient set and the uid: without file capabilities a non-root program keeps the
    /// ambient set as its effective one.
    ///
    /// # References
    ///  - [capabilities(7)](https://man7.org/linux/man-pages/man7/capabilities.7.html)
    pub fn effective_capabilities(&mut self, caps: Capabilities) -> &mut Command {
        self.spec_mut().caps.effective = Some(caps);
        self
    }

    /// Runs a minimal init as PID 1 of the new pid namespace (needs `unshare(PID)`, or a
    /// joined pid namespace, where it is the subreaper of the program's orphans instead of
    /// PID 1): it forks the program, reaps every process that ends up its child, forwards the
    /// signals it gets to the program, and exits with the program's status (128 + signal if
    /// killed). For programs not written to be PID 1.
    pub fn init(&mut self, on: bool) -> &mut Command {
        self.spec_mut().init = on;
        self
    }

    /// Kill (`SIGKILL`) and reap the child when its [`Child`] is dropped. Off by default.
    pub fn kill_on_drop(&mut self, on: bool) -> &mut Command {
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
    /// [`Error::InvalidInput`](crate::Error::InvalidInput) for bad input (before any process
    /// exists), [`Error::Spawn`](crate::Error::Spawn) for a failed step (the child has been
    /// reaped), [`Error::Unsupported`](crate::Error::Unsupported) where the kernel lacks what a
    /// setting needs (`clone3`; `openat2` for mount steps, checked before any process exists
    /// unless [`allow_path_based_mounts`](Self::allow_path_based_mounts); `mount_setattr` for a
    /// recursive read-only bind or remount).
    pub fn spawn(&mut self) -> Result<Child> {
        let [i, o, e] = &self.stdio;
        let stdio = [i.as_ref(), o.as_ref(), e.as_ref()];
        Self::spawn_parts(&self.spec, &mut self.cache, self.kill_on_drop, stdio)
    }

    /// Spawns with stdio inherited unless set, and waits for the child.
    ///
    /// # Errors
    /// As for [`spawn`](Self::spawn), and [`Error::Os`](crate::Error::Os) if waiting fails.
    pub fn status(&mut self) -> Result<ExitStatus> {
        self.spawn()?.wait()
    }

    /// Spawns with stdin from `/dev/null` and stdout/stderr captured unless set, and waits,
    /// collecting the output.
    ///
    /// # Errors
    /// As for [`spawn`](Self::spawn), and [`Error::Os`](crate::Error::Os) if reading the pipes
    /// or waiting fails.
    pub fn output(&mut self) -> Result<Output> {
        self.spawn_for_output()?.wait_with_output()
    }

    /// Spawns with `output`'s stdio defaults: stdin from `/dev/null`, stdout and stderr piped,
    /// unless set.
    pub(crate) fn spawn_for_output(&mut self) -> Result<Child> {
        let (null, piped) = (Stdio::Null, Stdio::Piped);
        let [i, o, e] = &self.stdio;
        let stdio = [
            Some(i.as_ref().unwrap_or(&null)),
            Some(o.as_ref().unwrap_or(&piped)),
            Some(e.as_ref().unwrap_or(&piped)),
        ];
        Self::spawn_parts(&self.spec, &mut self.cache, self.kill_on_drop, stdio)
    }

    /// The spawn itself, on the command's parts, so that stdio may borrow from the command
    /// while the plan cache is refreshed.
    fn spawn_parts(
        spec: &Spec,
        cache: &mut Option<Prepared>,
        kill_on_drop: bool,
        stdio: [Option<&Stdio>; 3],
    ) -> Result<Child> {
        let creds = (
            rustix::process::geteuid().as_raw(),
            rustix::process::getegid().as_raw(),
        );
        let prepared = match cache {
            Some(p) if p.creds == creds => {
                p.refresh()?;
                p
            }
            _ => {
                *cache = None;
                cache.insert(spec.prepare(creds)?)
            }
        };
        let mut child = launch(spec, prepared, stdio)?;
        child.kill_on_drop = kill_on_drop;
        Ok(child)
    }

    /// The program as given to [`new`](Self::new), as `std::process::Command::get_program`.
    pub fn get_program(&self) -> &OsStr {
        &self.spec.program
    }

    /// The arguments (without `argv[0]`), as `std::process::Command::get_args`.
    pub fn get_args(&self) -> impl ExactSizeIterator<Item = &OsStr> {
        self.spec.args.iter().map(OsString::as_os_str)
    }

    /// The environment changes made with [`env`](Self::env) and
    /// [`env_remove`](Self::env_remove) (`None` for a removal), sorted by name, as
    /// `std::process::Command::get_envs`.
    pub fn get_envs(&self) -> impl ExactSizeIterator<Item = (&OsStr, Option<&OsStr>)> {
        self.spec
            .env
            .iter()
            .map(|(k, v)| (k.as_os_str(), v.as_deref()))
    }

    /// The working directory set with [`current_dir`](Self::current_dir), as
    /// `std::process::Command::get_current_dir`.
    pub fn get_current_dir(&self) -> Option<&Path> {
        self.spec.cwd.as_deref()
    }

    /// The spec, for a setter: dropping the cached plan, which no longer matches it.
    fn spec_mut(&mut self) -> &mut Spec {
        self.cache = None;
        &mut self.spec
    }
}

impl Spec {
    pub(super) fn program_display(&self) -> String {
        self.program.to_string_lossy().into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;

    #[test]
    fn map_root_of_an_unmappable_id_is_invalid_input_at_every_spawn() {
        let mut cmd = Command::new("/bin/true");
        cmd.map_root_to(u32::MAX, 0);
        for _ in 0..2 {
            match cmd.spawn() {
                Err(Error::InvalidInput {
                    what: "id map",
                    reason,
                }) => {
                    assert!(reason.contains("map_root"), "{reason}");
                }
                other => panic!("{other:?}"),
            }
        }
        let mut cmd = Command::new("/bin/true");
        cmd.map_root_to(0, u32::MAX);
        assert!(matches!(cmd.spawn(), Err(Error::InvalidInput { .. })));
    }
}
