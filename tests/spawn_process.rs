//! The spawner's process settings, privileged and rootless: time namespaces and cgroups, fds
//! and stdio, process knobs, and the `Child` handle (waiting and signalling).

mod common;

use std::io::{BufRead, BufReader, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use common::spawn::*;
use common::*;
use linux_namespaces::{
    Command, Error, IdMap, Namespace, NamespaceKind, NamespaceSet, Resource, SetGroups, Stdio,
    TimeClock,
};

type R = Result<(), String>;

// ---------------------------------------------------------------------------------------------
// Time, cgroup

fn t_time_offsets(root: bool) -> R {
    let host_uptime: f64 = std::fs::read_to_string("/proc/uptime")
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let out = stdout_of(
        sh(
            root,
            "cat /proc/uptime; cat /proc/self/timens_offsets",
            NamespaceSet::TIME,
        )
        .time_offset(TimeClock::Boottime, 864_000, 0)
        .time_offset(TimeClock::Monotonic, 3600, 500),
    )?;
    let up: f64 = out
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .map_err(|_| out.clone())?;
    ensure!(
        up >= host_uptime + 864_000.0 && up < host_uptime + 864_000.0 + 60.0,
        "uptime {up} vs host {host_uptime}"
    );
    ensure!(
        out.contains("monotonic") && out.contains("3600") && out.contains("500"),
        "{out}"
    );
    ensure!(
        out.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["boottime", "864000", "0"]),
        "{out}"
    );
    Ok(())
}
root_and_rootless!(time_offsets, t_time_offsets);

