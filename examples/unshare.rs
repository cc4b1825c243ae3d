//! `unshare`: run a program in new namespaces, like util-linux `unshare(1)`.
//!
//! ```text
//! cargo run --example unshare -- -Urpf --mount-proc sh -c 'echo $$; id -u'
//! ```
//!
//! As util-linux does, this process calls `unshare(2)` on itself
//! ([`Namespaces::unshare_calling_thread`]), writes its own id maps ([`IdMap::write_uid_map`];
//! ranges through a helper process running `newuidmap(1)`, [`IdMap::newuidmap`]), sets itself up
//! (mounts, root, directory, credentials) and then executes the program in its own place, so
//! the program keeps this process's pid, its signals and every fd it inherited. With `-f` it
//! forks first ([`Namespaces::fork`]), and the child does that setup and executes the program
//! while this process waits with SIGINT and SIGTERM blocked (`SignalSet::thread_block`;
//! forwarded through a [`SignalFd`] with `--forward-signals`), then exits with the program's
//! status or dies of the same signal ([`Signal::raise_default`]). See `--help`.

use std::cell::Cell;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use linux_namespaces::{
    IdMap, IdRange, Namespace, NamespaceSet, Namespaces, PidFd, SetGroups, Signal, SignalFd,
    TimeClock, set_parent_death_signal, set_time_offsets,
};

const USAGE: &str = "\
Usage:
 unshare [options] [<program> [<argument>...]]

Run a program with some namespaces unshared from the parent.

Options:
 -m, --mount[=<file>]      unshare mounts namespace
 -u, --uts[=<file>]        unshare UTS namespace (hostname etc)
 -i, --ipc[=<file>]        unshare System V IPC namespace
 -n, --net[=<file>]        unshare network namespace
 -p, --pid[=<file>]        unshare pid namespace
 -U, --user[=<file>]       unshare user namespace
 -C, --cgroup[=<file>]     unshare cgroup namespace
 -T, --time[=<file>]       unshare time namespace

 --mount-proc[=<dir>]      mount proc filesystem first (implies --mount)
 --mount-binfmt[=<dir>]    mount binfmt filesystem first (implies --user and --mount)
 -l, --load-interp <file>  load binfmt definition in the namespace (implies --mount-binfmt)
 --propagation slave|shared|private|unchanged
                           modify mount propagation in mount namespace
 -R, --root <dir>          run the command with root directory set to <dir>
 -w, --wd <dir>            change working directory to <dir>

 -S, --setuid <uid>        set uid in entered namespace
 -G, --setgid <gid>        set gid in entered namespace
 --map-user <uid>|<name>   map current user to uid (implies --user)
 --map-group <gid>|<name>  map current group to gid (implies --user)
 -r, --map-root-user       map current user to root (implies --user)
 -c, --map-current-user    map current user to itself (implies --user)
 --map-auto                map users and groups automatically (implies --user)
 --map-subids              map the first block of user IDs owned by euid (implies --user)
 --map-users <inneruid>:<outeruid>:<count>
                           map count users from outeruid to inneruid (implies --user)
 --map-groups <innergid>:<outergid>:<count>
                           map count groups from outergid to innergid (implies --user)
 --owner <uid>:<gid>       set the user namespace owner (implies --user)

 -f, --fork                fork before launching <program>
 --kill-child[=<signame>]  when dying, kill the forked child (implies --fork)
                             defaults to SIGKILL
 --forward-signals         forward SIGTERM and SIGINT to child (implies --fork)

 --setgroups allow|deny    control the setgroups syscall in user namespaces
 --keep-caps               retain capabilities granted in user namespaces

 --monotonic <offset>      set clock monotonic offset (seconds) in time namespaces
 --boottime <offset>       set clock boottime offset (seconds) in time namespaces
 --clear-env               do not inherit environment variables from the calling process
 --whitelist-env <list>    clear environment except for specified variables

 -h, --help                display this help
 -V, --version             display version

Without <program>, runs ${SHELL} (default /bin/sh) as a login shell.

As util-linux unshare, this process unshares itself and then executes <program> in
its own place (same pid, signals and inherited fds); with --pid, only the program's
children are in the new pid namespace unless -f/--fork is given, which makes the
program a child (PID 1 of the new pid namespace) and has unshare wait for it and
exit with its status (or die of the same signal).

Differences from util-linux unshare:
 * --mount=<file> and friends create <file> if it does not exist (util-linux
   needs an existing file); an existing file is mounted over as util-linux does.
 * The program starts with an empty signal mask and SIGPIPE at its default
   action (the Rust standard library's exec resets both); other ignored
   signals stay ignored, as with util-linux.
";

/// What `--propagation` asked for: `MS_REC` with a type, or leave the mounts as they are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PropagationChoice {
    Private,
    Shared,
    Slave,
    Unchanged,
}

/// One range of `--map-users`/`--map-groups`/`--map-auto`: `inner` is `None` for a
/// subordinate range mapped from 0 (`auto`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct MapRange {
    inner: Option<u32>,
    outer: u32,
    count: u32,
}

