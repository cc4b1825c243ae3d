//! `unshare`: run a program in new namespaces, like util-linux `unshare(1)`, built on this
//! crate's [`Command`].
//!
//! ```text
//! cargo run --example unshare -- -Urp --mount-proc sh -c 'echo $$; id -u'
//! ```
//!
//! util-linux `unshare` calls `unshare(2)` on itself and then (with `-f`) forks. This tool
//! instead spawns the program with `clone3(2)` straight into the new namespaces, so the
//! program is always a child of this process and, with `-p`, PID 1 of the new pid namespace:
//! `-f` is accepted and implied. See `--help` for the options and the few differences.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use linux_namespaces::{
    Command, Error, IdMap, Mount, NamespaceSet, Propagation, SetGroups, Signal, StepKind, TimeClock,
};

const USAGE: &str = "\
Usage:
 unshare [options] [--] [<program> [<argument>...]]

Run a program with some namespaces unshared from the parent.

Options:
 -m, --mount               unshare mounts namespace
 -u, --uts                 unshare UTS namespace (hostname etc)
 -i, --ipc                 unshare System V IPC namespace
 -n, --net                 unshare network namespace
 -p, --pid                 unshare pid namespace
 -U, --user                unshare user namespace
 -C, --cgroup              unshare cgroup namespace
 -T, --time                unshare time namespace

 -f, --fork                fork before launching <program> (always done: see below)
 --map-user=<uid>|<name>   map current user to uid (implies --user)
 --map-group=<gid>|<name>  map current group to gid (implies --user)
 -r, --map-root-user       map current user to root (implies --user)
 -c, --map-current-user    map current user to itself (implies --user)

 --kill-child[=<signame>]  when dying, kill the forked child (implies --fork)
                             defaults to SIGKILL
 --mount-proc[=<dir>]      mount proc filesystem first (implies --mount)
 --propagation slave|shared|private|unchanged
                           modify mount propagation in mount namespace
 --setgroups allow|deny    control the setgroups syscall in user namespaces

 -R, --root=<dir>          run the command with root directory set to <dir>
 -w, --wd=<dir>            change working directory to <dir>
 --monotonic <offset>      set clock monotonic offset (seconds) in time namespaces
 --boottime <offset>       set clock boottime offset (seconds) in time namespaces

 -h, --help                display this help
 -V, --version             display version

Without <program>, runs ${SHELL} (default /bin/sh) as a login shell.

Differences from util-linux unshare:
 * The program is spawned with clone3(2) directly into the new namespaces (this
   process never unshares itself), so it is always a child of unshare and, with
   --pid, PID 1 of the new pid namespace: -f/--fork is implied.
 * While waiting, unshare blocks SIGINT and SIGTERM (as util-linux does with -f)
   and forwards nothing; the exit status is the program's, or 128+N when the
   program was killed by signal N.
 * -R/--root without -m/--mount also creates a mount namespace (the chroot is a
   step of this crate's mount setup).
 * Persisting namespaces (--mount=<file> and friends), --map-users, --map-groups,
   --map-auto, --keep-caps, -S and -G are not implemented.
";

/// What `--propagation` asked for: a type, or leave the mounts as they are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PropagationChoice {
    Set(Propagation),
    Unchanged,
}

