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
//! changes ([`Namespaces::fork`], then [`PidFd::wait_stopped_or_exited`] and
//! [`Signal::raise_default`] to stop and end the way the program does), sets the root,
//! working directory, environment, cgroup and credentials and executes the program.
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
//!   enabled it fails as util-linux built without SELinux does (exit 1), saying why;
//! - `--keep-caps` applies whenever a user namespace is entered (util-linux skips it when
//!   `-U` is the only namespace, having entered it in its first pass);
//! - `=:nsid` (a namespace by id) is not supported: the text is taken as a file name.

use std::ffi::OsString;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::Command;

use linux_namespaces::{
    Error, Namespace, NamespaceKind, NamespaceSet, Namespaces, PidFd, Signal, Target, WaitEvent,
};
use rustix::fs::{Mode, OFlags};

mod cli;
#[path = "../common/getopt.rs"]
mod getopt;
#[path = "../common/passwd.rs"]
mod passwd;
mod target;

use cli::{Action, Id, Options, Source, Usage, open_dir, parse, usage};
use target::*;

const PROG: &str = "nsenter";

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

    let switch = Switch {
        uid,
        gid,
        switch_user,
        setgroups_failed_before,
        keep_caps: opts.keep_caps && requested.has(NamespaceKind::User),
    };
    let command = std::mem::take(&mut opts.command);

    // Entering a pid namespace affects only children: fork so the program is in it.
    if requested.has(NamespaceKind::Pid) && !opts.no_fork {
        fork_and_wait(|| become_program(&switch, command, env));
    }
    become_program(&switch, command, env)
}

/// The credentials and capabilities the program gets.
struct Switch {
    uid: Id,
    gid: Id,
    /// A user namespace was entered without `--preserve-credentials`.
    switch_user: bool,
    setgroups_failed_before: bool,
    /// `--keep-caps` with a user namespace.
    keep_caps: bool,
}

/// Sets the groups, gid and uid (and `--keep-caps`), then executes the program.
fn become_program(
    switch: &Switch,
    command: Vec<OsString>,
    env: Option<Vec<(OsString, OsString)>>,
) -> ! {
    let (uid, gid) = (switch.uid, switch.gid);
    let (force_uid, force_gid) = (
        switch.switch_user || uid != Id::Unset,
        switch.switch_user || gid != Id::Unset,
    );
    let value = |id| if let Id::Value(v) = id { v } else { 0 };
    if force_gid {
        if let Err(e) = set_no_groups() {
            if switch.setgroups_failed_before {
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

    if switch.keep_caps {
        permitted_to_ambient();
    }

    exec(command, env)
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

/// Forks a child that runs `program` (which sets up and executes the program, never
/// returning: its `i32` is `!`); this process
/// waits for it, stops when it stops (continuing it when continued itself), and ends the way
/// it ended: its exit status, or death by the same signal.
fn fork_and_wait(program: impl FnOnce() -> i32) -> ! {
    // Clear an inherited SIG_IGN: the kernel would reap the child itself and the wait lose
    // its status; the program inherits the default too.
    let _ = Signal::CHLD.set_default_action();
    let mut child = Namespaces::new()
        .fork(program)
        .unwrap_or_else(|e| die(1, format_args!("fork failed: {}", strerror(&os_error(&e)))));
    let status = loop {
        match child.wait_stopped_or_exited() {
            Ok(WaitEvent::Stopped(_)) => {
                // The child was stopped (^Z): stop with it, and continue it when we are
                // continued.
                let _ = rustix::process::kill_process(
                    rustix::process::getpid(),
                    rustix::process::Signal::STOP,
                );
                let _ = child.signal(Signal::CONT);
            }
            Ok(WaitEvent::Exited(status)) => break status,
            Err(e) => die(
                1,
                format_args!("waitpid failed: {}", strerror(&os_error(&e))),
            ),
        }
    };
    if let Some(code) = status.code() {
        std::process::exit(code);
    }
    if let Some(sig) = status.signal() {
        // Die of the same signal (default disposition, unblocked, raised), so our parent sees
        // what happened to the program.
        if let Some(signal) = Signal::from_raw(sig) {
            let _ = signal.raise_default();
        }
        // A signal whose default is not to terminate: report it the way shells do.
        std::process::exit(128 + sig);
    }
    std::process::exit(1);
}

// The credential calls below are the raw system calls, which act on the calling thread only
// (glibc's setgroups/setgid/setuid apply them to every thread). This process is
// single-threaded (the example starts no threads), so for it they are the same.

/// `setgroups(0, NULL)`: no supplementary groups.
fn set_no_groups() -> io::Result<()> {
    rustix::thread::set_thread_groups(&[]).map_err(io::Error::from)
}

/// `setgid(gid)`.
fn set_gid(gid: u32) -> io::Result<()> {
    rustix::thread::set_thread_gid(rustix::process::Gid::from_raw(gid)).map_err(io::Error::from)
}

/// `setuid(uid)`.
fn set_uid(uid: u32) -> io::Result<()> {
    rustix::thread::set_thread_uid(rustix::process::Uid::from_raw(uid)).map_err(io::Error::from)
}

/// The shell of the calling user (real uid) in `/etc/passwd`, if it names one. Only the file
/// is read: users known only through other NSS sources (LDAP, systemd-userdb, ...), which
/// `getpwuid(3)` would also ask, fall back to `/bin/sh`.
fn passwd_shell() -> Option<OsString> {
    shell_of(
        &passwd::read("/etc/passwd"),
        rustix::process::getuid().as_raw(),
    )
}

/// The shell field of the first passwd(5) entry for `uid` in `text` (the first entry wins,
/// as `getpwuid(3)` has it), if not empty.
fn shell_of(text: &[u8], uid: u32) -> Option<OsString> {
    let entry = passwd::entries(text).find(|e| e.fields.len() == 7 && e.id == uid)?;
    let shell = entry.fields[6];
    (!shell.is_empty()).then(|| OsString::from_vec(shell.to_vec()))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shell_is_that_of_the_first_entry_for_the_uid() {
        let text = b"alice:x:1000:1000:Alice:/home/alice:/usr/bin/zsh\n\
            alias:x:1000:1000::/home/alias:/bin/dash\n\
            short:x:1001:1001\n\
            full:x:1001:1001::/:/bin/sh\n\
            nologin:x:1002:1002::/:\n";
        assert_eq!(shell_of(text, 1000), Some("/usr/bin/zsh".into()));
        // An entry without a shell field is passed over.
        assert_eq!(shell_of(text, 1001), Some("/bin/sh".into()));
        assert_eq!(shell_of(text, 1002), None, "an empty shell");
        assert_eq!(shell_of(text, 1003), None);
    }
}
