//! Command line: the options of util-linux `nsenter`, parsed as `getopt_long` does, and the
//! files they name (opened while parsing, as util-linux does).

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use linux_namespaces::{Error, Namespace, NamespaceKind, NamespaceSet, PidFd};
use rustix::fs::{Mode, OFlags};

use crate::getopt::{HasArg, Line, Long, Short, program_line};
use crate::{PROG, die, os_error, process_error, strerror};

/// Where a namespace to enter comes from.
#[derive(Debug)]
pub(crate) enum Source {
    /// The namespace of that kind of the `--target` process.
    Target,
    /// Already open: a namespace file (`/proc/PID/ns/KIND`, `/run/netns/NAME`), a socket's
    /// network namespace, the parent of a user namespace.
    Opened(Namespace),
}

/// `-S`/`-G`: which id to switch to.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) enum Id {
    /// Not given (0 when entering a user namespace without `--preserve-credentials`).
    #[default]
    Unset,
    Value(u32),
    /// `follow`: the owner of the target's `/proc/PID` directory.
    Follow,
}

#[derive(Debug, Default)]
pub(crate) struct Options {
    pub(crate) target: Option<u32>,
    /// A pidfd opened while parsing `-t PID:INODE` (checked to be that process).
    pub(crate) target_pidfd: Option<PidFd>,
    /// At most one entry per kind; a later option for a kind replaces an earlier one.
    pub(crate) namespaces: Vec<(NamespaceKind, Source)>,
    pub(crate) all: bool,
    pub(crate) setuid: Id,
    pub(crate) setgid: Id,
    pub(crate) preserve_credentials: bool,
    pub(crate) keep_caps: bool,
    pub(crate) no_fork: bool,
    pub(crate) net_socket: Option<i32>,
    pub(crate) user_parent: bool,
    /// `-r DIR` (opened while parsing) and `-r` (the target's root).
    pub(crate) root: Option<OwnedFd>,
    pub(crate) root_of_target: bool,
    /// `-w DIR` and `-w`.
    pub(crate) wd: Option<OwnedFd>,
    pub(crate) wd_of_target: bool,
    /// `-W DIR`: opened after entering the namespaces and changing the root.
    pub(crate) wdns: Option<PathBuf>,
    /// The first of `-w`/`-W` seen, for the "cannot be combined" check.
    pub(crate) wd_option: Option<&'static str>,
    pub(crate) env: bool,
    pub(crate) join_cgroup: bool,
    pub(crate) follow_context: bool,
    pub(crate) command: Vec<OsString>,
}

impl Options {
    pub(crate) fn enable(&mut self, kind: NamespaceKind, source: Source) {
        self.namespaces.retain(|(k, _)| *k != kind);
        self.namespaces.push((kind, source));
    }

    pub(crate) fn has(&self, kind: NamespaceKind) -> bool {
        self.namespaces.iter().any(|(k, _)| *k == kind)
    }

    pub(crate) fn kinds(&self) -> NamespaceSet {
        self.namespaces.iter().map(|(k, _)| *k).collect()
    }
}

pub(crate) enum Action {
    Help,
    Version,
    Run(Box<Options>),
}

/// A command-line mistake: reported with a pointer to `--help`, exit status 1.
pub(crate) struct Usage(pub(crate) String);

#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Opt {
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

pub(crate) const SHORT: &[Short<Opt>] = &[
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

pub(crate) const LONG: &[Long<Opt>] = &[
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
pub(crate) fn parse(args: Vec<OsString>) -> Result<Action, Usage> {
    let mut opts = Options::default();
    let apply = |opt, value| apply(&mut opts, opt, value);
    match program_line(args, LONG, SHORT, apply, |e| Usage(e.to_string()))? {
        Line::Done(action) => return Ok(action),
        Line::Program(command) => opts.command = command,
    }
    Ok(Action::Run(Box::new(opts)))
}

/// `-n=FILE`, `-w=DIR`: like util-linux, one leading '=' is not part of the name.
pub(crate) fn strip_equals(v: OsString) -> PathBuf {
    let b = v.as_bytes();
    PathBuf::from(OsStr::from_bytes(b.strip_prefix(b"=").unwrap_or(b)))
}

pub(crate) fn apply(
    opts: &mut Options,
    opt: Opt,
    value: Option<OsString>,
) -> Result<Option<Action>, Usage> {
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
pub(crate) fn number(v: &OsStr, max: u64, what: &str) -> u64 {
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
pub(crate) fn parse_target(v: &OsStr) -> (u32, Option<PidFd>) {
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

pub(crate) fn usage() -> String {
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

/// Opens a namespace file named by `-n FILE` and the like. A file that is not a namespace of
/// that kind gets the message util-linux prints when `setns` refuses it.
pub(crate) fn open_namespace_file(kind: NamespaceKind, path: &Path) -> Namespace {
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
pub(crate) fn open_dir(path: &Path) -> OwnedFd {
    rustix::fs::open(path, OFlags::PATH | OFlags::CLOEXEC, Mode::empty()).unwrap_or_else(|e| {
        die(
            1,
            format_args!("cannot open {}: {}", path.display(), strerror(&e.into())),
        )
    })
}