#[derive(Debug)]
struct Options {
    namespaces: NamespaceSet,
    map_user: Option<u32>,
    map_group: Option<u32>,
    setgroups: Option<SetGroups>,
    mount_proc: Option<PathBuf>,
    propagation: PropagationChoice,
    root: Option<PathBuf>,
    wd: Option<PathBuf>,
    kill_child: Option<Signal>,
    monotonic: Option<i64>,
    boottime: Option<i64>,
    command: Vec<OsString>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            namespaces: NamespaceSet::empty(),
            map_user: None,
            map_group: None,
            setgroups: None,
            mount_proc: None,
            propagation: PropagationChoice::Set(Propagation::Private),
            root: None,
            wd: None,
            kill_child: None,
            monotonic: None,
            boottime: None,
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
    ("mount", Arg::Optional),
    ("uts", Arg::Optional),
    ("ipc", Arg::Optional),
    ("net", Arg::Optional),
    ("pid", Arg::Optional),
    ("user", Arg::Optional),
    ("cgroup", Arg::Optional),
    ("time", Arg::Optional),
    ("fork", Arg::None),
    ("map-user", Arg::Required),
    ("map-group", Arg::Required),
    ("map-root-user", Arg::None),
    ("map-current-user", Arg::None),
    ("kill-child", Arg::Optional),
    ("mount-proc", Arg::Optional),
    ("propagation", Arg::Required),
    ("setgroups", Arg::Required),
    ("root", Arg::Required),
    ("wd", Arg::Required),
    ("monotonic", Arg::Required),
    ("boottime", Arg::Required),
    ("help", Arg::None),
    ("version", Arg::None),
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

fn main() -> ExitCode {
    match run() {
        Ok(status) => ExitCode::from(status),
        Err(f) => {
            eprintln!("unshare: {}", f.message);
            ExitCode::from(f.status)
        }
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
    let mut cmd = build(&opts)?;

    // Like util-linux with --fork: the parent ignores SIGINT and SIGTERM while it waits (the
    // terminal's ^C reaches the program directly). Blocked, not ignored: the child starts
    // with the signal mask this process had, while an ignored disposition would be inherited.
    let old_mask = block_signals(&[libc::SIGINT, libc::SIGTERM]);
    let old_mask: Vec<Signal> = old_mask.into_iter().filter_map(Signal::from_raw).collect();
    cmd.signal_mask(&old_mask);

    let mut child = cmd.spawn().map_err(|e| spawn_failure(&opts, e))?;
    let status = child
        .wait()
        .map_err(|e| Fatal::new(format!("waiting for the child: {e}")))?;
    Ok(exit_status(status))
}

/// The exit status a shell would show: the program's, or 128 + the signal that killed it.
fn exit_status(status: std::process::ExitStatus) -> u8 {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => code as u8,
        (None, Some(sig)) => (128 + sig) as u8,
        (None, None) => 1,
    }
}

/// Blocks `signals` in this (single-threaded) process and returns the signals that were
/// blocked before.
fn block_signals(signals: &[i32]) -> Vec<i32> {
    // SAFETY: sigset_t is plain data; sigemptyset initialises it.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` and `old` are live sigset_t values owned by this frame; sigprocmask only
    // changes this thread's mask (the process has one thread).
    unsafe {
        libc::sigemptyset(&mut set);
        for &s in signals {
            libc::sigaddset(&mut set, s);
        }
        libc::sigprocmask(libc::SIG_BLOCK, &set, &mut old);
    }
    (1..=64)
        // SAFETY: `old` was filled in by sigprocmask; sigismember only reads it.
        .filter(|&s| unsafe { libc::sigismember(&old, s) } == 1)
        .collect()
}

/// Turns a spawn error into util-linux's message and status: 127 for a program that does not
/// exist, 126 for one that cannot be executed, 1 for everything else.
fn spawn_failure(opts: &Options, e: Error) -> Fatal {
    let errno = e.raw_os_error();
    let strerror = |n: i32| {
        let s = std::io::Error::from_raw_os_error(n).to_string();
        s.split(" (os error").next().unwrap_or(&s).to_string()
    };
    match (&e, errno) {
        (Error::Spawn { step, program, .. }, Some(n)) if step.kind() == StepKind::Exec => Fatal {
            message: format!("failed to execute {program}: {}", strerror(n)),
            status: if n == libc::ENOENT { 127 } else { 126 },
        },
        (Error::Spawn { step, .. }, Some(n)) if step.kind() == StepKind::Chdir => {
            Fatal::new(format!(
                "cannot chdir to '{}': {}",
                step.file().unwrap_or(Path::new("")).display(),
                strerror(n)
            ))
        }
        (Error::Spawn { step, .. }, Some(n))
            if step.mount_text().is_some_and(|m| m.starts_with("chroot")) =>
        {
            Fatal::new(format!(
                "cannot change root directory to '{}': {}",
                opts.root.as_deref().unwrap_or(Path::new("")).display(),
                strerror(n)
            ))
        }
        _ => Fatal::new(e.to_string()),
    }
}

/// The command the options describe.
fn build(opts: &Options) -> Result<Command, Fatal> {
    let mut cmd = match opts.command.split_first() {
        Some((program, args)) => {
            let mut c = Command::new(program);
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
            let mut c = Command::new(&shell);
            c.arg0(arg0);
            c
        }
    };

    let mut namespaces = opts.namespaces;
    // The chroot is one of the crate's mount steps, and those need a mount namespace.
    if opts.root.is_some() {
        namespaces |= NamespaceSet::MOUNT;
    }
    cmd.unshare(namespaces);

    let euid = rustix::process::geteuid().as_raw();
    let egid = rustix::process::getegid().as_raw();
    if let Some(uid) = opts.map_user {
        cmd.uid_map(IdMap::single(uid, euid).map_err(|e| Fatal::new(e.to_string()))?);
    }
    if let Some(gid) = opts.map_group {
        cmd.setgroups(SetGroups::Deny);
        cmd.gid_map(IdMap::single(gid, egid).map_err(|e| Fatal::new(e.to_string()))?);
    }
    if let Some(s) = opts.setgroups {
        cmd.setgroups(s);
    }

    // Mount steps, in util-linux's order: propagation of the whole tree, chroot, proc.
    if opts.namespaces.contains(NamespaceSet::MOUNT) {
        if let PropagationChoice::Set(p) = opts.propagation {
            cmd.mount(Mount::propagation("/", p).recursive());
        }
    }
    if let Some(root) = &opts.root {
        cmd.mount(Mount::chroot(absolute(root)?));
    }
    if let Some(dir) = &opts.mount_proc {
        let dir = proc_dir(opts, dir)?;
        // util-linux makes the proc mount point private first unless the recursive private
        // change of `/` already did (or the root changed); a directory that is not a mount
        // point has no propagation to change (util-linux ignores that EINVAL).
        if opts.root.is_none()
            && opts.propagation != PropagationChoice::Set(Propagation::Private)
            && is_mount_point(&dir)
        {
            cmd.mount(Mount::propagation(&dir, Propagation::Private).recursive());
        }
        cmd.mount(Mount::proc(dir));
    }
    match (&opts.root, &opts.wd) {
        (_, Some(wd)) => {
            cmd.current_dir(wd);
        }
        (Some(_), None) => {
            cmd.current_dir("/");
        }
        (None, None) => {}
    }

    if let Some(sig) = opts.kill_child {
        cmd.parent_death_signal(sig);
    }
    if let Some(secs) = opts.monotonic {
        cmd.time_offset(TimeClock::Monotonic, secs, 0);
    }
    if let Some(secs) = opts.boottime {
        cmd.time_offset(TimeClock::Boottime, secs, 0);
    }
    Ok(cmd)
}

fn absolute(p: &Path) -> Result<PathBuf, Fatal> {
    std::path::absolute(p).map_err(|e| Fatal::new(format!("{}: {e}", p.display())))
}

/// Where proc goes, as an absolute path in the child's view. util-linux mounts it after the
/// chroot and the chdir, so a relative directory is relative to the new working directory.
fn proc_dir(opts: &Options, dir: &Path) -> Result<PathBuf, Fatal> {
    if dir.is_absolute() {
        return Ok(dir.to_owned());
    }
    let start = match &opts.root {
        Some(_) => PathBuf::from("/"),
        None => {
            std::env::current_dir().map_err(|e| Fatal::new(format!("current directory: {e}")))?
        }
    };
    let cwd = match &opts.wd {
        Some(wd) => start.join(wd),
        None => start,
    };
    Ok(cwd.join(dir))
}

/// Whether `dir` is the root of a mount (`STATX_ATTR_MOUNT_ROOT`, Linux 5.8).
fn is_mount_point(dir: &Path) -> bool {
    use rustix::fs::{AtFlags, CWD, StatxAttributes, StatxFlags, statx};
    statx(CWD, dir, AtFlags::empty(), StatxFlags::BASIC_STATS).is_ok_and(|s| {
        s.stx_attributes_mask.contains(StatxAttributes::MOUNT_ROOT)
            && s.stx_attributes.contains(StatxAttributes::MOUNT_ROOT)
    })
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
        "mount" => Some(NamespaceSet::MOUNT),
        "uts" => Some(NamespaceSet::UTS),
        "ipc" => Some(NamespaceSet::IPC),
        "net" => Some(NamespaceSet::NET),
        "pid" => Some(NamespaceSet::PID),
        "user" => Some(NamespaceSet::USER),
        "cgroup" => Some(NamespaceSet::CGROUP),
        "time" => Some(NamespaceSet::TIME),
        _ => None,
    };
    if let Some(ns) = namespace {
        if let Some(file) = value {
            return Err(Fatal::new(format!(
                "--{name}={}: persisting a namespace on a file is not implemented by this example",
                Path::new(&file).display()
            )));
        }
        opts.namespaces |= ns;
        return Ok(None);
    }
    match name {
        // The program is always spawned as a child: nothing to do.
        "fork" => {}
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
            opts.map_user = Some(rustix::process::geteuid().as_raw());
            opts.map_group = Some(rustix::process::getegid().as_raw());
            opts.namespaces |= NamespaceSet::USER;
        }
        "kill-child" => {
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
        "propagation" => {
            let v = text(&value)?;
            opts.propagation = match v.as_str() {
                "private" => PropagationChoice::Set(Propagation::Private),
                "shared" => PropagationChoice::Set(Propagation::Shared),
                "slave" => PropagationChoice::Set(Propagation::Slave),
                "unchanged" => PropagationChoice::Unchanged,
                _ => return Err(Fatal::new(format!("unsupported propagation mode: {v}"))),
            };
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
        "help" => return Ok(Some(Action::Help)),
        "version" => return Ok(Some(Action::Version)),
        other => unreachable!("option table and handler disagree on --{other}"),
    }
    Ok(None)
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
    if opts.map_group.is_some() && opts.setgroups == Some(SetGroups::Allow) {
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