#[derive(Debug)]
struct Options {
    namespaces: NamespaceSet,
    /// `--<kind>=<file>`: where to persist the new namespace, by its `/proc/<pid>/ns` name.
    persist: Vec<(&'static str, PathBuf)>,
    map_user: Option<u32>,
    map_group: Option<u32>,
    /// `--owner`: the uid and gid the process takes before creating the user namespace,
    /// which then belongs to them.
    owner: Option<(u32, u32)>,
    user_ranges: Vec<MapRange>,
    group_ranges: Vec<MapRange>,
    setgroups: Option<SetGroups>,
    mount_proc: Option<PathBuf>,
    mount_binfmt: Option<PathBuf>,
    load_interp: Option<String>,
    propagation: PropagationChoice,
    root: Option<PathBuf>,
    wd: Option<PathBuf>,
    setuid: Option<u32>,
    setgid: Option<u32>,
    keep_caps: bool,
    fork: bool,
    forward_signals: bool,
    kill_child: Option<Signal>,
    monotonic: Option<i64>,
    boottime: Option<i64>,
    clear_env: bool,
    /// `--whitelist-env`: the kept variables and their values when the options were read.
    whitelist_env: Option<Vec<(OsString, OsString)>>,
    command: Vec<OsString>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            namespaces: NamespaceSet::empty(),
            persist: Vec::new(),
            map_user: None,
            map_group: None,
            owner: None,
            user_ranges: Vec::new(),
            group_ranges: Vec::new(),
            setgroups: None,
            mount_proc: None,
            mount_binfmt: None,
            load_interp: None,
            propagation: PropagationChoice::Private,
            root: None,
            wd: None,
            setuid: None,
            setgid: None,
            keep_caps: false,
            fork: false,
            forward_signals: false,
            kill_child: None,
            monotonic: None,
            boottime: None,
            clear_env: false,
            whitelist_env: None,
            command: Vec::new(),
        }
    }
}

/// What the command line asks for.
enum Action {
    Run(Box<Options>),
    Help,
    Version,
}

/// How an option takes its argument (as `getopt_long(3)` describes it).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Arg {
    None,
    Required,
    /// Only as `--name=value`.
    Optional,
}

const LONG: &[(&str, Arg)] = &[
    ("help", Arg::None),
    ("version", Arg::None),
    ("mount", Arg::Optional),
    ("uts", Arg::Optional),
    ("ipc", Arg::Optional),
    ("net", Arg::Optional),
    ("pid", Arg::Optional),
    ("user", Arg::Optional),
    ("cgroup", Arg::Optional),
    ("time", Arg::Optional),
    ("fork", Arg::None),
    ("kill-child", Arg::Optional),
    ("forward-signals", Arg::None),
    ("mount-proc", Arg::Optional),
    ("mount-binfmt", Arg::Optional),
    ("map-user", Arg::Required),
    ("map-users", Arg::Required),
    ("map-group", Arg::Required),
    ("map-groups", Arg::Required),
    ("map-root-user", Arg::None),
    ("map-current-user", Arg::None),
    ("map-auto", Arg::None),
    ("map-subids", Arg::None),
    ("owner", Arg::Required),
    ("propagation", Arg::Required),
    ("setgroups", Arg::Required),
    ("keep-caps", Arg::None),
    ("setuid", Arg::Required),
    ("setgid", Arg::Required),
    ("root", Arg::Required),
    ("wd", Arg::Required),
    ("monotonic", Arg::Required),
    ("boottime", Arg::Required),
    ("load-interp", Arg::Required),
    ("clear-env", Arg::None),
    ("whitelist-env", Arg::Required),
];

/// Short options and the long option each stands for.
const SHORT: &[(u8, &str)] = &[
    (b'm', "mount"),
    (b'u', "uts"),
    (b'i', "ipc"),
    (b'n', "net"),
    (b'p', "pid"),
    (b'U', "user"),
    (b'C', "cgroup"),
    (b'T', "time"),
    (b'f', "fork"),
    (b'r', "map-root-user"),
    (b'c', "map-current-user"),
    (b'R', "root"),
    (b'w', "wd"),
    (b'S', "setuid"),
    (b'G', "setgid"),
    (b'l', "load-interp"),
    (b'h', "help"),
    (b'V', "version"),
];

/// A failure that ends the program: the message (printed after `unshare: `) and the exit
/// status.
struct Fatal {
    message: String,
    status: u8,
}

impl Fatal {
    fn new(message: impl Into<String>) -> Fatal {
        Fatal {
            message: message.into(),
            status: 1,
        }
    }
}

/// `what: <error text without std's " (os error N)">`, as `err(3)` prints it.
fn os_fatal(what: impl std::fmt::Display, e: impl Into<std::io::Error>) -> Fatal {
    Fatal::new(format!("{what}: {}", strerror(&e.into())))
}

/// `what: <error text>` for a library error: the errno's text where it has one, as
/// [`os_fatal`] prints it.
fn lib_fatal(what: impl std::fmt::Display, e: linux_namespaces::Error) -> Fatal {
    match e.raw_os_error() {
        Some(errno) => os_fatal(what, std::io::Error::from_raw_os_error(errno)),
        None => Fatal::new(format!("{what}: {e}")),
    }
}

fn strerror(e: &std::io::Error) -> String {
    let s = e.to_string();
    s.split(" (os error").next().unwrap_or(&s).to_string()
}

/// Prints why the program ends (an empty message: a helper already said why, or nothing is
/// to be said) and returns its exit status.
fn report(f: Fatal) -> u8 {
    if !f.message.is_empty() {
        eprintln!("unshare: {}", f.message);
    }
    f.status
}

fn main() -> ExitCode {
    match run() {
        Ok(status) => ExitCode::from(status),
        Err(f) => ExitCode::from(report(f)),
    }
}

