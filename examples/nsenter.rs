//! `nsenter`: run a program in the namespaces of another process, like util-linux `nsenter(1)`.
//!
//! ```text
//! nsenter -t PID -n ip addr            # the network namespace of PID
//! nsenter -t PID --all                 # every namespace of PID that differs from ours
//! nsenter --net=/run/netns/blue ip a   # a network namespace persisted by `ip netns add`
//! nsenter -t PID -U -p -m sh           # rootless: user first, then the rest; forks for -p
//! nsenter -t PID -N 3 ss -l            # the network namespace of PID's socket fd 3
//! nsenter -t PID -m -r -w -e sh        # PID's mounts, root, working directory, environment
//! ```
//!
//! The library does the namespace work ([`Namespaces::enter_process`] enters all of a
//! target's namespaces atomically through a pidfd on Linux 5.8+, [`Namespaces::enter`] orders
//! a mixed set of files and target namespaces, [`PidFd::get_fd`] and
//! [`Namespace::from_socket`] reach a socket's network namespace, [`Namespace::owner`] a
//! parent user namespace); this file parses the command line, forks when the pid namespace
//! changes, sets the root, working directory, environment, cgroup and credentials and
//! executes the program.
//!
//! Behaviour and messages follow util-linux: options stop at the first non-option argument; a
//! namespace option without `=FILE` takes the target's namespace; entering a user namespace
//! switches to uid and gid 0 (or `-S`/`-G`) and drops supplementary groups unless
//! `--preserve-credentials`; with `-p` it forks, waits and exits with the child's status (a
//! child killed by a signal kills this process with the same signal, so a shell reports
//! 128+signal); exec failures exit 127 (not found) or 126. Deliberate differences:
//! - `--all` leaves out every namespace the target shares with us, not only the user
//!   namespace, so a rootless `--all` does not try to re-enter the host's cgroup namespace;
//! - `--join-cgroup` finds the cgroup v2 hierarchy wherever it is mounted (util-linux only
//!   looks at `/sys/fs/cgroup`) and uses the target's `0::` line (util-linux the first line,
//!   which on a hybrid v1/v2 system is a v1 hierarchy);
//! - directories given to `-r`/`-w`/`-W` are opened with `O_PATH`, so a FIFO there cannot
//!   block the tool (it fails at `fchdir` with the same message instead);
//! - `-Z` sets the SELinux exec context through `/proc` (no libselinux); where SELinux is not
//!   enabled it fails as util-linux built without SELinux does (exit 1), saying why.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::io::{self, Read};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use linux_namespaces::{Error, Namespace, NamespaceKind, NamespaceSet, Namespaces, PidFd, Target};
use rustix::fs::{Mode, OFlags};

const PROG: &str = "nsenter";

/// The order util-linux keeps its namespaces in (and reports `--all` problems in).
const KINDS: [NamespaceKind; 8] = [
    NamespaceKind::User,
    NamespaceKind::Cgroup,
    NamespaceKind::Ipc,
    NamespaceKind::Uts,
    NamespaceKind::Network,
    NamespaceKind::Pid,
    NamespaceKind::Mount,
    NamespaceKind::Time,
];

/// Where a namespace to enter comes from.
#[derive(Debug)]
enum Source {
    /// The namespace of that kind of the `--target` process.
    Target,
    /// Already open: a namespace file (`/proc/PID/ns/KIND`, `/run/netns/NAME`), a socket's
    /// network namespace, the parent of a user namespace.
    Opened(Namespace),
}

/// `-S`/`-G`: which id to switch to.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
enum Id {
    /// Not given (0 when entering a user namespace without `--preserve-credentials`).
    #[default]
    Unset,
    Value(u32),
    /// `follow`: the owner of the target's `/proc/PID` directory.
    Follow,
}

#[derive(Debug, Default)]
struct Options {
    target: Option<u32>,
    /// A pidfd opened while parsing `-t PID:INODE` (checked to be that process).
    target_pidfd: Option<PidFd>,
    /// At most one entry per kind; a later option for a kind replaces an earlier one.
    namespaces: Vec<(NamespaceKind, Source)>,
    all: bool,
    setuid: Id,
    setgid: Id,
    preserve_credentials: bool,
    keep_caps: bool,
    no_fork: bool,
    net_socket: Option<i32>,
    user_parent: bool,
    /// `-r DIR` (opened while parsing) and `-r` (the target's root).
    root: Option<OwnedFd>,
    root_of_target: bool,
    /// `-w DIR` and `-w`.
    wd: Option<OwnedFd>,
    wd_of_target: bool,
    /// `-W DIR`: opened after entering the namespaces and changing the root.
    wdns: Option<PathBuf>,
    /// The first of `-w`/`-W` seen, for the "cannot be combined" check.
    wd_option: Option<&'static str>,
    env: bool,
    join_cgroup: bool,
    follow_context: bool,
    command: Vec<OsString>,
}

impl Options {
    fn enable(&mut self, kind: NamespaceKind, source: Source) {
        self.namespaces.retain(|(k, _)| *k != kind);
        self.namespaces.push((kind, source));
    }

    fn has(&self, kind: NamespaceKind) -> bool {
        self.namespaces.iter().any(|(k, _)| *k == kind)
    }

    fn kinds(&self) -> NamespaceSet {
        self.namespaces.iter().map(|(k, _)| *k).collect()
    }
}

enum Action {
    Help,
    Version,
    Run(Box<Options>),
}

/// A command-line mistake: reported with a pointer to `--help`, exit status 1.
struct Usage(String);

#[derive(Clone, Copy, PartialEq)]
enum HasArg {
    No,
    Required,
    /// Only attached: `-nFILE`, `-n=FILE`, `--net=FILE`.
    Optional,
}

