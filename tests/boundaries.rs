//! Privilege boundaries at the edges: what a runtime that trusts this crate with a boundary
//! relies on. Each test is one promise: the program lands inside a joined pid namespace,
//! namespaces created next to a joined user namespace belong to it, a dropped uid keeps no
//! supplementary groups, the caller's own namespaces are never changed, and input that would
//! make the child misbehave is refused before clone.

mod common;

use std::os::fd::OwnedFd;
use std::os::unix::fs::PermissionsExt;

use common::*;
use linux_namespaces::{Command, Error, Mount, NamespaceGroup, Namespaces};

type R = Result<(), String>;

/// A long-running process in new user, pid and mount namespaces: a container to exec into.
fn container() -> Result<linux_namespaces::Child, String> {
    Command::new("/bin/sh")
        .args(["-c", "read _"])
        .unshare(NamespaceSet::USER | NamespaceSet::PID | NamespaceSet::MOUNT)
        .map_root()
        .stdin(linux_namespaces::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .ctx("start the container")
}

fn output_of(cmd: &mut Command) -> Result<String, String> {
    let o = cmd.output().ctx("spawn")?;
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    if !o.status.success() {
        return Err(format!(
            "{}: stdout {out:?} stderr {:?}",
            o.status,
            String::from_utf8_lossy(&o.stderr)
        ));
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// A joined pid namespace holds the program itself

/// "Exec into a running container" as documented: the program must be in the container's
/// pid namespace (two levels of NSpid, a small `$$`), unable to see or signal host pids.
fn t_program_lands_inside_a_joined_pid_namespace(_root: bool) -> R {
    let c = container()?;
    let set = NamespaceSet::USER | NamespaceSet::PID | NamespaceSet::MOUNT;
    let group = NamespaceGroup::from_namespaces(Namespaces::open(c.id(), set).ctx("open")?);
    let me = std::process::id();
    // The shell reads its own status (a `grep` would be a child showing its own).
    let script = format!(
        "while read -r k v; do [ \"$k\" = NSpid: ] && echo \"$k $v\"; done < /proc/self/status; \
         echo $$; kill -0 {me} 2>/dev/null; echo kill=$?"
    );
    let out = output_of(group.command("/bin/sh").args(["-c", &script]))?;
    let lines: Vec<&str> = out.lines().collect();
    let nspid: Vec<&str> = lines
        .first()
        .and_then(|l| l.strip_prefix("NSpid:"))
        .map(|l| l.split_whitespace().collect())
        .unwrap_or_default();
    ensure!(
        nspid.len() == 2,
        "NSpid has {} levels: {out:?}",
        nspid.len()
    );
    let inner: u32 = lines.get(1).and_then(|l| l.parse().ok()).unwrap_or(0);
    ensure!((2..10).contains(&inner), "$$ is {inner}: {out:?}");
    ensure_eq!(lines.get(2).copied(), Some("kill=1"), "{out:?}");
    Ok(())
}
root_and_rootless!(
    program_lands_inside_a_joined_pid_namespace,
    t_program_lands_inside_a_joined_pid_namespace
);

/// The exit status and signals reach the caller as the program's own.
fn t_joined_pid_namespace_status_and_signals(_root: bool) -> R {
    let c = container()?;
    let set = NamespaceSet::USER | NamespaceSet::PID | NamespaceSet::MOUNT;
    let group = NamespaceGroup::from_namespaces(Namespaces::open(c.id(), set).ctx("open")?);
    let st = group
        .command("/bin/sh")
        .args(["-c", "exit 7"])
        .status()
        .ctx("status")?;
    ensure_eq!(st.code(), Some(7));
    let mut child = group
        .command("/bin/sh")
        .args(["-c", "read _"])
        .stdin(linux_namespaces::Stdio::piped())
        .spawn()
        .ctx("spawn")?;
    child.signal(linux_namespaces::Signal::TERM).ctx("signal")?;
    let st = child.wait().ctx("wait")?;
    use std::os::unix::process::ExitStatusExt;
    ensure_eq!(st.signal(), Some(libc::SIGTERM), "{st}");
    Ok(())
}
root_and_rootless!(
    joined_pid_namespace_status_and_signals,
    t_joined_pid_namespace_status_and_signals
);

/// `init(true)` with a joined pid namespace: an init that reaps the program's orphans.
fn t_init_with_a_joined_pid_namespace(_root: bool) -> R {
    let c = container()?;
    let set = NamespaceSet::USER | NamespaceSet::PID | NamespaceSet::MOUNT;
    let group = NamespaceGroup::from_namespaces(Namespaces::open(c.id(), set).ctx("open")?);
    let out = output_of(
        group
            .command("/bin/sh")
            .args(["-c", "grep NSpid /proc/self/status; exit 3"])
            .init(true),
    );
    ensure!(
        out.as_ref().is_err_and(|e| e.contains("exit status: 3")),
        "{out:?}"
    );
    Ok(())
}
root_and_rootless!(
    init_with_a_joined_pid_namespace,
    t_init_with_a_joined_pid_namespace
);

// ---------------------------------------------------------------------------------------------
// Namespaces created next to a joined user namespace are owned by it

/// Joining a user namespace and creating a mount namespace: the new mount namespace belongs
/// to the joined user namespace, so its root may mount there.
fn t_created_after_joining_a_user_namespace(_root: bool) -> R {
    let c = container()?;
    let user = Namespaces::open(c.id(), NamespaceSet::USER).ctx("open user")?;
    let group = NamespaceGroup::from_namespaces(user);
    let out = output_of(
        group
            .command("/bin/sh")
            .args(["-c", "grep -c ' /mnt ' /proc/self/mountinfo; echo $$"])
            .unshare(NamespaceSet::MOUNT | NamespaceSet::PID)
            .mount(Mount::tmpfs("/mnt")),
    )?;
    ensure_eq!(out, "1\n1\n");
    Ok(())
}
root_and_rootless!(
    created_after_joining_a_user_namespace,
    t_created_after_joining_a_user_namespace
);

/// The new namespaces' owner is the joined user namespace (NS_GET_USERNS).
fn t_created_namespaces_are_owned_by_the_joined_user_namespace(_root: bool) -> R {
    let c = container()?;
    let user = Namespace::open(c.id(), NamespaceKind::User).ctx("open user")?;
    let mut child = Command::new("/bin/sh")
        .args(["-c", "read _"])
        .join(&user)
        .unshare(NamespaceSet::NET | NamespaceSet::UTS)
        .stdin(linux_namespaces::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .ctx("spawn")?;
    for kind in [NamespaceKind::Network, NamespaceKind::Uts] {
        let ns = child.namespace(kind).ctx("namespace")?;
        let owner = ns.owner().ctx("owner")?;
        ensure_eq!(owner.id(), user.id(), "{kind}");
    }
    drop(child.stdin.take());
    child.wait().ctx("wait")?;
    Ok(())
}
root_and_rootless!(
    created_namespaces_are_owned_by_the_joined_user_namespace,
    t_created_namespaces_are_owned_by_the_joined_user_namespace
);

// ---------------------------------------------------------------------------------------------
// A dropped uid keeps no supplementary groups

#[test]
#[ignore = "needs root"]
fn uid_and_gid_without_groups_clear_the_supplementary_groups() {
    assert_root("uid_and_gid_without_groups_clear_the_supplementary_groups");
    as_root(|| {
        let dir = std::env::temp_dir().join(format!("lns-groups-{}", std::process::id()));
        std::fs::create_dir_all(&dir).ctx("mkdir")?;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).ctx("chmod")?;
        let secret = dir.join("secret");
        std::fs::write(&secret, "s3cret\n").ctx("write")?;
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o640)).ctx("chmod")?;
        // The parent holds root's group and disk, as a root daemon might.
        // SAFETY: setgroups in this forked, single-threaded child.
        if unsafe { libc::setgroups(2, [0, 6].as_ptr()) } != 0 {
            return Err(format!("setgroups: {}", std::io::Error::last_os_error()));
        }
        let mut read = Command::new("/bin/sh");
        read.args([
            "-c",
            &format!("id -G; cat {} 2>/dev/null || echo denied", secret.display()),
        ])
        .uid(65534)
        .gid(65534);
        let out = output_of(&mut read);
        let with_groups = output_of(
            Command::new("/bin/sh")
                .args(["-c", &format!("cat {}", secret.display())])
                .uid(65534)
                .gid(65534)
                .groups(&[0]),
        );
        let _ = std::fs::remove_dir_all(&dir);
        ensure_eq!(out?, "65534\ndenied\n");
        // Asked-for groups are kept.
        ensure_eq!(with_groups?, "s3cret\n");
        Ok(())
    })
    .unwrap();
}

// ---------------------------------------------------------------------------------------------
// The caller's own namespaces are never changed

/// Joining the caller's own UTS, mount or network namespace does not make a host name, a
/// mount step or loopback_up acceptable: the check is by namespace, not by kind.
#[test]
#[ignore = "needs root"]
fn joining_the_callers_own_namespace_does_not_allow_changing_it() {
    assert_root("joining_the_callers_own_namespace_does_not_allow_changing_it");
    as_root(|| {
        // A private UTS and mount namespace for this forked child: if the check fails, only
        // these change, and the test sees it.
        Namespaces::unshare_calling_thread(NamespaceSet::UTS | NamespaceSet::MOUNT)
            .ctx("unshare")?;
        rustix::system::sethostname(b"before").ctx("sethostname")?;
        let before_mounts = mountinfo().lines().count();
        let uts = Namespace::current(NamespaceKind::Uts).ctx("uts")?;
        let mnt = Namespace::current(NamespaceKind::Mount).ctx("mnt")?;
        let net = Namespace::current(NamespaceKind::Network).ctx("net")?;
        let e = failed(
            Command::new("/bin/true")
                .join(&uts)
                .hostname("changed")
                .status(),
            "hostname in the caller's own UTS namespace",
        )?;
        ensure!(matches!(e, Error::InvalidInput { .. }), "{e}");
        let e = failed(
            Command::new("/bin/true")
                .join(&mnt)
                .mount(Mount::tmpfs("/mnt"))
                .status(),
            "mount in the caller's own mount namespace",
        )?;
        ensure!(matches!(e, Error::InvalidInput { .. }), "{e}");
        let e = failed(
            Command::new("/bin/true")
                .join(&net)
                .loopback_up(true)
                .status(),
            "loopback in the caller's own network namespace",
        )?;
        ensure!(matches!(e, Error::InvalidInput { .. }), "{e}");
        let uname = rustix::system::uname();
        ensure_eq!(uname.nodename().to_bytes(), b"before".as_slice());
        ensure_eq!(mountinfo().lines().count(), before_mounts);
        Ok(())
    })
    .unwrap();
}

// ---------------------------------------------------------------------------------------------
// Input that would make the child misbehave is refused before clone

fn dev_null() -> OwnedFd {
    std::fs::File::open("/dev/null").unwrap().into()
}

/// An fd target the child could not place (or whose arithmetic would overflow in the child,
/// which shares the parent's memory) is an InvalidInput, and no process is started.
#[test]
fn fd_targets_beyond_any_fd_table_are_rejected_before_clone() {
    in_child(|| {
        for target in [i32::MAX, i32::MAX - 1, 1 << 30] {
            let e = failed(
                Command::new("/bin/true").fd(target, dev_null()).spawn(),
                "fd target",
            )?;
            ensure!(matches!(e, Error::InvalidInput { .. }), "{target}: {e}");
            ensure!(no_children(), "a process was started for fd {target}");
        }
        Ok(())
    })
    .unwrap();
}

/// A uid the child's user namespace does not map fails at `setresuid` with a hint that says
/// so (a map that leaves the caller's uid out is documented on `Command::uid_map`).
#[test]
fn switching_to_an_unmapped_uid_names_the_cause() {
    rootless(|| {
        let e = failed(
            Command::new("/bin/true")
                .unshare(NamespaceSet::USER)
                .map_root()
                .uid(1000)
                .status(),
            "setresuid to an unmapped uid",
        )?;
        match &e {
            Error::Spawn {
                step, source, hint, ..
            } => {
                ensure_eq!(step.kind(), linux_namespaces::StepKind::Uid);
                ensure_eq!(source.raw_os_error(), Some(libc::EINVAL));
                ensure_eq!(hint, &Some(linux_namespaces::Hint::UnmappedId));
            }
            other => return Err(format!("{other}")),
        }
        ensure!(e.to_string().contains("not mapped"), "{e}");
        Ok(())
    })
    .unwrap();
}
