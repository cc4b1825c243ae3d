//! The child's steps in order, from the entry point to `execve`.
#![allow(unsafe_code)]

use core::ffi::CStr;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use super::super::report::{PROGRAM_PID, Record, StepKind};
use super::{Args, Fail, Fd, Join, OrFail, Plan, Step};
use super::{creds, fds, init, mounts, signals};
use crate::sys::clone::{self, CLONE_INTO_CGROUP, CloneArgs, Stack};
use crate::sys::raw::{self, Prctl};

/// Creates the child and, in it, runs [`entry`]: on `stack`, sharing the parent's memory
/// (with `CLONE_VFORK` if `flags` has it), or fork-like without a stack. Falls back to a
/// fork-like `clone(2)` where `clone3` is missing. Returns the child's pid and its pidfd.
pub(crate) fn start(
    flags: u64,
    cgroup: Option<BorrowedFd<'_>>,
    stack: Option<&Stack>,
    args: &Args<'_>,
) -> Result<(i32, OwnedFd), raw::Errno> {
    let arg = args as *const Args<'_> as usize;
    let mut pidfd: i32 = -1;
    let mut clone_args = CloneArgs {
        flags: flags | libc::CLONE_PIDFD as u64,
        pidfd: &mut pidfd as *mut i32 as u64,
        exit_signal: libc::SIGCHLD as u64,
        ..Default::default()
    };
    if let Some(fd) = cgroup {
        clone_args.flags |= CLONE_INTO_CGROUP;
        clone_args.cgroup = fd.as_raw_fd() as u64;
    }
    let r = match stack {
        Some(stack) => {
            (clone_args.stack, clone_args.stack_size) = stack.region();
            // SAFETY: the stack is this thread's, used by nothing else; the caller keeps it,
            // `args` and everything `args` borrows alive and unmodified until the child has
            // exec'd or exited (it reads the error pipe to EOF or reaps the child first).
            // `entry` never returns and writes only its own stack and `args.scratch`.
            unsafe { clone::clone3_vm(&mut clone_args, entry, arg) }
        }
        // SAFETY: fork-like clone3 returns twice; the child branch below runs `entry`, which
        // never returns, on its own copy of the address space. clone_args.pidfd is `pidfd`.
        None => unsafe { clone::clone3_fork(&mut clone_args) },
    };
    let r = match r {
        Err(libc::ENOSYS) => {
            crate::kernel::CLONE3.set(crate::kernel::Probed::Absent);
            // CLONE_INTO_CGROUP has no clone(2) form; and the fallback is fork-like, so a
            // child without an error pipe would report to its own copy of `args` (the caller
            // retries with a pipe).
            if cgroup.is_some() || args.err_w < 0 {
                return Err(libc::ENOSYS);
            }
            args.handlers_cleared.set(false);
            let legacy =
                (clone_args.flags & 0xffff_ffff & !((libc::CLONE_VM | libc::CLONE_VFORK) as u64))
                    | libc::SIGCHLD as u64;
            // SAFETY: as for the fork-like clone3 above; the kernel stores the pidfd in `pidfd`.
            unsafe { clone::clone_fork(legacy, &mut pidfd) }
        }
        r => r,
    };
    match r? {
        0 => entry(arg),
        pid => {
            // SAFETY: the clone succeeded with CLONE_PIDFD, so the kernel stored a new pidfd
            // in `pidfd` for this process, and nothing else owns it.
            let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd) };
            Ok((pid as i32, pidfd))
        }
    }
}