#[derive(Clone, Copy, PartialEq)]
enum Opt {
    All,
    Help,
    Version,
    Target,
    Ns(NamespaceKind),
    NetSocket,
    SetUid,
    SetGid,
    PreserveCredentials,
    KeepCaps,
    UserParent,
    Root,
    Wd,
    WdNs,
    Env,
    NoFork,
    JoinCgroup,
    FollowContext,
}

const SHORT: &[(u8, HasArg, Opt)] = &[
    (b'a', HasArg::No, Opt::All),
    (b'h', HasArg::No, Opt::Help),
    (b'V', HasArg::No, Opt::Version),
    (b't', HasArg::Required, Opt::Target),
    (b'm', HasArg::Optional, Opt::Ns(NamespaceKind::Mount)),
    (b'u', HasArg::Optional, Opt::Ns(NamespaceKind::Uts)),
    (b'i', HasArg::Optional, Opt::Ns(NamespaceKind::Ipc)),
    (b'n', HasArg::Optional, Opt::Ns(NamespaceKind::Network)),
    (b'N', HasArg::Required, Opt::NetSocket),
    (b'p', HasArg::Optional, Opt::Ns(NamespaceKind::Pid)),
    (b'C', HasArg::Optional, Opt::Ns(NamespaceKind::Cgroup)),
    (b'U', HasArg::Optional, Opt::Ns(NamespaceKind::User)),
    (b'T', HasArg::Optional, Opt::Ns(NamespaceKind::Time)),
    (b'S', HasArg::Required, Opt::SetUid),
    (b'G', HasArg::Required, Opt::SetGid),
    (b'r', HasArg::Optional, Opt::Root),
    (b'w', HasArg::Optional, Opt::Wd),
    (b'W', HasArg::Optional, Opt::WdNs),
    (b'e', HasArg::No, Opt::Env),
    (b'c', HasArg::No, Opt::JoinCgroup),
    (b'F', HasArg::No, Opt::NoFork),
    (b'Z', HasArg::No, Opt::FollowContext),
];

const LONG: &[(&str, HasArg, Opt)] = &[
    ("all", HasArg::No, Opt::All),
    ("help", HasArg::No, Opt::Help),
    ("version", HasArg::No, Opt::Version),
    ("target", HasArg::Required, Opt::Target),
    ("mount", HasArg::Optional, Opt::Ns(NamespaceKind::Mount)),
    ("uts", HasArg::Optional, Opt::Ns(NamespaceKind::Uts)),
    ("ipc", HasArg::Optional, Opt::Ns(NamespaceKind::Ipc)),
    ("net", HasArg::Optional, Opt::Ns(NamespaceKind::Network)),
    ("net-socket", HasArg::Required, Opt::NetSocket),
    ("pid", HasArg::Optional, Opt::Ns(NamespaceKind::Pid)),
    ("user", HasArg::Optional, Opt::Ns(NamespaceKind::User)),
    ("cgroup", HasArg::Optional, Opt::Ns(NamespaceKind::Cgroup)),
    ("time", HasArg::Optional, Opt::Ns(NamespaceKind::Time)),
    ("setuid", HasArg::Required, Opt::SetUid),
    ("setgid", HasArg::Required, Opt::SetGid),
    ("root", HasArg::Optional, Opt::Root),
    ("wd", HasArg::Optional, Opt::Wd),
    ("wdns", HasArg::Optional, Opt::WdNs),
    ("env", HasArg::No, Opt::Env),
    ("no-fork", HasArg::No, Opt::NoFork),
    ("join-cgroup", HasArg::No, Opt::JoinCgroup),
    ("preserve-credentials", HasArg::No, Opt::PreserveCredentials),
    ("keep-caps", HasArg::No, Opt::KeepCaps),
    ("user-parent", HasArg::No, Opt::UserParent),
    ("follow-context", HasArg::No, Opt::FollowContext),
];

/// Parses the arguments after the program name, the way `getopt_long` does with a leading
/// `+` in its option string: the first non-option argument ends the options. As util-linux
/// does, files named by options are opened as their option is read.
fn parse(args: Vec<OsString>) -> Result<Action, Usage> {
    let mut opts = Options::default();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let bytes = arg.as_bytes();
        if bytes == b"--" {
            break;
        }
        if let Some(long) = bytes.strip_prefix(b"--") {
            let (name, value) = match long.iter().position(|&b| b == b'=') {
                Some(i) => (&long[..i], Some(OsString::from_vec(long[i + 1..].to_vec()))),
                None => (long, None),
            };
            let name = String::from_utf8_lossy(name);
            let (full, has_arg, opt) = find_long(&name)?;
            let value = match (has_arg, value) {
                (HasArg::No, Some(_)) => {
                    return Err(Usage(format!(
                        "option '--{full}' doesn't allow an argument"
                    )));
                }
                (HasArg::Required, None) => Some(
                    args.next()
                        .ok_or_else(|| Usage(format!("option '--{full}' requires an argument")))?,
                ),
                (_, value) => value,
            };
            if let Some(action) = apply(&mut opts, opt, value)? {
                return Ok(action);
            }
            continue;
        }
        if bytes.len() < 2 || bytes[0] != b'-' {
            // The program to run: options end here ("-" alone is a program name too).
            opts.command.push(arg);
            break;
        }
        let mut i = 1;
        while i < bytes.len() {
            let c = bytes[i];
            let &(_, has_arg, opt) = SHORT
                .iter()
                .find(|(s, _, _)| *s == c)
                .ok_or_else(|| Usage(format!("invalid option -- '{}'", char::from(c))))?;
            let rest = &bytes[i + 1..];
            let value = match has_arg {
                HasArg::No => None,
                // The rest of this argument is the value, attached: "-n/run/netns/x".
                HasArg::Optional if rest.is_empty() => None,
                HasArg::Optional => Some(OsString::from_vec(rest.to_vec())),
                HasArg::Required if !rest.is_empty() => Some(OsString::from_vec(rest.to_vec())),
                HasArg::Required => Some(args.next().ok_or_else(|| {
                    Usage(format!(
                        "option requires an argument -- '{}'",
                        char::from(c)
                    ))
                })?),
            };
            if let Some(action) = apply(&mut opts, opt, value)? {
                return Ok(action);
            }
            if has_arg != HasArg::No {
                break;
            }
            i += 1;
        }
    }
    opts.command.extend(args);
    Ok(Action::Run(Box::new(opts)))
}