/// A cgroup v2 hierarchy mounted in this (forked) process's own mount namespace.
fn private_cgroup2() -> Result<std::path::PathBuf, String> {
    // SAFETY: unshare of a mount namespace in the single-threaded forked child.
    if unsafe { libc::unshare(libc::CLONE_NEWNS) } != 0 {
        return Err(format!("unshare: {}", std::io::Error::last_os_error()));
    }
    rustix::mount::mount_change(
        "/",
        rustix::mount::MountPropagationFlags::PRIVATE | rustix::mount::MountPropagationFlags::REC,
    )
    .map_err(|e| format!("make / private: {e}"))?;
    let dir = std::env::temp_dir().join(format!("lns-cg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    rustix::mount::mount(
        "none",
        &dir,
        "cgroup2",
        rustix::mount::MountFlags::empty(),
        None,
    )
    .map_err(|e| format!("mount cgroup2: {e}"))?;
    Ok(dir)
}

#[test]
#[ignore = "needs root"]
fn a_cgroup_the_caller_may_not_move_into_names_the_delegation_rule() {
    assert_root("a_cgroup_the_caller_may_not_move_into_names_the_delegation_rule");
    as_root(|| {
        let cg = private_cgroup2()?;
        let sub = cg.join("lns-not-delegated");
        std::fs::create_dir(&sub).map_err(|e| e.to_string())?;
        let r = in_child(|| {
            drop_privileges()?;
            let e = failed(
                Command::new("/bin/true").cgroup(&sub).status(),
                "spawn into a root-owned cgroup",
            )?;
            match &e {
                Error::Spawn {
                    step, source, hint, ..
                } => {
                    ensure_eq!(step.kind(), linux_namespaces::StepKind::Clone);
                    ensure_eq!(step.file(), Some(sub.as_path()));
                    ensure_eq!(source.raw_os_error(), Some(libc::EACCES));
                    ensure_eq!(hint, &Some(linux_namespaces::Hint::CgroupProcsAccess));
                }
                other => return Err(format!("{other}")),
            }
            ensure!(e.to_string().contains("common ancestor"), "{e}");
            Ok(())
        });
        let _ = std::fs::remove_dir(&sub);
        let _ = rustix::mount::unmount(&cg, rustix::mount::UnmountFlags::DETACH);
        let _ = std::fs::remove_dir(&cg);
        r
    })
    .unwrap()
}

#[test]
#[ignore = "needs root"]
fn spawns_directly_into_a_cgroup_v2_directory() {
    assert_root("spawns_directly_into_a_cgroup_v2_directory");
    as_root(|| {
        let cg = private_cgroup2()?;
        let sub = cg.join("lns-test");
        std::fs::create_dir(&sub).map_err(|e| e.to_string())?;
        let out = stdout_of(Command::new("cat").arg("/proc/self/cgroup").cgroup(&sub));
        let procs_after = std::fs::read_to_string(sub.join("cgroup.procs")).unwrap_or_default();
        let _ = std::fs::remove_dir(&sub);
        let _ = rustix::mount::unmount(&cg, rustix::mount::UnmountFlags::DETACH);
        let _ = std::fs::remove_dir(&cg);
        let out = out?;
        ensure!(out.lines().any(|l| l == "0::/lns-test"), "{out}");
        ensure!(procs_after.is_empty(), "{procs_after}");
        Ok(())
    })
    .unwrap()
}

#[test]
fn cgroup_v1_directory_is_a_typed_error_before_clone() {
    rootless(|| {
        // /proc is certainly not cgroup v2; on a v1-only system /sys/fs/cgroup is not either.
        let e = Command::new("/bin/true").cgroup("/proc").spawn().unwrap_err();
        ensure!(matches!(&e, Error::InvalidInput { what: "cgroup", reason } if reason.contains("cgroup v2")), "{e}");
        ensure!(no_children(), "a process was created");
        Ok(())
    })
    .unwrap()
}

// ---------------------------------------------------------------------------------------------
// Fds and stdio

fn t_only_passed_fds_reach_the_child(root: bool) -> R {
    // 1,000 fds without CLOEXEC in the parent.
    let file = std::fs::File::open("/etc/hostname").map_err(|e| e.to_string())?;
    let mut leaked = Vec::new();
    for _ in 0..1000 {
        // SAFETY: dup of an open fd; the result is owned here (and closed at the end).
        let fd = unsafe { libc::dup(file.as_raw_fd()) };
        ensure!(fd >= 0, "dup: {}", std::io::Error::last_os_error());
        leaked.push(fd);
    }
    let passed: OwnedFd = std::fs::File::open("/etc/hostname")
        .map_err(|e| e.to_string())?
        .into();
    let mut c = isolated(root, "cat", NamespaceSet::empty());
    c.stdin(Stdio::Piped).stdout(Stdio::Piped).fd(7, passed);
    let mut child = c.spawn().map_err(|e| e.to_string())?;
    let fds = fds_of_ready_cat(&mut child)?;
    drop(child.stdin.take());
    let st = child.wait().map_err(|e| e.to_string())?;
    for fd in leaked {
        // SAFETY: closing the fds dup'ed above.
        unsafe { libc::close(fd) };
    }
    ensure!(st.success(), "{st}");
    ensure!(fds == [0, 1, 2, 7], "child fds {fds:?}");
    Ok(())
}
root_and_rootless!(
    only_passed_fds_reach_the_child,
    t_only_passed_fds_reach_the_child
);

fn t_stdio_kinds(root: bool) -> R {
    // Null: EOF at once.
    let o = isolated(root, "cat", NamespaceSet::empty())
        .output()
        .map_err(|e| e.to_string())?;
    ensure!(o.status.success() && o.stdout.is_empty(), "{o:?}");
    // Piped both ways.
    let mut child = isolated(root, "cat", NamespaceSet::empty())
        .stdin(Stdio::Piped)
        .stdout(Stdio::Piped)
        .spawn()
        .map_err(|e| e.to_string())?;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"ping\n")
        .map_err(|e| e.to_string())?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    ensure_eq!(line, "ping\n");
    ensure!(
        child.wait().map_err(|e| e.to_string())?.success(),
        "cat failed"
    );
    // An fd: stdout into a file.
    let dir = tempdir()?;
    let path = dir.path().join("out");
    let f = std::fs::File::create(&path).map_err(|e| e.to_string())?;
    let st = isolated(root, "echo", NamespaceSet::empty())
        .arg("to-file")
        .stdout(f)
        .status()
        .map_err(|e| e.to_string())?;
    ensure!(st.success(), "{st}");
    ensure!(
        std::fs::read_to_string(&path).unwrap() == "to-file\n",
        "file content"
    );
    // Stderr captured separately.
    let o = sh(root, "echo out; echo err >&2", NamespaceSet::empty())
        .output()
        .map_err(|e| e.to_string())?;
    ensure!(o.stdout == b"out\n" && o.stderr == b"err\n", "{o:?}");
    Ok(())
}
root_and_rootless!(stdio_kinds, t_stdio_kinds);

