//! `nsenter`: run a program in the namespaces of another process, like util-linux `nsenter(1)`.
//!
//! ```text
//! nsenter -t PID -n ip addr            # the network namespace of PID
//! nsenter -t PID --all                 # every namespace of PID that differs from ours
//! nsenter --net=/run/netns/blue ip a   # a network namespace persisted by `ip netns add`
//! nsenter -t PID -U -p -m sh           # rootless: user first, then the rest; forks for -p
//! ```
//!
//! The library does the namespace work ([`Namespaces::enter_process`] enters all of a
//! target's namespaces atomically through a pidfd on Linux 5.8+, [`Namespaces::enter`] orders
//! a mixed set of files and target namespaces); this file parses the command line, forks when
//! the pid namespace changes, sets the credentials and executes the program.
//!
//! Behaviour follows util-linux: options stop at the first non-option argument; a namespace
//! option without `=FILE` takes the target's namespace; entering a user namespace switches to
//! uid and gid 0 (or `-S`/`-G`) and drops supplementary groups unless
//! `--preserve-credentials`; with `-p` it forks, waits and exits with the child's status (a
//! child killed by a signal kills this process with the same signal, so a shell reports
//! 128+signal); exec failures exit 127 (not found) or 126. One deliberate difference: `--all`
//! leaves out every namespace the target shares with us, not only the user namespace, so a
//! rootless `--all` does not try to re-enter the host's cgroup namespace.

use std::ffi::OsString;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;

use linux_namespaces::{Namespace, NamespaceKind, NamespaceSet, Namespaces};

const PROG: &str = "nsenter";

/// Where a namespace to enter comes from.
#[derive(Debug, Clone, PartialEq)]
enum Source {
    /// The namespace of that kind of the `--target` process.
    Target,
    /// A namespace file: `/proc/PID/ns/KIND` or a bind mount such as `/run/netns/NAME`.
    File(PathBuf),
}

#[derive(Debug, Default)]
struct Options {
    target: Option<u32>,
    /// At most one entry per kind; a later option for a kind replaces an earlier one.
    namespaces: Vec<(NamespaceKind, Source)>,
    all: bool,
    setuid: Option<u32>,
    setgid: Option<u32>,
    preserve_credentials: bool,
    no_fork: bool,
    command: Vec<OsString>,
}

impl Options {
    fn enable(&mut self, kind: NamespaceKind, source: Source) {
        self.namespaces.retain(|(k, _)| *k != kind);
        self.namespaces.push((kind, source));
    }

    fn kinds(&self) -> NamespaceSet {
        self.namespaces.iter().map(|(k, _)| *k).collect()
    }
}

enum Action {
    Help,
    Version,
    Run(Options),
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
    SetUid,
    SetGid,
    PreserveCredentials,
    NoFork,
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
    (b'p', HasArg::Optional, Opt::Ns(NamespaceKind::Pid)),
    (b'U', HasArg::Optional, Opt::Ns(NamespaceKind::User)),
    (b'C', HasArg::Optional, Opt::Ns(NamespaceKind::Cgroup)),
    (b'T', HasArg::Optional, Opt::Ns(NamespaceKind::Time)),
    (b'S', HasArg::Required, Opt::SetUid),
    (b'G', HasArg::Required, Opt::SetGid),
    (b'F', HasArg::No, Opt::NoFork),
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
    ("pid", HasArg::Optional, Opt::Ns(NamespaceKind::Pid)),
    ("user", HasArg::Optional, Opt::Ns(NamespaceKind::User)),
    ("cgroup", HasArg::Optional, Opt::Ns(NamespaceKind::Cgroup)),
    ("time", HasArg::Optional, Opt::Ns(NamespaceKind::Time)),
    ("setuid", HasArg::Required, Opt::SetUid),
    ("setgid", HasArg::Required, Opt::SetGid),
    ("preserve-credentials", HasArg::No, Opt::PreserveCredentials),
    ("no-fork", HasArg::No, Opt::NoFork),
];

/// Parses the arguments after the program name, the way `getopt_long` does with a leading
/// `+` in its option string: the first non-option argument ends the options.
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
    Ok(Action::Run(opts))
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