/// The long option `name` stands for: an exact name, or the one name it abbreviates.
fn find_long(name: &str) -> Result<(&'static str, HasArg, Opt), Usage> {
    if let Some(&(full, has_arg, opt)) = LONG.iter().find(|(n, _, _)| *n == name) {
        return Ok((full, has_arg, opt));
    }
    let candidates: Vec<_> = LONG
        .iter()
        .filter(|(n, _, _)| n.starts_with(name))
        .collect();
    match candidates.as_slice() {
        [(full, has_arg, opt)] if !name.is_empty() => Ok((full, *has_arg, *opt)),
        [] | [_] => Err(Usage(format!("unrecognized option '--{name}'"))),
        many => Err(Usage(format!(
            "option '--{name}' is ambiguous; possibilities:{}",
            many.iter()
                .map(|(n, _, _)| format!(" '--{n}'"))
                .collect::<String>()
        ))),
    }
}

/// `-n=FILE`, `-w=DIR`: like util-linux, one leading '=' is not part of the name.
fn strip_equals(v: OsString) -> PathBuf {
    let b = v.as_bytes();
    PathBuf::from(OsStr::from_bytes(b.strip_prefix(b"=").unwrap_or(b)))
}

fn apply(opts: &mut Options, opt: Opt, value: Option<OsString>) -> Result<Option<Action>, Usage> {
    if let Opt::Wd | Opt::WdNs = opt {
        let name = if opt == Opt::Wd { "--wd" } else { "--wdns" };
        match opts.wd_option {
            Some(first) if first != name => die(
                1,
                format_args!("options {first} and {name} cannot be combined"),
            ),
            _ => opts.wd_option = Some(name),
        }
    }
    match opt {
        Opt::All => opts.all = true,
        Opt::Help => return Ok(Some(Action::Help)),
        Opt::Version => return Ok(Some(Action::Version)),
        Opt::Target => {
            if opts.target.is_some() {
                die(1, "option --target may be given only once");
            }
            let (pid, pidfd) = parse_target(&value.unwrap_or_default());
            opts.target = Some(pid);
            opts.target_pidfd = pidfd;
        }
        Opt::Ns(kind) => {
            let source = match value {
                None => Source::Target,
                Some(v) => Source::Opened(open_namespace_file(kind, &strip_equals(v))),
            };
            opts.enable(kind, source);
        }
        Opt::NetSocket => {
            let v = value.unwrap_or_default();
            // util-linux has no lower bound here: a negative number means no socket.
            let negative = v
                .to_string_lossy()
                .trim_start()
                .strip_prefix('-')
                .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()));
            opts.net_socket = if negative {
                None
            } else {
                Some(number(&v, i32::MAX as u64, "failed to parse file descriptor") as i32)
            };
        }
        Opt::SetUid | Opt::SetGid => {
            let what = if opt == Opt::SetUid { "uid" } else { "gid" };
            let v = value.unwrap_or_default();
            let id = if v == "follow" {
                Id::Follow
            } else {
                Id::Value(number(&v, u32::MAX as u64, &format!("failed to parse {what}")) as u32)
            };
            if opt == Opt::SetUid {
                opts.setuid = id;
            } else {
                opts.setgid = id;
            }
        }
        Opt::PreserveCredentials => opts.preserve_credentials = true,
        Opt::KeepCaps => opts.keep_caps = true,
        Opt::UserParent => opts.user_parent = true,
        Opt::Root => match value {
            // util-linux takes the value as it is here, a leading '=' included.
            Some(dir) => opts.root = Some(open_dir(Path::new(&dir))),
            None => opts.root_of_target = true,
        },
        Opt::Wd => match value {
            Some(dir) => opts.wd = Some(open_dir(&strip_equals(dir))),
            None => opts.wd_of_target = true,
        },
        Opt::WdNs => opts.wdns = value.map(strip_equals),
        Opt::Env => opts.env = true,
        Opt::NoFork => opts.no_fork = true,
        Opt::JoinCgroup => opts.join_cgroup = true,
        Opt::FollowContext => opts.follow_context = true,
    }
    Ok(None)
}

/// A number as `strtoul` reads it (leading blanks, an optional `+`), at most `max`; else
/// util-linux's message and exit status 1.
fn number(v: &OsStr, max: u64, what: &str) -> u64 {
    let shown = v.to_string_lossy();
    let s = shown.trim_start();
    let digits = s.strip_prefix('+').unwrap_or(s);
    let out_of_range = || -> ! {
        die(
            1,
            format_args!("{what}: '{shown}': Numerical result out of range"),
        )
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        if s.strip_prefix('-')
            .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
        {
            out_of_range();
        }
        die(1, format_args!("{what}: '{shown}'"));
    }
    match digits.parse::<u64>() {
        Ok(n) if n <= max => n,
        _ => out_of_range(),
    }
}

