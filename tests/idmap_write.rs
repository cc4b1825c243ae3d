//! Writing the id maps and `setgroups` of an existing process: the caller's own after
//! `unshare_calling_thread`, a child's from the parent, and ranges through newuidmap.

mod common;

use common::*;
use linux_namespaces::{
    Command, Error, IdMap, IdRange, NamespaceSet, Namespaces, SetGroups, Stdio,
};

type R = Result<(), String>;

fn ids() -> (u32, u32) {
    (
        rustix::process::geteuid().as_raw(),
        rustix::process::getegid().as_raw(),
    )
}

fn squeezed(path: &str) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("\n")
}

fn t_the_caller_maps_itself_after_unsharing(_root: bool) -> R {
    let (uid, gid) = ids();
    Namespaces::unshare_calling_thread(NamespaceSet::USER).map_err(|e| e.to_string())?;
    SetGroups::Deny.write(None).map_err(|e| e.to_string())?;
    IdMap::single(0, uid)
        .and_then(|m| m.write_uid_map(None))
        .map_err(|e| e.to_string())?;
    IdMap::single(0, gid)
        .and_then(|m| m.write_gid_map(None))
        .map_err(|e| e.to_string())?;
    ensure_eq!(squeezed("/proc/self/uid_map"), format!("0 {uid} 1"));
    ensure_eq!(squeezed("/proc/self/gid_map"), format!("0 {gid} 1"));
    ensure_eq!(squeezed("/proc/self/setgroups"), "deny");
    ensure_eq!(rustix::process::geteuid().as_raw(), 0);
    // A map is written once: the second write is the kernel's EPERM, as an error.
    let again = IdMap::single(0, uid).unwrap().write_uid_map(None);
    ensure!(
        matches!(&again, Err(Error::Os { source, .. }) if source.raw_os_error() == Some(libc::EPERM)),
        "{again:?}"
    );
    Ok(())
}
root_and_rootless!(
    the_caller_maps_itself_after_unsharing,
    t_the_caller_maps_itself_after_unsharing
);

fn t_own_gid_map_needs_setgroups_deny(_root: bool) -> R {
    // Even for root: inside the new namespace the caller has no CAP_SETGID over the parent
    // namespace, so the kernel requires "deny" first.
    let (_, gid) = ids();
    Namespaces::unshare_calling_thread(NamespaceSet::USER).map_err(|e| e.to_string())?;
    let r = IdMap::single(0, gid).unwrap().write_gid_map(None);
    ensure!(
        matches!(&r, Err(Error::Os { source, .. }) if source.raw_os_error() == Some(libc::EPERM)),
        "{r:?}"
    );
    Ok(())
}
root_and_rootless!(
    own_gid_map_needs_setgroups_deny,
    t_own_gid_map_needs_setgroups_deny
);

fn t_the_parent_maps_a_child(_root: bool) -> R {
    let (uid, gid) = ids();
    let mut child = Command::new("cat")
        .unshare(NamespaceSet::USER)
        .stdin(Stdio::Piped)
        .spawn()
        .map_err(|e| e.to_string())?;
    let pid = child.id();
    let res = (|| {
        SetGroups::Deny
            .write(Some(pid))
            .map_err(|e| e.to_string())?;
        IdMap::single(0, uid)
            .and_then(|m| m.write_uid_map(Some(pid)))
            .map_err(|e| e.to_string())?;
        IdMap::single(0, gid)
            .and_then(|m| m.write_gid_map(Some(pid)))
            .map_err(|e| e.to_string())?;
        ensure_eq!(
            squeezed(&format!("/proc/{pid}/uid_map")),
            format!("0 {uid} 1")
        );
        ensure_eq!(
            squeezed(&format!("/proc/{pid}/gid_map")),
            format!("0 {gid} 1")
        );
        Ok(())
    })();
    drop(child.stdin.take());
    child.wait().map_err(|e| e.to_string())?;
    res
}
root_and_rootless!(the_parent_maps_a_child, t_the_parent_maps_a_child);

#[test]
fn bad_pids_are_typed_errors() {
    let map = IdMap::single(0, 0).unwrap();
    assert!(matches!(
        map.write_uid_map(Some(0)),
        Err(Error::InvalidInput { .. })
    ));
    assert!(matches!(map.newgidmap(0), Err(Error::InvalidInput { .. })));
    assert!(matches!(
        SetGroups::Deny.write(Some(0)),
        Err(Error::InvalidInput { .. })
    ));
    // A pid above pid_max can never exist.
    let gone = 1 << 30;
    let r = map.write_gid_map(Some(gone));
    assert!(
        matches!(r, Err(Error::NoSuchProcess { pid }) if pid == gone)
            || matches!(r, Err(Error::InvalidInput { .. })),
        "{r:?}"
    );
}

#[test]
fn newuidmap_maps_subordinate_ranges_rootless() {
    rootless(|| {
        let (uid, _) = ids();
        let (Some(su), Some(sg)) = (
            subid_start("/etc/subuid", uid),
            subid_start("/etc/subgid", uid),
        ) else {
            ensure!(
                !require_setup(
                    "newuidmap_maps_subordinate_ranges_rootless",
                    false,
                    "an /etc/subuid and /etc/subgid range for the unprivileged user"
                ),
                "unreachable"
            );
            return Ok(());
        };
        let mut child = Command::new("cat")
            .unshare(NamespaceSet::USER)
            .stdin(Stdio::Piped)
            .spawn()
            .map_err(|e| e.to_string())?;
        let pid = child.id();
        let res = (|| {
            let (_, gid) = ids();
            let u = IdMap::new([IdRange::new(0, uid, 1), IdRange::new(1, su, 1000)])
                .map_err(|e| e.to_string())?;
            let g = IdMap::new([IdRange::new(0, gid, 1), IdRange::new(1, sg, 1000)])
                .map_err(|e| e.to_string())?;
            u.newuidmap(pid).map_err(|e| e.to_string())?;
            g.newgidmap(pid).map_err(|e| e.to_string())?;
            ensure_eq!(
                squeezed(&format!("/proc/{pid}/uid_map")),
                format!("0 {uid} 1\n1 {su} 1000")
            );
            ensure_eq!(
                squeezed(&format!("/proc/{pid}/gid_map")),
                format!("0 {gid} 1\n1 {sg} 1000")
            );
            // A range not granted: newuidmap refuses, and says so in the error.
            let bad = IdMap::single(5, su + 10_000_000).unwrap().newuidmap(pid);
            ensure!(
                matches!(&bad, Err(Error::Os { source, .. }) if source.to_string().contains("newuidmap failed")),
                "{bad:?}"
            );
            Ok(())
        })();
        drop(child.stdin.take());
        child.wait().map_err(|e| e.to_string())?;
        res
    })
    .unwrap()
}
