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

mod child;
mod cli;
#[path = "../common/getopt.rs"]
mod getopt;
mod helper;
mod maps;
#[path = "../common/passwd.rs"]
mod passwd;

use child::*;
use cli::*;
use helper::*;
use maps::*;

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