/// `-t PID` or `-t PID:INODE` (the inode of a pidfd of that process, as `ls -i` shows it
/// in `/proc/PID/fdinfo`'s filesystem, pidfs): with an inode, the process must still be that
/// one.
fn parse_target(v: &OsStr) -> (u32, Option<PidFd>) {
    let shown = v.to_string_lossy();
    let bad = |errno: i32| -> ! {
        die(
            1,
            format_args!(
                "failed to parse PID argument '{shown}': {}",
                strerror(&io::Error::from_raw_os_error(errno))
            ),
        )
    };
    let s = shown.trim_start();
    let (pid_text, inode_text) = match s.split_once(':') {
        Some((p, i)) => (p, Some(i)),
        None => (s, None),
    };
    let digits = pid_text.strip_prefix('+').unwrap_or(pid_text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        let negative = pid_text.strip_prefix('-').is_some_and(|d| !d.is_empty());
        bad(if negative { libc::ERANGE } else { libc::EINVAL });
    }
    let pid = match digits.parse::<u32>() {
        Ok(p) if (1..=i32::MAX as u32).contains(&p) => p,
        _ => bad(libc::ERANGE),
    };
    let Some(inode_text) = inode_text else {
        return (pid, None);
    };
    let inode = match inode_text.parse::<u64>() {
        Ok(0) => bad(libc::ERANGE),
        Ok(i) => i,
        Err(_) => bad(libc::EINVAL),
    };
    let invalid = |e: io::Error| -> ! {
        die(
            1,
            format_args!(
                "failed to obtain a valid file descriptor for PID {pid}: {}",
                strerror(&e)
            ),
        )
    };
    let pidfd = PidFd::open(pid).unwrap_or_else(|e| invalid(process_error(&e)));
    match rustix::fs::fstat(pidfd.as_fd()) {
        Ok(st) if st.st_ino == inode => (pid, Some(pidfd)),
        Ok(_) => invalid(io::Error::from_raw_os_error(libc::ESRCH)),
        Err(e) => invalid(e.into()),
    }
}

