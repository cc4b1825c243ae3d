//! The spawner, option by option, privileged (root, no user namespace needed) and rootless
//! (a forked child dropped to uid 65534, with a user namespace where the kernel requires one).
//! Each test asserts what the child sees. This file: basics and mount steps; the process
//! settings are in `spawn_process.rs`, errors in `spawn_errors.rs`.

mod common;

use common::spawn::*;
use common::*;
use linux_namespaces::{
    Command, Error, IdMap, Mount, NamespaceKind, NamespaceSet, Propagation, SetGroups,
};

type R = Result<(), String>;

// ---------------------------------------------------------------------------------------------
// Basics

fn t_status_and_output(root: bool) -> R {
    let st = isolated(root, "/bin/sh", NamespaceSet::empty())
        .args(["-c", "exit 7"])
        .status()
        .map_err(|e| e.to_string())?;
    ensure!(st.code() == Some(7), "status {st}");
    let out = stdout_of(Command::new("echo").args(["a", "b c"]))?;
    ensure_eq!(out, "a b c\n");
    Ok(())
}
root_and_rootless!(status_and_output, t_status_and_output);

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
root_and_rootless!(every_kind_is_new, t_every_kind_is_new);

fn t_program_is_pid_1(root: bool) -> R {
    let out = stdout_of(&mut sh(root, "echo $$", NamespaceSet::PID))?;
    ensure_eq!(out, "1\n");
    Ok(())
}
root_and_rootless!(program_is_pid_1, t_program_is_pid_1);

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
root_and_rootless!(map_root_and_maps, t_map_root_and_maps);

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
#[ignore = "needs root"]
fn multi_range_maps_are_written_by_the_parent_as_root() {
    assert_root("multi_range_maps_are_written_by_the_parent_as_root");
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
#[ignore = "needs root"]
fn newidmap_maps_subordinate_ranges_rootless() {
    let test = "newidmap_maps_subordinate_ranges_rootless";
    // Root drops to the unprivileged user that /etc/subuid grants a range.
    assert_root(test);
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
    ensure_eq!(out, "box\nexample\n");
    ensure!(
        std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap() == before,
        "host's hostname changed"
    );
    Ok(())
}
root_and_rootless!(hostname_and_domainname, t_hostname_and_domainname);

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
root_and_rootless!(
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
    ensure_eq!(tm.fstype, "tmpfs");
    ensure!(tm.super_options.contains("size=2048k"), "{tm:?}");
    ensure!(out.lines().last() == Some("710"), "mode: {out}");
    ensure!(
        !mountinfo().contains(&t),
        "the tmpfs leaked to the caller's mount table"
    );
    Ok(())
}
root_and_rootless!(tmpfs_with_size_and_mode, t_tmpfs_with_size_and_mode);

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
root_and_rootless!(
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
    ensure_eq!(out, "hi\nro\n");
    let out = stdout_of(
        sh(root, &format!("ls {d} | wc -l"), NamespaceSet::MOUNT)
            .mount(Mount::propagation("/", Propagation::Private).recursive())
            .mount(Mount::bind(s, d))
            .mount(Mount::unmount(d, true)),
    )?;
    ensure!(out.trim() == "0", "after unmount: {out:?}");
    Ok(())
}
root_and_rootless!(bind_remount_unmount, t_bind_remount_unmount);

fn t_unmount_lazy_and_not(root: bool) -> R {
    let (d, src) = (tempdir()?, tempdir()?);
    let p = d.path().to_str().unwrap().to_string();
    std::fs::write(src.path().join("f"), "bound").ctx("write")?;
    let f = src.path().join("f");
    let private = || Mount::propagation("/", Propagation::Private).recursive();
    // A tmpfs unmounted (not lazily), and a file bind mount unmounted lazily: what was under
    // them shows again.
    let out = stdout_of(
        sh(
            root,
            &format!("ls {p}/a; cat {p}/file; echo end"),
            NamespaceSet::MOUNT,
        )
        .mount(private())
        .mount(Mount::tmpfs(&p))
        .mount(Mount::mkdir(format!("{p}/a"), 0o755))
        .mount(Mount::tmpfs(format!("{p}/a")))
        .mount(Mount::file(format!("{p}/a/marker"), 0o644))
        .mount(Mount::file(format!("{p}/file"), 0o644))
        .mount(Mount::bind(&f, format!("{p}/file")))
        .mount(Mount::unmount(format!("{p}/a"), false))
        .mount(Mount::unmount(format!("{p}/file"), true)),
    )?;
    ensure_eq!(out, "end\n");
    // Not lazily, a mount in use is left alone: EBUSY.
    let e = failed(
        sh(root, "true", NamespaceSet::MOUNT)
            .mount(private())
            .mount(Mount::tmpfs(&p))
            .mount(Mount::mkdir(format!("{p}/a"), 0o755))
            .mount(Mount::tmpfs(format!("{p}/a")))
            .mount(Mount::mkdir(format!("{p}/a/sub"), 0o755))
            .mount(Mount::tmpfs(format!("{p}/a/sub")))
            .mount(Mount::unmount(format!("{p}/a"), false))
            .output(),
        "busy",
    )?;
    match e {
        Error::Spawn { step, source, .. } if step.mount_index() == Some(6) => {
            ensure_eq!(source.raw_os_error(), Some(libc::EBUSY))
        }
        other => return Err(format!("busy: {other}")),
    }
    // In a new root that has no /proc, both ways.
    let script = "ls /a /b; ls /proc 2>/dev/null || echo no proc";
    let out = stdout_of(
        sh(root, script, NamespaceSet::MOUNT)
            .mount(private())
            .mount(Mount::tmpfs(&p))
            .mount(Mount::mkdir(format!("{p}/usr"), 0o755))
            .mount(Mount::bind("/usr", format!("{p}/usr")).recursive())
            .mount(Mount::symlink("usr/bin", format!("{p}/bin")))
            .mount(Mount::symlink("usr/lib", format!("{p}/lib")))
            .mount(Mount::symlink("usr/lib64", format!("{p}/lib64")))
            .mount(Mount::mkdir(format!("{p}/a"), 0o755))
            .mount(Mount::tmpfs(format!("{p}/a")))
            .mount(Mount::file(format!("{p}/a/marker"), 0o644))
            .mount(Mount::mkdir(format!("{p}/b"), 0o755))
            .mount(Mount::tmpfs(format!("{p}/b")))
            .mount(Mount::file(format!("{p}/b/marker"), 0o644))
            .mount(Mount::pivot_root(&p))
            .mount(Mount::unmount("/a", false))
            .mount(Mount::unmount("/b", true)),
    )?;
    ensure_eq!(out, "/a:\n\n/b:\nno proc\n");
    Ok(())
}
root_and_rootless!(unmount_lazy_and_not, t_unmount_lazy_and_not);

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
root_and_rootless!(propagation, t_propagation);

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
root_and_rootless!(pivot_root_and_chroot, t_pivot_root_and_chroot);

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
        (
            "unmount a symlink",
            Mount::unmount(format!("{r}/evil"), false),
        ),
        (
            "lazily unmount a symlink",
            Mount::unmount(format!("{r}/evil"), true),
        ),
        (
            "unmount below a symlink",
            Mount::unmount(format!("{r}/evil/x"), false),
        ),
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
root_and_rootless!(
    symlinks_in_a_new_root_cannot_redirect_mounts,
    t_symlinks_in_a_new_root_cannot_redirect_mounts
);

fn t_bind_sources_do_not_follow_symlinks(root: bool) -> R {
    // An untrusted tree (a volume) with links planted in it: to the host's /etc, and to a
    // "host" directory with a subdirectory.
    let (dir, dst, host) = (tempdir()?, tempdir()?, tempdir()?);
    let vol = dir.path().join("vol");
    std::fs::create_dir(&vol).ctx("mkdir vol")?;
    std::fs::create_dir(host.path().join("sub")).ctx("mkdir sub")?;
    std::os::unix::fs::symlink("/etc", vol.join("link")).ctx("symlink")?;
    std::os::unix::fs::symlink(host.path(), vol.join("hostlink")).ctx("symlink")?;
    let v = vol.to_str().unwrap();
    let d = dst.path().to_str().unwrap();
    let bind = |m: Mount| {
        sh(
            root,
            &format!("test -f {d}/passwd && echo followed; true"),
            NamespaceSet::MOUNT,
        )
        .mount(Mount::propagation("/", Propagation::Private).recursive())
        .mount(m)
        .output()
    };
    for (what, source) in [
        ("a symlink as the source", format!("{v}/link")),
        (
            "a symlink inside the source path",
            format!("{v}/hostlink/sub"),
        ),
    ] {
        for m in [
            Mount::bind(&source, d),
            Mount::bind(&source, d).recursive().read_only(),
        ] {
            match failed(bind(m), what)? {
                Error::Spawn {
                    step, source, hint, ..
                } if step.mount_index() == Some(1) => {
                    ensure_eq!(source.raw_os_error(), Some(libc::ELOOP), "{what}");
                    ensure_eq!(hint, Some(linux_namespaces::Hint::SymlinkInMountPath));
                }
                other => return Err(format!("{what}: {other}")),
            }
        }
    }
    // A trusted source may follow links when asked.
    let o = bind(Mount::bind(format!("{v}/link"), d).follow_source_symlinks()).ctx("opt-in")?;
    ensure_eq!(String::from_utf8_lossy(&o.stdout), "followed\n");
    // `..` in a source is refused before any process exists, opt-in or not.
    for m in [
        Mount::bind(format!("{v}/../vol/link"), d),
        Mount::bind(format!("{v}/../../etc"), d).follow_source_symlinks(),
    ] {
        let e = failed(bind(m), "..")?;
        ensure!(
            matches!(
                e,
                Error::InvalidInput {
                    what: "bind source",
                    ..
                }
            ),
            "{e}"
        );
        ensure!(no_children(), "a process was created");
    }
    Ok(())
}
root_and_rootless!(
    bind_sources_do_not_follow_symlinks,
    t_bind_sources_do_not_follow_symlinks
);

/// A mount path with `..` (a target, a new root, a directory to create) is refused before any
/// process exists, and nothing is left open.
fn t_dot_dot_in_mount_paths_is_refused_before_clone(root: bool) -> R {
    let d = tempdir()?;
    let p = d.path().to_str().unwrap().to_string();
    for m in [
        Mount::tmpfs(format!("{p}/x/../y")),
        Mount::bind("/usr", format!("{p}/..")),
        Mount::mkdir(format!("{p}/../escape"), 0o755),
        Mount::chroot(format!("{p}/x/..")),
    ] {
        let what = m.to_string();
        common::ns::without_fd_leak(|| {
            let r = sh(root, "true", NamespaceSet::MOUNT)
                .mount(Mount::propagation("/", Propagation::Private).recursive())
                .mount(m)
                .spawn();
            match failed(r, &what)? {
                Error::InvalidInput {
                    what: "mount path", ..
                } => Ok(()),
                other => Err(format!("{what}: {other}")),
            }
        })?;
        ensure!(no_children(), "{what}: a process was created");
    }
    Ok(())
}
root_and_rootless!(
    dot_dot_in_mount_paths_is_refused_before_clone,
    t_dot_dot_in_mount_paths_is_refused_before_clone
);

fn t_file_steps_never_open_what_is_there(root: bool) -> R {
    // What may be planted where a file step is to create its mount target: a FIFO (opening it
    // for writing would wait for a reader: spawn() would never return), a directory, a
    // symlink; and a regular file, which is fine and left as it is.
    let d = tempdir()?;
    let p = d.path().to_str().unwrap().to_string();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        format!("{p}/fifo"),
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o666),
        0,
    )
    .ctx("mkfifo")?;
    std::fs::create_dir(d.path().join("dir")).ctx("mkdir")?;
    std::fs::write(d.path().join("regular"), "keep").ctx("write")?;
    std::os::unix::fs::symlink(d.path().join("regular"), d.path().join("link")).ctx("symlink")?;
    in_child_within(std::time::Duration::from_secs(20), || {
        for (name, errno) in [
            ("fifo", libc::EEXIST),
            ("dir", libc::EISDIR),
            ("link", libc::ELOOP),
        ] {
            let e = failed(
                isolated(root, "/bin/true", NamespaceSet::empty())
                    .mount(Mount::file(format!("{p}/{name}"), 0o644))
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
        let st = isolated(root, "/bin/true", NamespaceSet::empty())
            .mount(Mount::file(format!("{p}/regular"), 0o644))
            .mount(Mount::file(format!("{p}/new"), 0o640))
            .status()
            .ctx("regular")?;
        ensure!(st.success(), "{st}");
        Ok(())
    })?;
    ensure_eq!(
        std::fs::read_to_string(d.path().join("regular")).ctx("read")?,
        "keep"
    );
    let new = std::fs::symlink_metadata(d.path().join("new")).ctx("stat new")?;
    ensure!(new.is_file() && new.len() == 0, "{new:?}");
    Ok(())
}
root_and_rootless!(
    file_steps_never_open_what_is_there,
    t_file_steps_never_open_what_is_there
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
    ensure_eq!(out.lines().last(), Some("666"));
    ensure!(
        Mount::fs("devpts", "/x")
            .option("a,b", None)
            .prepare_check()
            .is_err(),
        "comma accepted"
    );
    Ok(())
}
root_and_rootless!(
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
root_and_rootless!(loopback_up, t_loopback_up);

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
root_and_rootless!(
    filesystem_steps_need_no_mount_namespace,
    t_filesystem_steps_need_no_mount_namespace
);

/// A program name is searched in `PATH` in the child's view, after the mount steps: a tool
/// bound onto a `PATH` directory is found, as `std::process` finds it in its child.
fn t_program_names_are_searched_after_the_mount_steps(root: bool) -> R {
    let out = stdout_of(
        isolated(root, "lns-tool", NamespaceSet::MOUNT)
            .args(["-c", "echo found"])
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .mount(Mount::propagation("/", Propagation::Private).recursive())
            .mount(Mount::tmpfs("/usr/local/bin"))
            .mount(Mount::file("/usr/local/bin/lns-tool", 0o755))
            .mount(Mount::bind("/bin/sh", "/usr/local/bin/lns-tool").follow_source_symlinks()),
    )?;
    ensure_eq!(out, "found\n");
    Ok(())
}
root_and_rootless!(
    program_names_are_searched_after_the_mount_steps,
    t_program_names_are_searched_after_the_mount_steps
);