fn run() -> Result<u8, Fatal> {
    let opts = match parse(std::env::args_os().skip(1))? {
        Action::Run(o) => o,
        Action::Help => {
            print!("{USAGE}");
            return Ok(0);
        }
        Action::Version => {
            println!(
                "unshare (linux-namespaces example) {}",
                env!("CARGO_PKG_VERSION")
            );
            return Ok(0);
        }
    };
    let euid = rustix::process::geteuid().as_raw();
    let egid = rustix::process::getegid().as_raw();
    let me = std::process::id();

    // Ranges (or subordinate ids) are written by a helper outside the new user namespace:
    // directly as root, else through newuidmap/newgidmap. Checked before any helper exists.
    let mut user_map = ranges_map(&opts.user_ranges, euid, opts.map_user, "uid")?;
    let mut group_map = ranges_map(&opts.group_ranges, egid, opts.map_group, "gid")?;
    // With --owner, the process gives up its ids before the unshare and cannot write its own
    // maps afterwards: the helper writes the single maps too, as util-linux does.
    if opts.owner.is_some() {
        if let (None, Some(uid)) = (&user_map, opts.map_user) {
            user_map = Some(IdMap::single(uid, euid).map_err(|e| Fatal::new(e.to_string()))?);
        }
        if let (None, Some(gid)) = (&group_map, opts.map_group) {
            group_map = Some(IdMap::single(gid, egid).map_err(|e| Fatal::new(e.to_string()))?);
        }
    }
    // Persisting a mount or user namespace needs the original mount namespace and its
    // privileges: a helper forked now, still outside, does it once this process unshared.
    let outside = !opts.persist.is_empty()
        && opts
            .namespaces
            .intersects(NamespaceSet::MOUNT | NamespaceSet::USER);
    let bind_helper = if outside {
        let persist = opts.persist.clone();
        Some(Helper::fork(move || bind_ns_files(me, &persist))?)
    } else {
        None
    };

    let map_helper = if user_map.is_some() || group_map.is_some() {
        let (u, g) = (user_map.clone(), group_map.clone());
        Some(Helper::fork(move || {
            map_ids(me, euid == 0, u.as_ref(), g.as_ref())
        })?)
    } else {
        None
    };

    if let Some((uid, gid)) = opts.owner {
        // The credential syscalls act on the calling thread; this process has only one.
        rustix::thread::set_thread_groups(&[]).map_err(|e| os_fatal("setgroups failed", e))?;
        rustix::thread::set_thread_gid(rustix::process::Gid::from_raw(gid))
            .map_err(|e| os_fatal("setgid() failed", e))?;
        rustix::thread::set_thread_uid(rustix::process::Uid::from_raw(uid))
            .map_err(|e| os_fatal("setuid() failed", e))?;
    }
    let namespaces = Namespaces::unshare_calling_thread(opts.namespaces)
        .map_err(|e| Fatal::new(format!("unshare failed: {e}")))?;
    drop(namespaces);
    if let Some(h) = map_helper {
        h.release_and_wait()?;
    }

    let mut offsets = Vec::new();
    if let Some(secs) = opts.boottime {
        offsets.push((TimeClock::Boottime, secs, 0));
    }
    if let Some(secs) = opts.monotonic {
        offsets.push((TimeClock::Monotonic, secs, 0));
    }
    if !offsets.is_empty() {
        set_time_offsets(me, &offsets).map_err(|e| {
            Fatal::new(format!("failed to write to /proc/self/timens_offsets: {e}"))
        })?;
    }

    if opts.fork {
        // The parent's SIGINT and SIGTERM are blocked while it waits ("impatient parent");
        // with --forward-signals they are read from a signalfd and sent on to the child.
        let forwarded = Signal::INT | Signal::TERM;
        let old_mask = forwarded
            .thread_block()
            .map_err(|e| lib_fatal("sigprocmask block failed", e))?;
        let sigfd = if opts.forward_signals {
            Some(SignalFd::new(forwarded).map_err(|e| lib_fatal("signalfd failed", e))?)
        } else {
            None
        };
        let parent = if opts.kill_child.is_some() {
            Some(PidFd::open(me).map_err(|e| Fatal::new(format!("pidfd_open failed: {e}")))?)
        } else {
            None
        };
        // The child closes its copies of the signalfd and of the helper's pipe: taken out of
        // these cells in the child's memory, they stay in this process's.
        let sigfd = Cell::new(sigfd);
        let bind_helper = Cell::new(bind_helper);
        let mut child = Namespaces::new()
            .fork(|| {
                let _ = old_mask.thread_set_mask();
                drop(sigfd.take());
                if let Some(h) = bind_helper.take() {
                    // Only the parent releases the helper.
                    h.forget();
                }
                let f = match child_setup(&opts, euid, egid, parent.as_ref()) {
                    Ok(()) => exec(&opts),
                    Err(f) => f,
                };
                i32::from(report(f))
            })
            .map_err(|e| lib_fatal("fork failed", e))?;
        drop(parent);
        persist_namespaces(&opts, bind_helper.take(), me)?;
        let status = wait_forwarding(&mut child, sigfd.take().as_ref())?;
        return die_like(status);
    }

    persist_namespaces(&opts, bind_helper, me)?;
    child_setup(&opts, euid, egid, None)?;
    Err(exec(&opts))
}

/// Persists the new namespaces: through the helper that stayed outside, or (for neither a
/// mount nor a user namespace) right here.
fn persist_namespaces(opts: &Options, helper: Option<Helper>, me: u32) -> Result<(), Fatal> {
    match helper {
        Some(h) => h.release_and_wait(),
        None if !opts.persist.is_empty() => bind_ns_files(me, &opts.persist),
        None => Ok(()),
    }
}

