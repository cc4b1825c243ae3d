//! One spawn: per-spawn fds (stdio, the error and sync pipes, the cgroup), the clone, the
//! parent's part (id maps), and reading the error pipe.

use std::cell::Cell;
use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{ChildStderr, ChildStdin, ChildStdout};

use super::child::Child;
use super::command::{Spec, Stdio};
use super::in_child::{self, Args};
use super::plan::{Mode, ParentMaps, Prepared};
use super::report::{self, Step, StepKind};
use crate::diagnose::Hint;
use crate::error::{Error, Result};
use crate::kernel::KernelFeature;
use crate::kind::NamespaceKind;
use crate::pidfd::PidFd;
use crate::sys;

fn spawn_error(cmd: &Spec, step: Step, source: io::Error, new_user: bool) -> Error {
    let hint = source
        .raw_os_error()
        .and_then(|e| Hint::for_spawn(&step, e, new_user));
    Error::Spawn {
        program: cmd.program_display(),
        step,
        source,
        hint,
    }
}

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).map_err(io::Error::from)
}

/// Kills and reaps a child on drop unless disarmed: nothing is left behind when the parent's
/// part of the setup fails or panics.
struct ReapGuard {
    /// The child clone3 made.
    first: Option<PidFd>,
    /// The program's process, when the first child forked it into a pid namespace.
    program: Option<PidFd>,
}

impl Drop for ReapGuard {
    fn drop(&mut self) {
        for p in [self.program.take(), self.first.take()]
            .into_iter()
            .flatten()
        {
            let mut p = p;
            let _ = p.kill();
            let _ = p.wait();
        }
    }
}

/// Reads one record from the error pipe; `None` at EOF.
fn read_record(f: &mut File) -> io::Result<Option<report::Record>> {
    let mut rec = [0u8; report::RECORD_LEN];
    let mut got = 0;
    while got < rec.len() {
        match f.read(&mut rec[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "a partial record on the error pipe",
                ));
            }
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(Some(report::Record::decode(&rec)))
}

