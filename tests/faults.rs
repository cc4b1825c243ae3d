//! Faults the kernel or the system can produce, injected with seccomp filters or sysctls in
//! forked test processes: the crate falls back, or returns a typed error that says what to
//! check; it never hangs or leaves a half-spawned child.

mod common;

use std::io::{BufRead, BufReader};
use std::os::fd::{AsFd, AsRawFd};
use std::time::{Duration, Instant};

use common::spawn::*;
use common::*;
use linux_namespaces::{
    Command, Error, Hint, KernelFeature, Namespace, NamespaceKind, NamespaceSet, Namespaces, PidFd,
    StepKind,
};

type R = Result<(), String>;

const LD_W_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
const JEQ_K: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
const RET_K: u16 = (libc::BPF_RET | libc::BPF_K) as u16;

/// What to refuse: a syscall, optionally only when its second argument (low 32 bits) is one
/// of the given values (for ioctl requests).
struct Refuse {
    nr: i64,
    arg1: Vec<u32>,
    errno: i32,
}

fn filter(rules: &[Refuse]) -> Vec<libc::sock_filter> {
    let ins = |code, jt, jf, k| libc::sock_filter { code, jt, jf, k };
    let mut p = Vec::new();
    for r in rules {
        // Reload nr for every rule; skip the rule's block when it does not match.
        let block_len = if r.arg1.is_empty() {
            1
        } else {
            1 + 2 * r.arg1.len() as u8
        };
        p.push(ins(LD_W_ABS, 0, 0, 0));
        p.push(ins(JEQ_K, 0, block_len, r.nr as u32));
        if r.arg1.is_empty() {
            p.push(ins(RET_K, 0, 0, libc::SECCOMP_RET_ERRNO | r.errno as u32));
        } else {
            // seccomp_data.args[1] low word on little-endian: offset 16 + 8.
            p.push(ins(LD_W_ABS, 0, 0, 24));
            for v in &r.arg1 {
                p.push(ins(JEQ_K, 0, 1, *v));
                p.push(ins(RET_K, 0, 0, libc::SECCOMP_RET_ERRNO | r.errno as u32));
            }
        }
    }
    p.push(ins(RET_K, 0, 0, libc::SECCOMP_RET_ALLOW));
    p
}

/// Installs the filter on this (forked, single-threaded) process.
fn refuse(rules: &[Refuse]) -> R {
    install(&filter(rules))
}

/// Installs a seccomp program on this (forked, single-threaded) process.
fn install(prog: &[libc::sock_filter]) -> R {
    let fprog = libc::sock_fprog {
        len: prog.len() as u16,
        filter: prog.as_ptr() as *mut _,
    };
    // SAFETY: prctl and seccomp with a valid, live filter program.
    unsafe {
        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
            return Err(format!("no_new_privs: {}", std::io::Error::last_os_error()));
        }
        if libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            0,
            &fprog as *const libc::sock_fprog,
        ) != 0
        {
            return Err(format!("seccomp: {}", std::io::Error::last_os_error()));
        }
    }
    Ok(())
}