fn t_env_and_args(root: bool) -> R {
    let out = stdout_of(
        isolated(root, "env", NamespaceSet::empty())
            .env_clear()
            .env("A", "1")
            .env("B", "x y")
            .env("C", "3")
            .env_remove("C"),
    )?;
    ensure!(lines(&out) == ["A=1", "B=x y"], "{out:?}");
    // Unchanged, the environment is the caller's, as std passes it (cargo runs tests with a
    // sorted environment, so this does not show the order).
    let ours = stdout_of(&mut isolated(root, "env", NamespaceSet::empty()))?;
    let std_out = std::process::Command::new("env").output().ctx("std env")?;
    ensure_eq!(ours, String::from_utf8_lossy(&std_out.stdout));
    ensure!(ours.contains("PATH="), "{ours:?}");
    let out = stdout_of(isolated(root, "/usr/bin/env", NamespaceSet::empty()).env_clear())?;
    ensure_eq!(out, "");
    // A reused command without environment changes sees the environment of each spawn, as
    // std's does. (This runs in a forked, single-threaded child: set_var is sound here.)
    let mut reused = isolated(root, "/bin/sh", NamespaceSet::empty());
    reused.args(["-c", "echo \"${LNS_PROBE-unset}\""]);
    ensure_eq!(stdout_of(&mut reused)?, "unset\n");
    // SAFETY: single-threaded process (the test body runs in a forked child).
    unsafe { std::env::set_var("LNS_PROBE", "second spawn") };
    ensure_eq!(stdout_of(&mut reused)?, "second spawn\n");
    // SAFETY: as above.
    unsafe { std::env::remove_var("LNS_PROBE") };
    ensure_eq!(stdout_of(&mut reused)?, "unset\n");
    // With changes, too: the caller's variables of each spawn, the changes applied on top.
    let mut changed = isolated(root, "/bin/sh", NamespaceSet::empty());
    changed
        .args([
            "-c",
            "echo \"${LNS_PROBE-unset} ${LNS_SET-unset} ${LNS_GONE-unset}\"",
        ])
        .env("LNS_SET", "ours")
        .env_remove("LNS_GONE");
    ensure_eq!(stdout_of(&mut changed)?, "unset ours unset\n");
    // SAFETY: as above.
    unsafe {
        std::env::set_var("LNS_PROBE", "later");
        std::env::set_var("LNS_SET", "theirs");
        std::env::set_var("LNS_GONE", "back");
    }
    ensure_eq!(stdout_of(&mut changed)?, "later ours unset\n");
    // A name without '/' is searched in the PATH of each spawn.
    let dirs = [1, 2]
        .map(|n| std::env::temp_dir().join(format!("lns-path-{}-{root}-{n}", std::process::id())));
    for (n, dir) in dirs.iter().enumerate() {
        std::fs::create_dir_all(dir).ctx("mkdir")?;
        let tool = dir.join("lns-which");
        std::fs::write(&tool, format!("#!/bin/sh\necho {n}\n")).ctx("write tool")?;
        std::fs::set_permissions(&tool, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .ctx("chmod")?;
    }
    let old_path = std::env::var_os("PATH").unwrap_or_default();
    // SAFETY: as above.
    unsafe { std::env::set_var("PATH", &dirs[0]) };
    let mut searched = isolated(root, "lns-which", NamespaceSet::empty());
    let first = stdout_of(&mut searched);
    // SAFETY: as above.
    unsafe { std::env::set_var("PATH", &dirs[1]) };
    let second = stdout_of(&mut searched);
    // SAFETY: as above.
    unsafe { std::env::set_var("PATH", &old_path) };
    for dir in &dirs {
        let _ = std::fs::remove_dir_all(dir);
    }
    ensure_eq!((first?, second?), ("0\n".to_string(), "1\n".to_string()));
    let out =
        stdout_of(sh(root, "echo \"$0\" \"$1\"", NamespaceSet::empty()).args(["zero", "first"]))?;
    ensure_eq!(out, "zero first\n");
    let out = stdout_of(
        isolated(root, "/bin/sh", NamespaceSet::empty())
            .arg0("renamed")
            .args(["-c", "cat /proc/$$/cmdline | tr '\\0' ' '"]),
    )?;
    ensure!(out.starts_with("renamed -c"), "{out:?}");
    Ok(())
}
root_and_rootless!(env_and_args, t_env_and_args);

// ---------------------------------------------------------------------------------------------
// Process knobs

fn status_field(status: &str, name: &str) -> String {
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or("")
        .trim()
        .to_string()
}

fn t_process_knobs(root: bool) -> R {
    let out = stdout_of(
        isolated(root, "cat", NamespaceSet::empty())
            .arg("/proc/self/status")
            .no_new_privs(true)
            .umask(0o027)
            .setsid(true),
    )?;
    ensure!(status_field(&out, "NoNewPrivs") == "1", "{out}");
    ensure!(status_field(&out, "Umask") == "0027", "{out}");
    let out = stdout_of(
        isolated(root, "cat", NamespaceSet::empty())
            .arg("/proc/self/stat")
            .setsid(true),
    )?;
    let after = &out[out.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = after.split(' ').collect();
    let pid = out.split(' ').next().unwrap();
    ensure!(f[3] == pid, "session {} != pid {pid}", f[3]);
    let out = stdout_of(
        sh(root, "ulimit -n; ulimit -Hn", NamespaceSet::empty()).rlimit(Resource::NoFile, 123, 456),
    )?;
    ensure!(lines(&out) == ["123", "456"], "{out:?}");
    Ok(())
}
root_and_rootless!(process_knobs, t_process_knobs);

fn t_capabilities_are_empty_unless_asked(root: bool) -> R {
    // Give the parent an inheritable capability: the child must not get it.
    if root {
        let mut caps = rustix::thread::capabilities(None).map_err(|e| e.to_string())?;
        caps.inheritable = rustix::thread::CapabilitySet::NET_RAW;
        rustix::thread::set_capabilities(None, caps).map_err(|e| e.to_string())?;
    }
    let out = stdout_of(isolated(root, "cat", NamespaceSet::empty()).arg("/proc/self/status"))?;
    ensure!(status_field(&out, "CapInh") == "0000000000000000", "{out}");
    ensure!(status_field(&out, "CapAmb") == "0000000000000000", "{out}");
    if root {
        // Asked for: CAP_NET_RAW (13) ambient, kept across a switch to uid 65534.
        let out = stdout_of(
            isolated(root, "cat", NamespaceSet::empty())
                .arg("/proc/self/status")
                .ambient_capabilities(linux_namespaces::Capabilities::NET_RAW)
                .uid(UNPRIVILEGED)
                .gid(UNPRIVILEGED)
                .groups(&[]),
        )?;
        ensure!(status_field(&out, "CapAmb") == "0000000000002000", "{out}");
        ensure!(status_field(&out, "CapEff") == "0000000000002000", "{out}");
        ensure!(
            status_field(&out, "Uid")
                .split_whitespace()
                .all(|u| u == "65534"),
            "{out}"
        );
    }
    Ok(())
}
root_and_rootless!(
    capabilities_are_empty_unless_asked,
    t_capabilities_are_empty_unless_asked
);

/// The bounding, permitted and effective sets are the ones asked for; capabilities outside
/// the bounding set cannot come back across exec. Root, or root of a new user namespace.
fn t_bounding_permitted_and_effective_sets(root: bool) -> R {
    use linux_namespaces::Capabilities as C;
    let keep = C::NET_RAW | C::NET_BIND_SERVICE | C::SETPCAP;
    let out = stdout_of(
        isolated(root, "/bin/sh", NamespaceSet::USER)
            .args(["-c", "grep ^Cap /proc/self/status"])
            .bounding_capabilities(keep)
            .permitted_capabilities(C::NET_RAW | C::NET_BIND_SERVICE)
            .effective_capabilities(C::NET_RAW),
    )?;
    let field = |name: &str| u64::from_str_radix(&status_field(&out, name), 16).unwrap_or(u64::MAX);
    ensure_eq!(C::from_bits_retain(field("CapBnd")), keep, "{out}");
    // A root shell's exec recomputes permitted and effective from the bounding set (root
    // gets every file capability): they end up the bounding set, nothing above it.
    ensure!(
        C::from_bits_retain(field("CapPrm"))
            .difference(keep)
            .is_empty(),
        "{out}"
    );
    ensure!(
        C::from_bits_retain(field("CapEff"))
            .difference(keep)
            .is_empty(),
        "{out}"
    );
    // As a non-root program (uid switch, no file capabilities) permitted and effective are
    // what is ambient: here, what was asked for, kept across the switch.
    if root {
        let out = stdout_of(
            isolated(root, "cat", NamespaceSet::empty())
                .arg("/proc/self/status")
                .bounding_capabilities(keep)
                .permitted_capabilities(C::NET_RAW | C::NET_BIND_SERVICE)
                .ambient_capabilities(C::NET_BIND_SERVICE)
                .uid(UNPRIVILEGED)
                .gid(UNPRIVILEGED),
        )?;
        let field =
            |name: &str| u64::from_str_radix(&status_field(&out, name), 16).unwrap_or(u64::MAX);
        ensure_eq!(C::from_bits_retain(field("CapBnd")), keep, "{out}");
        ensure_eq!(
            C::from_bits_retain(field("CapPrm")),
            C::NET_BIND_SERVICE,
            "{out}"
        );
        ensure_eq!(
            C::from_bits_retain(field("CapEff")),
            C::NET_BIND_SERVICE,
            "{out}"
        );
    }
    // Effective outside permitted is refused before clone.
    let e = isolated(root, "/bin/true", NamespaceSet::empty())
        .permitted_capabilities(C::NET_RAW)
        .effective_capabilities(C::SYS_ADMIN)
        .status()
        .err()
        .ok_or("effective outside permitted was accepted")?;
    ensure!(matches!(e, Error::InvalidInput { .. }), "{e}");
    Ok(())
}
root_and_rootless!(
    bounding_permitted_and_effective_sets,
    t_bounding_permitted_and_effective_sets
);

fn t_uid_gid_groups(root: bool) -> R {
    let mut c = isolated(root, "/bin/sh", NamespaceSet::empty());
    c.args(["-c", "id -u; id -g; id -G"]);
    if root {
        c.uid(1234).gid(2345).groups(&[3456, 4567]);
        let out = stdout_of(&mut c)?;
        ensure!(lines(&out) == ["1234", "2345", "2345 3456 4567"], "{out:?}");
    } else {
        // Rootless: switching inside the user namespace, between mapped ids.
        let (uid, gid) = (
            rustix::process::getuid().as_raw(),
            rustix::process::getgid().as_raw(),
        );
        let mut c = Command::new("/bin/sh");
        c.args(["-c", "id -u; id -g"])
            .unshare(NamespaceSet::USER)
            .uid_map(IdMap::single(5, uid).unwrap())
            .gid_map(IdMap::single(6, gid).unwrap())
            .setgroups(SetGroups::Deny)
            .uid(5)
            .gid(6);
        let out = stdout_of(&mut c)?;
        ensure!(lines(&out) == ["5", "6"], "{out:?}");
    }
    Ok(())
}
root_and_rootless!(uid_gid_groups, t_uid_gid_groups);

fn t_signals(root: bool) -> R {
    // The parent ignores SIGUSR1 and blocks SIGUSR2: by default the child keeps the ignored
    // USR1 (as exec does) but has an empty mask and SIGPIPE reset; reset_signals clears all.
    // SAFETY: plain signal-mask and disposition changes in the forked test child.
    unsafe {
        libc::signal(libc::SIGUSR1, libc::SIG_IGN);
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGUSR2);
        libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
    let bit = |s: i32| 1u64 << (s - 1);
    let hex = |s: String| u64::from_str_radix(&s, 16).unwrap_or(u64::MAX);
    let out = stdout_of(isolated(root, "cat", NamespaceSet::empty()).arg("/proc/self/status"))?;
    ensure!(hex(status_field(&out, "SigBlk")) == 0, "{out}");
    ensure!(
        hex(status_field(&out, "SigIgn")) & bit(libc::SIGUSR1) != 0,
        "{out}"
    );
    ensure!(
        hex(status_field(&out, "SigIgn")) & bit(libc::SIGPIPE) == 0,
        "{out}"
    );
    let out = stdout_of(
        isolated(root, "cat", NamespaceSet::empty())
            .arg("/proc/self/status")
            .reset_signals(true)
            .signal_mask(&[linux_namespaces::Signal::HUP]),
    )?;
    ensure!(hex(status_field(&out, "SigIgn")) == 0, "{out}");
    ensure!(
        hex(status_field(&out, "SigBlk")) == bit(libc::SIGHUP),
        "{out}"
    );
    Ok(())
}
root_and_rootless!(signals, t_signals);

fn t_seccomp_filter(root: bool) -> R {
    let o = sh(
        root,
        "grep Seccomp: /proc/self/status; uname",
        NamespaceSet::empty(),
    )
    .no_new_privs(true)
    .seccomp_filter(&deny_uname())
    .output()
    .map_err(|e| e.to_string())?;
    let out = String::from_utf8_lossy(&o.stdout);
    ensure!(
        out.lines().next().is_some_and(|l| l.ends_with("2")),
        "{out}"
    );
    ensure!(
        !o.status.success() && String::from_utf8_lossy(&o.stderr).contains("not permitted"),
        "{o:?}"
    );
    Ok(())
}
root_and_rootless!(seccomp_filter, t_seccomp_filter);

fn t_join_existing_namespaces(root: bool) -> R {
    let set = NamespaceSet::NET
        | NamespaceSet::UTS
        | NamespaceSet::IPC
        | if root {
            NamespaceSet::empty()
        } else {
            NamespaceSet::USER
        };
    let h = if root {
        Holder::new(set)
    } else {
        Holder::rootless(set)
    };
    let mut c = Command::new("/bin/sh");
    c.args([
        "-c",
        "readlink /proc/self/ns/net /proc/self/ns/uts /proc/self/ns/ipc",
    ]);
    for k in set.kinds() {
        c.join(&Namespace::open(h.pid, k).map_err(|e| e.to_string())?);
    }
    let out = stdout_of(&mut c)?;
    let want: Vec<String> = [
        NamespaceKind::Network,
        NamespaceKind::Uts,
        NamespaceKind::Ipc,
    ]
    .iter()
    .map(|k| Namespace::open(h.pid, *k).unwrap().id().to_string())
    .collect();
    ensure!(lines(&out) == want, "{out} vs {want:?}");
    Ok(())
}
root_and_rootless!(join_existing_namespaces, t_join_existing_namespaces);

fn t_child_namespace_handle(root: bool) -> R {
    let mut child = isolated(root, "cat", NamespaceSet::NET | NamespaceSet::UTS)
        .stdin(Stdio::Piped)
        .spawn()
        .map_err(|e| e.to_string())?;
    for k in [
        NamespaceKind::Network,
        NamespaceKind::Uts,
        NamespaceKind::User,
    ] {
        let a = child.namespace(k).map_err(|e| e.to_string())?;
        let b = Namespace::open(child.id(), k).map_err(|e| e.to_string())?;
        ensure!(a.id() == b.id(), "{k}");
    }
    ensure!(
        child.namespace(NamespaceKind::Network).unwrap().id()
            != Namespace::current(NamespaceKind::Network).unwrap().id(),
        "same net"
    );
    drop(child.stdin.take());
    child.wait().map_err(|e| e.to_string())?;
    Ok(())
}
root_and_rootless!(child_namespace_handle, t_child_namespace_handle);

// ---------------------------------------------------------------------------------------------
// Child: waiting and signalling

fn t_wait_try_wait_timeout_kill(root: bool) -> R {
    let mut child = isolated(root, "cat", NamespaceSet::empty())
        .stdin(Stdio::Piped)
        .spawn()
        .map_err(|e| e.to_string())?;
    ensure!(
        child.try_wait().map_err(|e| e.to_string())?.is_none(),
        "exited early"
    );
    ensure!(
        child
            .wait_timeout(Duration::from_millis(20))
            .map_err(|e| e.to_string())?
            .is_none(),
        "exited early"
    );
    drop(child.stdin.take());
    let st = child
        .wait_timeout(Duration::from_secs(10))
        .map_err(|e| e.to_string())?
        .ok_or("did not exit")?;
    ensure!(st.success(), "{st}");
    ensure!(
        child.try_wait().map_err(|e| e.to_string())? == Some(st),
        "status not remembered"
    );
    // kill.
    let mut child = isolated(root, "cat", NamespaceSet::empty())
        .stdin(Stdio::Piped)
        .spawn()
        .map_err(|e| e.to_string())?;
    child.kill().map_err(|e| e.to_string())?;
    let st = child.wait().map_err(|e| e.to_string())?;
    use std::os::unix::process::ExitStatusExt;
    ensure_eq!(st.signal(), Some(libc::SIGKILL));
    child.kill().map_err(|e| format!("kill after reap: {e}"))?;
    Ok(())
}
root_and_rootless!(wait_try_wait_timeout_kill, t_wait_try_wait_timeout_kill);

fn t_stop_escalates(root: bool) -> R {
    use std::os::unix::process::ExitStatusExt;
    let mut child = isolated(root, "cat", NamespaceSet::empty())
        .stdin(Stdio::Piped)
        .spawn()
        .map_err(|e| e.to_string())?;
    let st = child
        .stop(Duration::from_secs(10))
        .map_err(|e| e.to_string())?;
    ensure_eq!(st.signal(), Some(libc::SIGTERM));
    // A program that ignores SIGTERM gets SIGKILL after the grace period.
    let mut child = sh(
        root,
        "trap '' TERM; echo ready; exec cat",
        NamespaceSet::empty(),
    )
    .stdin(Stdio::Piped)
    .stdout(Stdio::Piped)
    .spawn()
    .map_err(|e| e.to_string())?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    let t = Instant::now();
    let st = child
        .stop(Duration::from_millis(200))
        .map_err(|e| e.to_string())?;
    ensure_eq!(st.signal(), Some(libc::SIGKILL));
    ensure!(t.elapsed() >= Duration::from_millis(200), "no grace period");
    Ok(())
}
root_and_rootless!(stop_escalates, t_stop_escalates);

fn t_signal_zero_and_real_time_signals(root: bool) -> R {
    // A real-time signal the shell traps: `wait` returns, the trap stops the `cat` it waits
    // for, says so and exits 0; any other signal would end it otherwise. The `cat` reads our
    // stdin pipe, so it ends with the test whatever happens.
    let rt = libc::SIGRTMIN() + 1;
    let mut child = sh(
        root,
        &format!(
            "exec 3<&0; cat <&3 >/dev/null & c=$!; trap 'kill $c; echo got; exit 0' {rt}; \
             echo ready; wait"
        ),
        NamespaceSet::empty(),
    )
    .stdin(Stdio::Piped)
    .stdout(Stdio::Piped)
    .kill_on_drop(true)
    .spawn()
    .map_err(|e| e.to_string())?;
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).map_err(|e| e.to_string())?;
    ensure_eq!(line, "ready\n");
    // Signal 0: the existence check, on a live child.
    ensure!(
        child.is_alive().map_err(|e| format!("signal 0: {e}"))?,
        "not alive"
    );
    let rt_sig = linux_namespaces::Signal::from_raw(rt).ok_or("SIGRTMIN+1")?;
    ensure_eq!(Some(rt_sig), linux_namespaces::Signal::rt(1));
    child
        .signal(rt_sig)
        .map_err(|e| format!("signal {rt} (SIGRTMIN+1): {e}"))?;
    line.clear();
    out.read_line(&mut line).map_err(|e| e.to_string())?;
    ensure_eq!(line, "got\n");
    let st = child.wait().map_err(|e| e.to_string())?;
    ensure_eq!(st.code(), Some(0), "{st}");
    // Once reaped, signalling does nothing, and the child is not alive.
    child
        .signal(rt_sig)
        .map_err(|e| format!("signal after reap: {e}"))?;
    ensure!(
        !child
            .is_alive()
            .map_err(|e| format!("signal 0 after reap: {e}"))?,
        "alive after reap"
    );
    Ok(())
}
root_and_rootless!(
    signal_zero_and_real_time_signals,
    t_signal_zero_and_real_time_signals
);

fn t_kill_on_drop(root: bool) -> R {
    let child = isolated(root, "cat", NamespaceSet::empty())
        .stdin(Stdio::Piped)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| e.to_string())?;
    let pid = child.id();
    drop(child);
    ensure!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "child {pid} still exists"
    );
    ensure!(no_children(), "left a child");
    Ok(())
}
root_and_rootless!(kill_on_drop, t_kill_on_drop);

