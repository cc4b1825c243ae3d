//! The command line: usage text, options, and their parsing and checks as util-linux
//! `unshare` does them.

use super::*;
use crate::getopt::{self, HasArg, Line, Long, Short, program_line};

pub(crate) const USAGE: &str = "\
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
pub(crate) enum PropagationChoice {
    Private,
    Shared,
    Slave,
    Unchanged,
}
#[derive(Debug)]
pub(crate) struct Options {
    pub(crate) namespaces: NamespaceSet,
    /// `--<kind>=<file>`: where to persist the new namespace, by its `/proc/<pid>/ns` name.
    pub(crate) persist: Vec<(&'static str, PathBuf)>,
    pub(crate) map_user: Option<u32>,
    pub(crate) map_group: Option<u32>,
    /// `--owner`: the uid and gid the process takes before creating the user namespace,
    /// which then belongs to them.
    pub(crate) owner: Option<(u32, u32)>,
    pub(crate) user_ranges: Vec<MapRange>,
    pub(crate) group_ranges: Vec<MapRange>,
    pub(crate) setgroups: Option<SetGroups>,
    pub(crate) mount_proc: Option<PathBuf>,
    pub(crate) mount_binfmt: Option<PathBuf>,
    pub(crate) load_interp: Option<String>,
    pub(crate) propagation: PropagationChoice,
    pub(crate) root: Option<PathBuf>,
    pub(crate) wd: Option<PathBuf>,
    pub(crate) setuid: Option<u32>,
    pub(crate) setgid: Option<u32>,
    pub(crate) keep_caps: bool,
    pub(crate) fork: bool,
    pub(crate) forward_signals: bool,
    pub(crate) kill_child: Option<Signal>,
    pub(crate) monotonic: Option<i64>,
    pub(crate) boottime: Option<i64>,
    pub(crate) clear_env: bool,
    /// `--whitelist-env`: the kept variables and their values when the options were read.
    pub(crate) whitelist_env: Option<Vec<(OsString, OsString)>>,
    pub(crate) command: Vec<OsString>,
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
pub(crate) enum Action {
    Run(Box<Options>),
    Help,
    Version,
}

/// Long options; each is its own key.
pub(crate) const LONG: &[Long<&str>] = &[
    ("help", HasArg::No, "help"),
    ("version", HasArg::No, "version"),
    ("mount", HasArg::Optional, "mount"),
    ("uts", HasArg::Optional, "uts"),
    ("ipc", HasArg::Optional, "ipc"),
    ("net", HasArg::Optional, "net"),
    ("pid", HasArg::Optional, "pid"),
    ("user", HasArg::Optional, "user"),
    ("cgroup", HasArg::Optional, "cgroup"),
    ("time", HasArg::Optional, "time"),
    ("fork", HasArg::No, "fork"),
    ("kill-child", HasArg::Optional, "kill-child"),
    ("forward-signals", HasArg::No, "forward-signals"),
    ("mount-proc", HasArg::Optional, "mount-proc"),
    ("mount-binfmt", HasArg::Optional, "mount-binfmt"),
    ("map-user", HasArg::Required, "map-user"),
    ("map-users", HasArg::Required, "map-users"),
    ("map-group", HasArg::Required, "map-group"),
    ("map-groups", HasArg::Required, "map-groups"),
    ("map-root-user", HasArg::No, "map-root-user"),
    ("map-current-user", HasArg::No, "map-current-user"),
    ("map-auto", HasArg::No, "map-auto"),
    ("map-subids", HasArg::No, "map-subids"),
    ("owner", HasArg::Required, "owner"),
    ("propagation", HasArg::Required, "propagation"),
    ("setgroups", HasArg::Required, "setgroups"),
    ("keep-caps", HasArg::No, "keep-caps"),
    ("setuid", HasArg::Required, "setuid"),
    ("setgid", HasArg::Required, "setgid"),
    ("root", HasArg::Required, "root"),
    ("wd", HasArg::Required, "wd"),
    ("monotonic", HasArg::Required, "monotonic"),
    ("boottime", HasArg::Required, "boottime"),
    ("load-interp", HasArg::Required, "load-interp"),
    ("clear-env", HasArg::No, "clear-env"),
    ("whitelist-env", HasArg::Required, "whitelist-env"),
];

/// Short options and the long option each stands for; only those whose long option requires
/// a value take one (`-m` is `--mount` without a file).
pub(crate) const SHORT: &[Short<&str>] = &[
    (b'm', HasArg::No, "mount"),
    (b'u', HasArg::No, "uts"),
    (b'i', HasArg::No, "ipc"),
    (b'n', HasArg::No, "net"),
    (b'p', HasArg::No, "pid"),
    (b'U', HasArg::No, "user"),
    (b'C', HasArg::No, "cgroup"),
    (b'T', HasArg::No, "time"),
    (b'f', HasArg::No, "fork"),
    (b'r', HasArg::No, "map-root-user"),
    (b'c', HasArg::No, "map-current-user"),
    (b'R', HasArg::Required, "root"),
    (b'w', HasArg::Required, "wd"),
    (b'S', HasArg::Required, "setuid"),
    (b'G', HasArg::Required, "setgid"),
    (b'l', HasArg::Required, "load-interp"),
    (b'h', HasArg::No, "help"),
    (b'V', HasArg::No, "version"),
];
/// Parses the command line the way `getopt_long(3)` with a leading `+` does: options up to
/// the first non-option or `--`, short options combinable (`-Urpf`), an argument of a short
/// option either attached (`-R/srv`) or the next word, long options abbreviable to a unique
/// prefix, with `--name=value` or (for a required argument) `--name value`.
pub(crate) fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Action, Fatal> {
    let mut opts = Options::default();
    let apply = |full, value| apply(&mut opts, full, value);
    let error = |e| match e {
        getopt::Error::Unrecognized(name) => Fatal::new(format!(
            "unrecognized option '--{name}' (try 'unshare --help')"
        )),
        e => Fatal::new(e.to_string()),
    };
    match program_line(args, LONG, SHORT, apply, error)? {
        Line::Done(action) => return Ok(action),
        Line::Program(command) => opts.command = command,
    }
    check(&opts)?;
    Ok(Action::Run(Box::new(opts)))
}

pub(crate) fn apply(
    opts: &mut Options,
    name: &str,
    value: Option<OsString>,
) -> Result<Option<Action>, Fatal> {
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
pub(crate) fn number(v: &str, what: &str) -> Result<u32, Fatal> {
    v.parse::<u32>()
        .map_err(|_| Fatal::new(format!("{what}: '{v}'")))
}
/// The checks util-linux makes once all options are read.
pub(crate) fn check(opts: &Options) -> Result<(), Fatal> {
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