pub(super) fn launch(cmd: &Spec, prep: &Prepared, stdio: [Option<&Stdio>; 3]) -> Result<Child> {
    let io_err = |step: Step| move |e: io::Error| spawn_error(cmd, step.clone(), e, prep.new_user);

    // Per-spawn fds: stdio, the error pipe, the sync pipe, the cgroup.
    let mut child_ends: Vec<OwnedFd> = Vec::new();
    let mut parent_ends: [Option<OwnedFd>; 3] = [None, None, None];
    let mut moves: Vec<(RawFd, RawFd)> = Vec::new();
    for (n, s) in stdio.iter().enumerate() {
        let src = match s {
            None | Some(Stdio::Inherit) => continue,
            Some(Stdio::Null) => {
                let fd = rustix::fs::open(
                    "/dev/null",
                    rustix::fs::OFlags::RDWR | rustix::fs::OFlags::CLOEXEC,
                    rustix::fs::Mode::empty(),
                )
                .map_err(|e| io_err(Step::path(StepKind::Open, "/dev/null"))(e.into()))?;
                let raw = fd.as_raw_fd();
                child_ends.push(fd);
                raw
            }
            Some(Stdio::Piped) => {
                let (r, w) = pipe().map_err(io_err(Step::new(StepKind::Pipe)))?;
                let (mine, theirs) = if n == 0 { (w, r) } else { (r, w) };
                let raw = theirs.as_raw_fd();
                parent_ends[n] = Some(mine);
                child_ends.push(theirs);
                raw
            }
            Some(Stdio::Fd(fd)) => fd.as_raw_fd(),
        };
        moves.push((src, n as RawFd));
    }
    for (target, fd) in &cmd.fds {
        if *target <= 2 && moves.iter().any(|m| m.1 == *target) {
            return Err(Error::invalid(
                "fd",
                format!("fd {target} is given twice (as stdio and as a passed fd)"),
            ));
        }
        moves.push((fd.as_raw_fd(), *target));
    }
    moves.sort_by_key(|m| m.1);
    // With stdio inherited and no fds passed (the common case) nothing here allocates.
    let keep_moved: Vec<RawFd>;
    let keep: &[RawFd] = if moves.is_empty() {
        &[0, 1, 2]
    } else {
        let mut k: Vec<RawFd> = (0..3).chain(moves.iter().map(|m| m.1)).collect();
        k.sort_unstable();
        k.dedup();
        keep_moved = k;
        &keep_moved
    };
    let scratch: Vec<Cell<i32>> = moves.iter().map(|_| Cell::new(-1)).collect();

    // The error pipe, except for a CLONE_VM|CLONE_VFORK child that is the program's process and
    // has no parent-death check to make (that one reads the pipe's state): it reports a failure
    // in `Args::failure` instead, which spares the pipe and the parent's second wake-up, for
    // the pipe's EOF after the vfork release. Its clone(2) fallback (no clone3) has no shared
    // memory, so it falls back to the pipe too.
    let mut err_pipe = if prep.mode == Mode::Vfork
        && !prep.plan.fork_program
        && prep.plan.pdeathsig == 0
        && crate::kernel::CLONE3.get() != crate::kernel::Probed::Absent
    {
        None
    } else {
        Some(pipe().map_err(io_err(Step::new(StepKind::Pipe)))?)
    };
    let sync = if prep.plan.wait_parent {
        Some(pipe().map_err(io_err(Step::new(StepKind::Pipe)))?)
    } else {
        None
    };
    let mut flags = prep.flags;
    let cgroup_fd = match &cmd.cgroup {
        Some(dir) => Some(open_cgroup(dir).map_err(|e| match e {
            Error::Os { source, .. } => io_err(Step::path(StepKind::Open, dir.clone()))(source),
            other => other,
        })?),
        None => None,
    };

    let stack = match prep.mode {
        Mode::Vfork | Mode::SharedVm => {
            Some(sys::Stack::take().map_err(io_err(Step::new(StepKind::Clone)))?)
        }
        Mode::Fork => None,
    };
    if prep.mode == Mode::Vfork {
        flags |= (libc::CLONE_VM | libc::CLONE_VFORK) as u64;
    } else if prep.mode == Mode::SharedVm {
        flags |= libc::CLONE_VM as u64;
    }

    // Only the parent-death check compares it.
    let parent_pid = if prep.plan.pdeathsig != 0 {
        std::process::id() as i32
    } else {
        0
    };
    // `args` stays where it is until the child is done with it: a CLONE_VM child reads it
    // here, in this frame.
    let mut args = Args {
        plan: &prep.plan,
        err_w: err_pipe.as_ref().map_or(-1, |p| p.1.as_raw_fd()),
        failure: Cell::new(None),
        sync_r: sync.as_ref().map_or(-1, |s| s.0.as_raw_fd()),
        sync_w: sync.as_ref().map_or(-1, |s| s.1.as_raw_fd()),
        moves: &moves,
        keep,
        scratch: &scratch,
        parent_pid,
        handlers_cleared: Cell::new(prep.plan.handlers_cleared),
    };
    let started = loop {
        let started = {
            let _blocked = sys::block_all_signals();
            in_child::start(
                flags,
                cgroup_fd.as_ref().map(AsFd::as_fd),
                stack.as_ref(),
                &args,
            )
        };
        if started.as_ref().err() == Some(&libc::ENOSYS) && err_pipe.is_none() {
            // clone3 is missing and its fallback needs the pipe. No process was made.
            let p = pipe().map_err(io_err(Step::new(StepKind::Pipe)))?;
            args.err_w = p.1.as_raw_fd();
            args.handlers_cleared.set(prep.plan.handlers_cleared);
            err_pipe = Some(p);
            continue;
        }
        break started;
    };
    let (pid, pidfd) = started.map_err(|errno| {
        if errno == libc::ENOSYS {
            return Error::Unsupported {
                feature: KernelFeature::Clone3,
            };
        }
        if errno == libc::EINVAL
            && cgroup_fd.is_some()
            && !KernelFeature::CloneIntoCgroup.in_kernel_version()
        {
            return Error::Unsupported {
                feature: KernelFeature::CloneIntoCgroup,
            };
        }
        let step = match &cmd.cgroup {
            Some(dir) => Step::path(StepKind::Clone, dir.clone()),
            None => Step::new(StepKind::Clone),
        };
        spawn_error(
            cmd,
            step,
            io::Error::from_raw_os_error(errno),
            prep.new_user,
        )
    })?;
    let first = PidFd::from_parts(pidfd, pid as u32);

    // The child has its own copies of these now.
    let err_r = err_pipe.map(|(r, _w)| r);
    drop(child_ends);
    drop(cgroup_fd);

    let mut guard = ReapGuard {
        first: Some(first),
        program: None,
    };
    if let Some((sync_r, sync_w)) = sync {
        drop(sync_r);
        if let Some(maps) = &prep.parent_maps {
            write_parent_maps(guard.first.as_ref().expect("the first child"), maps)
                .map_err(|(step, e)| spawn_error(cmd, step, e, prep.new_user))?;
        }
        rustix::io::write(&sync_w, &[1])
            .map_err(|e| io_err(Step::new(StepKind::WaitParent))(e.into()))?;
    }

    // Records until EOF, which comes when every process holding the pipe has exec'd or
    // exited. EOF alone: the program runs. A failure record: a step failed and its process
    // exits. A program record: the first child forked the program into a pid namespace and
    // ends; the program's process is this process's child (CLONE_PARENT), so its pid cannot
    // be reused before it is reaped, and its pidfd is opened at once.
    // Without a pipe the child has exec'd or exited by now, and `failure` tells which.
    let mut failure = args.failure.get();
    let mut f = err_r.map(File::from);
    while let Some(r) = match f.as_mut() {
        Some(f) => read_record(f).map_err(io_err(Step::new(StepKind::Pipe)))?,
        None => None,
    } {
        if r.code == report::PROGRAM_PID {
            let program = PidFd::open(r.index).map_err(|e| match e {
                Error::Os { source, .. } => io_err(Step::new(StepKind::ForkProgram))(source),
                other => other,
            })?;
            guard.program = Some(program);
        } else {
            failure.get_or_insert(r);
        }
    }
    if let Some(r) = failure {
        // The guard kills and reaps what is left when this returns.
        if let Some(feature) = missing_mount_feature(cmd, prep, &r) {
            return Err(Error::Unsupported { feature });
        }
        return Err(match decode_step(cmd, prep, &r) {
            Some(step) => spawn_error(
                cmd,
                step,
                io::Error::from_raw_os_error(r.errno),
                prep.new_user,
            ),
            None => spawn_error(
                cmd,
                Step::new(StepKind::Pipe),
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("unknown step {} in the child's report", r.code),
                ),
                prep.new_user,
            ),
        });
    }
    let handle = match guard.program.take() {
        Some(program) => {
            // The first child has ended (it held the pipe until then): reap it.
            if let Some(mut first) = guard.first.take() {
                let _ = first.wait();
            }
            program
        }
        None => guard.first.take().expect("the first child"),
    };
    drop(guard);

    // The child has exec'd (or, on the error path above, was reaped by the guard before the
    // stack is dropped): nothing runs on the stack any more.
    if let Some(s) = stack {
        s.release();
    }
    drop(scratch);

    let [stdin, stdout, stderr] = parent_ends;
    Ok(Child {
        handle,
        stdin: stdin.map(ChildStdin::from),
        stdout: stdout.map(ChildStdout::from),
        stderr: stderr.map(ChildStderr::from),
        kill_on_drop: false,
    })
}