/// The child's entry point, for both the `CLONE_VM` trampoline and the fork-like path.
///
/// # Safety
/// `arg` is the address of an [`Args`] that stays valid until the child execs or exits.
pub(crate) extern "C" fn entry(arg: usize) -> ! {
    // SAFETY: the parent passes the address of a live `Args` and keeps it (and what it points
    // to) alive and unmodified until this child has exec'd or exited.
    let args = unsafe { &*(arg as *const Args<'_>) };
    let mut err_w = args.err_w;
    let Err(fail) = run(args, &mut err_w);
    let rec = Record {
        code: fail.code as u32,
        index: fail.index,
        errno: fail.errno,
    };
    if err_w < 0 {
        args.failure.set(Some(rec));
    } else {
        let _ = raw::write(err_w, &rec.encode());
    }
    raw::exit(127)
}

fn write_file(path: &CStr, text: &[u8], code: StepKind) -> Step<()> {
    let fd = raw::open(path, libc::O_WRONLY, 0).at(code, 0)? as i32;
    let r = raw::write(fd, text);
    let _ = raw::close(fd);
    match r {
        Ok(n) if n == text.len() => Ok(()),
        Ok(_) => Err(Fail {
            code,
            index: 0,
            errno: libc::EIO,
        }),
        Err(errno) => Err(Fail {
            code,
            index: 0,
            errno,
        }),
    }
}

fn run(a: &Args<'_>, err_w: &mut i32) -> Result<core::convert::Infallible, Fail> {
    let plan = a.plan;

    if plan.wait_parent {
        let _ = raw::close(a.sync_w);
        let mut b = [0u8; 1];
        let n = loop {
            match raw::read(a.sync_r, &mut b) {
                Err(libc::EINTR) => continue,
                r => break r.at(StepKind::WaitParent, 0)?,
            }
        };
        if n != 1 {
            // The parent closed the pipe without its byte: its part failed, it reports that.
            raw::exit(127);
        }
        let _ = raw::close(a.sync_r);
    }

    if let Some(text) = plan.setgroups {
        write_file(
            c"/proc/self/setgroups",
            text.to_bytes(),
            StepKind::Setgroups,
        )?;
    }
    if let Some(map) = &plan.uid_map {
        write_file(c"/proc/self/uid_map", map.to_bytes(), StepKind::UidMap)?;
    }
    if let Some(map) = &plan.gid_map {
        write_file(c"/proc/self/gid_map", map.to_bytes(), StepKind::GidMap)?;
    }

    join_namespaces(&plan.joins)?;
    if plan.unshare_after_join != 0 {
        raw::unshare(plan.unshare_after_join).at(StepKind::Unshare, plan.unshare_after_join)?;
    }
    if plan.fork_program {
        fork_program(*err_w)?;
    }

    if plan.unshare_time {
        raw::unshare(libc::CLONE_NEWTIME as u32).at(StepKind::TimeNamespace, 0)?;
    }
    if let Some(text) = &plan.time_offsets {
        write_file(
            c"/proc/self/timens_offsets",
            text.to_bytes(),
            StepKind::TimeOffsets,
        )?;
    }
    if plan.loopback_up {
        loopback_up().at(StepKind::Loopback, 0)?;
    }
    if let Some(name) = &plan.hostname {
        raw::sethostname(name).at(StepKind::Hostname, 0)?;
    }
    if let Some(name) = &plan.domainname {
        raw::setdomainname(name).at(StepKind::Domainname, 0)?;
    }
    for (i, m) in plan.mounts.iter().enumerate() {
        // Path-based only where the parent found no openat2 and the caller allowed it; an
        // ENOSYS on the fd-based path fails the step (never a silent switch to paths).
        let r = if plan.path_based_mounts {
            mounts::mount_step(m)
        } else {
            mounts::mount_step_fd(m)
        };
        r.at(StepKind::Mount, i as u32)?;
    }
    if let Some(cwd) = &plan.cwd {
        raw::chdir(cwd).at(StepKind::Chdir, 0)?;
    }
    if plan.setsid {
        raw::setsid().at(StepKind::Setsid, 0)?;
    }
    if let Some(mask) = plan.umask {
        let _ = raw::umask(mask);
    }
    for (i, (res, lim)) in plan.rlimits.iter().enumerate() {
        raw::prlimit(*res, lim).at(StepKind::Rlimit, i as u32)?;
    }
    if plan.no_new_privs {
        raw::prctl(Prctl::SetNoNewPrivs, 0).at(StepKind::NoNewPrivs, 0)?;
    }

    fds::place_fds(a, err_w)?;

    // The bounding set is shrunk while the child may still have CAP_SETPCAP (before the uid
    // switch).
    creds::drop_bounding(plan)?;
    if plan.keep_caps_for_ambient {
        raw::prctl(Prctl::SetKeepCaps, 0).at(StepKind::Capabilities, 0)?;
    }
    match &plan.groups {
        Some(groups) => {
            raw::setgroups(groups).at(StepKind::Groups, 0)?;
        }
        // Dropping to another uid or gid drops the parent's supplementary groups too, as
        // std::process does. EPERM: no CAP_SETGID, or a user namespace whose setgroups is
        // "deny"; the groups then stay the parent's (documented on Command::uid).
        None if plan.uid.is_some() || plan.gid.is_some() => match raw::setgroups(&[]) {
            Ok(_) | Err(libc::EPERM) => {}
            Err(errno) => {
                return Err(Fail {
                    code: StepKind::Groups,
                    index: 0,
                    errno,
                });
            }
        },
        None => {}
    }
    if let Some(gid) = plan.gid {
        raw::setresgid(gid, gid, gid).at(StepKind::Gid, gid)?;
    }
    if let Some(uid) = plan.uid {
        raw::setresuid(uid, uid, uid).at(StepKind::Uid, uid)?;
    }
    creds::set_capabilities(plan)?;

    // After the credential changes: the kernel clears the parent-death signal on those.
    if plan.pdeathsig != 0 {
        raw::prctl(Prctl::SetPdeathsig, plan.pdeathsig as usize)
            .at(StepKind::ParentDeathSignal, 0)?;
        // The parent may have died before the prctl: then nobody will send the signal.
        // getppid() is 0 in a new pid namespace; the error pipe's read end, which only the
        // parent holds, tells in every case (POLLERR once it is closed).
        let ppid = raw::getppid().unwrap_or(0) as i32;
        let orphaned = ppid != 0 && ppid != a.parent_pid;
        let reader_gone =
            raw::poll_one(*err_w, libc::POLLOUT).is_ok_and(|ev| ev & libc::POLLERR != 0);
        if orphaned || reader_gone {
            return Err(Fail {
                code: StepKind::ParentExited,
                index: 0,
                errno: libc::ESRCH,
            });
        }
    }

    if plan.init {
        init::init()?;
    }

    signals::reset_signals(plan, a.handlers_cleared.get())?;

    if let Some(prog) = &plan.seccomp {
        raw::seccomp_filter(prog).at(StepKind::Seccomp, 0)?;
    }

    exec(plan)
}

fn exec(plan: &Plan) -> Result<core::convert::Infallible, Fail> {
    // Like execvp over the candidates: go on past ENOENT/ENOTDIR/EACCES, report EACCES if any
    // candidate gave it, else the last error; any other error ends the search.
    let mut errno = libc::ENOENT;
    let mut denied = false;
    for prog in &plan.programs {
        match raw::execve(prog, &plan.argv, &plan.envp) {
            e @ (libc::ENOENT | libc::ENOTDIR) if !denied => errno = e,
            libc::ENOENT | libc::ENOTDIR => {}
            libc::EACCES => {
                denied = true;
                errno = libc::EACCES;
            }
            e => {
                return Err(Fail {
                    code: StepKind::Exec,
                    index: 0,
                    errno: e,
                });
            }
        }
    }
    Err(Fail {
        code: StepKind::Exec,
        index: 0,
        errno,
    })
}

/// Forks the program's process into the pid namespace the child's children will be in, with
/// `CLONE_PARENT` so that it is the spawner's child (which waits for it and holds its pidfd),
/// not this one's. This process tells the spawner the program's pid and ends; the program's
/// process returns and carries on with the setup.
fn fork_program(err_w: i32) -> Step<()> {
    // With CLONE_PARENT the kernel takes the exit signal from this process (clone3 requires
    // 0 here).
    let mut args = CloneArgs {
        flags: libc::CLONE_PARENT as u64,
        ..Default::default()
    };
    // SAFETY: fork-like clones return twice; both branches are handled right below. Without
    // CLONE_VM the new process has a copy of this one's memory and runs on it alone.
    let pid = unsafe {
        clone::clone3_fork(&mut args).or_else(|e| match e {
            libc::ENOSYS => {
                let mut unused = 0;
                clone::clone_fork(libc::CLONE_PARENT as u64, &mut unused)
            }
            e => Err(e),
        })
    }
    .at(StepKind::ForkProgram, 0)?;
    if pid == 0 {
        return Ok(());
    }
    let rec = Record {
        code: PROGRAM_PID,
        index: pid as u32,
        errno: 0,
    }
    .encode();
    let _ = raw::write(err_w, &rec);
    raw::exit(0)
}

/// Enters the joined namespaces: the others first while the child still has its privileges,
/// then the user namespace, then whatever needed the user namespace's privileges.
fn join_namespaces(joins: &[Join]) -> Step<()> {
    let user = joins
        .iter()
        .find(|j| j.nstype == libc::CLONE_NEWUSER as u32);
    let mut deferred: u32 = 0;
    for (i, j) in joins.iter().enumerate() {
        if j.nstype == libc::CLONE_NEWUSER as u32 {
            continue;
        }
        match raw::setns(j.fd, j.nstype) {
            Ok(_) => {}
            Err(libc::EPERM) if user.is_some() => deferred |= 1 << i,
            Err(errno) => {
                return Err(Fail {
                    code: StepKind::Join,
                    index: j.nstype,
                    errno,
                });
            }
        }
    }
    if let Some(u) = user {
        raw::setns(u.fd, u.nstype).at(StepKind::Join, u.nstype)?;
    }
    for (i, j) in joins.iter().enumerate() {
        if deferred & (1 << i) != 0 {
            raw::setns(j.fd, j.nstype).at(StepKind::Join, j.nstype)?;
        }
    }
    Ok(())
}

/// `ifconfig lo up`: read the flags of `lo` and set `IFF_UP`, over an `AF_INET` socket.
fn loopback_up() -> raw::R {
    let sock = Fd(raw::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0)? as i32);
    let mut ifr = raw::IfreqFlags::new(b"lo");
    raw::ioctl_ifflags(sock.0, libc::SIOCGIFFLAGS, &mut ifr)?;
    ifr.flags |= libc::IFF_UP as i16;
    raw::ioctl_ifflags(sock.0, libc::SIOCSIFFLAGS, &mut ifr)
}
