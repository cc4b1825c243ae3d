//! The new namespaces' setup: persisting them, and what the process that executes the
//! program does before it does (mounts, root, credentials, capabilities, exec).

use super::*;

/// Persists the new namespaces: through the helper that stayed outside, or (for neither a
/// mount nor a user namespace) right here.
pub(crate) fn persist_namespaces(
    opts: &Options,
    helper: Option<Helper>,
    me: u32,
) -> Result<(), Fatal> {
    match helper {
        Some(h) => h.release_and_wait(),
        None if !opts.persist.is_empty() => bind_ns_files(me, &opts.persist),
        None => Ok(()),
    }
}

/// Bind-mounts `/proc/<pid>/ns/<name>` of each persisted namespace on its file: over an
/// existing file as util-linux does, else onto a new file ([`Namespace::persist`]).
pub(crate) fn bind_ns_files(pid: u32, persist: &[(&'static str, PathBuf)]) -> Result<(), Fatal> {
    for (name, target) in persist {
        let src = format!("/proc/{pid}/ns/{name}");
        let failed =
            |e: String| Fatal::new(format!("mount {src} on {} failed: {e}", target.display()));
        if target.symlink_metadata().is_ok() {
            rustix::mount::mount_bind(src.as_str(), target.as_path())
                .map_err(|e| failed(strerror(&e.into())))?;
        } else {
            let ns = Namespace::from_path(&src).map_err(|e| failed(e.to_string()))?;
            let target = std::path::absolute(target).map_err(|e| failed(strerror(&e)))?;
            ns.persist(&target).map_err(|e| failed(e.to_string()))?;
        }
    }
    Ok(())
}
/// The setup util-linux does in the process that executes the program (the forked child with
/// `-f`): parent-death signal, single-id maps, setgroups, mounts, root and directory,
/// credentials, capabilities.
pub(crate) fn child_setup(
    opts: &Options,
    euid: u32,
    egid: u32,
    parent: Option<&PidFd>,
) -> Result<(), Fatal> {
    if let Some(sig) = opts.kill_child {
        set_parent_death_signal(Some(sig)).map_err(|e| lib_fatal("prctl failed", e))?;
        // The parent may have died before the prctl: then nobody would send the signal.
        // Polled, not signalled: from a new pid namespace the parent is out of reach of
        // pidfd_send_signal(2), but its pidfd still becomes readable when it exits.
        if let Some(p) = parent {
            use rustix::event::{PollFd, PollFlags, Timespec, poll};
            let mut fds = [PollFd::new(p, PollFlags::IN)];
            let now = Timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            if poll(&mut fds, Some(&now)).map_err(|e| os_fatal("poll parent pidfd failed", e))? > 0
            {
                return Err(Fatal::new(""));
            }
        }
    }
    if opts.user_ranges.is_empty() && opts.owner.is_none() {
        if let Some(uid) = opts.map_user {
            IdMap::single(uid, euid)
                .and_then(|m| m.write_uid_map(None))
                .map_err(|e| Fatal::new(e.to_string()))?;
        }
    }
    if opts.group_ranges.is_empty() && opts.owner.is_none() {
        if let Some(gid) = opts.map_group {
            SetGroups::Deny
                .write(None)
                .and_then(|()| IdMap::single(gid, egid)?.write_gid_map(None))
                .map_err(|e| Fatal::new(e.to_string()))?;
        }
    }
    if let Some(s) = opts.setgroups {
        s.write(None).map_err(|e| Fatal::new(e.to_string()))?;
    }

    use rustix::mount::{MountFlags, MountPropagationFlags as P, mount, mount_change};
    if opts.namespaces.contains(NamespaceSet::MOUNT) {
        let flags = match opts.propagation {
            PropagationChoice::Private => Some(P::PRIVATE),
            PropagationChoice::Shared => Some(P::SHARED),
            PropagationChoice::Slave => Some(P::DOWNSTREAM),
            PropagationChoice::Unchanged => None,
        };
        if let Some(f) = flags {
            mount_change("/", f | P::REC)
                .map_err(|e| os_fatal("cannot change root filesystem propagation", e))?;
        }
    }
    let special = MountFlags::NOSUID | MountFlags::NOEXEC | MountFlags::NODEV;
    const BINFMT: &str = "/proc/sys/fs/binfmt_misc";
    let fixed = opts
        .load_interp
        .as_deref()
        .is_some_and(|i| i.rsplit(':').next().is_some_and(|f| f.contains('F')));
    if let (Some(interp), true, Some(_)) = (&opts.load_interp, fixed, &opts.root) {
        // A fixed interpreter is opened now, outside the new root.
        mount("binfmt_misc", BINFMT, "binfmt_misc", special, None)
            .map_err(|e| os_fatal(format!("mount {BINFMT} failed"), e))?;
        load_interp(Path::new(BINFMT), interp)?;
    }
    let mut wd = opts.wd.clone();
    if let Some(root) = &opts.root {
        rustix::process::chroot(root.as_path()).map_err(|e| {
            os_fatal(
                format!("cannot change root directory to '{}'", root.display()),
                e,
            )
        })?;
        wd.get_or_insert_with(|| PathBuf::from("/"));
    }
    if let Some(dir) = &wd {
        std::env::set_current_dir(dir)
            .map_err(|e| os_fatal(format!("cannot change directory to {}", dir.display()), e))?;
    }
    if let Some(dir) = &opts.mount_proc {
        // The recursive private change of `/` already covered an existing proc mount.
        if opts.root.is_none() && opts.propagation != PropagationChoice::Private {
            match mount_change(dir.as_path(), P::PRIVATE | P::REC) {
                // Not a mount point: nothing to change.
                Ok(()) | Err(rustix::io::Errno::INVAL) => {}
                Err(e) => {
                    return Err(os_fatal(
                        format!("cannot change {} filesystem propagation", dir.display()),
                        e,
                    ));
                }
            }
        }
        mount("proc", dir.as_path(), "proc", special, None)
            .map_err(|e| os_fatal(format!("mount {} failed", dir.display()), e))?;
    }
    if let Some(dir) = &opts.mount_binfmt {
        mount("binfmt_misc", dir.as_path(), "binfmt_misc", special, None)
            .map_err(|e| os_fatal(format!("mount {} failed", dir.display()), e))?;
    }
    if let (Some(interp), Some(dir)) = (&opts.load_interp, &opts.mount_binfmt) {
        if !(fixed && opts.root.is_some()) {
            load_interp(dir, interp)?;
        }
    }

    if let Some(gid) = opts.setgid {
        rustix::thread::set_thread_groups(&[]).map_err(|e| os_fatal("setgroups failed", e))?;
        rustix::thread::set_thread_gid(rustix::process::Gid::from_raw(gid))
            .map_err(|e| os_fatal("setgid() failed", e))?;
    }
    if let Some(uid) = opts.setuid {
        rustix::thread::set_thread_uid(rustix::process::Uid::from_raw(uid))
            .map_err(|e| os_fatal("setuid() failed", e))?;
    }
    if opts.keep_caps && opts.namespaces.contains(NamespaceSet::USER) {
        permitted_to_ambient()?;
    }
    Ok(())
}

/// Writes a binfmt_misc rule to `<dir>/register`.
pub(crate) fn load_interp(dir: &Path, interp: &str) -> Result<(), Fatal> {
    let reg = dir.join("register");
    std::fs::OpenOptions::new()
        .write(true)
        .open(&reg)
        .map_err(|e| os_fatal(format!("cannot open {}", reg.display()), e))
        .and_then(|mut f| {
            use std::io::Write;
            f.write_all(interp.as_bytes())
                .map_err(|e| os_fatal(format!("write failed {}", reg.display()), e))
        })
}

/// `--keep-caps`: every permitted capability becomes inheritable and ambient, so that it
/// survives the `execve(2)` of a program run by a non-root uid.
pub(crate) fn permitted_to_ambient() -> Result<(), Fatal> {
    let mut sets = rustix::thread::capabilities(None).map_err(|e| os_fatal("capget failed", e))?;
    sets.inheritable = sets.permitted;
    rustix::thread::set_capabilities(None, sets).map_err(|e| os_fatal("capset failed", e))?;
    for cap in 0..64u32 {
        if sets.permitted.bits() & (1u64 << cap) == 0 {
            continue;
        }
        rustix::thread::configure_capability_in_ambient_set(
            rustix::thread::CapabilitySet::from_bits_retain(1u64 << cap),
            true,
        )
        .map_err(|e| os_fatal("prctl(PR_CAP_AMBIENT) failed", e))?;
    }
    Ok(())
}

/// Replaces this process with the program; returns only on failure, with util-linux's
/// status: 127 for a program that does not exist, 126 for one that cannot be executed.
pub(crate) fn exec(opts: &Options) -> Fatal {
    let mut cmd = match opts.command.split_first() {
        Some((program, args)) => {
            let mut c = std::process::Command::new(program);
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
            let mut c = std::process::Command::new(&shell);
            c.arg0(arg0);
            c
        }
    };
    if opts.clear_env || opts.whitelist_env.is_some() {
        cmd.env_clear();
    }
    for (k, v) in opts.whitelist_env.iter().flatten() {
        cmd.env(k, v);
    }
    let program = cmd.get_program().to_string_lossy().into_owned();
    let e = cmd.exec();
    Fatal {
        message: format!("failed to execute {program}: {}", strerror(&e)),
        status: if e.raw_os_error() == Some(libc::ENOENT) {
            127
        } else {
            126
        },
    }
}