fn out_of(cmd: &mut Command) -> Result<String, String> {
    let o = cmd.output().map_err(|e| format!("spawn: {e}"))?;
    ensure!(
        o.status.success(),
        "{}: {}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    Ok(String::from_utf8_lossy(&o.stdout).into_owned())
}

#[test]
fn without_clone3_spawn_falls_back_to_clone_with_the_same_result() {
    {
        let errno = libc::ENOSYS;
        rootless(|| {
            refuse(&[Refuse {
                nr: libc::SYS_clone3,
                arg1: vec![],
                errno,
            }])?;
            // A spawn error comes back typed through the fallback, and leaves no child.
            let exec_fails = |when: &str| -> Result<(), String> {
                let e = Command::new("/nonexistent").spawn().unwrap_err();
                ensure!(
                    matches!(
                        e,
                        Error::Spawn { ref step, .. } if step.kind() == StepKind::Exec
                    ),
                    "{when}: {e}"
                );
                ensure!(no_children(), "{when}: child left behind");
                Ok(())
            };
            // The first spawn finds clone3 missing (a vfork child that would report in shared
            // memory reports over a pipe instead); the later ones know it.
            exec_fails("first spawn")?;
            let out = out_of(
                Command::new("/bin/sh")
                    .args(["-c", "echo $$; id -u; readlink /proc/self/ns/pid"])
                    .unshare(NamespaceSet::PID | NamespaceSet::UTS)
                    .map_root()
                    .hostname("fallback"),
            )?;
            let l: Vec<&str> = out.lines().collect();
            ensure!(l[0] == "1" && l[1] == "0", "{out}");
            ensure!(l[2] != ns_link(NamespaceKind::Pid), "same pid namespace");
            exec_fails("a later spawn")
        })
        .unwrap();
    }
}

#[test]
fn clone3_refused_with_eperm_is_a_typed_spawn_error() {
    rootless(|| {
        refuse(&[Refuse { nr: libc::SYS_clone3, arg1: vec![], errno: libc::EPERM }])?;
        let t = Instant::now();
        let e = Command::new("/bin/true").map_root().spawn().unwrap_err();
        ensure!(matches!(&e, Error::Spawn { step, source, .. } if step.kind() == StepKind::Clone && source.raw_os_error() == Some(libc::EPERM)), "{e}");
        ensure!(t.elapsed() < Duration::from_secs(1), "slow");
        ensure!(no_children(), "child left behind");
        Ok(())
    })
    .unwrap();
}

#[test]
fn cgroup_placement_without_clone3_is_unsupported_not_a_silent_drop() {
    rootless(|| {
        refuse(&[Refuse {
            nr: libc::SYS_clone3,
            arg1: vec![],
            errno: libc::ENOSYS,
        }])?;
        // Any cgroup2 directory will do to get past validation: mount one only if we can; as
        // rootless we use a user+mount namespace of our own.
        // SAFETY: unshare in the single-threaded forked child.
        if unsafe { libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNS | libc::CLONE_NEWCGROUP) }
            != 0
        {
            return Err(format!("unshare: {}", std::io::Error::last_os_error()));
        }
        let (uid, gid) = (
            rustix::process::getuid().as_raw(),
            rustix::process::getgid().as_raw(),
        );
        map_self_to_root(uid, gid)?;
        let dir = std::env::temp_dir().join(format!("lns-faults-cg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let mounted = rustix::mount::mount(
            "none",
            &dir,
            "cgroup2",
            rustix::mount::MountFlags::empty(),
            None,
        );
        let r = match mounted {
            Ok(()) => {
                let e = Command::new("/bin/true").cgroup(&dir).spawn().unwrap_err();
                let _ = rustix::mount::unmount(&dir, rustix::mount::UnmountFlags::DETACH);
                if matches!(
                    e,
                    Error::Unsupported {
                        feature: KernelFeature::Clone3
                    }
                ) {
                    Ok(())
                } else {
                    Err(format!("{e}"))
                }
            }
            // Mounting cgroup2 in a user namespace needs a cgroup namespace too on some kernels.
            Err(e) => Err(format!("cannot mount cgroup2 here: {e}")),
        };
        let _ = std::fs::remove_dir(&dir);
        r
    })
    .unwrap();
}

#[test]
fn without_close_range_inherited_fds_are_still_closed() {
    rootless(|| {
        refuse(&[Refuse {
            nr: libc::SYS_close_range,
            arg1: vec![],
            errno: libc::ENOSYS,
        }])?;
        let file = std::fs::File::open("/etc/hostname").map_err(|e| e.to_string())?;
        let mut leaked = Vec::new();
        for _ in 0..300 {
            // SAFETY: dup of an open fd, closed below.
            leaked.push(unsafe { libc::dup(file.as_raw_fd()) });
        }
        let mut child = Command::new("cat")
            .stdin(linux_namespaces::Stdio::Piped)
            .stdout(linux_namespaces::Stdio::Piped)
            .spawn()
            .map_err(|e| e.to_string())?;
        let fds = fds_of_ready_cat(&mut child)?;
        drop(child.stdin.take());
        child.wait().map_err(|e| e.to_string())?;
        for fd in leaked {
            // SAFETY: closing the fds dup'ed above.
            unsafe { libc::close(fd) };
        }
        ensure!(fds == [0, 1, 2], "child fds: {fds:?}");
        Ok(())
    })
    .unwrap();
}

#[test]
fn without_pidfd_open_pidfd_handles_are_unsupported() {
    rootless(|| {
        refuse(&[Refuse {
            nr: libc::SYS_pidfd_open,
            arg1: vec![],
            errno: libc::ENOSYS,
        }])?;
        let e = PidFd::open(std::process::id()).unwrap_err();
        ensure!(
            matches!(
                e,
                Error::Unsupported {
                    feature: KernelFeature::PidfdOpen
                }
            ),
            "{e}"
        );
        Ok(())
    })
    .unwrap();
}

#[test]
fn without_pidfd_namespace_ioctls_from_pidfd_falls_back_to_proc() {
    for errno in [libc::ENOSYS, libc::ENOTTY, libc::EPERM] {
        rootless(|| {
            let h = Holder::new(NamespaceSet::USER | NamespaceSet::NET | NamespaceSet::UTS);
            let want: Vec<_> = [
                NamespaceKind::Network,
                NamespaceKind::Uts,
                NamespaceKind::User,
            ]
            .iter()
            .map(|k| Namespace::open(h.pid, *k).unwrap().id())
            .collect();
            // PIDFD_GET_*_NAMESPACE are _IO(0xFF, 1..=10).
            let reqs: Vec<u32> = (1..=10).map(|n| 0xFF00 | n).collect();
            refuse(&[Refuse {
                nr: libc::SYS_ioctl,
                arg1: reqs,
                errno,
            }])?;
            let got: Vec<_> = [
                NamespaceKind::Network,
                NamespaceKind::Uts,
                NamespaceKind::User,
            ]
            .iter()
            .map(|k| Namespace::from_pidfd(h.pidfd.as_fd(), *k).map(|n| n.id()))
            .collect::<Result<_, _>>()
            .map_err(|e| format!("errno {errno}: {e}"))?;
            ensure!(got == want, "errno {errno}: {got:?} vs {want:?}");
            Ok(())
        })
        .unwrap();
    }
}

#[test]
fn user_namespace_limit_gives_an_error_that_says_what_to_check() {
    rootless(|| {
        // A user namespace of our own whose user.max_user_namespaces we may lower.
        let (uid, gid) = (
            rustix::process::getuid().as_raw(),
            rustix::process::getgid().as_raw(),
        );
        // SAFETY: unshare in the single-threaded forked child.
        if unsafe { libc::unshare(libc::CLONE_NEWUSER) } != 0 {
            return Err(format!("unshare: {}", std::io::Error::last_os_error()));
        }
        map_self_to_root(uid, gid)?;
        std::fs::write("/proc/sys/user/max_user_namespaces", "0")
            .map_err(|e| format!("lower the limit: {e}"))?;
        let e = Command::new("/bin/true").map_root().spawn().unwrap_err();
        ensure!(
            matches!(
                &e,
                Error::Spawn { step, .. } if step.kind() == StepKind::Clone
            ),
            "{e}"
        );
        ensure_eq!(e.hint(), Some(&Hint::UserNamespacesDisabled));
        ensure!(e.to_string().contains("user.max_user_namespaces"), "{e}");
        ensure!(no_children(), "child left behind");
        // The same through Namespace::unshare.
        let e = Namespaces::unshare_calling_thread(NamespaceSet::USER).unwrap_err();
        ensure!(e.to_string().contains("user.max_user_namespaces"), "{e}");
        Ok(())
    })
    .unwrap();
}

#[test]
fn entering_an_exited_process_is_esrch_and_changes_nothing() {
    rootless(|| {
        let h = Holder::new(NamespaceSet::USER | NamespaceSet::NET | NamespaceSet::UTS);
        let pidfd = h.pidfd.try_clone().map_err(|e| e.to_string())?;
        drop(h);
        let before: Vec<String> = NamespaceKind::ALL.iter().map(|k| ns_link(*k)).collect();
        let e = Namespaces::enter_process(
            pidfd.as_fd(),
            NamespaceSet::NET | NamespaceSet::UTS | NamespaceSet::USER,
        )
        .unwrap_err();
        ensure_eq!(e.raw_os_error(), Some(libc::ESRCH));
        ensure!(matches!(e, Error::NoSuchProcess { .. }), "{e}");
        let after: Vec<String> = NamespaceKind::ALL.iter().map(|k| ns_link(*k)).collect();
        ensure!(before == after, "namespaces changed");
        Ok(())
    })
    .unwrap();
}

#[test]
fn a_parent_that_dies_during_setup_leaves_no_running_child() {
    rootless(|| {
        // A fake newuidmap, run by the parent between clone and the child going on, reports the
        // child's pid and kills the parent. The child, waiting for the parent, must not run on:
        // the sync pipe's EOF alone stops it (no parent-death signal is asked for, which would
        // stop it too).
        let dir = std::env::temp_dir().join(format!("lns-faults-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let report = dir.join("pid");
        let fake = dir.join("newuidmap");
        std::fs::write(
            &fake,
            format!(
                "#!/bin/sh\necho $1 > {}\nkill -9 $PPID\nexit 1\n",
                report.display()
            ),
        )
        .map_err(|e| e.to_string())?;
        std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .map_err(|e| e.to_string())?;
        let (r, w) = rustix::pipe::pipe().map_err(|e| e.to_string())?;
        // SAFETY: fork in the single-threaded test child; the intermediate only spawns.
        let mid = unsafe { libc::fork() };
        if mid == 0 {
            drop(r);
            // SAFETY: setenv in the single-threaded intermediate before anything reads it.
            unsafe { std::env::set_var("PATH", &dir) };
            let uid = rustix::process::getuid().as_raw();
            // A long-running program: if the child ran on, it would still be running when
            // looked at below (with /bin/true the check would pass either way).
            let r = Command::new("/bin/sleep")
                .arg("1000")
                .unshare(NamespaceSet::USER)
                .uid_map(linux_namespaces::IdMap::single(0, uid).unwrap())
                .use_newidmap(true)
                .spawn();
            // Only reached if the fake did not kill us.
            let _ = rustix::io::write(&w, format!("survived {r:?}\n").as_bytes());
            // SAFETY: end the intermediate.
            unsafe { libc::_exit(3) };
        }
        drop(w);
        let status = wait(mid);
        let mut line = String::new();
        let _ = BufReader::new(std::fs::File::from(r)).read_line(&mut line);
        ensure!(
            libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGKILL,
            "intermediate: {status:#x} {line}"
        );
        let pid: u32 = std::fs::read_to_string(&report)
            .map_err(|e| e.to_string())?
            .trim()
            .parse()
            .map_err(|e| format!("{e}"))?;
        let _ = std::fs::remove_dir_all(&dir);
        if let Ok(p) = PidFd::open(pid) {
            let mut fds = [rustix::event::PollFd::new(&p, rustix::event::PollFlags::IN)];
            let ts = rustix::time::Timespec {
                tv_sec: 10,
                tv_nsec: 0,
            };
            let n = rustix::event::poll(&mut fds, Some(&ts)).map_err(|e| e.to_string())?;
            if n != 1 {
                let _ = p.kill();
            }
            ensure!(
                n == 1,
                "child {pid} still running after its parent died during setup"
            );
        }
        Ok(())
    })
    .unwrap();
}

#[test]
fn time_offsets_after_a_process_entered_are_a_typed_error() {
    rootless(|| {
        use linux_namespaces::{TimeClock, set_time_offsets};
        let (uid, gid) = (
            rustix::process::getuid().as_raw(),
            rustix::process::getgid().as_raw(),
        );
        Namespaces::unshare_calling_thread(NamespaceSet::USER).map_err(|e| e.to_string())?;
        map_self_to_root(uid, gid)?;
        let me = std::process::id();
        // No new time namespace yet: ours is the initial one, whose offsets are fixed.
        ensure!(
            set_time_offsets(me, &[(TimeClock::Boottime, 1, 0)]).is_err(),
            "initial time namespace accepted offsets"
        );
        Namespaces::unshare_calling_thread(NamespaceSet::TIME).map_err(|e| e.to_string())?;
        set_time_offsets(
            me,
            &[
                (TimeClock::Boottime, 500_000, 0),
                (TimeClock::Monotonic, 7, 5),
            ],
        )
        .map_err(|e| format!("first write: {e}"))?;
        // A child enters the namespace; it sees the offset.
        let o = Command::new("cat")
            .arg("/proc/uptime")
            .output()
            .map_err(|e| e.to_string())?;
        let up: f64 = String::from_utf8_lossy(&o.stdout)
            .split(' ')
            .next()
            .unwrap_or("0")
            .parse()
            .unwrap_or(0.0);
        ensure!(up.total_cmp(&500_000.0).is_ge(), "uptime {up}");
        // Now the offsets are frozen: a typed error that says why.
        let e = set_time_offsets(me, &[(TimeClock::Boottime, 1, 0)]).unwrap_err();
        ensure_eq!(e.raw_os_error(), Some(libc::EACCES));
        ensure_eq!(e.hint(), Some(&Hint::TimeNamespaceEntered));
        ensure!(
            set_time_offsets(me, &[(TimeClock::Boottime, 1, 1_000_000_000)]).is_err(),
            "nanos accepted"
        );
        Ok(())
    })
    .unwrap();
}

/// The mount steps of `without_openat2_...`: a tmpfs, a read-only bind of /usr into it, a proc.
fn path_based_steps(cmd: &mut Command, d: &str) {
    use linux_namespaces::{Mount, Propagation};
    cmd.mount(Mount::propagation("/", Propagation::Private).recursive())
        .mount(Mount::tmpfs(d).size(1 << 20))
        .mount(Mount::mkdir(format!("{d}/usr"), 0o755))
        .mount(
            Mount::bind("/usr", format!("{d}/usr"))
                .recursive()
                .read_only(),
        )
        .mount(Mount::mkdir(format!("{d}/proc"), 0o555))
        .mount(Mount::proc(format!("{d}/proc")));
}

fn t_without_openat2_mount_steps_are_unsupported_unless_allowed(root: bool) -> R {
    refuse(&[Refuse {
        nr: libc::SYS_openat2,
        arg1: vec![],
        errno: libc::ENOSYS,
    }])?;
    let dir = tempdir()?;
    let d = dir.path().to_str().unwrap().to_string();
    let script =
        format!("grep ' {d} ' /proc/self/mountinfo; touch {d}/usr/x 2>&1; cat {d}/proc/1/comm");
    // Without the opt-in: refused before any process exists, nothing silently path-based.
    let mut c = sh(root, &script, NamespaceSet::MOUNT | NamespaceSet::PID);
    path_based_steps(&mut c, &d);
    let e = failed(c.output(), "mount steps without openat2")?;
    ensure!(
        matches!(
            e,
            Error::Unsupported {
                feature: KernelFeature::Openat2
            }
        ),
        "{e}"
    );
    ensure!(no_children(), "a process was created");
    // Even a step that needs no mount namespace.
    let e = failed(
        Command::new("/bin/true")
            .mount(linux_namespaces::Mount::mkdir(format!("{d}/m"), 0o755))
            .status(),
        "mkdir without openat2",
    )?;
    ensure!(
        matches!(
            e,
            Error::Unsupported {
                feature: KernelFeature::Openat2
            }
        ),
        "{e}"
    );
    ensure!(!dir.path().join("m").exists(), "mkdir ran");
    // With it: the path-based calls do the same steps.
    let mut c = sh(root, &script, NamespaceSet::MOUNT | NamespaceSet::PID);
    path_based_steps(&mut c, &d);
    let text = stdout_of(c.allow_path_based_mounts(true))?;
    ensure!(
        text.contains("tmpfs") && text.contains("size=1024k"),
        "{text}"
    );
    ensure!(text.contains("Read-only file system"), "{text}");
    ensure!(text.trim_end().ends_with("sh"), "{text}");
    Ok(())
}
root_and_rootless!(
    without_openat2_mount_steps_are_unsupported_unless_allowed,
    t_without_openat2_mount_steps_are_unsupported_unless_allowed
);

fn t_without_mount_setattr_binds_stay_read_only_and_symlinks_stay_refused(root: bool) -> R {
    use linux_namespaces::{Hint, Mount, Propagation};
    refuse(&[Refuse {
        nr: libc::SYS_mount_setattr,
        arg1: vec![],
        errno: libc::ENOSYS,
    }])?;
    let (src, dst, rootfs, host) = (tempdir()?, tempdir()?, tempdir()?, tempdir()?);
    std::fs::write(src.path().join("f"), "hi").ctx("write f")?;
    let (s, d, r, h) = (
        src.path().to_str().unwrap(),
        dst.path().to_str().unwrap(),
        rootfs.path().to_str().unwrap(),
        host.path().to_str().unwrap(),
    );
    std::os::unix::fs::symlink(h, format!("{r}/evil")).ctx("symlink")?;
    let private = || Mount::propagation("/", Propagation::Private).recursive();

    // Propagation and a read-only bind go through mount(2) on the O_PATH fds...
    let script = format!(
        "cat {d}/f; echo; touch {d}/x 2>&1; grep ' {d} ' /proc/self/mountinfo; grep -c shared: /proc/self/mountinfo; true"
    );
    let out = stdout_of(
        sh(root, &script, NamespaceSet::MOUNT)
            .mount(private())
            .mount(Mount::bind(s, d).read_only().nosuid()),
    )?;
    let l = lines(&out);
    ensure!(l.first() == Some(&"hi"), "{out}");
    ensure!(
        l.get(1)
            .is_some_and(|l| l.contains("Read-only file system")),
        "{out}"
    );
    let opts = l.get(2).and_then(|l| l.split(' ').nth(5)).unwrap_or("");
    ensure!(
        opts.split(',').any(|o| o == "ro") && opts.split(',').any(|o| o == "nosuid"),
        "{out}"
    );
    ensure!(l.last() == Some(&"0"), "still shared: {out}");
    ensure!(!src.path().join("x").exists(), "write went through");

    // ... and a remount too.
    let out = stdout_of(
        sh(
            root,
            &format!("touch {d}/x 2>&1; true"),
            NamespaceSet::MOUNT,
        )
        .mount(private())
        .mount(Mount::bind(s, d))
        .mount(Mount::remount(d).read_only()),
    )?;
    ensure!(out.contains("Read-only file system"), "{out}");

    // In a new root without /proc: the remount goes through fchdir to the fd (the working
    // directory, /, is another mount).
    let nr = tempdir()?;
    let n = nr.path().to_str().unwrap();
    let out = stdout_of(
        sh(
            root,
            "touch /t/x 2>&1; touch /y && echo root writable; ls /proc 2>&1; true",
            NamespaceSet::MOUNT,
        )
        .mount(private())
        .mount(Mount::tmpfs(n))
        .mount(Mount::mkdir(format!("{n}/usr"), 0o755))
        .mount(Mount::bind("/usr", format!("{n}/usr")).read_only())
        .mount(Mount::symlink("usr/bin", format!("{n}/bin")))
        .mount(Mount::symlink("usr/lib", format!("{n}/lib")))
        .mount(Mount::symlink("usr/lib64", format!("{n}/lib64")))
        .mount(Mount::mkdir(format!("{n}/t"), 0o755))
        .mount(Mount::tmpfs(format!("{n}/t")))
        .mount(Mount::pivot_root(n))
        .mount(Mount::remount("/t").read_only()),
    )?;
    let l = lines(&out);
    ensure!(
        l.first()
            .is_some_and(|l| l.contains("'/t/x': Read-only file system")),
        "{out}"
    );
    ensure!(l.get(1) == Some(&"root writable"), "{out}");
    ensure!(
        l.get(2).is_some_and(|l| l.contains("No such file")),
        "{out}"
    );

    // Symlink protection stays on for the steps after them.
    let e = failed(
        sh(root, "true", NamespaceSet::MOUNT)
            .mount(private())
            .mount(Mount::bind(s, d).read_only())
            .mount(Mount::tmpfs(format!("{r}/evil")))
            .output(),
        "tmpfs on a symlink after a read-only bind",
    )?;
    match &e {
        Error::Spawn {
            step, source, hint, ..
        } if step.mount_index() == Some(2) => {
            ensure_eq!(source.raw_os_error(), Some(libc::ELOOP));
            ensure_eq!(hint, &Some(Hint::SymlinkInMountPath));
        }
        other => return Err(format!("not refused: {other}")),
    }
    ensure!(
        std::fs::read_dir(h).ctx("read host dir")?.next().is_none(),
        "wrote into the host dir"
    );

    // A recursive read-only bind cannot be made without mount_setattr: Unsupported.
    let e = failed(
        sh(root, "true", NamespaceSet::MOUNT)
            .mount(private())
            .mount(Mount::bind(s, d).recursive().read_only())
            .output(),
        "recursive read-only bind",
    )?;
    ensure!(
        matches!(
            e,
            Error::Unsupported {
                feature: KernelFeature::MountSetattr
            }
        ),
        "{e}"
    );
    ensure!(no_children(), "child left behind");
    Ok(())
}
root_and_rootless!(
    without_mount_setattr_binds_stay_read_only_and_symlinks_stay_refused,
    t_without_mount_setattr_binds_stay_read_only_and_symlinks_stay_refused
);

/// `refuse`, plus: `openat` with `O_PATH` in its flags fails with `ENOENT`. The file step's
/// probe then misses what is there, and its create call meets it.
fn refuse_and_blind_o_path_probes(rules: &[Refuse]) -> R {
    let ins = |code, jt, jf, k| libc::sock_filter { code, jt, jf, k };
    const JSET_K: u16 = (libc::BPF_JMP | libc::BPF_JSET | libc::BPF_K) as u16;
    let mut prog = vec![
        ins(LD_W_ABS, 0, 0, 0),
        ins(JEQ_K, 0, 3, libc::SYS_openat as u32),
        // seccomp_data.args[2] low word on little-endian: offset 16 + 2 * 8.
        ins(LD_W_ABS, 0, 0, 32),
        ins(JSET_K, 0, 1, libc::O_PATH as u32),
        ins(RET_K, 0, 0, libc::SECCOMP_RET_ERRNO | libc::ENOENT as u32),
    ];
    prog.extend(filter(rules));
    install(&prog)
}

fn t_a_fifo_at_a_file_step_never_blocks_the_spawn(root: bool) -> R {
    use linux_namespaces::Mount;
    let d = tempdir()?;
    rustix::fs::mknodat(
        rustix::fs::CWD,
        d.path().join("fifo"),
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o666),
        0,
    )
    .ctx("mkfifo")?;
    std::fs::create_dir(d.path().join("dir")).ctx("mkdir")?;
    let no_openat2 = || Refuse {
        nr: libc::SYS_openat2,
        arg1: vec![],
        errno: libc::ENOSYS,
    };
    type Setup = fn(&dyn Fn() -> Refuse) -> R;
    // (what, seccomp setup, path-based, errno for a directory: EISDIR from the probe, EEXIST
    // from the create call when the probe is blinded)
    let cases: [(&str, Setup, bool, i32); 3] = [
        // The path-based fallback probes as the fd-based steps do.
        ("path-based", |r| refuse(&[r()]), true, libc::EISDIR),
        // The probe misses the FIFO: the create call meets it and must not block (O_EXCL
        // refuses it; O_NONBLOCK would not wait for a reader either).
        (
            "fd-based, probe blinded",
            |_| refuse_and_blind_o_path_probes(&[]),
            false,
            libc::EEXIST,
        ),
        (
            "path-based, probe blinded",
            |r| refuse_and_blind_o_path_probes(&[r()]),
            true,
            libc::EEXIST,
        ),
    ];
    for (what, setup, path_based, dir_errno) in cases {
        in_child_within(Duration::from_secs(20), || {
            setup(&no_openat2)?;
            for (name, errno) in [("fifo", libc::EEXIST), ("dir", dir_errno)] {
                let e = failed(
                    isolated(root, "/bin/true", NamespaceSet::empty())
                        .mount(Mount::file(d.path().join(name), 0o644))
                        .allow_path_based_mounts(path_based)
                        .status(),
                    name,
                )?;
                match e {
                    Error::Spawn { step, source, .. } if step.mount_index() == Some(0) => {
                        ensure_eq!(source.raw_os_error(), Some(errno), "{name}")
                    }
                    other => return Err(format!("{name}: {other}")),
                }
            }
            ensure!(no_children(), "child left behind");
            Ok(())
        })
        .map_err(|e| format!("{what}: {e}"))?;
    }
    Ok(())
}
root_and_rootless!(
    a_fifo_at_a_file_step_never_blocks_the_spawn,
    t_a_fifo_at_a_file_step_never_blocks_the_spawn
);

/// Without `open_tree(2)`/`move_mount(2)` (before Linux 5.2, or filtered) `persist` falls back
/// to `mount(2)` of `/proc/thread-self/fd/N` onto the created file's fd: the namespace is
/// mounted at the path, listed and removable as with the new API, and a path that exists is
/// still refused with nothing mounted. In a mount namespace of its own (rootless, with a user
/// namespace), made private, so nothing reaches the host's.
fn t_persist_without_the_new_mount_api_falls_back_to_mount(root: bool) -> R {
    unshare_here(if root {
        NamespaceSet::MOUNT
    } else {
        NamespaceSet::USER | NamespaceSet::MOUNT
    })?;
    use rustix::mount::{MountPropagationFlags, mount_change};
    mount_change(
        "/",
        MountPropagationFlags::PRIVATE | MountPropagationFlags::REC,
    )
    .map_err(|e| format!("make / private: {e}"))?;
    refuse(&[
        Refuse {
            nr: libc::SYS_open_tree,
            arg1: vec![],
            errno: libc::ENOSYS,
        },
        Refuse {
            nr: libc::SYS_move_mount,
            arg1: vec![],
            errno: libc::ENOSYS,
        },
    ])?;
    let dir = tempdir()?;
    let at = dir.path().join("uts");
    let ns = Namespace::current(NamespaceKind::Uts).map_err(|e| e.to_string())?;
    let persisted = ns.persist(&at).map_err(|e| format!("persist: {e}"))?;
    let st = std::fs::metadata(&at).map_err(|e| format!("stat: {e}"))?;
    use std::os::unix::fs::MetadataExt;
    ensure_eq!((st.dev(), st.ino()), (ns.id().dev(), ns.id().ino()));
    ensure_eq!(persisted.id, ns.id());
    let listed = linux_namespaces::persist::list(linux_namespaces::persist::MountTable::Caller)
        .map_err(|e| e.to_string())?;
    ensure!(
        listed.iter().any(|p| p.path == at && p.id == ns.id()),
        "not listed: {listed:?}"
    );
    // An existing path: refused, nothing mounted over it.
    let taken = dir.path().join("taken");
    std::fs::write(&taken, b"x").map_err(|e| e.to_string())?;
    let e = failed(ns.persist(&taken), "persist onto an existing file")?;
    ensure_eq!(e.raw_os_error(), Some(libc::EEXIST), "{e}");
    ensure_eq!(std::fs::read(&taken).map_err(|e| e.to_string())?, b"x");
    // Force: our own processes are in it.
    persisted.remove(true).map_err(|e| format!("remove: {e}"))?;
    ensure!(!at.exists(), "the mount point is left");
    Ok(())
}
root_and_rootless!(
    persist_without_the_new_mount_api_falls_back_to_mount,
    t_persist_without_the_new_mount_api_falls_back_to_mount
);
