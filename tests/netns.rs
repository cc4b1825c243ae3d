//! The `netns` example, run as a real program, against iproute2's `ip netns` on the same
//! `/run/netns`.
//!
//! Each test runs in a forked child with a mount namespace of its own (every mount private)
//! and a fresh tmpfs on `/run`: the namespaces it persists under `/run/netns` are mounted
//! only there, no file lands on the host's `/run`, and everything goes away with the child.
//! The host's network namespace is compared before and after. The rootless variant does the
//! same inside a user namespace that it owns.
#![cfg(feature = "net")]

mod common;

use std::net::{IpAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::Duration;

use common::*;
use linux_namespaces::net::Netlink;

const A6: &str = "fd00:6c6e:73::1";
const B6: &str = "fd00:6c6e:73::2";

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// The example's binary, built once per test run (with the `net` feature it requires) with
/// the profile of this test binary, before any child is forked.
fn example() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| example_binary("netns", &["net"]))
}

/// iproute2 `ip`, which the comparisons need (they fail, not skip, without it).
fn ip_tool() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let path = std::env::var_os("PATH").unwrap_or_default();
        std::env::split_paths(&path)
            .map(|d| d.join("ip"))
            .find(|p| p.is_file())
            .expect("iproute2 ip(8) is not in PATH; the comparisons need it")
    })
}

fn run(program: &Path, args: &[&str]) -> Result<Output, String> {
    Command::new(program)
        .args(args)
        .output()
        .ctx(&format!("run {} {args:?}", program.display()))
}

/// Runs the example; it must succeed. Returns its stdout.
fn netns(args: &[&str]) -> Result<String, String> {
    checked(example(), args)
}

/// Runs `ip`; it must succeed. Returns its stdout.
fn ip_cmd(args: &[&str]) -> Result<String, String> {
    checked(ip_tool(), args)
}