fn usage() -> String {
    format!(
        "
Usage:
 {PROG} [options] [<program> [<argument>...]]

Run a program with namespaces of other processes.

Options:
 -a, --all                     enter all namespaces of the target that differ from ours
 -t, --target <PID>            target process to get namespaces from
 -m, --mount[=<file>]          enter mount namespace
 -u, --uts[=<file>]            enter UTS namespace (hostname etc)
 -i, --ipc[=<file>]            enter System V IPC namespace
 -n, --net[=<file>]            enter network namespace
 -N, --net-socket <fd>         enter socket's network namespace (needs --target)
 -p, --pid[=<file>]            enter pid namespace
 -C, --cgroup[=<file>]         enter cgroup namespace
 -U, --user[=<file>]           enter user namespace
     --user-parent             enter parent user namespace
 -T, --time[=<file>]           enter time namespace
 -S, --setuid[=<uid>]          set uid in entered namespace ('follow': the target's)
 -G, --setgid[=<gid>]          set gid in entered namespace ('follow': the target's)
     --preserve-credentials    do not touch uids or gids
     --keep-caps               retain capabilities granted in user namespaces
 -r, --root[=<dir>]            set the root directory
 -w, --wd[=<dir>]              set the working directory
 -W, --wdns <dir>              set the working directory in namespace
 -e, --env                     inherit environment variables from target process
 -F, --no-fork                 do not fork before exec'ing <program>
 -c, --join-cgroup             join the cgroup of the target process
 -Z, --follow-context          set SELinux context according to --target PID

 -h, --help                    display this help
 -V, --version                 display version

Without <program>, runs ${{SHELL}} (default: the user's shell, else /bin/sh).
"
    )
}

/// An OS error as `strerror` words it ("No such file or directory"), without Rust's
/// " (os error 2)" suffix, as util-linux prints it.
fn strerror(e: &io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error ") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// The errno behind a library error, for util-linux's "what: strerror" messages.
fn os_error(e: &Error) -> io::Error {
    let errno = match e {
        // Asked of a namespace file path: what open(2) of /proc/PID/... would have said.
        Error::NoSuchProcess { .. } => libc::ENOENT,
        Error::NotANamespace { .. } | Error::WrongKind { .. } | Error::InvalidInput { .. } => {
            libc::EINVAL
        }
        Error::Unsupported { .. } => libc::ENOSYS,
        other => other.raw_os_error().unwrap_or(libc::EINVAL),
    };
    io::Error::from_raw_os_error(errno)
}

/// Like [`os_error`], for a process asked about directly: gone is `ESRCH`.
fn process_error(e: &Error) -> io::Error {
    match e {
        Error::NoSuchProcess { .. } => io::Error::from_raw_os_error(libc::ESRCH),
        other => os_error(other),
    }
}

/// Prints `nsenter: MESSAGE` and exits with `code`.
fn die(code: i32, message: impl std::fmt::Display) -> ! {
    eprintln!("{PROG}: {message}");
    std::process::exit(code);
}

/// Opens a namespace file named by `-n FILE` and the like. A file that is not a namespace of
/// that kind gets the message util-linux prints when `setns` refuses it.
fn open_namespace_file(kind: NamespaceKind, path: &Path) -> Namespace {
    let refused = || -> ! {
        die(
            1,
            format_args!(
                "reassociate to namespace 'ns/{}' failed: {}",
                kind.proc_name(),
                strerror(&io::Error::from_raw_os_error(libc::EINVAL))
            ),
        )
    };
    match Namespace::from_path(path) {
        Ok(ns) => ns.ensure_kind(kind).unwrap_or_else(|_| refused()),
        Err(Error::NotANamespace { .. }) => refused(),
        Err(e) => die(
            1,
            format_args!(
                "cannot open {}: {}",
                path.display(),
                strerror(&os_error(&e))
            ),
        ),
    }
}

/// Opens a directory for a later `fchdir`, without opening the file itself (`O_PATH`: a
/// FIFO or device there is neither blocked on nor opened).
fn open_dir(path: &Path) -> OwnedFd {
    rustix::fs::open(path, OFlags::PATH | OFlags::CLOEXEC, Mode::empty()).unwrap_or_else(|e| {
        die(
            1,
            format_args!("cannot open {}: {}", path.display(), strerror(&e.into())),
        )
    })
}

/// `/proc/PID/<what>` of the target, as util-linux names it in its messages.
fn target_path(opts: &Options, what: &str) -> PathBuf {
    match opts.target {
        Some(pid) => PathBuf::from(format!("/proc/{pid}/{what}")),
        None => die(
            1,
            format_args!("neither filename nor target pid supplied for {what}"),
        ),
    }
}

fn main() {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let opts = match parse(args) {
        Ok(Action::Help) => {
            print!("{}", usage());
            return;
        }
        Ok(Action::Version) => {
            println!(
                "{PROG} (linux-namespaces example) {}",
                env!("CARGO_PKG_VERSION")
            );
            return;
        }
        Ok(Action::Run(opts)) => opts,
        Err(Usage(message)) => {
            eprintln!("{PROG}: {message}");
            eprintln!("Try '{PROG} --help' for more information.");
            std::process::exit(1);
        }
    };
    run(*opts)
}

fn run(mut opts: Options) -> ! {
    if opts.follow_context {
        follow_context(&opts);
    }

    if opts.all {
        enable_all(&mut opts);
    }

    // A pidfd pins the target: every namespace below comes from this process even if its pid
    // is reused meanwhile. None where pidfd_open fails (before 5.3, or no such process: then
    // the /proc paths give util-linux's messages).
    let needs_target = opts
        .namespaces
        .iter()
        .any(|(_, s)| matches!(s, Source::Target))
        || opts.net_socket.is_some()
        || opts.user_parent;
    let mut pidfd = opts.target_pidfd.take();
    if needs_target {
        let Some(pid) = opts.target else {
            die(1, "no target PID specified");
        };
        if pidfd.is_none() {
            pidfd = PidFd::open(pid).ok();
        }
    }

    if opts.root_of_target {
        opts.root = Some(open_dir(&target_path(&opts, "root")));
    }
    if opts.wd_of_target {
        opts.wd = Some(open_dir(&target_path(&opts, "cwd")));
    }
    let environ = opts.env.then(|| {
        let path = target_path(&opts, "environ");
        std::fs::File::open(&path).unwrap_or_else(|e| {
            die(
                1,
                format_args!("cannot open {}: {}", path.display(), strerror(&e)),
            )
        })
    });
    let follow = (opts.setuid == Id::Follow || opts.setgid == Id::Follow)
        .then(|| open_dir(&target_path(&opts, "")));
    let cgroup_procs = opts.join_cgroup.then(|| open_cgroup_procs(&opts));

    if opts.user_parent {
        let parent = parent_user_namespace(&opts, pidfd.as_ref());
        opts.enable(NamespaceKind::User, Source::Opened(parent));
    }
    if let Some(fd) = opts.net_socket {
        let ns = socket_namespace(&opts, pidfd.as_ref(), fd);
        opts.enable(NamespaceKind::Network, Source::Opened(ns));
    }

    let requested = opts.kinds();
    if requested.is_empty() {
        die(1, "no namespace specified");
    }

    // As util-linux does: drop supplementary groups before entering a user namespace (where
    // we may still be privileged) and again after; only both failing is an error.
    let switch_user = requested.has(NamespaceKind::User) && !opts.preserve_credentials;
    let setgroups_failed_before = switch_user && set_no_groups().is_err();

    enter(&mut opts, pidfd.as_ref());
    drop(pidfd);

    // Keep the working directory across the root change unless told where to go.
    if opts.root.is_some() && opts.wd.is_none() && opts.wdns.is_none() {
        opts.wd = Some(
            rustix::fs::open(".", OFlags::PATH | OFlags::CLOEXEC, Mode::empty()).unwrap_or_else(
                |e| {
                    die(
                        1,
                        format_args!(
                            "cannot open current working directory: {}",
                            strerror(&e.into())
                        ),
                    )
                },
            ),
        );
    }
    if let Some(root) = opts.root.take() {
        change_root(root);
    }
    if let Some(dir) = &opts.wdns {
        let fd = rustix::fs::open(dir, OFlags::PATH | OFlags::CLOEXEC, Mode::empty())
            .unwrap_or_else(|e| {
                die(
                    1,
                    format_args!(
                        "cannot open current working directory: {}",
                        strerror(&e.into())
                    ),
                )
            });
        opts.wd = Some(fd);
    }
    if let Some(wd) = opts.wd.take() {
        rustix::process::fchdir(&wd).unwrap_or_else(|e| {
            die(
                1,
                format_args!(
                    "change directory by working directory file descriptor failed: {}",
                    strerror(&e.into())
                ),
            )
        });
    }

    let env = environ.map(read_environ);

    if let Some(procs) = cgroup_procs {
        let me = format!("{}", std::process::id());
        rustix::io::write(&procs, me.as_bytes()).unwrap_or_else(|e| {
            die(
                1,
                format_args!("write cgroup.procs failed: {}", strerror(&e.into())),
            )
        });
    }

    let (mut uid, mut gid) = (opts.setuid, opts.setgid);
    if let Some(dir) = follow {
        let st = rustix::fs::fstat(&dir).unwrap_or_else(|e| {
            die(
                1,
                format_args!("can not get process stat: {}", strerror(&e.into())),
            )
        });
        if uid == Id::Follow {
            uid = Id::Value(st.st_uid);
        }
        if gid == Id::Follow {
            gid = Id::Value(st.st_gid);
        }
    }

    // Entering a pid namespace affects only children: fork so the program is in it.
    if requested.has(NamespaceKind::Pid) && !opts.no_fork {
        continue_as_child();
    }

    let (force_uid, force_gid) = (
        switch_user || uid != Id::Unset,
        switch_user || gid != Id::Unset,
    );
    let value = |id| if let Id::Value(v) = id { v } else { 0 };
    if force_gid {
        if let Err(e) = set_no_groups() {
            if setgroups_failed_before {
                die(1, format_args!("setgroups failed: {}", strerror(&e)));
            }
        }
        set_gid(value(gid))
            .unwrap_or_else(|e| die(1, format_args!("setgid() failed: {}", strerror(&e))));
    }
    if force_uid {
        set_uid(value(uid))
            .unwrap_or_else(|e| die(1, format_args!("setuid() failed: {}", strerror(&e))));
    }

    if opts.keep_caps && requested.has(NamespaceKind::User) {
        permitted_to_ambient();
    }

    exec(std::mem::take(&mut opts.command), env)
}

/// `-a`: every namespace of the target that differs from ours, besides those named.
fn enable_all(opts: &mut Options) {
    let pid = opts.target.unwrap_or(0);
    for kind in KINDS {
        if opts.has(kind) {
            continue;
        }
        let Ok(ours) = Namespace::current(kind) else {
            continue; // a kind this kernel does not have
        };
        let theirs = match (&opts.target_pidfd, pid) {
            (_, 0) => Err(io::Error::from_raw_os_error(libc::ENOENT)),
            (Some(fd), _) => Namespace::from_pidfd(fd.as_fd(), kind).map_err(|e| os_error(&e)),
            (None, _) => Namespace::open(pid, kind).map_err(|e| os_error(&e)),
        }
        .unwrap_or_else(|e| {
            die(
                1,
                format_args!(
                    "stat of /proc/{pid}/ns/{} failed: {}",
                    kind.proc_name(),
                    strerror(&e)
                ),
            )
        });
        if theirs.id() != ours.id() {
            opts.enable(kind, Source::Target);
        }
    }
}

/// `--user-parent`: the parent of the user namespace named by `-U FILE`, else of the
/// target's, else the owner of another namespace named by a file (as util-linux does).
fn parent_user_namespace(opts: &Options, pidfd: Option<&PidFd>) -> Namespace {
    let failed = |e: &Error| -> ! {
        die(
            1,
            format_args!(
                "failed to open parent namespace: {}",
                strerror(&os_error(e))
            ),
        )
    };
    let named = opts.namespaces.iter().find_map(|(k, s)| match s {
        Source::Opened(ns) if *k == NamespaceKind::User => Some(ns),
        _ => None,
    });
    let of_target;
    let start = match (named, pidfd, opts.target) {
        (Some(ns), _, _) => ns,
        (None, Some(fd), _) => {
            of_target = Namespace::from_pidfd(fd.as_fd(), NamespaceKind::User)
                .unwrap_or_else(|e| failed(&e));
            &of_target
        }
        (None, None, pid) => {
            let other = opts.namespaces.iter().find_map(|(_, s)| match s {
                Source::Opened(ns) => Some(ns),
                Source::Target => None,
            });
            match other {
                Some(ns) => ns,
                None => {
                    let path = target_path(opts, "ns/user");
                    of_target = Namespace::open(pid.unwrap_or(0), NamespaceKind::User)
                        .unwrap_or_else(|e| {
                            die(
                                1,
                                format_args!(
                                    "cannot open {}: {}",
                                    path.display(),
                                    strerror(&os_error(&e))
                                ),
                            )
                        });
                    &of_target
                }
            }
        }
    };
    start.owner().unwrap_or_else(|e| failed(&e))
}

/// `-N FD`: the network namespace of socket `FD` of the target (`pidfd_getfd` + `SIOCGSKNS`).
fn socket_namespace(opts: &Options, pidfd: Option<&PidFd>, fd: i32) -> Namespace {
    let pid = opts.target.unwrap_or(0);
    let opened;
    let pidfd = match pidfd {
        Some(p) => p,
        None => {
            opened = PidFd::open(pid).unwrap_or_else(|e| {
                die(
                    1,
                    format_args!(
                        "failed to pidfd_open() for {pid}: {}",
                        strerror(&process_error(&e))
                    ),
                )
            });
            &opened
        }
    };
    let socket = pidfd.get_fd(fd).unwrap_or_else(|e| {
        die(
            1,
            format_args!(
                "pidfd_getfd({}, {fd}): {}",
                pidfd.as_raw_fd(),
                strerror(&process_error(&e))
            ),
        )
    });
    Namespace::from_socket(socket.as_fd()).unwrap_or_else(|e| {
        let errno = match e {
            // Not a socket: what the ioctl itself answers.
            Error::InvalidInput { .. } => libc::ENOTTY,
            ref other => os_error(other).raw_os_error().unwrap_or(libc::EINVAL),
        };
        die(
            1,
            format_args!(
                "ioctl({}, SIOCGSKNS): {}",
                socket.as_raw_fd(),
                strerror(&io::Error::from_raw_os_error(errno))
            ),
        )
    })
}

/// `-c`: opens `cgroup.procs` of the target's cgroup v2 directory, for writing our pid to
/// once the namespaces are entered.
fn open_cgroup_procs(opts: &Options) -> OwnedFd {
    let Some(mount) = cgroup2_mount() else {
        die(1, "--join-cgroup is only supported in cgroup v2");
    };
    let path = target_path(opts, "cgroup");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        die(
            1,
            format_args!("cannot open {}: {}", path.display(), strerror(&e)),
        )
    });
    let failed = || -> ! { die(1, "failed to get cgroup path") };
    let cgroup = text
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .unwrap_or_else(|| failed());
    let (mount_point, mount_root) = mount;
    // The hierarchy may be mounted from a subdirectory (a cgroup namespace's root).
    let relative = Path::new(cgroup)
        .strip_prefix(&mount_root)
        .unwrap_or_else(|_| failed());
    if relative
        .components()
        .any(|c| c == std::path::Component::ParentDir)
    {
        failed();
    }
    let procs = mount_point.join(relative).join("cgroup.procs");
    rustix::fs::open(
        &procs,
        OFlags::WRONLY | OFlags::APPEND | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .unwrap_or_else(|e| {
        die(
            1,
            format_args!("failed to open cgroup.procs: {}", strerror(&e.into())),
        )
    })
}

/// Where the cgroup v2 hierarchy is mounted (mount point, root within the hierarchy):
/// `/sys/fs/cgroup` when it is cgroup2, else the first cgroup2 mount in our mount table.
fn cgroup2_mount() -> Option<(PathBuf, PathBuf)> {
    const CGROUP2_SUPER_MAGIC: u32 = 0x6367_7270;
    let is_cgroup2 =
        |p: &Path| rustix::fs::statfs(p).is_ok_and(|s| s.f_type as u32 == CGROUP2_SUPER_MAGIC);
    let table = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    // mountinfo: ID PARENT MAJ:MIN ROOT MOUNT_POINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE ...
    let mounts: Vec<(PathBuf, PathBuf)> = table
        .lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            if right.split(' ').next() != Some("cgroup2") {
                return None;
            }
            let mut f = left.split(' ');
            let root = unescape(f.nth(3)?);
            let point = unescape(f.next()?);
            Some((point, root))
        })
        .collect();
    let sys = Path::new("/sys/fs/cgroup");
    if is_cgroup2(sys) {
        let root = mounts
            .iter()
            .rev()
            .find(|(p, _)| p == sys)
            .map(|(_, r)| r.clone())
            .unwrap_or_else(|| PathBuf::from("/"));
        return Some((sys.to_path_buf(), root));
    }
    mounts.into_iter().find(|(p, _)| is_cgroup2(p))
}

/// mountinfo's octal escapes (`\040` for a space).
fn unescape(field: &str) -> PathBuf {
    let b = field.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    PathBuf::from(OsString::from_vec(out))
}

/// `-Z`: run the program in the target's SELinux context (`/proc/PID/attr/current` written
/// to our `attr/exec`), as util-linux with libselinux does.
fn follow_context(opts: &Options) {
    const SELINUX_MAGIC: u32 = 0xf97c_ff8c;
    let enabled =
        rustix::fs::statfs("/sys/fs/selinux").is_ok_and(|s| s.f_type as u32 == SELINUX_MAGIC);
    if !enabled {
        // util-linux built without SELinux rejects -Z as an unknown option (exit 1).
        eprintln!("{PROG}: --follow-context: SELinux is not enabled on this system");
        eprintln!("Try '{PROG} --help' for more information.");
        std::process::exit(1);
    }
    let Some(pid) = opts.target else {
        die(1, "no target PID specified for --follow-context");
    };
    let context = std::fs::read(format!("/proc/{pid}/attr/current"))
        .unwrap_or_else(|_| die(1, format_args!("failed to get {pid} SELinux context")));
    let end = context
        .iter()
        .position(|&b| b == 0 || b == b'\n')
        .unwrap_or(context.len());
    let context = &context[..end];
    if std::fs::write("/proc/thread-self/attr/exec", context).is_err() {
        die(
            1,
            format_args!(
                "failed to set exec context to '{}'",
                String::from_utf8_lossy(context)
            ),
        );
    }
}

/// Enters the namespaces of `opts`: all at once through the pidfd when every one comes from
/// the target, else handle by handle in the order the library chooses.
fn enter(opts: &mut Options, pidfd: Option<&PidFd>) {
    let from_target: NamespaceSet = opts
        .namespaces
        .iter()
        .filter(|(_, s)| matches!(s, Source::Target))
        .map(|(k, _)| *k)
        .collect();
    if let (true, Some(fd)) = (from_target == opts.kinds(), pidfd) {
        if let Err(e) = Namespaces::enter_process(fd.as_fd(), from_target) {
            die(
                1,
                format_args!(
                    "reassociate to namespaces failed: {}",
                    strerror(&os_error(&e))
                ),
            );
        }
        return;
    }
    let mut set = Namespaces::new();
    for (kind, source) in std::mem::take(&mut opts.namespaces) {
        let ns = match source {
            Source::Opened(ns) => ns,
            Source::Target => {
                let pid = opts.target.unwrap_or(0);
                match pidfd {
                    Some(fd) => Namespace::from_pidfd(fd.as_fd(), kind),
                    None => Namespace::open(pid, kind),
                }
                .unwrap_or_else(|e| {
                    die(
                        1,
                        format_args!(
                            "cannot open /proc/{pid}/ns/{}: {}",
                            kind.proc_name(),
                            strerror(&os_error(&e))
                        ),
                    )
                })
            }
        };
        set.insert(ns);
    }
    if let Err(e) = set.enter() {
        let which = match &e {
            Error::Os {
                target: Target::Namespace(id),
                ..
            } => format!(" '{}'", format_args!("ns/{}", id.kind().proc_name())),
            _ => "s".to_string(),
        };
        die(
            1,
            format_args!(
                "reassociate to namespace{which} failed: {}",
                strerror(&os_error(&e))
            ),
        );
    }
}

/// `-r`: makes `root` the root directory (`fchdir`, `chroot(".")`, `chdir("/")`).
fn change_root(root: OwnedFd) {
    rustix::process::fchdir(&root).unwrap_or_else(|e| {
        die(
            1,
            format_args!(
                "change directory by root file descriptor failed: {}",
                strerror(&e.into())
            ),
        )
    });
    rustix::process::chroot(".")
        .unwrap_or_else(|e| die(1, format_args!("chroot failed: {}", strerror(&e.into()))));
    rustix::process::chdir("/").unwrap_or_else(|e| {
        die(
            1,
            format_args!("cannot change directory to /: {}", strerror(&e.into())),
        )
    });
}

/// `-e`: the target's environment (`/proc/PID/environ`), NAME=VALUE entries only; for a
/// name given twice the later value wins.
fn read_environ(mut file: std::fs::File) -> Vec<(OsString, OsString)> {
    let mut raw = Vec::new();
    file.read_to_end(&mut raw).unwrap_or_else(|e| {
        die(
            1,
            format_args!("failed to get environment variables: {}", strerror(&e)),
        )
    });
    let mut vars = BTreeMap::new();
    for entry in raw.split(|&b| b == 0) {
        if let Some(eq) = entry.iter().position(|&b| b == b'=') {
            if eq > 0 {
                vars.insert(
                    OsString::from_vec(entry[..eq].to_vec()),
                    OsString::from_vec(entry[eq + 1..].to_vec()),
                );
            }
        }
    }
    vars.into_iter().collect()
}

/// `--keep-caps`: makes every permitted capability inheritable and every effective one
/// ambient, so the program keeps them across `execve` whatever its uid.
fn permitted_to_ambient() {
    use rustix::thread::{CapabilitySet, capabilities, set_capabilities};
    let mut sets = capabilities(None)
        .unwrap_or_else(|e| die(1, format_args!("capget failed: {}", strerror(&e.into()))));
    sets.inheritable = sets.permitted;
    set_capabilities(None, sets)
        .unwrap_or_else(|e| die(1, format_args!("capset failed: {}", strerror(&e.into()))));
    let last: u32 = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(40);
    for cap in 0..=last.min(63) {
        let one = CapabilitySet::from_bits_retain(1 << cap);
        if sets.effective.contains(one) {
            rustix::thread::configure_capability_in_ambient_set(one, true).unwrap_or_else(|e| {
                die(
                    1,
                    format_args!("prctl(PR_CAP_AMBIENT) failed: {}", strerror(&e.into())),
                )
            });
        }
    }
}

/// Forks; the parent waits for the child and ends the way it ended. Only the child returns.
fn continue_as_child() {
    // SAFETY: resetting SIGCHLD to its default disposition (it may be inherited as ignored,
    // which would make waitpid lose the status).
    unsafe { libc::signal(libc::SIGCHLD, libc::SIG_DFL) };
    // SAFETY: this process is single-threaded (the example starts no threads), so the child
    // may do anything the parent could.
    let child = unsafe { libc::fork() };
    if child < 0 {
        die(
            1,
            format_args!("fork failed: {}", strerror(&io::Error::last_os_error())),
        );
    }
    if child == 0 {
        return;
    }
    let mut status = 0;
    loop {
        // SAFETY: `status` is a live i32 for the kernel to write.
        let r = unsafe { libc::waitpid(child, &mut status, libc::WUNTRACED) };
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            die(1, format_args!("waitpid failed: {}", strerror(&e)));
        }
        if libc::WIFSTOPPED(status) {
            // The child was stopped (^Z): stop with it, and continue it when we are continued.
            // SAFETY: signalling ourselves and our own child.
            unsafe {
                libc::kill(libc::getpid(), libc::SIGSTOP);
                libc::kill(child, libc::SIGCONT);
            }
            continue;
        }
        break;
    }
    if libc::WIFEXITED(status) {
        std::process::exit(libc::WEXITSTATUS(status));
    }
    if libc::WIFSIGNALED(status) {
        let sig = libc::WTERMSIG(status);
        // Die of the same signal, so our parent sees what happened to the program.
        // SAFETY: default disposition, unblocked, then raised: plain libc signal calls on
        // this process.
        unsafe {
            libc::signal(sig, libc::SIG_DFL);
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, sig);
            libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
            libc::kill(libc::getpid(), sig);
        }
        // A signal whose default is not to terminate: report it the way shells do.
        std::process::exit(128 + sig);
    }
    std::process::exit(1);
}

