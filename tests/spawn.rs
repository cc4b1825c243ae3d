//! The spawner, option by option, privileged (root, no user namespace needed) and rootless
//! (a forked child dropped to uid 65534, with a user namespace where the kernel requires one).
//! Each test asserts what the child sees.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use common::*;
use linux_namespaces::{
    BpfInstruction, Command, Error, IdMap, Mount, Namespace, NamespaceKind, NamespaceSet,
    Namespaces, Propagation, Resource, SetGroups, Stdio, Step, StepKind, TimeClock,
};

type R = Result<(), String>;

/// Runs `body(true)` as root and `body(false)` rootless, each in a forked child.
macro_rules! both {
    ($name:ident, $body:path) => {
        mod $name {
            use super::*;
            #[test]
            fn rootless() {
                common::rootless(|| $body(false)).unwrap()
            }
            #[test]
            fn root() {
                if !require_root(concat!(stringify!($name), "::root")) {
                    return;
                }
                as_root(|| $body(true)).unwrap()
            }
        }
    };
}

/// A command in the namespaces of `set`; rootless, a user namespace mapping us to root is
/// added, since creating the others needs it.
fn isolated(root: bool, program: &str, set: NamespaceSet) -> Command {
    let mut c = Command::new(program);
    c.unshare(set);
    if !root {
        c.map_root();
    }
    c
}

fn sh(root: bool, script: &str, set: NamespaceSet) -> Command {
    let mut c = isolated(root, "/bin/sh", set);
    c.args(["-c", script]);
    c
}