/// Bind-mounts `/proc/<pid>/ns/<name>` of each persisted namespace on its file: over an
/// existing file as util-linux does, else onto a new file ([`Namespace::persist`]).
fn bind_ns_files(pid: u32, persist: &[(&'static str, PathBuf)]) -> Result<(), Fatal> {
    for (name, target) in persist {
        let src = format!("/proc/{pid}/ns/{name}");
        let failed =
            |e: String| Fatal::new(format!("mount {src} on {} failed: {e}", target.display()));
        if target.symlink_metadata().is_ok() {
            rustix::mount::mount_bind(src.as_str(), target.as_path())
                .map_err(|e| failed(strerror(&e.into())))?;
        } else {
            let ns = Namespace::from_path(&src).map_err(|e| failed(e.to_string()))?;
            let target = std::path::absolute(target).map_err(|e| failed(strerror(&e)))?;
            ns.persist(&target).map_err(|e| failed(e.to_string()))?;
        }
    }
    Ok(())
}

/// The helper's work for the id maps of process `pid` (which has unshared by now).
fn map_ids(pid: u32, root: bool, user: Option<&IdMap>, group: Option<&IdMap>) -> Result<(), Fatal> {
    if let Some(m) = user {
        if root {
            m.write_uid_map(Some(pid))
        } else {
            m.newuidmap(pid)
        }
        .map_err(|e| Fatal::new(e.to_string()))?;
    }
    if let Some(m) = group {
        if root {
            m.write_gid_map(Some(pid))
        } else {
            m.newgidmap(pid)
        }
        .map_err(|e| Fatal::new(e.to_string()))?;
    }
    Ok(())
}

/// The map that `--map-users`/`--map-groups`/`--map-auto` ranges ask for, with the caller's
/// own id (`outer`) mapped to `single` (from `--map-user` and friends) on top: the ranges lose
/// the ids that would overlap it. `None` without ranges.
fn ranges_map(
    ranges: &[MapRange],
    outer: u32,
    single: Option<u32>,
    what: &str,
) -> Result<Option<IdMap>, Fatal> {
    if ranges.is_empty() {
        return Ok(None);
    }
    let mut out = Vec::new();
    if let Some(inner) = single {
        out.push(IdRange::new(inner, outer, 1));
    }
    for r in ranges {
        let inner = r.inner.unwrap_or(0);
        let mut count = r.count;
        // As util-linux: where the single map's outside or inside id falls in (or right
        // after) the range, the range gives up one id, and its remaining inside ids are paired
        // in order with its remaining outside ids, both skipping the single map's ids.
        let (mut hole_out, mut hole_in) = (None, None);
        if let Some(single_inner) = single {
            let within = |id: u32, first: u32, n: u32| id >= first && id - first <= n;
            if within(outer, r.outer, count) || within(single_inner, inner, count) {
                count -= 1;
            }
            hole_out = within(outer, r.outer, count).then(|| outer - r.outer);
            hole_in = within(single_inner, inner, count).then(|| single_inner - inner);
        }
        let mut cuts: Vec<u32> = [Some(0), hole_out, hole_in, Some(count)]
            .into_iter()
            .flatten()
            .filter(|&c| c <= count)
            .collect();
        cuts.sort_unstable();
        cuts.dedup();
        for w in cuts.windows(2) {
            let (s, e) = (w[0], w[1]);
            let shift = |hole: Option<u32>| u32::from(hole.is_some_and(|h| s >= h));
            out.push(IdRange::new(
                inner + s + shift(hole_in),
                r.outer + s + shift(hole_out),
                e - s,
            ));
        }
    }
    IdMap::new(out)
        .map(Some)
        .map_err(|e| Fatal::new(format!("invalid {what} mapping: {e}")))
}

/// The setup util-linux does in the process that executes the program (the forked child with
/// `-f`): parent-death signal, single-id maps, setgroups, mounts, root and directory,
/// credentials, capabilities.
fn child_setup(opts: &Options, euid: u32, egid: u32, parent: Option<&PidFd>) -> Result<(), Fatal> {
    if let Some(sig) = opts.kill_child {
        set_parent_death_signal(Some(sig)).map_err(|e| lib_fatal("prctl failed", e))?;
        // The parent may have died before the prctl: then nobody would send the signal.
        // Polled, not signalled: from a new pid namespace the parent is out of reach of
        // pidfd_send_signal(2), but its pidfd still becomes readable when it exits.
        if let Some(p) = parent {
            use rustix::event::{PollFd, PollFlags, Timespec, poll};
            let mut fds = [PollFd::new(p, PollFlags::IN)];
            let now = Timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            if poll(&mut fds, Some(&now)).map_err(|e| os_fatal("poll parent pidfd failed", e))? > 0
            {
                return Err(Fatal::new(""));
            }
        }
    }
    if opts.user_ranges.is_empty() && opts.owner.is_none() {
        if let Some(uid) = opts.map_user {
            IdMap::single(uid, euid)
                .and_then(|m| m.write_uid_map(None))
                .map_err(|e| Fatal::new(e.to_string()))?;
        }
    }
    if opts.group_ranges.is_empty() && opts.owner.is_none() {
        if let Some(gid) = opts.map_group {
            SetGroups::Deny
                .write(None)
                .and_then(|()| IdMap::single(gid, egid)?.write_gid_map(None))
                .map_err(|e| Fatal::new(e.to_string()))?;
        }
    }
    if let Some(s) = opts.setgroups {
        s.write(None).map_err(|e| Fatal::new(e.to_string()))?;
    }

    use rustix::mount::{MountFlags, MountPropagationFlags as P, mount, mount_change};
    if opts.namespaces.contains(NamespaceSet::MOUNT) {
        let flags = match opts.propagation {
            PropagationChoice::Private => Some(P::PRIVATE),
            PropagationChoice::Shared => Some(P::SHARED),
            PropagationChoice::Slave => Some(P::DOWNSTREAM),
            PropagationChoice::Unchanged => None,
        };
        if let Some(f) = flags {
            mount_change("/", f | P::REC)
                .map_err(|e| os_fatal("cannot change root filesystem propagation", e))?;
        }
    }
    let special = MountFlags::NOSUID | MountFlags::NOEXEC | MountFlags::NODEV;
    const BINFMT: &str = "/proc/sys/fs/binfmt_misc";
    let fixed = opts
        .load_interp
        .as_deref()
        .is_some_and(|i| i.rsplit(':').next().is_some_and(|f| f.contains('F')));
    if let (Some(interp), true, Some(_)) = (&opts.load_interp, fixed, &opts.root) {
        // A fixed interpreter is opened now, outside the new root.
        mount("binfmt_misc", BINFMT, "binfmt_misc", special, None)
            .map_err(|e| os_fatal(format!("mount {BINFMT} failed"), e))?;
        load_interp(Path::new(BINFMT), interp)?;
    }
    let mut wd = opts.wd.clone();
    if let Some(root) = &opts.root {
        rustix::process::chroot(root.as_path()).map_err(|e| {
            os_fatal(
                format!("cannot change root directory to '{}'", root.display()),
                e,
            )
        })?;
        wd.get_or_insert_with(|| PathBuf::from("/"));
    }
    if let Some(dir) = &wd {
        std::env::set_current_dir(dir)
            .map_err(|e| os_fatal(format!("cannot change directory to {}", dir.display()), e))?;
    }
    if let Some(dir) = &opts.mount_proc {
        // The recursive private change of `/` already covered an existing proc mount.
        if opts.root.is_none() && opts.propagation != PropagationChoice::Private {
            match mount_change(dir.as_path(), P::PRIVATE | P::REC) {
                // Not a mount point: nothing to change.
                Ok(()) | Err(rustix::io::Errno::INVAL) => {}
                Err(e) => {
                    return Err(os_fatal(
                        format!("cannot change {} filesystem propagation", dir.display()),
                        e,
                    ));
                }
            }
        }
        mount("proc", dir.as_path(), "proc", special, None)
            .map_err(|e| os_fatal(format!("mount {} failed", dir.display()), e))?;
    }
    if let Some(dir) = &opts.mount_binfmt {
        mount("binfmt_misc", dir.as_path(), "binfmt_misc", special, None)
            .map_err(|e| os_fatal(format!("mount {} failed", dir.display()), e))?;
    }
    if let (Some(interp), Some(dir)) = (&opts.load_interp, &opts.mount_binfmt) {
        if !(fixed && opts.root.is_some()) {
            load_interp(dir, interp)?;
        }
    }

    if let Some(gid) = opts.setgid {
        rustix::thread::set_thread_groups(&[]).map_err(|e| os_fatal("setgroups failed", e))?;
        rustix::thread::set_thread_gid(rustix::process::Gid::from_raw(gid))
            .map_err(|e| os_fatal("setgid() failed", e))?;
    }
    if let Some(uid) = opts.setuid {
        rustix::thread::set_thread_uid(rustix::process::Uid::from_raw(uid))
            .map_err(|e| os_fatal("setuid() failed", e))?;
    }
    if opts.keep_caps && opts.namespaces.contains(NamespaceSet::USER) {
        permitted_to_ambient()?;
    }
    Ok(())
}

/// Writes a binfmt_misc rule to `<dir>/register`.
fn load_interp(dir: &Path, interp: &str) -> Result<(), Fatal> {
    let reg = dir.join("register");
    std::fs::OpenOptions::new()
        .write(true)
        .open(&reg)
        .map_err(|e| os_fatal(format!("cannot open {}", reg.display()), e))
        .and_then(|mut f| {
            use std::io::Write;
            f.write_all(interp.as_bytes())
                .map_err(|e| os_fatal(format!("write failed {}", reg.display()), e))
        })
}

/// `--keep-caps`: every permitted capability becomes inheritable and ambient, so that it
/// survives the `execve(2)` of a program run by a non-root uid.
fn permitted_to_ambient() -> Result<(), Fatal> {
    let mut sets = rustix::thread::capabilities(None).map_err(|e| os_fatal("capget failed", e))?;
    sets.inheritable = sets.permitted;
    rustix::thread::set_capabilities(None, sets).map_err(|e| os_fatal("capset failed", e))?;
    for cap in 0..64u32 {
        if sets.permitted.bits() & (1u64 << cap) == 0 {
            continue;
        }
        rustix::thread::configure_capability_in_ambient_set(
            rustix::thread::CapabilitySet::from_bits_retain(1u64 << cap),
            true,
        )
        .map_err(|e| os_fatal("prctl(PR_CAP_AMBIENT) failed", e))?;
    }
    Ok(())
}

/// Replaces this process with the program; returns only on failure, with util-linux's
/// status: 127 for a program that does not exist, 126 for one that cannot be executed.
fn exec(opts: &Options) -> Fatal {
    let mut cmd = match opts.command.split_first() {
        Some((program, args)) => {
            let mut c = std::process::Command::new(program);
            c.args(args);
            c
        }
        None => {
            // Like util-linux: $SHELL as a login shell, argv[0] "-<basename>".
            let shell = std::env::var_os("SHELL")
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "/bin/sh".into());
            let base = Path::new(&shell)
                .file_name()
                .unwrap_or(OsStr::new("sh"))
                .to_owned();
            let mut arg0 = OsString::from("-");
            arg0.push(base);
            let mut c = std::process::Command::new(&shell);
            c.arg0(arg0);
            c
        }
    };
    if opts.clear_env || opts.whitelist_env.is_some() {
        cmd.env_clear();
    }
    for (k, v) in opts.whitelist_env.iter().flatten() {
        cmd.env(k, v);
    }
    let program = cmd.get_program().to_string_lossy().into_owned();
    let e = cmd.exec();
    Fatal {
        message: format!("failed to execute {program}: {}", strerror(&e)),
        status: if e.raw_os_error() == Some(libc::ENOENT) {
            127
        } else {
            126
        },
    }
}

/// A forked helper that waits until the parent releases it (a byte on a pipe), does its work
/// and exits: 0 on success, else 1 after printing why.
struct Helper {
    process: PidFd,
    go: std::os::fd::OwnedFd,
}

impl Helper {
    fn fork(work: impl FnOnce() -> Result<(), Fatal>) -> Result<Helper, Fatal> {
        let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
            .map_err(|e| os_fatal("pipe failed", e))?;
        // The helper closes its copy of the write end (taken out of the cell in its own
        // memory), so that it sees end of file if this process fails before releasing it.
        let w = Cell::new(Some(w));
        let process = Namespaces::new()
            .fork(|| {
                drop(w.take());
                let mut b = [0u8; 1];
                loop {
                    match rustix::io::read(&r, &mut b) {
                        Err(rustix::io::Errno::INTR) => continue,
                        // The parent failed before releasing us: nothing to do.
                        Ok(0) | Err(_) => break 1,
                        Ok(_) => {
                            break match work() {
                                Ok(()) => 0,
                                Err(f) => i32::from(report(f)),
                            };
                        }
                    }
                }
            })
            .map_err(|e| lib_fatal("fork failed", e))?;
        let go = w.take().ok_or_else(|| Fatal::new("pipe lost"))?;
        Ok(Helper { process, go })
    }

    /// Lets the helper run and waits for it; its failure is this process's (exit status).
    fn release_and_wait(self) -> Result<(), Fatal> {
        let mut p = self.process;
        rustix::io::write(&self.go, &[1]).map_err(|e| os_fatal("write failed", e))?;
        drop(self.go);
        let st = p
            .wait()
            .map_err(|e| Fatal::new(format!("waitpid failed: {e}")))?;
        match st.code() {
            Some(0) | None => Ok(()),
            Some(code) => Err(Fatal {
                message: String::new(),
                status: code as u8,
            }),
        }
    }

    /// In a forked child: drops this copy of the pipe without releasing the helper.
    fn forget(self) {
        drop(self.go);
    }
}

/// Waits for the forked child; with a signalfd, sends each SIGINT and SIGTERM that arrives
/// on to the child meanwhile.
fn wait_forwarding(
    child: &mut PidFd,
    sigfd: Option<&SignalFd>,
) -> Result<std::process::ExitStatus, Fatal> {
    use rustix::event::{PollFd, PollFlags, poll};
    if let Some(sigfd) = sigfd {
        loop {
            let mut fds = [
                PollFd::new(child, PollFlags::IN),
                PollFd::new(sigfd, PollFlags::IN),
            ];
            match poll(&mut fds, None) {
                Ok(_) | Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(os_fatal("poll failed", e)),
            }
            if fds[0].revents().contains(PollFlags::IN) {
                break;
            }
            if fds[1].revents().contains(PollFlags::IN) {
                if let Ok(info) = sigfd.read() {
                    // The child may be gone already: then the wait below tells.
                    let _ = child.signal(info.signal);
                }
            }
        }
    }
    child
        .wait()
        .map_err(|e| Fatal::new(format!("waitpid failed: {e}")))
}

/// util-linux's end of a `-f` parent: the child's exit status, or the same death by signal
/// (the default disposition restored and the signal unblocked first).
fn die_like(status: std::process::ExitStatus) -> Result<u8, Fatal> {
    use std::os::unix::process::ExitStatusExt;
    if let Some(code) = status.code() {
        return Ok(code as u8);
    }
    if let Some(sig) = status.signal().and_then(Signal::from_raw) {
        // Returns only if the signal did not end this process: as the init of a pid
        // namespace, say, which the kernel does not send a signal it has no handler for.
        let _ = sig.raise_default();
    }
    Err(Fatal::new("child exit failed"))
}

/// Parses the command line the way `getopt_long(3)` with a leading `+` does: options up to
/// the first non-option or `--`, short options combinable (`-Urpf`), an argument of a short
/// option either attached (`-R/srv`) or the next word, long options abbreviable to a unique
/// prefix, with `--name=value` or (for a required argument) `--name value`.
fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Action, Fatal> {
    let mut args = args.into_iter();
    let mut opts = Options::default();
    while let Some(word) = args.next() {
        let bytes = word.as_bytes();
        if bytes == b"--" {
            break;
        }
        if let Some(long) = bytes.strip_prefix(b"--") {
            let (name, value) = match long.iter().position(|&b| b == b'=') {
                Some(i) => (
                    &long[..i],
                    Some(OsStr::from_bytes(&long[i + 1..]).to_owned()),
                ),
                None => (long, None),
            };
            let name = String::from_utf8_lossy(name);
            let (full, kind) = find_long(&name)?;
            let value = match (kind, value) {
                (Arg::None, Some(_)) => {
                    return Err(Fatal::new(format!(
                        "option '--{full}' doesn't allow an argument"
                    )));
                }
                (Arg::Required, None) => Some(args.next().ok_or_else(|| {
                    Fatal::new(format!("option '--{full}' requires an argument"))
                })?),
                (_, v) => v,
            };
            if let Some(action) = apply(&mut opts, full, value)? {
                return Ok(action);
            }
        } else if bytes.len() > 1 && bytes[0] == b'-' {
            let mut i = 1;
            while i < bytes.len() {
                let c = bytes[i];
                let &(_, full) = SHORT
                    .iter()
                    .find(|(s, _)| *s == c)
                    .ok_or_else(|| Fatal::new(format!("invalid option -- '{}'", char::from(c))))?;
                let needs_arg = LONG.iter().any(|(n, k)| *n == full && *k == Arg::Required);
                let value = if needs_arg {
                    let rest = &bytes[i + 1..];
                    i = bytes.len();
                    if rest.is_empty() {
                        Some(args.next().ok_or_else(|| {
                            Fatal::new(format!(
                                "option requires an argument -- '{}'",
                                char::from(c)
                            ))
                        })?)
                    } else {
                        Some(OsStr::from_bytes(rest).to_owned())
                    }
                } else {
                    i += 1;
                    None
                };
                if let Some(action) = apply(&mut opts, full, value)? {
                    return Ok(action);
                }
            }
        } else {
            opts.command.push(word);
            break;
        }
    }
    opts.command.extend(args);
    check(&opts)?;
    Ok(Action::Run(Box::new(opts)))
}

/// The long option `name` stands for: an exact name, or the only one it is a prefix of.
fn find_long(name: &str) -> Result<(&'static str, Arg), Fatal> {
    if let Some(&(n, k)) = LONG.iter().find(|(n, _)| *n == name) {
        return Ok((n, k));
    }
    let matches: Vec<_> = LONG.iter().filter(|(n, _)| n.starts_with(name)).collect();
    match matches.as_slice() {
        [(n, k)] if !name.is_empty() => Ok((n, *k)),
        [] | [_] => Err(Fatal::new(format!(
            "unrecognized option '--{name}' (try 'unshare --help')"
        ))),
        many => Err(Fatal::new(format!(
            "option '--{name}' is ambiguous; possibilities: {}",
            many.iter()
                .map(|(n, _)| format!("'--{n}'"))
                .collect::<Vec<_>>()
                .join(" ")
        ))),
    }
}

fn apply(opts: &mut Options, name: &str, value: Option<OsString>) -> Result<Option<Action>, Fatal> {
    let text = |v: &Option<OsString>| -> Result<String, Fatal> {
        let v = v.as_ref().expect("required argument");
        v.to_str()
            .map(str::to_owned)
            .ok_or_else(|| Fatal::new(format!("--{name}: {v:?} is not valid UTF-8")))
    };
    let namespace = match name {
        "mount" => Some((NamespaceSet::MOUNT, "mnt")),
        "uts" => Some((NamespaceSet::UTS, "uts")),
        "ipc" => Some((NamespaceSet::IPC, "ipc")),
        "net" => Some((NamespaceSet::NET, "net")),
        "pid" => Some((NamespaceSet::PID, "pid_for_children")),
        "user" => Some((NamespaceSet::USER, "user")),
        "cgroup" => Some((NamespaceSet::CGROUP, "cgroup")),
        "time" => Some((NamespaceSet::TIME, "time_for_children")),
        _ => None,
    };
    if let Some((ns, proc_name)) = namespace {
        if let Some(file) = value {
            opts.persist.retain(|(n, _)| *n != proc_name);
            opts.persist.push((proc_name, PathBuf::from(file)));
        }
        opts.namespaces |= ns;
        return Ok(None);
    }
    let euid = || rustix::process::geteuid().as_raw();
    let egid = || rustix::process::getegid().as_raw();
    match name {
        "fork" => opts.fork = true,
        "forward-signals" => {
            opts.fork = true;
            opts.forward_signals = true;
        }
        "map-user" => {
            let v = text(&value)?;
            opts.map_user = Some(lookup_id("/etc/passwd", &v, "uid")?);
            opts.namespaces |= NamespaceSet::USER;
        }
        "map-group" => {
            let v = text(&value)?;
            opts.map_group = Some(lookup_id("/etc/group", &v, "gid")?);
            opts.namespaces |= NamespaceSet::USER;
        }
        "map-root-user" => {
            opts.map_user = Some(0);
            opts.map_group = Some(0);
            opts.namespaces |= NamespaceSet::USER;
        }
        "map-current-user" => {
            opts.map_user = Some(euid());
            opts.map_group = Some(egid());
            opts.namespaces |= NamespaceSet::USER;
        }
        "map-users" | "map-groups" => {
            let v = text(&value)?;
            let users = name == "map-users";
            let (subid, kernel) = if users {
                ("/etc/subuid", "/proc/self/uid_map")
            } else {
                ("/etc/subgid", "/proc/self/gid_map")
            };
            let ranges = match v.as_str() {
                "auto" => vec![subid_range(subid, euid(), false)?],
                "subids" => vec![subid_range(subid, euid(), true)?],
                "all" => kernel_ranges(kernel)?,
                _ => vec![map_range(&v)?],
            };
            if users {
                opts.user_ranges.extend(ranges);
            } else {
                opts.group_ranges.extend(ranges);
            }
            opts.namespaces |= NamespaceSet::USER;
        }
        "map-auto" | "map-subids" => {
            let identity = name == "map-subids";
            opts.user_ranges
                .push(subid_range("/etc/subuid", euid(), identity)?);
            opts.group_ranges
                .push(subid_range("/etc/subgid", euid(), identity)?);
            opts.namespaces |= NamespaceSet::USER;
        }
        "kill-child" => {
            opts.fork = true;
            opts.kill_child = Some(match &value {
                Some(_) => {
                    let v = text(&value)?;
                    v.parse::<Signal>()
                        .map_err(|_| Fatal::new(format!("unknown signal: {v}")))?
                }
                None => Signal::KILL,
            });
        }
        "mount-proc" => {
            opts.mount_proc = Some(value.map_or_else(|| PathBuf::from("/proc"), PathBuf::from));
            opts.namespaces |= NamespaceSet::MOUNT;
        }
        "mount-binfmt" => {
            opts.namespaces |= NamespaceSet::MOUNT | NamespaceSet::USER;
            opts.mount_binfmt = Some(match value {
                Some(v) => PathBuf::from(v),
                None => {
                    opts.mount_proc
                        .get_or_insert_with(|| PathBuf::from("/proc"));
                    PathBuf::from("/proc/sys/fs/binfmt_misc")
                }
            });
        }
        "load-interp" => {
            opts.namespaces |= NamespaceSet::MOUNT | NamespaceSet::USER;
            if opts.mount_binfmt.is_none() {
                opts.mount_proc
                    .get_or_insert_with(|| PathBuf::from("/proc"));
                opts.mount_binfmt = Some(PathBuf::from("/proc/sys/fs/binfmt_misc"));
            }
            opts.load_interp = Some(text(&value)?);
        }
        "propagation" => {
            let v = text(&value)?;
            opts.propagation = match v.as_str() {
                "private" => PropagationChoice::Private,
                "shared" => PropagationChoice::Shared,
                "slave" => PropagationChoice::Slave,
                "unchanged" => PropagationChoice::Unchanged,
                _ => return Err(Fatal::new(format!("unsupported propagation mode: {v}"))),
            };
        }
        "owner" => {
            let v = text(&value)?;
            let parsed = v
                .split_once(':')
                .and_then(|(u, g)| Some((plain_u32(u)?, plain_u32(g)?)));
            opts.owner = Some(parsed.ok_or_else(|| Fatal::new("failed to parse owner"))?);
            opts.namespaces |= NamespaceSet::USER;
        }
        "setgroups" => {
            let v = text(&value)?;
            opts.setgroups = Some(match v.as_str() {
                "allow" => SetGroups::Allow,
                "deny" => SetGroups::Deny,
                _ => {
                    return Err(Fatal::new(format!(
                        "unsupported --setgroups argument '{v}'"
                    )));
                }
            });
        }
        "keep-caps" => opts.keep_caps = true,
        "setuid" => opts.setuid = Some(number(&text(&value)?, "failed to parse uid")?),
        "setgid" => opts.setgid = Some(number(&text(&value)?, "failed to parse gid")?),
        "root" => opts.root = value.map(PathBuf::from),
        "wd" => opts.wd = value.map(PathBuf::from),
        "monotonic" | "boottime" => {
            let v = text(&value)?;
            let secs: i64 = v
                .trim()
                .parse()
                .map_err(|_| Fatal::new(format!("failed to parse {name} offset: '{v}'")))?;
            if name == "monotonic" {
                opts.monotonic = Some(secs);
            } else {
                opts.boottime = Some(secs);
            }
        }
        "clear-env" => opts.clear_env = true,
        "whitelist-env" => {
            let v = value.expect("required argument");
            let kept = opts.whitelist_env.get_or_insert_with(Vec::new);
            for var in v.as_bytes().split(|&b| b == b',').filter(|n| !n.is_empty()) {
                let var = OsStr::from_bytes(var);
                if let Some(val) = std::env::var_os(var) {
                    kept.push((var.to_owned(), val));
                }
            }
        }
        "help" => return Ok(Some(Action::Help)),
        "version" => return Ok(Some(Action::Version)),
        other => unreachable!("option table and handler disagree on --{other}"),
    }
    Ok(None)
}

/// An unsigned decimal id, as `strtoul_or_err` reads it.
fn number(v: &str, what: &str) -> Result<u32, Fatal> {
    v.parse::<u32>()
        .map_err(|_| Fatal::new(format!("{what}: '{v}'")))
}

/// `inner:outer:count` or `outer,inner,count`.
fn map_range(s: &str) -> Result<MapRange, Fatal> {
    let bad = || Fatal::new(format!("invalid mapping '{s}'"));
    let nums = |sep: char| -> Option<[u32; 3]> {
        let v: Vec<u32> = s
            .split(sep)
            .map(|f| f.parse().ok())
            .collect::<Option<_>>()?;
        v.try_into().ok()
    };
    if let Some([inner, outer, count]) = nums(':') {
        return Ok(MapRange {
            inner: Some(inner),
            outer,
            count,
        });
    }
    if let Some([outer, inner, count]) = nums(',') {
        return Ok(MapRange {
            inner: Some(inner),
            outer,
            count,
        });
    }
    Err(bad())
}

/// The first range `/etc/subuid` or `/etc/subgid` grants `uid` (by user name or number):
/// mapped from 0, or onto itself with `identity`.
fn subid_range(file: &str, uid: u32, identity: bool) -> Result<MapRange, Fatal> {
    let user = std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|t| {
            t.lines().find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.get(2)?.parse::<u32>().ok()? == uid).then(|| f[0].to_string())
            })
        })
        .ok_or_else(|| Fatal::new(format!("you (user {uid}) don't exist.")))?;
    let text = std::fs::read_to_string(file)
        .map_err(|e| os_fatal(format!("could not open '{file}'"), e))?;
    for line in text.lines() {
        let f: Vec<&str> = line.split(':').collect();
        let [who, start, count] = f.as_slice() else {
            continue;
        };
        if *who != user && who.parse::<u32>().ok() != Some(uid) {
            continue;
        }
        let outer = number(start.trim(), "failed to parse subid map")?;
        let count = number(count.trim(), "failed to parse subid map")?;
        return Ok(MapRange {
            inner: identity.then_some(outer),
            outer,
            count,
        });
    }
    Err(Fatal::new(format!(
        "no line matching user \"{user}\" in {file}"
    )))
}