fn check(r: libc::c_int) -> io::Result<()> {
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn set_no_groups() -> io::Result<()> {
    // SAFETY: an empty list; the pointer is not read.
    check(unsafe { libc::setgroups(0, std::ptr::null()) })
}

fn set_gid(gid: u32) -> io::Result<()> {
    // SAFETY: a plain credential call; glibc applies it to every thread (there is one).
    check(unsafe { libc::setgid(gid) })
}

fn set_uid(uid: u32) -> io::Result<()> {
    // SAFETY: as for set_gid.
    check(unsafe { libc::setuid(uid) })
}

/// The shell of the calling user in the user database, if it names one.
fn passwd_shell() -> Option<OsString> {
    // SAFETY: getpwuid in a single-threaded process; the entry is copied out before any
    // other call could overwrite it.
    unsafe {
        let pw = libc::getpwuid(libc::getuid());
        if pw.is_null() || (*pw).pw_shell.is_null() {
            return None;
        }
        let shell = std::ffi::CStr::from_ptr((*pw).pw_shell).to_bytes();
        (!shell.is_empty()).then(|| OsString::from_vec(shell.to_vec()))
    }
}

/// Replaces this process with `command` (searched in `PATH`), or with the shell (`$SHELL`,
/// else the user's shell, else `/bin/sh`) started as a login shell (`argv[0]` is `-sh`) when
/// there is no command. With `env` (from `-e`), the program gets exactly that environment.
fn exec(command: Vec<OsString>, env: Option<Vec<(OsString, OsString)>>) -> ! {
    let lookup = |name: &str| match &env {
        Some(vars) => vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()),
        None => std::env::var_os(name),
    };
    let mut args = command.into_iter();
    let (name, mut cmd) = match args.next() {
        Some(program) => {
            let mut cmd = Command::new(&program);
            cmd.args(args);
            (program, cmd)
        }
        None => {
            let shell = lookup("SHELL")
                .filter(|s| !s.is_empty())
                .or_else(passwd_shell)
                .unwrap_or_else(|| "/bin/sh".into());
            let base = PathBuf::from(&shell)
                .file_name()
                .map(|b| b.to_os_string())
                .unwrap_or_else(|| shell.clone());
            let mut arg0 = OsString::from("-");
            arg0.push(base);
            let mut cmd = Command::new(&shell);
            cmd.arg0(arg0);
            (shell, cmd)
        }
    };
    if let Some(vars) = env {
        cmd.env_clear().envs(vars);
    }
    let err = cmd.exec();
    let code = if err.kind() == io::ErrorKind::NotFound {
        127
    } else {
        126
    };
    die(
        code,
        format_args!(
            "failed to execute {}: {}",
            name.to_string_lossy(),
            strerror(&err)
        ),
    )
}