/// Runs to completion; the stdout on success, the whole story otherwise.
fn stdout_of(cmd: &mut Command) -> Result<String, String> {
    let o = cmd.output().map_err(|e| format!("spawn: {e}"))?;
    if !o.status.success() {
        return Err(format!(
            "{}: stdout {:?} stderr {:?}",
            o.status,
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&o.stdout).into_owned())
}

fn lines(s: &str) -> Vec<&str> {
    s.lines().collect()
}

// ---------------------------------------------------------------------------------------------
// Basics

fn t_status_and_output(root: bool) -> R {
    let st = isolated(root, "/bin/sh", NamespaceSet::empty())
        .args(["-c", "exit 7"])
        .status()
        .map_err(|e| e.to_string())?;
    ensure!(st.code() == Some(7), "status {st}");
    let out = stdout_of(Command::new("echo").args(["a", "b c"]))?;
    ensure!(out == "a b c\n", "{out:?}");
    Ok(())
}
both!(status_and_output, t_status_and_output);

fn t_every_kind_is_new(root: bool) -> R {
    let script =
        "for k in cgroup ipc mnt net pid time user uts; do readlink /proc/self/ns/$k; done";
    let out = stdout_of(&mut sh(root, script, NamespaceSet::all()))?;
    let theirs = lines(&out);
    for (i, k) in NamespaceKind::ALL.iter().enumerate() {
        let ours = ns_link(*k);
        ensure!(
            theirs.get(i) != Some(&ours.as_str()),
            "{k}: child still in {ours}"
        );
        ensure!(
            theirs.get(i).is_some_and(|t| t.starts_with(k.proc_name())),
            "{k}: {theirs:?}"
        );
    }
    // And nothing new for kinds not asked for.
    let out = stdout_of(&mut sh(
        root,
        "readlink /proc/self/ns/net /proc/self/ns/uts",
        NamespaceSet::IPC,
    ))?;
    ensure!(
        lines(&out) == [ns_link(NamespaceKind::Network), ns_link(NamespaceKind::Uts)],
        "{out}"
    );
    Ok(())
}
both!(every_kind_is_new, t_every_kind_is_new);

fn t_program_is_pid_1(root: bool) -> R {
    let out = stdout_of(&mut sh(root, "echo $$", NamespaceSet::PID))?;
    ensure!(out == "1\n", "{out:?}");
    Ok(())
}
both!(program_is_pid_1, t_program_is_pid_1);

fn t_map_root_and_maps(root: bool) -> R {
    let (uid, gid) = (
        rustix::process::getuid().as_raw(),
        rustix::process::getgid().as_raw(),
    );
    let mut c = Command::new("/bin/sh");
    c.args([
        "-c",
        "id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups",
    ])
    .map_root();
    let out = stdout_of(&mut c)?;
    let l: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    ensure!(l[0] == ["0"] && l[1] == ["0"], "{out}");
    ensure!(l[2] == ["0", &uid.to_string(), "1"], "{out}");
    ensure!(l[3] == ["0", &gid.to_string(), "1"], "{out}");
    ensure!(l[4] == ["deny"], "{out}");
    let _ = root;
    Ok(())
}
both!(map_root_and_maps, t_map_root_and_maps);

fn t_multi_range_maps_as_root() -> R {
    let map: IdMap = "0 100000 1000\n1000 0 1"
        .parse()
        .map_err(|e: Error| e.to_string())?;
    let mut c = Command::new("/bin/sh");
    c.args([
        "-c",
        "cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups; id -u",
    ])
    .unshare(NamespaceSet::USER)
    .uid_map(map.clone())
    .gid_map(map)
    .setgroups(SetGroups::Allow);
    let out = stdout_of(&mut c)?;
    let l: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    ensure!(
        l[0] == ["0", "100000", "1000"] && l[1] == ["1000", "0", "1"],
        "{out}"
    );
    ensure!(
        l[2] == ["0", "100000", "1000"] && l[3] == ["1000", "0", "1"],
        "{out}"
    );
    ensure!(l[4] == ["allow"], "{out}");
    // Root outside is 1000 inside.
    ensure!(l[5] == ["1000"], "{out}");
    Ok(())
}

#[test]
fn multi_range_maps_are_written_by_the_parent_as_root() {
    if !require_root("multi_range_maps_are_written_by_the_parent_as_root") {
        return;
    }
    as_root(t_multi_range_maps_as_root).unwrap()
}

#[test]
fn rootless_multi_range_map_is_refused_before_clone() {
    rootless(|| {
        let e = Command::new("/bin/true")
            .unshare(NamespaceSet::USER)
            .uid_map("0 100000 1000".parse().unwrap())
            .spawn()
            .unwrap_err();
        ensure!(
            matches!(
                e,
                Error::InvalidInput {
                    what: "uid map",
                    ..
                }
            ),
            "{e}"
        );
        ensure!(no_children(), "a process was created");
        Ok(())
    })
    .unwrap()
}

#[test]
fn newidmap_maps_subordinate_ranges_rootless() {
    let test = "newidmap_maps_subordinate_ranges_rootless";
    let tools = std::path::Path::new("/usr/bin/newuidmap").exists()
        && std::path::Path::new("/usr/bin/newgidmap").exists();
    let granted = |f: &str| {
        std::fs::read_to_string(f)
            .is_ok_and(|t| t.lines().any(|l| l.starts_with("nobody:100000:65536")))
    };
    if !require_setup(test, tools, "newuidmap/newgidmap (package uidmap)")
        || !require_setup(
            test,
            granted("/etc/subuid") && granted("/etc/subgid"),
            "'nobody:100000:65536' in /etc/subuid and /etc/subgid",
        )
        || !require_root(test)
    {
        return;
    }
    rootless(|| {
        let (uid, gid) = (
            rustix::process::getuid().as_raw(),
            rustix::process::getgid().as_raw(),
        );
        let umap: IdMap = format!("0 {uid} 1\n1 100000 65536")
            .parse()
            .map_err(|e: Error| e.to_string())?;
        let gmap: IdMap = format!("0 {gid} 1\n1 100000 65536")
            .parse()
            .map_err(|e: Error| e.to_string())?;
        let out = stdout_of(
            Command::new("/bin/sh")
                .args(["-c", "cat /proc/self/uid_map /proc/self/gid_map"])
                .unshare(NamespaceSet::USER)
                .uid_map(umap)
                .gid_map(gmap)
                .use_newidmap(true),
        )?;
        let l: Vec<Vec<&str>> = out
            .lines()
            .map(|l| l.split_whitespace().collect())
            .collect();
        ensure!(l.len() == 4, "{out}");
        ensure!(
            l[0] == ["0", &uid.to_string(), "1"] && l[1] == ["1", "100000", "65536"],
            "{out}"
        );
        ensure!(
            l[2] == ["0", &gid.to_string(), "1"] && l[3] == ["1", "100000", "65536"],
            "{out}"
        );
        Ok(())
    })
    .unwrap()
}

fn t_hostname_and_domainname(root: bool) -> R {
    let before = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let out = stdout_of(
        sh(
            root,
            "cat /proc/sys/kernel/hostname /proc/sys/kernel/domainname",
            NamespaceSet::UTS,
        )
        .hostname("box")
        .domainname("example"),
    )?;
    ensure!(out == "box\nexample\n", "{out:?}");
    ensure!(
        std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap() == before,
        "host's hostname changed"
    );
    Ok(())
}
both!(hostname_and_domainname, t_hostname_and_domainname);

// ---------------------------------------------------------------------------------------------
// Mounts

fn mountinfo_of(out: &str) -> Vec<linux_namespaces::inspect::MountInfo> {
    out.lines()
        .filter_map(linux_namespaces::inspect::parse_mountinfo_line)
        .collect()
}

fn t_proc_mount_shows_new_pid_namespace(root: bool) -> R {
    let out = stdout_of(
        sh(
            root,
            "cat /proc/1/comm; ls /proc | grep -c '^[0-9]'",
            NamespaceSet::PID | NamespaceSet::MOUNT,
        )
        .mount(Mount::propagation("/", Propagation::Private).recursive())
        .mount(Mount::proc("/proc")),
    )?;
    let l = lines(&out);
    ensure!(l[0] == "sh", "pid 1 is {:?}", l[0]);
    // sh, and the ls/grep it runs.
    let n: u32 = l[1].parse().unwrap_or(99);
    ensure!(n <= 3, "{n} processes visible");
    Ok(())
}
both!(
    proc_mount_shows_new_pid_namespace,
    t_proc_mount_shows_new_pid_namespace
);

fn t_tmpfs_with_size_and_mode(root: bool) -> R {
    let dir = tempdir()?;
    let t = dir.path().to_str().unwrap().to_string();
    let out = stdout_of(
        sh(
            root,
            &format!("cat /proc/self/mountinfo; stat -c %a {t}"),
            NamespaceSet::MOUNT,
        )
        .mount(Mount::propagation("/", Propagation::Private).recursive())
        .mount(Mount::tmpfs(&t).size(2 << 20).mode(0o710)),
    )?;
    let m = mountinfo_of(&out);
    let tm = m
        .iter()
        .find(|m| m.mount_point.to_str() == Some(&t))
        .ok_or(format!("no mount on {t}: {out}"))?;
    ensure!(tm.fstype == "tmpfs", "{tm:?}");
    ensure!(tm.super_options.contains("size=2048k"), "{tm:?}");
    ensure!(out.lines().last() == Some("710"), "mode: {out}");
    ensure!(
        !mountinfo().contains(&t),
        "the tmpfs leaked to the caller's mount table"
    );
    Ok(())
}
both!(tmpfs_with_size_and_mode, t_tmpfs_with_size_and_mode);

fn t_read_only_bind_is_really_read_only(root: bool) -> R {
    let src = tempdir()?;
    let dst = tempdir()?;
    std::fs::create_dir(src.path().join("sub")).map_err(|e| e.to_string())?;
    let (s, d) = (src.path().to_str().unwrap(), dst.path().to_str().unwrap());
    let script = format!("touch {d}/x 2>&1; touch {d}/sub/y 2>&1; cat /proc/self/mountinfo");
    let out = stdout_of(
        sh(root, &script, NamespaceSet::MOUNT)
            .mount(Mount::propagation("/", Propagation::Private).recursive())
            .mount(Mount::tmpfs(format!("{s}/sub")))
            .mount(Mount::bind(s, d).recursive().read_only()),
    )?;
    ensure!(
        out.lines()
            .next()
            .is_some_and(|l| l.contains("Read-only file system")),
        "{out}"
    );
    ensure!(
        out.lines()
            .nth(1)
            .is_some_and(|l| l.contains("Read-only file system")),
        "submount writable: {out}"
    );
    let m = mountinfo_of(&out);
    let b = m
        .iter()
        .find(|m| m.mount_point.to_str() == Some(d))
        .ok_or("no bind")?;
    ensure!(b.options.split(',').any(|o| o == "ro"), "{b:?}");
    ensure!(!src.path().join("x").exists(), "write went through");
    Ok(())
}
both!(
    read_only_bind_is_really_read_only,
    t_read_only_bind_is_really_read_only
);

fn t_bind_remount_unmount(root: bool) -> R {
    let src = tempdir()?;
    let dst = tempdir()?;
    std::fs::write(src.path().join("f"), "hi").map_err(|e| e.to_string())?;
    let (s, d) = (src.path().to_str().unwrap(), dst.path().to_str().unwrap());
    // bind, see the file; remount read-only, write fails; then unmount, the file is gone.
    let script = format!("cat {d}/f; echo; touch {d}/g 2>/dev/null && echo rw || echo ro");
    let out = stdout_of(
        sh(root, &script, NamespaceSet::MOUNT)
            .mount(Mount::propagation("/", Propagation::Private).recursive())
            .mount(Mount::bind(s, d))
            .mount(Mount::remount(d).read_only()),
    )?;
    ensure!(out == "hi\nro\n", "{out:?}");
    let out = stdout_of(
        sh(root, &format!("ls {d} | wc -l"), NamespaceSet::MOUNT)
            .mount(Mount::propagation("/", Propagation::Private).recursive())
            .mount(Mount::bind(s, d))
            .mount(Mount::unmount(d, true)),
    )?;
    ensure!(out.trim() == "0", "after unmount: {out:?}");
    Ok(())
}
both!(bind_remount_unmount, t_bind_remount_unmount);

fn t_propagation(root: bool) -> R {
    // As root, a shared mount of our own (in this forked child's private mount namespace)
    // that the child's recursive "private" must reach.
    let shared = tempdir()?;
    let sp = shared.path().to_str().unwrap().to_string();
    if root {
        // SAFETY: unshare of a mount namespace in the single-threaded forked child.
        ensure!(unsafe { libc::unshare(libc::CLONE_NEWNS) } == 0, "unshare");
        use rustix::mount::{MountFlags, MountPropagationFlags, mount, mount_change};
        mount_change(
            "/",
            MountPropagationFlags::PRIVATE | MountPropagationFlags::REC,
        )
        .map_err(|e| e.to_string())?;
        mount("none", &sp, "tmpfs", MountFlags::empty(), None).map_err(|e| e.to_string())?;
        mount_change(&sp, MountPropagationFlags::SHARED).map_err(|e| e.to_string())?;
        ensure!(
            mountinfo_of(&mountinfo())
                .iter()
                .any(|m| m.mount_point.to_str() == Some(&sp)
                    && m.optional.iter().any(|o| o.starts_with("shared:"))),
            "setup: {sp} not shared"
        );
    }
    let out = stdout_of(
        sh(root, "cat /proc/self/mountinfo", NamespaceSet::MOUNT)
            .mount(Mount::propagation("/", Propagation::Private).recursive()),
    )?;
    let m = mountinfo_of(&out);
    ensure!(!m.is_empty(), "{out}");
    ensure!(
        m.iter()
            .all(|m| !m.optional.iter().any(|o| o.starts_with("shared:"))),
        "still shared: {out}"
    );
    if root {
        ensure!(
            m.iter().any(|m| m.mount_point.to_str() == Some(&sp)),
            "{sp} missing: {out}"
        );
    }
    let out = stdout_of(
        sh(root, "cat /proc/self/mountinfo", NamespaceSet::MOUNT)
            .mount(Mount::propagation("/", Propagation::Shared)),
    )?;
    let m = mountinfo_of(&out);
    let rootm = m
        .iter()
        .find(|m| m.mount_point.to_str() == Some("/"))
        .ok_or("no /")?;
    ensure!(
        rootm.optional.iter().any(|o| o.starts_with("shared:")),
        "{rootm:?}"
    );
    if root {
        // So that the temporary directory can be removed.
        rustix::mount::unmount(&sp, rustix::mount::UnmountFlags::DETACH)
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}
both!(propagation, t_propagation);

fn t_pivot_root_and_chroot(root: bool) -> R {
    let nr = tempdir()?;
    let r = nr.path().to_str().unwrap();
    let setup = |c: &mut Command| {
        c.mount(Mount::propagation("/", Propagation::Private).recursive())
            .mount(Mount::tmpfs(r))
            .mount(Mount::mkdir(format!("{r}/usr"), 0o755))
            .mount(
                Mount::bind("/usr", format!("{r}/usr"))
                    .recursive()
                    .read_only(),
            )
            .mount(Mount::symlink("usr/bin", format!("{r}/bin")))
            .mount(Mount::symlink("usr/lib", format!("{r}/lib")))
            .mount(Mount::symlink("usr/lib64", format!("{r}/lib64")))
            .mount(Mount::mkdir(format!("{r}/proc"), 0o555))
            .mount(Mount::proc(format!("{r}/proc")))
            .mount(Mount::mkdir(format!("{r}/work"), 0o755));
    };
    let mut c = sh(
        root,
        "ls /; pwd; wc -l < /proc/self/mountinfo",
        NamespaceSet::MOUNT | NamespaceSet::PID,
    );
    setup(&mut c);
    c.mount(Mount::pivot_root(r)).current_dir("/work");
    let out = stdout_of(&mut c)?;
    let l = lines(&out);
    ensure!(
        l[..l.len() - 2] == ["bin", "lib", "lib64", "proc", "usr", "work"],
        "{out}"
    );
    ensure!(l[l.len() - 2] == "/work", "{out}");
    // tmpfs root, usr (+ its submounts), proc: the old root is gone.
    let usr_submounts = mountinfo()
        .lines()
        .filter(|l| l.split(' ').nth(4).is_some_and(|p| p.starts_with("/usr/")))
        .count();
    let n: usize = l[l.len() - 1].trim().parse().unwrap_or(999);
    ensure!(n == 3 + usr_submounts, "{n} mounts after pivot_root: {out}");

    let mut c = sh(root, "ls /", NamespaceSet::MOUNT | NamespaceSet::PID);
    setup(&mut c);
    c.mount(Mount::chroot(r));
    let out = stdout_of(&mut c)?;
    ensure!(
        lines(&out) == ["bin", "lib", "lib64", "proc", "usr", "work"],
        "{out}"
    );
    Ok(())
}
both!(pivot_root_and_chroot, t_pivot_root_and_chroot);

fn t_symlinks_in_a_new_root_cannot_redirect_mounts(root: bool) -> R {
    // A rootfs with planted symlinks to a "host" directory.
    let rootfs = tempdir()?;
    let host = tempdir()?;
    let (r, h) = (
        rootfs.path().to_str().unwrap(),
        host.path().to_str().unwrap(),
    );
    std::os::unix::fs::symlink(h, format!("{r}/evil")).map_err(|e| e.to_string())?;
    let attempts: Vec<(&str, Mount)> = vec![
        ("tmpfs on a symlink", Mount::tmpfs(format!("{r}/evil"))),
        ("tmpfs below a symlink", Mount::tmpfs(format!("{r}/evil/."))),
        (
            "bind onto a symlink",
            Mount::bind("/usr", format!("{r}/evil")),
        ),
        (
            "mkdir through a symlink",
            Mount::mkdir(format!("{r}/evil/made"), 0o755),
        ),
        (
            "file through a symlink",
            Mount::file(format!("{r}/evil/made"), 0o644),
        ),
        (
            "symlink through a symlink",
            Mount::symlink("/etc", format!("{r}/evil/made")),
        ),
        (
            "pivot_root into a symlink",
            Mount::pivot_root(format!("{r}/evil")),
        ),
        ("chroot into a symlink", Mount::chroot(format!("{r}/evil"))),
    ];
    for (what, m) in attempts {
        let e = sh(root, "cat /proc/self/mountinfo", NamespaceSet::MOUNT)
            .mount(Mount::propagation("/", Propagation::Private).recursive())
            .mount(m)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
        match e {
            Err(Error::Spawn {
                step, source, hint, ..
            }) if step.mount_index() == Some(1) => {
                ensure!(
                    source.raw_os_error() == Some(libc::ELOOP),
                    "{what}: {source}"
                );
                ensure!(
                    hint == Some(linux_namespaces::Hint::SymlinkInMountPath),
                    "{what}: {hint:?}"
                );
            }
            other => return Err(format!("{what}: not refused: {other:?}")),
        }
        ensure!(
            std::fs::read_dir(h)
                .map_err(|e| e.to_string())?
                .next()
                .is_none(),
            "{what}: wrote into the host dir"
        );
    }
    Ok(())
}
both!(
    symlinks_in_a_new_root_cannot_redirect_mounts,
    t_symlinks_in_a_new_root_cannot_redirect_mounts
);

fn t_other_filesystems_with_options(root: bool) -> R {
    let d = tempdir()?;
    let p = d.path().to_str().unwrap();
    let out = stdout_of(
        sh(
            root,
            &format!("grep ' {p} ' /proc/self/mountinfo; stat -c %a {p}/ptmx"),
            NamespaceSet::MOUNT | NamespaceSet::IPC,
        )
        .mount(Mount::propagation("/", Propagation::Private).recursive())
        .mount(
            Mount::fs("devpts", p)
                .option("newinstance", None)
                .option("ptmxmode", Some("0666"))
                .nosuid()
                .noexec(),
        ),
    )?;
    let m = mountinfo_of(&out);
    let dm = m.first().ok_or(format!("no devpts: {out}"))?;
    ensure!(
        dm.fstype == "devpts" && dm.super_options.contains("ptmxmode=666"),
        "{dm:?}"
    );
    ensure!(
        dm.options.contains("nosuid") && dm.options.contains("noexec"),
        "{dm:?}"
    );
    ensure!(out.lines().last() == Some("666"), "{out}");
    ensure!(
        Mount::fs("devpts", "/x")
            .option("a,b", None)
            .prepare_check()
            .is_err(),
        "comma accepted"
    );
    Ok(())
}
both!(
    other_filesystems_with_options,
    t_other_filesystems_with_options
);

trait PrepareCheck {
    fn prepare_check(self) -> Result<(), Error>;
}
impl PrepareCheck for Mount {
    /// Validation happens at spawn: a command with only this step, never spawned for real.
    fn prepare_check(self) -> Result<(), Error> {
        let mut c = Command::new("/nonexistent-lns");
        c.unshare(NamespaceSet::MOUNT).map_root().mount(self);
        match c.spawn() {
            Err(e @ Error::InvalidInput { .. }) => Err(e),
            _ => Ok(()),
        }
    }
}

fn t_loopback_up(root: bool) -> R {
    let out = stdout_of(&mut sh(root, "ip -o link show lo", NamespaceSet::NET))?;
    ensure!(!out.contains(",UP"), "lo is up without asking: {out}");
    let out = stdout_of(
        sh(
            root,
            "ip -o link show lo; ip -o addr show lo | grep -q 127.0.0.1 && echo reachable",
            NamespaceSet::NET,
        )
        .loopback_up(true),
    )?;
    ensure!(out.contains("LOOPBACK,UP"), "{out}");
    ensure!(out.contains("reachable"), "{out}");
    let e = Command::new("/bin/true")
        .loopback_up(true)
        .spawn()
        .unwrap_err();
    ensure!(
        matches!(
            e,
            Error::InvalidInput {
                what: "loopback",
                ..
            }
        ),
        "{e}"
    );
    Ok(())
}
both!(loopback_up, t_loopback_up);

fn t_filesystem_steps_need_no_mount_namespace(root: bool) -> R {
    let d = tempdir()?;
    let p = d.path().to_str().unwrap();
    let st = isolated(root, "/bin/true", NamespaceSet::empty())
        .mount(Mount::mkdir(format!("{p}/dir"), 0o755))
        .mount(Mount::file(format!("{p}/file"), 0o600))
        .mount(Mount::symlink("dir", format!("{p}/link")))
        .status()
        .map_err(|e| e.to_string())?;
    ensure!(st.success(), "{st}");
    ensure!(
        d.path().join("dir").is_dir() && d.path().join("file").is_file(),
        "not created"
    );
    ensure!(
        std::fs::read_link(d.path().join("link")).map_err(|e| e.to_string())?
            == std::path::Path::new("dir"),
        "link"
    );
    Ok(())
}
both!(
    filesystem_steps_need_no_mount_namespace,
    t_filesystem_steps_need_no_mount_namespace
);

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
both!(time_offsets, t_time_offsets);

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
fn spawns_directly_into_a_cgroup_v2_directory() {
    if !require_root("spawns_directly_into_a_cgroup_v2_directory") {
        return;
    }
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
both!(
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
    ensure!(line == "ping\n", "{line:?}");
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
both!(stdio_kinds, t_stdio_kinds);

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
    let out =
        stdout_of(sh(root, "echo \"$0\" \"$1\"", NamespaceSet::empty()).args(["zero", "first"]))?;
    ensure!(out == "zero first\n", "{out:?}");
    let out = stdout_of(
        isolated(root, "/bin/sh", NamespaceSet::empty())
            .arg0("renamed")
            .args(["-c", "cat /proc/$$/cmdline | tr '\\0' ' '"]),
    )?;
    ensure!(out.starts_with("renamed -c"), "{out:?}");
    Ok(())
}
both!(env_and_args, t_env_and_args);

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
both!(process_knobs, t_process_knobs);

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
                .ambient_capabilities(1 << 13)
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
both!(
    capabilities_are_empty_unless_asked,
    t_capabilities_are_empty_unless_asked
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
            .uid_map(IdMap::single(5, uid))
            .gid_map(IdMap::single(6, gid))
            .setgroups(SetGroups::Deny)
            .uid(5)
            .gid(6);
        let out = stdout_of(&mut c)?;
        ensure!(lines(&out) == ["5", "6"], "{out:?}");
    }
    Ok(())
}
both!(uid_gid_groups, t_uid_gid_groups);

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
            .signal_mask(&[libc::SIGHUP]),
    )?;
    ensure!(hex(status_field(&out, "SigIgn")) == 0, "{out}");
    ensure!(
        hex(status_field(&out, "SigBlk")) == bit(libc::SIGHUP),
        "{out}"
    );
    Ok(())
}
both!(signals, t_signals);