fn open_cgroup(dir: &Path) -> Result<OwnedFd> {
    let fd = rustix::fs::open(
        dir,
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .map_err(|e| {
        Error::os(
            crate::Operation::Open,
            crate::Target::Path(dir.into()),
            e.into(),
        )
    })?;
    let fs = rustix::fs::fstatfs(&fd).map_err(|e| {
        Error::os(
            crate::Operation::Stat,
            crate::Target::Path(dir.into()),
            e.into(),
        )
    })?;
    #[allow(clippy::unnecessary_cast)] // f_type and the constant are c_long or c_uint, by target
    let cgroup2 = fs.f_type as i64 == libc::CGROUP2_SUPER_MAGIC as i64;
    if !cgroup2 {
        return Err(Error::invalid(
            "cgroup",
            format!(
                "{} is not a cgroup v2 directory (CLONE_INTO_CGROUP needs the unified hierarchy; this system may mount only cgroup v1 there)",
                dir.display()
            ),
        ));
    }
    Ok(fd)
}

/// Writes the child's `setgroups`, `uid_map` and `gid_map` (or runs `newuidmap` and
/// `newgidmap`). The files are written through a directory fd of `/proc/<pid>` that is known
/// to be the child's: it is opened first, then the pidfd shows the child still alive (and so
/// its pid not reused: it is this process's unreaped child) while the fd exists.
fn write_parent_maps(
    child: &PidFd,
    maps: &ParentMaps,
) -> std::result::Result<(), (Step, io::Error)> {
    let pid = child.pid();
    let dir = rustix::fs::open(
        format!("/proc/{pid}"),
        rustix::fs::OFlags::PATH | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .map_err(|e| (Step::new(StepKind::UidMap), e.into()));
    let alive = sys::pidfd_is_alive(child.as_fd()).unwrap_or(false);
    let dir = match (dir, alive) {
        (Ok(dir), true) => dir,
        (Err(e), _) => return Err(e),
        (Ok(_), false) => {
            return Err((
                Step::new(StepKind::UidMap),
                io::Error::from_raw_os_error(libc::ESRCH),
            ));
        }
    };
    let proc_write =
        |file: &str, text: &[u8], step: Step| -> std::result::Result<(), (Step, io::Error)> {
            let fd = rustix::fs::openat(
                &dir,
                file,
                rustix::fs::OFlags::WRONLY | rustix::fs::OFlags::CLOEXEC,
                rustix::fs::Mode::empty(),
            )
            .map_err(|e| (step.clone(), io::Error::from(e)))?;
            // One write: the kernel parses the whole map at once.
            match rustix::io::write(&fd, text) {
                Ok(n) if n == text.len() => Ok(()),
                Ok(_) => Err((step, io::Error::from_raw_os_error(libc::EIO))),
                Err(e) => Err((step, e.into())),
            }
        };
    if let Some(s) = maps.setgroups {
        proc_write("setgroups", s.to_bytes(), Step::new(StepKind::Setgroups))?;
    }
    for (map, file, helper, step) in [
        (
            &maps.uid_map,
            "uid_map",
            "newuidmap",
            Step::new(StepKind::UidMap),
        ),
        (
            &maps.gid_map,
            "gid_map",
            "newgidmap",
            Step::new(StepKind::GidMap),
        ),
    ] {
        let Some(map) = map else { continue };
        if maps.newidmap {
            let mut c = std::process::Command::new(helper);
            c.arg(pid.to_string());
            for r in map.ranges() {
                c.args([
                    r.inside.to_string(),
                    r.outside.to_string(),
                    r.count.to_string(),
                ]);
            }
            let out = c.stdin(std::process::Stdio::null()).output().map_err(|e| {
                (
                    step.clone(),
                    io::Error::new(e.kind(), format!("running {helper}: {e}")),
                )
            })?;
            if !out.status.success() {
                let msg = String::from_utf8_lossy(&out.stderr).trim().to_string();
                return Err((
                    step,
                    io::Error::new(
                        io::ErrorKind::PermissionDenied,
                        format!("{helper} failed ({}): {msg}", out.status),
                    ),
                ));
            }
        } else {
            proc_write(file, map.to_string().as_bytes(), step)?;
        }
    }
    Ok(())
}

/// The kernel feature a mount step that failed with `ENOSYS` lacked: `mount_setattr` for a
/// recursive flag change, `openat2` if it is gone since the plan was made (a seccomp filter
/// installed in between); `None` for any other failure.
fn missing_mount_feature(cmd: &Spec, prep: &Prepared, r: &report::Record) -> Option<KernelFeature> {
    if StepKind::from_wire(r.code) != Some(StepKind::Mount) || r.errno != libc::ENOSYS {
        return None;
    }
    let m = cmd.mounts.get(r.index as usize)?;
    if m.needs_mount_setattr() {
        Some(KernelFeature::MountSetattr)
    } else if !prep.plan.path_based_mounts && !crate::kernel::openat2_reprobe() {
        Some(KernelFeature::Openat2)
    } else {
        None
    }
}

/// The [`Step`] a record from the child names, with its item looked up in the command
/// (the child sends only numbers). `None` for a record no child of this build writes.
fn decode_step(cmd: &Spec, prep: &Prepared, r: &report::Record) -> Option<Step> {
    let kind = StepKind::from_wire(r.code)?;
    let index = r.index as usize;
    Some(match kind {
        StepKind::Join => Step::join(NamespaceKind::from_clone_flag(r.index)?),
        StepKind::Mount => Step::mount(index, cmd.mounts.get(index)?.to_string()),
        StepKind::Chdir => Step::path(kind, cmd.cwd.clone()?),
        StepKind::Rlimit => Step::rlimit(cmd.rlimits.get(index)?.0),
        StepKind::Fd => Step::fd(r.index as i32),
        StepKind::Uid | StepKind::Gid => Step::id(kind, r.index),
        // A single path names itself; a search over PATH names the program as given.
        StepKind::Exec => Step::path(
            kind,
            match prep.plan.programs.as_slice() {
                [one] => PathBuf::from(OsStr::from_bytes(one.to_bytes())),
                _ => PathBuf::from(&cmd.program),
            },
        ),
        _ => Step::new(kind),
    })
}
