//! The command line: usage text, options, and their parsing and checks as util-linux
//! `unshare` does them.

use super::*;

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

/// How an option takes its argument (as `getopt_long(3)` describes it).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Arg {
    None,
    Required,
    /// Only as `--name=value`.
    Optional,
}

pub(crate) const LONG: &[(&str, Arg)] = &[
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
pub(crate) const SHORT: &[(u8, &str)] = &[
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
/// Parses the command line the way `getopt_long(3)` with a leading `+` does: options up to
/// the first non-option or `--`, short options combinable (`-Urpf`), an argument of a short
/// option either attached (`-R/srv`) or the next word, long options abbreviable to a unique
/// prefix, with `--name=value` or (for a required argument) `--name value`.
pub(crate) fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Action, Fatal> {
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
pub(crate) fn find_long(name: &str) -> Result<(&'static str, Arg), Fatal> {
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