/// A filter that makes `uname(2)` fail with EPERM and allows everything else.
fn deny_uname() -> Vec<BpfInstruction> {
    const LD_W_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
    const JEQ_K: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
    const RET_K: u16 = (libc::BPF_RET | libc::BPF_K) as u16;
    vec![
        BpfInstruction {
            code: LD_W_ABS,
            jt: 0,
            jf: 0,
            k: 0,
        },
        BpfInstruction {
            code: JEQ_K,
            jt: 0,
            jf: 1,
            k: libc::SYS_uname as u32,
        },
        BpfInstruction {
            code: RET_K,
            jt: 0,
            jf: 0,
            k: libc::SECCOMP_RET_ERRNO | libc::EPERM as u32,
        },
        BpfInstruction {
            code: RET_K,
            jt: 0,
            jf: 0,
            k: libc::SECCOMP_RET_ALLOW,
        },
    ]
}

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
both!(seccomp_filter, t_seccomp_filter);

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
        c.join(&Namespace::open(h.pid, k).map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
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
both!(join_existing_namespaces, t_join_existing_namespaces);

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
both!(child_namespace_handle, t_child_namespace_handle);

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
    ensure!(st.signal() == Some(libc::SIGKILL), "{st}");
    child.kill().map_err(|e| format!("kill after reap: {e}"))?;
    Ok(())
}
both!(wait_try_wait_timeout_kill, t_wait_try_wait_timeout_kill);