fn checked(program: &Path, args: &[&str]) -> Result<String, String> {
    let out = run(program, args)?;
    ensure!(
        out.status.success(),
        "{} {args:?} failed ({}): {}",
        program.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The names `ip netns list` prints (it may add ` (id: N)` after a name).
fn ip_netns_list() -> Result<Vec<String>, String> {
    let mut names: Vec<String> = ip_cmd(&["netns", "list"])?
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect();
    names.sort();
    Ok(names)
}

fn our_list() -> Result<Vec<String>, String> {
    Ok(netns(&["list"])?.lines().map(str::to_owned).collect())
}

/// Gives the calling forked child a mount namespace of its own with `/` private and a new
/// tmpfs on `/run`.
fn private_run() -> Result<(), String> {
    use rustix::mount::{MountFlags, MountPropagationFlags as P};
    Namespaces::unshare_calling_thread(NamespaceSet::MOUNT).ctx("unshare(MOUNT)")?;
    rustix::mount::mount_change("/", P::REC | P::PRIVATE).ctx("make / rprivate")?;
    rustix::mount::mount("tmpfs", "/run", "tmpfs", MountFlags::empty(), None)
        .ctx("mount tmpfs on /run")
}

/// The host's links (index, name, admin state, MTU) and addresses, to compare before/after.
type HostLinks = Vec<(u32, String, bool, u32)>;
type HostAddresses = Vec<(u32, IpAddr, u8)>;

fn host_net() -> (HostLinks, HostAddresses) {
    let nl = Netlink::open(&Namespace::current(NamespaceKind::Network).unwrap()).unwrap();
    let links = nl
        .links()
        .unwrap()
        .into_iter()
        .map(|l| (l.index, l.name, l.up, l.mtu))
        .collect();
    let mut addrs: Vec<_> = nl
        .all_addresses()
        .unwrap()
        .into_iter()
        .map(|a| (a.link, a.address, a.prefix_len))
        .collect();
    addrs.sort();
    (links, addrs)
}

/// Runs `f` as root in a forked child with a private `/run`; checks the host's network
/// namespace and `/run/netns` did not change.
fn isolated(f: impl FnOnce() -> Result<(), String>) {
    let before = host_net();
    let host_run = list_dir("/run/netns");
    example();
    ip_tool();
    let outcome = as_root(|| {
        private_run()?;
        f()
    });
    assert_eq!(before, host_net(), "the host network namespace changed");
    assert_eq!(
        host_run,
        list_dir("/run/netns"),
        "the host's /run/netns changed"
    );
    outcome.unwrap();
}

fn list_dir(dir: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Interface name -> (operstate, addresses as "ADDR/LEN" with " tentative" if so), from
/// `ip -j addr` output.
fn addr_json(text: &str) -> Result<Vec<(String, Vec<String>)>, String> {
    let v: serde_json::Value = serde_json::from_str(text).ctx("parse ip -j addr")?;
    let mut out = Vec::new();
    for link in v.as_array().ok_or("not a JSON array")? {
        let name = link["ifname"].as_str().unwrap_or_default().to_owned();
        let mut addrs: Vec<String> = link["addr_info"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|x| {
                        format!(
                            "{}/{}{}",
                            x["local"].as_str().unwrap_or_default(),
                            x["prefixlen"],
                            if x["tentative"] == true {
                                " tentative"
                            } else {
                                ""
                            }
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        addrs.sort();
        out.push((name, addrs));
    }
    out.sort();
    Ok(out)
}

// ---------------------------------------------------------------------------------------------

#[test]
#[ignore = "needs root"]
fn add_is_listed_by_ip_netns_list_and_delete_removes_it() {
    assert_root("add_is_listed_by_ip_netns_list_and_delete_removes_it");
    isolated(|| {
        netns(&["add", "blue"])?;
        netns(&["add", "red"])?;
        ensure!(
            ip_netns_list()? == ["blue", "red"],
            "ip netns list: {:?}",
            ip_netns_list()?
        );
        ensure!(
            our_list()? == ["blue", "red"],
            "netns list: {:?}",
            our_list()?
        );
        let blue = Namespace::from_path("/run/netns/blue").ctx("open blue")?;
        ensure_eq!(blue.kind(), NamespaceKind::Network);
        ensure!(
            blue.id() != Namespace::current(NamespaceKind::Network).ctx("ours")?.id(),
            "blue is our own namespace"
        );
        // Adding a name that exists fails and changes nothing.
        let out = run(example(), &["add", "blue"])?;
        ensure!(!out.status.success(), "second add succeeded");
        ensure!(
            String::from_utf8_lossy(&out.stderr).contains("EEXIST"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        netns(&["delete", "blue"])?;
        ensure!(
            ip_netns_list()? == ["red"],
            "after delete: {:?}",
            ip_netns_list()?
        );
        ensure!(!Path::new("/run/netns/blue").exists(), "file left behind");
        netns(&["delete", "red"])?;
        ensure!(our_list()?.is_empty(), "{:?}", our_list()?);
        Ok(())
    });
}

#[test]
#[ignore = "needs root"]
fn namespaces_of_ip_netns_add_are_listed_entered_and_deleted() {
    assert_root("namespaces_of_ip_netns_add_are_listed_entered_and_deleted");
    isolated(|| {
        ip_cmd(&["netns", "add", "theirs"])?;
        netns(&["add", "ours"])?;
        ensure!(
            our_list()? == ip_netns_list()?,
            "{:?} vs {:?}",
            our_list()?,
            ip_netns_list()?
        );
        ensure!(our_list()? == ["ours", "theirs"], "{:?}", our_list()?);
        let id = Namespace::from_path("/run/netns/theirs").ctx("open")?.id();
        let seen = netns(&["exec", "theirs", "readlink", "/proc/self/ns/net"])?;
        ensure!(
            seen.trim() == id.to_string(),
            "exec saw {seen:?}, expected {id}"
        );
        // ip netns delete of ours, our delete of theirs.
        ip_cmd(&["netns", "delete", "ours"])?;
        netns(&["delete", "theirs"])?;
        ensure!(ip_netns_list()?.is_empty(), "{:?}", ip_netns_list()?);
        Ok(())
    });
}

#[test]
#[ignore = "needs root"]
fn exec_runs_in_the_namespace_and_propagates_the_exit_status() {
    assert_root("exec_runs_in_the_namespace_and_propagates_the_exit_status");
    isolated(|| {
        netns(&["add", "x"])?;
        let id = Namespace::from_path("/run/netns/x").ctx("open")?.id();
        let ours = netns(&["exec", "x", "readlink", "/proc/self/ns/net"])?;
        let theirs = ip_cmd(&["netns", "exec", "x", "readlink", "/proc/self/ns/net"])?;
        ensure!(ours.trim() == id.to_string(), "ours {ours:?} vs {id}");
        ensure!(ours == theirs, "ours {ours:?}, ip netns exec {theirs:?}");
        for code in [0, 3, 7, 255] {
            let script = format!("exit {code}");
            let out = run(example(), &["exec", "x", "sh", "-c", &script])?;
            let ip_out = run(ip_tool(), &["netns", "exec", "x", "sh", "-c", &script])?;
            ensure!(
                out.status.code() == Some(code),
                "exit {code}: {}",
                out.status
            );
            ensure!(
                out.status.code() == ip_out.status.code(),
                "ip: {}",
                ip_out.status
            );
        }
        // A signal: 128 + its number, as a shell reports it.
        let out = run(example(), &["exec", "x", "sh", "-c", "kill -TERM $$"])?;
        ensure!(
            out.status.code() == Some(128 + libc::SIGTERM),
            "{}",
            out.status
        );
        // The program's own links: only loopback, down, as ip sees them there.
        let ours = netns(&["exec", "x", ip_tool().to_str().unwrap(), "-j", "addr"])?;
        let theirs = ip_cmd(&["netns", "exec", "x", "ip", "-j", "addr"])?;
        ensure!(
            addr_json(&ours)? == addr_json(&theirs)?,
            "{ours} vs {theirs}"
        );
        // A name that does not exist.
        let out = run(example(), &["exec", "missing", "true"])?;
        let err = String::from_utf8_lossy(&out.stderr);
        ensure!(
            out.status.code() == Some(1) && err.contains("ENOENT"),
            "{err}"
        );
        Ok(())
    });
}

#[test]
#[ignore = "needs root"]
fn connect_puts_one_veth_end_with_its_address_in_each_namespace_ready_for_traffic() {
    assert_root("connect_puts_one_veth_end_with_its_address_in_each_namespace_ready_for_traffic");
    isolated(|| {
        netns(&["add", "left"])?;
        netns(&["add", "right"])?;
        netns(&[
            "connect",
            "left",
            "right",
            "--addr-a",
            &format!("{A6}/64"),
            "--addr-b",
            &format!("{B6}/64"),
        ])?;
        // Usable as soon as connect returns: a datagram from left to right, no waiting.
        let left = Namespace::from_path("/run/netns/left").ctx("left")?;
        let right = Namespace::from_path("/run/netns/right").ctx("right")?;
        let bind_in = |ns: &Namespace, addr: &str| {
            std::thread::scope(|s| {
                s.spawn(|| {
                    ns.enter().ctx("setns")?;
                    UdpSocket::bind((ip(addr), 0)).ctx("bind")
                })
                .join()
                .unwrap()
            })
        };
        let rx = bind_in(&right, B6)?;
        let tx = bind_in(&left, A6)?;
        tx.send_to(b"over connect", rx.local_addr().ctx("addr")?)
            .ctx("send")?;
        rx.set_read_timeout(Some(Duration::from_secs(20)))
            .ctx("timeout")?;
        let mut buf = [0u8; 32];
        let (n, from) = rx.recv_from(&mut buf).ctx("recv")?;
        ensure!(
            &buf[..n] == b"over connect" && from.ip() == ip(A6),
            "{from}"
        );

        // What ip sees, through our exec and through its own.
        for (name, link, addr) in [("left", "veth-right", A6), ("right", "veth-left", B6)] {
            let ours = netns(&["exec", name, ip_tool().to_str().unwrap(), "-j", "addr"])?;
            let theirs = ip_cmd(&["netns", "exec", name, "ip", "-j", "addr"])?;
            let (ours, theirs) = (addr_json(&ours)?, addr_json(&theirs)?);
            ensure!(ours == theirs, "{name}: {ours:?} vs {theirs:?}");
            let (_, addrs) = ours
                .iter()
                .find(|(n, _)| n == link)
                .ok_or_else(|| format!("{name} has no {link}: {ours:?}"))?;
            ensure!(
                addrs.contains(&format!("{addr}/64")),
                "{name}/{link}: {addrs:?}"
            );
            let lo = ours.iter().find(|(n, _)| n == "lo").ok_or("no lo")?;
            ensure!(lo.1.contains(&"127.0.0.1/8".to_owned()), "lo down: {lo:?}");
        }
        // The peer's address is on the other side only.
        let left_addrs = ip_cmd(&["netns", "exec", "left", "ip", "-j", "addr"])?;
        ensure!(!left_addrs.contains(B6), "{left_addrs}");
        Ok(())
    });
}

#[test]
fn bad_command_lines_exit_2_with_a_usage_message() {
    for args in [
        &[][..],
        &["bogus"],
        &["add"],
        &["exec", "x"],
        &["connect", "a", "b"],
        &[
            "connect",
            "a",
            "b",
            "--addr-a",
            "10.0.0.1/99",
            "--addr-b",
            "10.0.0.2/24",
        ],
    ] {
        let out = run(example(), args).unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("Try 'netns help'"), "{args:?}: {err}");
    }
    let help = netns(&["help"]).unwrap();
    assert!(help.contains("netns connect A B"), "{help}");
}

#[test]
fn rootless_add_without_a_user_namespace_fails_and_creates_nothing() {
    let host_run = list_dir("/run/netns");
    example();
    rootless(|| {
        let out = run(example(), &["add", "rootless-should-not-exist"])?;
        let err = String::from_utf8_lossy(&out.stderr);
        ensure!(out.status.code() == Some(1), "{}: {err}", out.status);
        ensure!(
            // EACCES creating a missing /run/netns, EPERM making an existing one a mount.
            err.contains("EPERM")
                || err.contains("EACCES")
                || err.contains("denied")
                || err.contains("not permitted"),
            "{err}"
        );
        Ok(())
    })
    .unwrap();
    assert_eq!(host_run, list_dir("/run/netns"));
}

#[test]
fn rootless_in_an_owned_user_namespace_add_connect_exec_and_list_work() {
    example();
    ip_tool();
    let before = host_net();
    rootless(|| {
        let (uid, gid) = (
            rustix::process::getuid().as_raw(),
            rustix::process::getgid().as_raw(),
        );
        Namespaces::unshare_calling_thread(NamespaceSet::USER | NamespaceSet::MOUNT)
            .ctx("unshare")?;
        map_self_to_root(uid, gid)?;
        {
            use rustix::mount::{MountFlags, MountPropagationFlags as P};
            rustix::mount::mount_change("/", P::REC | P::PRIVATE).ctx("rprivate")?;
            rustix::mount::mount("tmpfs", "/run", "tmpfs", MountFlags::empty(), None)
                .ctx("tmpfs /run")?;
        }
        netns(&["add", "ua"])?;
        netns(&["add", "ub"])?;
        ensure!(ip_netns_list()? == ["ua", "ub"], "{:?}", ip_netns_list()?);
        netns(&[
            "connect",
            "ua",
            "ub",
            "--addr-a",
            "10.5.0.1/30",
            "--addr-b",
            "10.5.0.2/30",
        ])?;
        let out = netns(&["exec", "ub", ip_tool().to_str().unwrap(), "-j", "addr"])?;
        let links = addr_json(&out)?;
        ensure!(
            links
                .iter()
                .any(|(n, a)| n == "veth-ua" && a.contains(&"10.5.0.2/30".to_owned())),
            "{links:?}"
        );
        netns(&["delete", "ua"])?;
        ensure!(our_list()? == ["ub"], "{:?}", our_list()?);
        Ok(())
    })
    .unwrap();
    assert_eq!(before, host_net(), "the host network namespace changed");
}
