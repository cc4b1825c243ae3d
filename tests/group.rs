//! Specification of `NamespaceGroup`: namespaces created and set up once, kept alive by their
//! handles, and joined by many commands.

mod common;

use common::*;
use linux_namespaces::{
    Error, GroupSetup, NamespaceGroup, Namespaces, Stdio, inspect, inspect::NamespaceIds,
};

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Runs `script` with `/bin/sh -c` in the group and returns its stdout, trimmed.
fn run(group: &NamespaceGroup, script: &str) -> Result<String, String> {
    let out = group
        .command("/bin/sh")
        .args(["-c", script])
        .output()
        .map_err(err)?;
    ensure!(
        out.status.success(),
        "{script}: {} {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn ids(group: &NamespaceGroup) -> String {
    group
        .namespaces()
        .iter()
        .map(|ns| ns.id().to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

const SET: NamespaceSet = NamespaceSet::USER
    .union(NamespaceSet::NET)
    .union(NamespaceSet::UTS)
    .union(NamespaceSet::IPC);

#[test]
fn rootless_group_is_set_up_once_and_every_command_runs_in_it() {
    rootless(|| {
        let group =
            NamespaceGroup::create(SET, GroupSetup::new().hostname("grouped").domainname("dom"))
                .map_err(err)?;
        ensure!(group.kinds() == SET, "kinds {}", group.kinds());
        let expected = ids(&group);
        for _ in 0..3 {
            let seen = run(
                &group,
                "for k in ipc net user uts; do readlink /proc/self/ns/$k; done | tr '\\n' ' '",
            )?;
            ensure!(seen == expected, "{seen} vs {expected}");
            let names = run(
                &group,
                "echo $(hostname) $(cat /proc/sys/kernel/domainname)",
            )?;
            ensure_eq!(names, "grouped dom");
            // Root in the group's user namespace, the caller's uid outside.
            ensure!(run(&group, "id -u")? == "0", "uid");
            // A new network namespace: loopback only.
            let links = run(&group, "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '")?;
            ensure!(links == "lo", "links {links:?}");
        }
        Ok(())
    })
    .unwrap();
}

#[test]
fn handles_alone_keep_the_group_alive() {
    rootless(|| {
        let group = NamespaceGroup::create(SET, GroupSetup::new()).map_err(err)?;
        // The short-lived child is gone: no process is in the group's namespaces.
        let net = group.namespaces().get(NamespaceKind::Network).unwrap().id();
        let listed = inspect::list(NamespaceSet::NET).map_err(err)?;
        ensure!(
            !listed.iter().any(|n| n.id == net && n.nprocs() > 0),
            "a process is in the group's network namespace"
        );
        // Yet commands still join it.
        ensure!(
            run(&group, "readlink /proc/self/ns/net")? == net.to_string(),
            "joined another namespace"
        );
        Ok(())
    })
    .unwrap();
}

#[test]
fn what_one_command_changes_the_next_one_sees() {
    rootless(|| {
        let group = NamespaceGroup::create(SET, GroupSetup::new().hostname("a")).map_err(err)?;
        run(&group, "hostname b")?;
        ensure!(run(&group, "hostname")? == "b", "hostname not shared");
        Ok(())
    })
    .unwrap();
}

#[test]
fn commands_run_concurrently_in_one_group() {
    rootless(|| {
        let group = NamespaceGroup::create(SET, GroupSetup::new()).map_err(err)?;
        let (gate_r, gate_w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
        let mut children = Vec::new();
        for _ in 0..8 {
            let mut cmd = group.command("/bin/sh");
            cmd.args(["-c", "read _ <&3; readlink /proc/self/ns/uts"])
                .fd(3, gate_r.try_clone().unwrap())
                .stdout(Stdio::Piped);
            children.push(cmd.spawn().map_err(err)?);
        }
        // All eight are in the group at once.
        let uts = group.namespaces().get(NamespaceKind::Uts).unwrap().id();
        for c in &children {
            let seen = NamespaceIds::of_kinds(c.id(), NamespaceSet::UTS).map_err(err)?;
            ensure!(seen.get(NamespaceKind::Uts) == Some(uts), "pid {}", c.id());
        }
        drop(gate_w);
        for c in children {
            let out = c.wait_with_output().map_err(err)?;
            ensure!(out.status.success(), "{}", out.status);
            ensure!(
                String::from_utf8_lossy(&out.stdout).trim() == uts.to_string(),
                "{out:?}"
            );
        }
        Ok(())
    })
    .unwrap();
}

#[test]
fn a_group_of_namespaces_already_held_is_joined_the_same_way() {
    rootless(|| {
        let holder = Holder::rootless(NamespaceSet::USER | NamespaceSet::UTS);
        let group = NamespaceGroup::from_namespaces(
            Namespaces::open(holder.pid, NamespaceSet::USER | NamespaceSet::UTS).map_err(err)?,
        );
        let uts = group.namespaces().get(NamespaceKind::Uts).unwrap().id();
        ensure!(
            run(&group, "readlink /proc/self/ns/uts")? == uts.to_string(),
            "not joined"
        );
        drop(holder);
        let back = group.into_namespaces();
        ensure!(
            back.kinds() == NamespaceSet::USER | NamespaceSet::UTS,
            "kinds"
        );
        Ok(())
    })
    .unwrap();
}

#[test]
#[ignore = "needs root"]
fn root_group_without_a_user_namespace() {
    assert_root("root_group_without_a_user_namespace");
    as_root(|| {
        let set = NamespaceSet::NET | NamespaceSet::UTS | NamespaceSet::IPC;
        let group =
            NamespaceGroup::create(set, GroupSetup::new().hostname("rooted")).map_err(err)?;
        ensure!(run(&group, "hostname")? == "rooted", "hostname");
        let user = Namespace::current(NamespaceKind::User).map_err(err)?;
        let net = group.namespaces().get(NamespaceKind::Network).unwrap();
        ensure!(
            net.owner().map_err(err)?.id() == user.id(),
            "owned by another user namespace"
        );
        // With the caller's privilege, a command may unshare more (here a pid namespace).
        let pid1 = group
            .command("/bin/sh")
            .args(["-c", "echo $$"])
            .unshare(NamespaceSet::PID)
            .output()
            .map_err(err)?;
        ensure!(
            String::from_utf8_lossy(&pid1.stdout).trim() == "1",
            "{pid1:?}"
        );
        Ok(())
    })
    .unwrap();
}

/// Whether `lo` is up in the group's network namespace, asked from inside: a forked child
/// enters the group and reads the flags with `ioctl(SIOCGIFFLAGS)`.
fn lo_is_up(group: &NamespaceGroup) -> Result<bool, String> {
    let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).map_err(err)?;
    let (mut r, w) = (std::fs::File::from(r), std::fs::File::from(w));
    in_child(move || {
        group.namespaces().enter().map_err(err)?;
        // SAFETY: a socket the child owns and closes by exiting.
        let sock = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM, 0) };
        ensure!(sock >= 0, "socket: {}", std::io::Error::last_os_error());
        // SAFETY: ifreq is plain data; zeroed is a valid value.
        let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
        for (d, s) in ifr.ifr_name.iter_mut().zip(b"lo") {
            *d = *s as libc::c_char;
        }
        // SAFETY: SIOCGIFFLAGS fills the flags of the ifreq it is given.
        let rc = unsafe { libc::ioctl(sock, libc::SIOCGIFFLAGS, &mut ifr) };
        ensure!(rc == 0, "SIOCGIFFLAGS: {}", std::io::Error::last_os_error());
        // SAFETY: the flags member is what SIOCGIFFLAGS set.
        let flags = unsafe { ifr.ifr_ifru.ifru_flags };
        let up = flags & libc::IFF_UP as libc::c_short != 0;
        std::io::Write::write_all(&mut &w, &[u8::from(up)]).map_err(err)?;
        Ok(())
    })?;
    let mut b = [0u8; 1];
    std::io::Read::read_exact(&mut r, &mut b).map_err(err)?;
    Ok(b[0] == 1)
}

#[test]
fn loopback_is_brought_up_rootless_only_when_asked() {
    rootless(|| {
        let up = NamespaceGroup::create(SET, GroupSetup::new().loopback_up(true)).map_err(err)?;
        ensure!(lo_is_up(&up)?, "lo is down");
        let down = NamespaceGroup::create(SET, GroupSetup::new()).map_err(err)?;
        ensure!(!lo_is_up(&down)?, "lo brought up without being asked");
        Ok(())
    })
    .unwrap();
}

#[test]
#[ignore = "needs root"]
fn loopback_is_up_in_a_group_made_by_root_without_a_user_namespace() {
    assert_root("loopback_is_up_in_a_group_made_by_root_without_a_user_namespace");
    as_root(|| {
        let group = NamespaceGroup::create(
            NamespaceSet::NET | NamespaceSet::UTS,
            GroupSetup::new().loopback_up(true),
        )
        .map_err(err)?;
        ensure!(lo_is_up(&group)?, "lo is down");
        #[cfg(feature = "net")]
        {
            let net = group.namespaces().get(NamespaceKind::Network).unwrap();
            let lo = linux_namespaces::net::Netlink::open(net)
                .map_err(err)?
                .link("lo")
                .map_err(err)?;
            ensure!(lo.up, "netlink says lo is down");
        }
        Ok(())
    })
    .unwrap();
}

#[test]
fn impossible_groups_are_invalid_input() {
    for (set, setup, why) in [
        (NamespaceSet::empty(), GroupSetup::new(), "empty"),
        (
            NamespaceSet::USER | NamespaceSet::PID,
            GroupSetup::new(),
            "pid",
        ),
        (
            NamespaceSet::USER | NamespaceSet::NET,
            GroupSetup::new().hostname("x"),
            "hostname without uts",
        ),
        (
            NamespaceSet::USER | NamespaceSet::UTS,
            GroupSetup::new().loopback_up(true),
            "loopback without net",
        ),
    ] {
        match NamespaceGroup::create(set, setup) {
            Err(Error::InvalidInput { .. }) => {}
            other => panic!("{why}: {other:?}"),
        }
    }
}

#[test]
fn every_kind_but_pid_can_be_grouped_rootless() {
    rootless(|| {
        let set = NamespaceSet::all() - NamespaceSet::PID;
        let group = NamespaceGroup::create(set, GroupSetup::new()).map_err(err)?;
        ensure!(group.kinds() == set, "kinds {}", group.kinds());
        let expected = ids(&group);
        let seen = run(
            &group,
            "for k in cgroup ipc mnt net time user uts; do readlink /proc/self/ns/$k; done \
             | tr '\\n' ' '",
        )?;
        ensure!(seen == expected, "{seen} vs {expected}");
        Ok(())
    })
    .unwrap();
}