fn t_stop_escalates(root: bool) -> R {
    use std::os::unix::process::ExitStatusExt;
    let mut child = isolated(root, "cat", NamespaceSet::empty())
        .stdin(Stdio::Piped)
        .spawn()
        .map_err(|e| e.to_string())?;
    let st = child
        .stop(Duration::from_secs(10))
        .map_err(|e| e.to_string())?;
    ensure!(st.signal() == Some(libc::SIGTERM), "{st}");
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
    ensure!(st.signal() == Some(libc::SIGKILL), "{st}");
    ensure!(t.elapsed() >= Duration::from_millis(200), "no grace period");
    Ok(())
}
both!(stop_escalates, t_stop_escalates);

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
both!(kill_on_drop, t_kill_on_drop);

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
    child.signal(libc::SIGTERM).map_err(|e| e.to_string())?;
    let st = child.wait().map_err(|e| e.to_string())?;
    ensure!(st.code() == Some(3), "{st}");
    Ok(())
}
both!(init_reaps_and_forwards, t_init_reaps_and_forwards);

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
                .parent_death_signal(libc::SIGKILL)
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

// ---------------------------------------------------------------------------------------------
// Errors: bad input before clone, failures at each step, nothing left behind

#[test]
fn bad_input_is_a_typed_error_before_any_process_and_leaks_nothing() {
    rootless(|| {
        let fds = open_fds();
        type Make = fn() -> Command;
        let cases: Vec<(&str, Make)> = vec![
            ("empty program", || Command::new("")),
            ("NUL in program", || Command::new("/bin/t\0rue")),
            ("NUL in argument", || { let mut c = Command::new("/bin/true"); c.arg("a\0b"); c }),
            ("NUL in env value", || { let mut c = Command::new("/bin/true"); c.env("A", "x\0y"); c }),
            ("'=' in env key", || { let mut c = Command::new("/bin/true"); c.env("A=B", "x"); c }),
            ("empty env key", || { let mut c = Command::new("/bin/true"); c.env("", "x"); c }),
            ("long hostname", || { let mut c = Command::new("/bin/true"); c.unshare(NamespaceSet::UTS).map_root().hostname("h".repeat(65)); c }),
            ("hostname without UTS", || { let mut c = Command::new("/bin/true"); c.map_root().hostname("x"); c }),
            ("mount without mount ns", || { let mut c = Command::new("/bin/true"); c.map_root().mount(Mount::tmpfs("/tmp")); c }),
            ("relative mount path", || { let mut c = Command::new("/bin/true"); c.unshare(NamespaceSet::MOUNT).map_root().mount(Mount::tmpfs("tmp")); c }),
            ("map without user ns", || { let mut c = Command::new("/bin/true"); c.uid_map(IdMap::single(0, 0)); c }),
            ("time offset without time ns", || { let mut c = Command::new("/bin/true"); c.time_offset(TimeClock::Boottime, 1, 0); c }),
            ("nanoseconds out of range", || { let mut c = Command::new("/bin/true"); c.unshare(NamespaceSet::TIME).map_root().time_offset(TimeClock::Boottime, 1, 1_000_000_000); c }),
            ("init without pid ns", || { let mut c = Command::new("/bin/true"); c.init(true); c }),
            ("fd given twice", || { let mut c = Command::new("/bin/true"); c.fd(5, dup_null()).fd(5, dup_null()); c }),
            ("rlimit soft above hard", || { let mut c = Command::new("/bin/true"); c.rlimit(Resource::NoFile, 10, 5); c }),
            ("program not in PATH", || Command::new("no-such-program-lns")),
        ];
        for (what, make) in cases {
            let mut cmd = make();
            let t = Instant::now();
            let e = match cmd.spawn() {
                Ok(_) => return Err(format!("{what}: spawned")),
                Err(e) => e,
            };
            ensure!(
                matches!(e, Error::InvalidInput { .. }) || matches!(&e, Error::Spawn { step, .. } if step.kind() == StepKind::Exec && what == "program not in PATH"),
                "{what}: {e:?}"
            );
            ensure!(t.elapsed() < Duration::from_secs(1), "{what}: slow");
            ensure!(no_children(), "{what}: a process was created");
            drop(cmd);
            ensure!(open_fds() == fds, "{what}: fds leaked: {:?} vs {fds:?}", open_fds());
        }
        // Invalid maps never get as far as a Command.
        ensure!("0 0 10\n5 100 10".parse::<IdMap>().is_err(), "overlap accepted");
        Ok(())
    })
    .unwrap()
}