/// `--map-users=all`: every id of this process's own map, onto itself.
fn kernel_ranges(file: &str) -> Result<Vec<MapRange>, Fatal> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| os_fatal(format!("could not open '{file}'"), e))?;
    Ok(text
        .lines()
        .filter_map(|l| {
            let f: Vec<u32> = l
                .split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect();
            let [start, _, count] = f.as_slice() else {
                return None;
            };
            Some(MapRange {
                inner: Some(*start),
                outer: *start,
                count: *count,
            })
        })
        .collect())
}

/// The checks util-linux makes once all options are read.
fn check(opts: &Options) -> Result<(), Fatal> {
    if (opts.monotonic.is_some() || opts.boottime.is_some())
        && !opts.namespaces.contains(NamespaceSet::TIME)
    {
        return Err(Fatal::new(
            "options --monotonic and --boottime require unsharing of a time namespace (-T)",
        ));
    }
    if opts.map_group.is_some()
        && opts.group_ranges.is_empty()
        && opts.setgroups == Some(SetGroups::Allow)
    {
        return Err(Fatal::new(
            "options --setgroups=allow and --map-group are mutually exclusive",
        ));
    }
    Ok(())
}

/// A user or group: a name in `db` (`/etc/passwd` or `/etc/group`, whose third field is the
/// id), else a number, as util-linux tries them.
fn lookup_id(db: &str, name: &str, what: &str) -> Result<u32, Fatal> {
    if let Ok(text) = std::fs::read_to_string(db) {
        let found = text.lines().find_map(|line| {
            let mut fields = line.split(':');
            (fields.next()? == name)
                .then(|| fields.nth(1)?.parse::<u32>().ok())
                .flatten()
        });
        if let Some(id) = found {
            return Ok(id);
        }
    }
    match name.parse::<u32>() {
        // (uid_t)-1 means "no change" to the kernel and cannot be mapped.
        Ok(id) if id != u32::MAX => Ok(id),
        _ => Err(Fatal::new(format!("failed to parse {what}: '{name}'"))),
    }
}

/// A decimal `u32` with nothing around it (as `sscanf("%u")` with the rest checked).
fn plain_u32(text: &str) -> Option<u32> {
    (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
}