fn apply(opts: &mut Options, opt: Opt, value: Option<OsString>) -> Result<Option<Action>, Usage> {
    match opt {
        Opt::All => opts.all = true,
        Opt::Help => return Ok(Some(Action::Help)),
        Opt::Version => return Ok(Some(Action::Version)),
        Opt::Target => {
            if opts.target.is_some() {
                return Err(Usage("option --target may be given only once".into()));
            }
            let v = value.unwrap_or_default();
            let pid = number(&v).filter(|p| (1..=i32::MAX as u32).contains(p));
            opts.target =
                Some(pid.ok_or_else(|| {
                    Usage(format!("failed to parse pid: '{}'", v.to_string_lossy()))
                })?);
        }
        Opt::Ns(kind) => {
            let source = match value {
                None => Source::Target,
                Some(v) => {
                    // "-n=FILE": like util-linux, one leading '=' is not part of the name.
                    let b = v.as_bytes();
                    let b = b.strip_prefix(b"=").unwrap_or(b);
                    Source::File(PathBuf::from(OsString::from_vec(b.to_vec())))
                }
            };
            opts.enable(kind, source);
        }
        Opt::SetUid | Opt::SetGid => {
            let what = if opt == Opt::SetUid { "uid" } else { "gid" };
            let v = value.unwrap_or_default();
            let id = number(&v).ok_or_else(|| {
                Usage(format!("failed to parse {what}: '{}'", v.to_string_lossy()))
            })?;
            if opt == Opt::SetUid {
                opts.setuid = Some(id);
            } else {
                opts.setgid = Some(id);
            }
        }
        Opt::PreserveCredentials => opts.preserve_credentials = true,
        Opt::NoFork => opts.no_fork = true,
    }
    Ok(None)
}