fn dup_null() -> OwnedFd {
    std::fs::File::open("/dev/null").unwrap().into()
}

#[test]
fn a_failure_at_each_step_is_reported_by_name_and_leaks_nothing() {
    rootless(|| {
        let mountinfo_before = mountinfo();
        let fds = open_fds();
        let host_net = Namespace::current(NamespaceKind::Network).map_err(|e| e.to_string())?;
        let bad = std::env::temp_dir().join("lns-no-such-dir");
        type Check = fn(&Step) -> bool;
        let mut cases: Vec<(Check, Command)> = Vec::new();
        let mut c = Command::new("/bin/true");
        c.unshare(NamespaceSet::NET);
        cases.push((|s| s.kind() == StepKind::Clone, c));
        let mut c = Command::new("/bin/true");
        c.map_root().join(&host_net).unwrap();
        cases.push((
            |s| s.kind() == StepKind::Join && s.namespace_kind() == Some(NamespaceKind::Network),
            c,
        ));
        let mut c = Command::new("/bin/true");
        c.unshare(NamespaceSet::TIME)
            .map_root()
            .time_offset(TimeClock::Monotonic, -(1 << 40), 0);
        cases.push((|s| s.kind() == StepKind::TimeOffsets, c));
        let mut c = Command::new("/bin/true");
        c.unshare(NamespaceSet::MOUNT)
            .map_root()
            .mount(Mount::tmpfs("/tmp"))
            .mount(Mount::bind(&bad, "/mnt"));
        cases.push((
            |s| s.mount_index() == Some(1) && s.mount_text().is_some_and(|m| m.starts_with("bind")),
            c,
        ));
        let mut c = Command::new("/bin/true");
        c.current_dir(&bad);
        cases.push((|s| s.kind() == StepKind::Chdir, c));
        let mut c = Command::new("/bin/true");
        c.rlimit(Resource::NoFile, 1 << 30, 1 << 30);
        cases.push((|s| s.resource() == Some(Resource::NoFile), c));
        let mut c = Command::new("/bin/true");
        c.map_root().groups(&[0]);
        cases.push((|s| s.kind() == StepKind::Groups, c));
        let mut c = Command::new("/bin/true");
        c.gid(0);
        cases.push((|s| s.kind() == StepKind::Gid, c));
        let mut c = Command::new("/bin/true");
        c.uid(0);
        cases.push((|s| s.kind() == StepKind::Uid, c));
        let mut c = Command::new("/bin/true");
        c.ambient_capabilities(1 << 13);
        cases.push((|s| s.kind() == StepKind::Capabilities, c));
        let mut c = Command::new("/bin/true");
        c.seccomp_filter(&deny_uname());
        cases.push((|s| s.kind() == StepKind::Seccomp, c));
        let mut c = Command::new("/nonexistent/program");
        c.map_root();
        cases.push((
            |s| {
                s.kind() == StepKind::Exec
                    && s.file() == Some(std::path::Path::new("/nonexistent/program"))
            },
            c,
        ));
        let mut c = Command::new("/etc/hostname");
        c.map_root();
        cases.push((|s| s.kind() == StepKind::Exec, c));
        let mut c = Command::new("/bin/true");
        // A range /etc/subuid does not grant: newuidmap refuses it (or is not installed).
        let ungranted: IdMap = format!(
            "0 {} 1\n1 3000000000 10",
            rustix::process::getuid().as_raw()
        )
        .parse()
        .unwrap();
        c.unshare(NamespaceSet::USER)
            .uid_map(ungranted)
            .use_newidmap(true);
        cases.push((|s| s.kind() == StepKind::UidMap, c));
        for (i, (want, mut cmd)) in cases.into_iter().enumerate() {
            let t = Instant::now();
            match cmd.spawn() {
                Ok(mut ch) => {
                    let st = ch.wait();
                    return Err(format!("case {i}: spawned ({st:?})"));
                }
                Err(Error::Spawn { step, source, .. }) => {
                    ensure!(want(&step), "case {i}: wrong step {step:?} ({source})");
                    ensure!(
                        source.raw_os_error().is_some() || step.kind() == StepKind::UidMap,
                        "case {i}: no errno: {source}"
                    );
                }
                Err(e) => return Err(format!("case {i}: not a spawn error: {e}")),
            }
            ensure!(
                t.elapsed() < Duration::from_secs(1),
                "case {i}: took {:?}",
                t.elapsed()
            );
            ensure!(no_children(), "case {i}: a child is left");
            drop(cmd);
        }
        drop(host_net);
        ensure!(open_fds() == fds, "fds leaked: {:?} vs {fds:?}", open_fds());
        ensure!(mountinfo() == mountinfo_before, "mount table changed");
        Ok(())
    })
    .unwrap()
}