fn t_init_reaps_and_forwards(root: bool) -> R {
    // Orphans: the program backgrounds a subshell that itself backgrounds `true` and exits.
    let out = stdout_of(
        sh(
            root,
            "echo $$; ( true & ); ( true & ); wait",
            NamespaceSet::PID,
        )
        .init(true),
    )?;
    ensure!(
        lines(&out)[0] == "2",
        "program is not pid 2 under init: {out}"
    );
    // Signals to init reach the program.
    let mut child = sh(
        root,
        "trap 'exit 3' TERM; echo ready; while :; do sleep 5 & wait $!; done",
        NamespaceSet::PID,
    )
    .init(true)
    .stdout(Stdio::Piped)
    .spawn()
    .map_err(|e| e.to_string())?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    child
        .signal(linux_namespaces::Signal::TERM)
        .map_err(|e| e.to_string())?;
    let st = child.wait().map_err(|e| e.to_string())?;
    ensure_eq!(st.code(), Some(3));
    Ok(())
}
root_and_rootless!(init_reaps_and_forwards, t_init_reaps_and_forwards);

#[test]
fn parent_death_signal_kills_the_child_when_the_parent_exits() {
    rootless(|| {
        let (r, w) = rustix::pipe::pipe().map_err(|e| e.to_string())?;
        // An intermediate process spawns the child and exits; the child must die with it.
        // SAFETY: fork in the single-threaded test child; the grandchild only spawns and exits.
        let mid = unsafe { libc::fork() };
        if mid == 0 {
            drop(r);
            let child = Command::new("cat")
                .stdin(Stdio::Piped)
                .parent_death_signal(linux_namespaces::Signal::KILL)
                .spawn();
            let msg = match &child {
                Ok(c) => format!("{}\n", c.id()),
                Err(e) => format!("error {e}\n"),
            };
            let _ = rustix::io::write(&w, msg.as_bytes());
            // SAFETY: end the intermediate process without unwinding the harness.
            unsafe { libc::_exit(0) };
        }
        drop(w);
        let mut line = String::new();
        BufReader::new(std::fs::File::from(r))
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
        let pid: u32 = line
            .trim()
            .parse()
            .map_err(|_| format!("intermediate said {line:?}"))?;
        let pidfd = linux_namespaces::PidFd::open(pid);
        wait(mid);
        if let Ok(p) = pidfd {
            // Readable once the process has exited.
            let mut fds = [rustix::event::PollFd::new(&p, rustix::event::PollFlags::IN)];
            let ts = rustix::time::Timespec {
                tv_sec: 10,
                tv_nsec: 0,
            };
            let n = rustix::event::poll(&mut fds, Some(&ts)).map_err(|e| e.to_string())?;
            ensure!(n == 1, "child {pid} still runs 10 s after its parent died");
        }
        Ok(())
    })
    .unwrap()
}