fn number(v: &OsString) -> Option<u32> {
    let s = v.to_str()?;
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn usage() -> String {
    format!(
        "
Usage:
 {PROG} [options] [<program> [<argument>...]]

Run a program with namespaces of other processes.

Options:
 -a, --all                 enter all namespaces of the target that differ from ours
 -t, --target <pid>        target process to get namespaces from
 -m, --mount[=<file>]      enter mount namespace
 -u, --uts[=<file>]        enter UTS namespace (hostname etc)
 -i, --ipc[=<file>]        enter System V IPC namespace
 -n, --net[=<file>]        enter network namespace
 -p, --pid[=<file>]        enter pid namespace
 -C, --cgroup[=<file>]     enter cgroup namespace
 -U, --user[=<file>]       enter user namespace
 -T, --time[=<file>]       enter time namespace
 -S, --setuid <uid>        set uid in entered namespace
 -G, --setgid <gid>        set gid in entered namespace
     --preserve-credentials do not touch uids or gids
 -F, --no-fork             do not fork before exec'ing <program>

 -h, --help                display this help
 -V, --version             display version

Without <program>, runs ${{SHELL}} (default /bin/sh).
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

/// Prints `nsenter: MESSAGE` and exits with `code`.
fn die(code: i32, message: impl std::fmt::Display) -> ! {
    eprintln!("{PROG}: {message}");
    std::process::exit(code);
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
    run(opts)
}

fn run(mut opts: Options) -> ! {
    // A pidfd pins the target: every namespace below comes from this process even if its pid
    // is reused meanwhile. None on kernels without pidfd_open (before 5.3).
    let pidfd = opts.target.and_then(open_pidfd);

    if opts.all {
        let Some(pid) = opts.target else {
            die(1, "no target PID specified for --all");
        };
        for kind in NamespaceKind::ALL {
            if opts.namespaces.iter().any(|(k, _)| *k == kind) {
                continue;
            }
            let Ok(ours) = Namespace::current(kind) else {
                continue; // a kind this kernel does not have
            };
            let theirs = match &pidfd {
                Some(fd) => Namespace::from_pidfd(fd.as_fd(), kind),
                None => Namespace::open(pid, kind),
            }
            .unwrap_or_else(|e| die(1, e));
            if theirs.id() != ours.id() {
                opts.enable(kind, Source::Target);
            }
        }
    }

    let requested = opts.kinds();
    let from_target: NamespaceSet = opts
        .namespaces
        .iter()
        .filter(|(_, s)| *s == Source::Target)
        .map(|(k, _)| *k)
        .collect();
    if !from_target.is_empty() && opts.target.is_none() {
        die(1, "no target PID specified");
    }
    if requested.is_empty() && !opts.all {
        die(1, "no namespace specified");
    }

    // As util-linux does: drop supplementary groups before entering a user namespace (where
    // we may still be privileged) and again after; only both failing is an error.
    let switch_user = requested.has(NamespaceKind::User) && !opts.preserve_credentials;
    let setgroups_failed_before = switch_user && set_no_groups().is_err();

    enter(&opts, pidfd.as_ref(), from_target).unwrap_or_else(|e| die(1, e));
    drop(pidfd);

    // Entering a pid namespace affects only children: fork so the program is in it.
    if requested.has(NamespaceKind::Pid) && !opts.no_fork {
        continue_as_child();
    }

    let (force_uid, force_gid) = (
        switch_user || opts.setuid.is_some(),
        switch_user || opts.setgid.is_some(),
    );
    if force_gid {
        if let Err(e) = set_no_groups() {
            if setgroups_failed_before {
                die(1, format_args!("setgroups failed: {}", strerror(&e)));
            }
        }
        set_gid(opts.setgid.unwrap_or(0))
            .unwrap_or_else(|e| die(1, format_args!("setgid failed: {}", strerror(&e))));
    }
    if force_uid {
        set_uid(opts.setuid.unwrap_or(0))
            .unwrap_or_else(|e| die(1, format_args!("setuid failed: {}", strerror(&e))));
    }

    exec(opts.command)
}

fn open_pidfd(pid: u32) -> Option<OwnedFd> {
    let raw = rustix::process::Pid::from_raw(pid as i32)?;
    match rustix::process::pidfd_open(raw, rustix::process::PidfdFlags::empty()) {
        Ok(fd) => Some(fd),
        Err(rustix::io::Errno::NOSYS) => None,
        Err(rustix::io::Errno::SRCH) => die(1, format_args!("process {pid} does not exist")),
        Err(e) => die(1, format_args!("pidfd_open {pid}: {}", strerror(&e.into()))),
    }
}

/// Enters the namespaces of `opts`: all at once through the pidfd when every one comes from
/// the target, else handle by handle in the order the library chooses.
fn enter(
    opts: &Options,
    pidfd: Option<&OwnedFd>,
    from_target: NamespaceSet,
) -> Result<NamespaceSet, Box<dyn std::error::Error>> {
    let only_target = from_target == opts.kinds();
    if let (true, Some(fd)) = (only_target, pidfd) {
        return Ok(Namespaces::enter_process(fd.as_fd(), from_target)?);
    }
    let mut set = Namespaces::new();
    for (kind, source) in &opts.namespaces {
        let ns = match source {
            Source::File(path) => Namespace::from_path(path)?
                .ensure_kind(*kind)
                .map_err(|e| format!("{}: {e}", path.display()))?,
            Source::Target => match (pidfd, opts.target) {
                (Some(fd), _) => Namespace::from_pidfd(fd.as_fd(), *kind)?,
                (None, Some(pid)) => Namespace::open(pid, *kind)?,
                (None, None) => unreachable!("checked: a target namespace needs --target"),
            },
        };
        set.insert(ns);
    }
    Ok(set.enter()?)
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

/// Replaces this process with `command` (searched in `PATH`), or with `$SHELL` (default
/// `/bin/sh`) started as a login shell (`argv[0]` is `-sh`) when there is no command.
fn exec(command: Vec<OsString>) -> ! {
    let mut args = command.into_iter();
    let (name, err) = match args.next() {
        Some(program) => {
            let err = Command::new(&program).args(args).exec();
            (program, err)
        }
        None => {
            let shell = std::env::var_os("SHELL")
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "/bin/sh".into());
            let base = PathBuf::from(&shell)
                .file_name()
                .map(|b| b.to_os_string())
                .unwrap_or_else(|| shell.clone());
            let mut arg0 = OsString::from("-");
            arg0.push(base);
            let err = Command::new(&shell).arg0(arg0).exec();
            (shell, err)
        }
    };
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