#[test]
fn error_messages_name_step_errno_and_hint() {
    rootless(|| {
        let e = Command::new("/bin/true")
            .seccomp_filter(&deny_uname())
            .spawn()
            .unwrap_err();
        let s = e.to_string();
        ensure!(
            s.contains("seccomp") && s.contains("EACCES") && s.contains("no_new_privs"),
            "{s}"
        );
        ensure!(!s.contains('\n'), "{s}");
        Ok(())
    })
    .unwrap()
}

// ---------------------------------------------------------------------------------------------
// Concurrency

#[test]
fn spawning_from_many_threads_at_once_works() {
    // In the harness process itself: spawn() must not need a single-threaded caller.
    let threads: Vec<_> = (0..16)
        .map(|_| {
            std::thread::spawn(|| {
                for _ in 0..10 {
                    let st = Command::new("/bin/true").status().expect("spawn");
                    assert!(st.success());
                    let st = Command::new("/bin/sh")
                        .args(["-c", "exit 0"])
                        .unshare(NamespaceSet::PID)
                        .map_root()
                        .status()
                        .expect("spawn in namespaces");
                    assert!(st.success());
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

// ---------------------------------------------------------------------------------------------

struct TempDir(std::path::PathBuf);
impl TempDir {
    fn path(&self) -> &std::path::Path {
        &self.0
    }
}
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tempdir() -> Result<TempDir, String> {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let p = std::env::temp_dir().join(format!(
        "lns-spawn-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir(&p).map_err(|e| format!("mkdir {}: {e}", p.display()))?;
    // Rootless children run as 65534 and must be able to use it.
    std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o777))
        .map_err(|e| e.to_string())?;
    Ok(TempDir(p))
}

#[test]
fn failures_at_the_remaining_steps_are_reported_by_name() {
    rootless(|| {
        let fds = open_fds();
        let check = |what: &str,
                     r: linux_namespaces::Result<linux_namespaces::Child>,
                     want: &dyn Fn(&Step) -> bool,
                     errno: i32|
         -> R {
            let t = Instant::now();
            match r {
                Err(Error::Spawn { step, source, .. }) => {
                    ensure!(want(&step), "{what}: wrong step {step:?} ({source})");
                    ensure!(source.raw_os_error() == Some(errno), "{what}: {source}");
                }
                Ok(mut c) => return Err(format!("{what}: spawned ({:?})", c.wait())),
                Err(e) => return Err(format!("{what}: {e}")),
            }
            ensure!(t.elapsed() < Duration::from_secs(1), "{what}: slow");
            ensure!(no_children(), "{what}: a child is left");
            Ok(())
        };
        // A time namespace without the privilege to make one (no user namespace).
        check(
            "time namespace",
            Command::new("/bin/true")
                .unshare(NamespaceSet::TIME)
                .spawn(),
            &|s| s.kind() == StepKind::TimeNamespace,
            libc::EPERM,
        )?;
        // A passed fd whose number is above the child's fd limit.
        check(
            "fd above the limit",
            Command::new("/bin/true")
                .rlimit(Resource::NoFile, 64, 64)
                .fd(1000, dup_null())
                .spawn(),
            &|s| s.fd_number() == Some(1000),
            libc::EINVAL,
        )?;
        // The init cannot fork the program: no process left under RLIMIT_NPROC.
        check(
            "init fork",
            Command::new("/bin/true")
                .unshare(NamespaceSet::PID)
                .map_root()
                .init(true)
                .rlimit(Resource::NProc, 1, 1)
                .spawn(),
            &|s| s.kind() == StepKind::InitFork,
            libc::EAGAIN,
        )?;
        // A gid the parent user namespace does not map: the parent's gid_map write fails.
        let (uid, gid) = (
            rustix::process::getuid().as_raw(),
            rustix::process::getgid().as_raw(),
        );
        Namespaces::unshare_calling_thread(NamespaceSet::USER).map_err(|e| e.to_string())?;
        map_self_to_root(uid, gid)?;
        check(
            "gid_map of an unmapped gid",
            Command::new("/bin/true")
                .unshare(NamespaceSet::USER)
                .uid_map(IdMap::single(0, 0))
                .gid_map(IdMap::single(0, 5))
                .setgroups(SetGroups::Deny)
                .spawn(),
            &|s| s.kind() == StepKind::GidMap,
            libc::EPERM,
        )?;
        ensure!(open_fds() == fds, "fds leaked: {:?} vs {fds:?}", open_fds());
        Ok(())
    })
    .unwrap()
}
