//! Specification of `net`: route netlink inside network namespaces the test creates, without
//! entering them, and without touching the host's own network namespace.
//!
//! Root tests create their namespaces with `net::create_namespace` (a short-lived thread
//! unshares; the test's threads stay in the host namespace) and drop them at the end, which
//! destroys every link made in them. Sockets for traffic are made on a thread that entered the
//! namespace; a socket stays in the namespace it was made in. Nothing waits on a timer:
//! readiness comes from netlink notifications (`wait_link_running`, `wait_address_ready`), and
//! the socket timeouts below are only there so a broken kernel fails the test instead of
//! hanging it. Rootless tests run in forked, unprivileged children (`rootless`), with a user
//! namespace that owns the network namespace they configure.
#![cfg(feature = "net")]

mod common;

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsFd;
use std::time::Duration;

use common::*;
use linux_namespaces::net::{self, AddressOptions, IpPrefix, Link, Netlink, Scope};
use linux_namespaces::{Error, Hint, Operation};

const A6: &str = "fd00:6c6e:73::1";
const B6: &str = "fd00:6c6e:73::2";
/// A safety net for kernel waits, never a synchronisation delay.
const DEADLINE: Duration = Duration::from_secs(20);

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// Runs `f` on a thread that has entered the network namespace `ns`; sockets `f` makes stay
/// in `ns`. The calling thread does not move.
fn in_netns<T: Send>(ns: &Namespace, f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| {
        s.spawn(|| {
            ns.enter().expect("setns into the test's network namespace");
            f()
        })
        .join()
        .expect("thread in the network namespace panicked")
    })
}

/// What must not change in the host's network namespace: each link's index, name, admin
/// state, MTU and master, and each address with its link and prefix.
#[derive(Debug, PartialEq)]
struct HostNet {
    links: Vec<(u32, String, bool, u32, Option<u32>)>,
    addresses: Vec<(u32, IpAddr, u8)>,
}

fn host_net() -> HostNet {
    let host = Namespace::current(NamespaceKind::Network).expect("open host netns");
    let nl = Netlink::open(&host).expect("netlink in the host netns");
    let links = nl
        .links()
        .expect("host links")
        .into_iter()
        .map(|l| (l.index, l.name, l.up, l.mtu, l.master))
        .collect();
    let mut addresses: Vec<_> = nl
        .all_addresses()
        .expect("host addresses")
        .into_iter()
        .map(|a| (a.link, a.address, a.prefix_len))
        .collect();
    addresses.sort();
    HostNet { links, addresses }
}

/// Runs a root test body and checks that the host's network namespace looks the same after.
fn leaves_host_alone(f: impl FnOnce() -> Result<(), String>) {
    let before = host_net();
    let outcome = f();
    let after = host_net();
    outcome.unwrap();
    assert_eq!(before, after, "the host network namespace changed");
}

fn link_named(links: &[Link], name: &str) -> Option<Link> {
    links.iter().find(|l| l.name == name).cloned()
}

/// Two new namespaces joined by a veth pair (`veth-a` in a, `veth-b` in b) with
/// `fd00:6c6e:73::1/64` and `::2/64`, everything up, duplicate address detection finished.
struct Pair {
    a: Namespace,
    b: Namespace,
    na: Netlink,
    nb: Netlink,
}

fn connected_pair(options: AddressOptions) -> Result<Pair, String> {
    let a = net::create_namespace().ctx("create namespace a")?;
    let b = net::create_namespace().ctx("create namespace b")?;
    let na = Netlink::open(&a).ctx("netlink in a")?;
    let nb = Netlink::open(&b).ctx("netlink in b")?;
    na.create_veth("veth-a", "veth-b", Some(&b))
        .ctx("create veth")?;
    na.add_address_with("veth-a", ip(A6), 64, options)
        .ctx("address a")?;
    nb.add_address_with("veth-b", ip(B6), 64, options)
        .ctx("address b")?;
    for (nl, link) in [(&na, "veth-a"), (&nb, "veth-b")] {
        nl.loopback_up().ctx("lo up")?;
        nl.link_up(link).ctx("link up")?;
    }
    for (nl, link, addr) in [(&na, "veth-a", A6), (&nb, "veth-b", B6)] {
        let l = nl.wait_link_running(link, DEADLINE).ctx("wait running")?;
        ensure!(l.up && l.running, "{link} is not running: {l:?}");
        let a = nl
            .wait_address_ready(link, ip(addr), DEADLINE)
            .ctx("wait for DAD")?;
        ensure!(!a.tentative && !a.dad_failed, "{addr} not ready: {a:?}");
    }
    Ok(Pair { a, b, na, nb })
}

// ---------------------------------------------------------------------------------------------
// Traffic between two namespaces
// ---------------------------------------------------------------------------------------------

#[test]
#[ignore = "needs root"]
fn veth_pair_carries_a_udp_datagram_and_tcp_bytes_between_two_new_namespaces() {
    assert_root("veth_pair_carries_a_udp_datagram_and_tcp_bytes_between_two_new_namespaces");
    leaves_host_alone(|| {
        // Without nodad: the addresses start tentative and the wait follows the kernel's
        // duplicate address detection to its end.
        let p = connected_pair(AddressOptions::new())?;

        // UDP: a datagram from a's address to b's.
        let rx = in_netns(&p.b, || UdpSocket::bind((ip(B6), 0))).ctx("bind udp in b")?;
        let tx = in_netns(&p.a, || UdpSocket::bind((ip(A6), 0))).ctx("bind udp in a")?;
        let port = rx.local_addr().ctx("udp addr")?.port();
        tx.send_to(b"datagram over veth", (ip(B6), port))
            .ctx("send_to")?;
        rx.set_read_timeout(Some(DEADLINE)).ctx("timeout")?;
        let mut buf = [0u8; 64];
        let (n, from) = rx.recv_from(&mut buf).ctx("recv_from")?;
        ensure!(&buf[..n] == b"datagram over veth", "got {:?}", &buf[..n]);
        ensure!(from.ip() == ip(A6), "datagram came from {from}");

        // TCP: a connection from a to a listener in b, bytes both ways.
        let listener = in_netns(&p.b, || TcpListener::bind((ip(B6), 0))).ctx("listen in b")?;
        let to = SocketAddr::new(ip(B6), listener.local_addr().ctx("tcp addr")?.port());
        let mut client =
            in_netns(&p.a, || TcpStream::connect_timeout(&to, DEADLINE)).ctx("connect from a")?;
        let (mut server, peer) = listener.accept().ctx("accept")?;
        ensure!(peer.ip() == ip(A6), "connection came from {peer}");
        for s in [&client, &server] {
            s.set_read_timeout(Some(DEADLINE)).ctx("timeout")?;
        }
        client.write_all(b"ping").ctx("client write")?;
        let mut got = [0u8; 4];
        server.read_exact(&mut got).ctx("server read")?;
        ensure!(&got == b"ping", "server got {got:?}");
        server.write_all(b"pong").ctx("server write")?;
        client.read_exact(&mut got).ctx("client read")?;
        ensure!(&got == b"pong", "client got {got:?}");

        // The addresses exist in the two namespaces and nowhere else.
        let in_a: Vec<_> = p.na.all_addresses().ctx("a addrs")?;
        ensure!(
            in_a.iter().any(|x| x.address == ip(A6)) && !in_a.iter().any(|x| x.address == ip(B6)),
            "a has {in_a:?}"
        );
        Ok(())
    });
}

#[test]
#[ignore = "needs root"]
fn nodad_addresses_are_ready_without_detection() {
    assert_root("nodad_addresses_are_ready_without_detection");
    leaves_host_alone(|| {
        let p = connected_pair(AddressOptions::new().nodad(true))?;
        let a = p.na.addresses("veth-a").ctx("addresses")?;
        let ours = a.iter().find(|x| x.address == ip(A6)).ok_or("no address")?;
        ensure!(!ours.tentative, "nodad address is tentative: {ours:?}");
        ensure!(ours.flags & 0x02 != 0, "IFA_F_NODAD not reported: {ours:?}");
        // UDP works at once.
        let rx = in_netns(&p.a, || UdpSocket::bind((ip(A6), 0))).ctx("bind in a")?;
        let tx = in_netns(&p.b, || UdpSocket::bind((ip(B6), 0))).ctx("bind in b")?;
        tx.send_to(b"x", rx.local_addr().ctx("addr")?).ctx("send")?;
        rx.set_read_timeout(Some(DEADLINE)).ctx("timeout")?;
        let (n, _) = rx.recv_from(&mut [0u8; 8]).ctx("recv")?;
        ensure!(n == 1, "got {n} bytes");
        Ok(())
    });
}

#[test]
#[ignore = "needs root"]
fn ipv4_default_route_through_the_peer_reaches_another_network() {
    assert_root("ipv4_default_route_through_the_peer_reaches_another_network");
    leaves_host_alone(|| {
        let p = connected_pair(AddressOptions::new().nodad(true))?;
        p.na.add_address("veth-a", ip("10.77.0.1"), 24)
            .ctx("v4 a")?;
        p.nb.add_address("veth-b", ip("10.77.0.2"), 24)
            .ctx("v4 b")?;
        // An address in a that b has no connected route to.
        p.na.add_address("lo", ip("10.88.0.1"), 32)
            .ctx("lo address")?;
        p.nb.add_default_route(ip("10.77.0.1"), Some("veth-b"))
            .ctx("default route")?;
        let routes = p.nb.routes().ctx("routes")?;
        let default = routes
            .iter()
            .find(|r| r.destination == IpPrefix::ANY_V4)
            .ok_or_else(|| format!("no default route in {routes:?}"))?;
        ensure!(
            default.gateway == Some(ip("10.77.0.1")),
            "default route {default:?}"
        );
        let veth_b = p.nb.link("veth-b").ctx("veth-b")?;
        ensure_eq!(default.link, Some(veth_b.index));
        ensure!(default.protocol == 3, "protocol boot expected: {default:?}");
        // The connected route the kernel made for the address.
        ensure!(
            routes
                .iter()
                .any(|r| r.destination == "10.77.0.0/24".parse().unwrap()
                    && r.scope == Scope::Link
                    && r.gateway.is_none()),
            "no prefix route in {routes:?}"
        );

        // b reaches 10.88.0.1 (on a's loopback) through the default route.
        let listener =
            in_netns(&p.a, || TcpListener::bind((ip("10.88.0.1"), 0))).ctx("listen in a")?;
        let to = listener.local_addr().ctx("addr")?;
        let mut c = in_netns(&p.b, || TcpStream::connect_timeout(&to, DEADLINE)).ctx("connect")?;
        let (mut s, peer) = listener.accept().ctx("accept")?;
        ensure!(peer.ip() == ip("10.77.0.2"), "from {peer}");
        c.write_all(b"v4").ctx("write")?;
        let mut got = [0u8; 2];
        s.set_read_timeout(Some(DEADLINE)).ctx("timeout")?;
        s.read_exact(&mut got).ctx("read")?;
        ensure!(&got == b"v4", "got {got:?}");

        // A route to a network, and its removal.
        let net: IpPrefix = "10.99.0.0/16".parse().unwrap();
        p.nb.add_route(net, Some(ip("10.77.0.1")), None)
            .ctx("add route")?;
        ensure!(
            p.nb.routes()
                .ctx("routes")?
                .iter()
                .any(|r| r.destination == net),
            "route to {net} missing"
        );
        p.nb.remove_route(net).ctx("remove route")?;
        ensure!(
            !p.nb
                .routes()
                .ctx("routes")?
                .iter()
                .any(|r| r.destination == net),
            "route to {net} still there"
        );
        let e = failed(p.nb.remove_route(net), "remove missing route")?;
        ensure!(
            matches!(
                e,
                Error::Netlink {
                    op: Operation::DelRoute,
                    ..
                }
            ),
            "{e:?}"
        );
        let _ = (&p.a, &p.b);
        Ok(())
    });
}

#[test]
#[ignore = "needs root"]
fn ipv6_route_via_a_gateway_is_listed() {
    assert_root("ipv6_route_via_a_gateway_is_listed");
    leaves_host_alone(|| {
        let p = connected_pair(AddressOptions::new().nodad(true))?;
        let dest: IpPrefix = "fd00:6c6e:74::/48".parse().unwrap();
        p.nb.add_route(dest, Some(ip(A6)), Some("veth-b"))
            .ctx("add v6 route")?;
        p.nb.add_default_route(ip(A6), None).ctx("v6 default")?;
        let routes = p.nb.routes().ctx("routes")?;
        for want in [dest, IpPrefix::ANY_V6] {
            let r = routes
                .iter()
                .find(|r| r.destination == want)
                .ok_or_else(|| format!("no route to {want} in {routes:?}"))?;
            ensure_eq!(r.gateway, Some(ip(A6)));
        }
        p.nb.remove_route(dest).ctx("remove v6 route")?;
        let routes = p.nb.routes().ctx("routes")?;
        ensure!(
            !routes.iter().any(|r| r.destination == dest),
            "{dest} still routed: {routes:?}"
        );
        Ok(())
    });
}

// ---------------------------------------------------------------------------------------------
// Links
// ---------------------------------------------------------------------------------------------

#[test]
#[ignore = "needs root"]
fn a_new_namespace_has_only_loopback_and_it_is_down_until_loopback_up() {
    assert_root("a_new_namespace_has_only_loopback_and_it_is_down_until_loopback_up");
    let ns = net::create_namespace().unwrap();
    let nl = Netlink::open(&ns).unwrap();
    assert_eq!(nl.namespace().id(), ns.id());
    let links = nl.links().unwrap();
    assert_eq!(
        links.iter().map(|l| l.name.as_str()).collect::<Vec<_>>(),
        ["lo"]
    );
    assert!(!links[0].up, "{links:?}");
    nl.loopback_up().unwrap();
    let lo = nl.link("lo").unwrap();
    assert!(lo.up && lo.running, "{lo:?}");
    assert_eq!(
        lo.flags & libc::IFF_LOOPBACK as u32,
        libc::IFF_LOOPBACK as u32
    );
    let addrs = nl.addresses("lo").unwrap();
    assert!(
        addrs
            .iter()
            .any(|a| a.address == ip("127.0.0.1") && a.scope == Scope::Host),
        "{addrs:?}"
    );
    // A further loopback address is host-scoped too, as `ip address add` makes it.
    nl.add_address("lo", ip("127.0.0.2"), 8).unwrap();
    let added = nl
        .addresses("lo")
        .unwrap()
        .into_iter()
        .find(|a| a.address == ip("127.0.0.2"))
        .expect("127.0.0.2 on lo");
    assert_eq!(added.scope, Scope::Host, "{added:?}");
}

#[test]
#[ignore = "needs root"]
fn links_reflect_mtu_rename_and_up_down() {
    assert_root("links_reflect_mtu_rename_and_up_down");
    leaves_host_alone(|| {
        let ns = net::create_namespace().ctx("create")?;
        let nl = Netlink::open(&ns).ctx("open")?;
        nl.create_veth("v0", "v1", None).ctx("veth in one ns")?;
        let links = nl.links().ctx("links")?;
        for name in ["v0", "v1"] {
            let l = link_named(&links, name).ok_or_else(|| format!("{name} missing"))?;
            ensure_eq!(l.kind.as_deref(), Some("veth"));
            ensure!(!l.up && !l.running, "new veth is up: {l:?}");
            ensure_eq!(l.hw_address.len(), 6);
        }

        nl.set_mtu("v0", 1400).ctx("mtu")?;
        ensure!(nl.link("v0").ctx("v0")?.mtu == 1400, "mtu not set");

        let index = nl.link("v0").ctx("v0")?.index;
        nl.rename_link("v0", "renamed0").ctx("rename")?;
        let renamed = nl.link("renamed0").ctx("renamed0")?;
        ensure!(renamed.index == index && renamed.mtu == 1400, "{renamed:?}");
        let e = failed(nl.link("v0"), "old name")?;
        ensure!(
            matches!(&e, Error::NoSuchLink { name, ns: id } if name == "v0" && *id == ns.id()),
            "{e:?}"
        );

        // A name that is taken.
        let e = failed(nl.rename_link("renamed0", "v1"), "rename onto v1")?;
        ensure!(
            matches!(&e, Error::Netlink { op: Operation::SetLink, link: Some(l), .. } if l == "renamed0")
                && e.raw_os_error() == Some(libc::EEXIST),
            "{e:?}"
        );

        nl.link_up("renamed0").ctx("up")?;
        ensure!(nl.link("renamed0").ctx("get")?.up, "not up");
        nl.link_down("renamed0").ctx("down")?;
        ensure!(!nl.link("renamed0").ctx("get")?.up, "still up");

        nl.delete_link("renamed0").ctx("delete")?;
        let left: Vec<String> = nl
            .links()
            .ctx("links")?
            .into_iter()
            .map(|l| l.name)
            .collect();
        ensure!(left == ["lo"], "deleting one end leaves {left:?}");
        Ok(())
    });
}

#[test]
#[ignore = "needs root"]
fn bridge_attach_sets_the_master_and_detach_clears_it() {
    assert_root("bridge_attach_sets_the_master_and_detach_clears_it");
    leaves_host_alone(|| {
        let ns = net::create_namespace().ctx("create")?;
        let nl = Netlink::open(&ns).ctx("open")?;
        nl.create_bridge("br0").ctx("bridge")?;
        nl.create_veth("port0", "port0p", None).ctx("veth")?;
        let br = nl.link("br0").ctx("br0")?;
        ensure_eq!(br.kind.as_deref(), Some("bridge"));
        nl.attach_to_bridge("port0", "br0").ctx("attach")?;
        let port = nl.link("port0").ctx("port0")?;
        ensure!(port.master == Some(br.index), "{port:?} not in {br:?}");
        nl.link_up("br0").ctx("bridge up")?;
        nl.detach_from_bridge("port0").ctx("detach")?;
        ensure!(
            nl.link("port0").ctx("port0")?.master.is_none(),
            "still attached"
        );
        let e = failed(nl.attach_to_bridge("port0", "nobridge"), "missing bridge")?;
        ensure!(
            matches!(&e, Error::NoSuchLink { name, .. } if name == "nobridge"),
            "{e:?}"
        );
        Ok(())
    });
}

#[test]
#[ignore = "needs root"]
fn move_link_moves_a_link_to_the_other_namespace() {
    assert_root("move_link_moves_a_link_to_the_other_namespace");
    leaves_host_alone(|| {
        let a = net::create_namespace().ctx("a")?;
        let b = net::create_namespace().ctx("b")?;
        let (na, nb) = (Netlink::open(&a).ctx("na")?, Netlink::open(&b).ctx("nb")?);
        na.create_veth("m0", "m1", None).ctx("veth")?;
        na.move_link("m1", &b).ctx("move")?;
        ensure!(
            link_named(&na.links().ctx("a links")?, "m1").is_none(),
            "m1 still in a"
        );
        let moved = nb.link("m1").ctx("m1 in b")?;
        ensure_eq!(moved.kind.as_deref(), Some("veth"));
        // A name that the target namespace has already.
        na.create_veth("m1", "m2", None).ctx("second veth")?;
        let e = failed(na.move_link("m1", &b), "move onto a taken name")?;
        ensure!(
            matches!(
                e,
                Error::Netlink {
                    op: Operation::SetLink,
                    ..
                }
            ) && e.raw_os_error() == Some(libc::EEXIST),
            "{e:?}"
        );
        // Only network namespaces are accepted.
        let uts = Namespace::current(NamespaceKind::Uts).ctx("uts")?;
        let e = failed(na.move_link("m2", &uts), "move into a uts namespace")?;
        ensure!(matches!(e, Error::WrongKind { .. }), "{e:?}");
        Ok(())
    });
}

// ---------------------------------------------------------------------------------------------
// Addresses
// ---------------------------------------------------------------------------------------------

#[test]
#[ignore = "needs root"]
fn addresses_reflect_add_and_remove() {
    assert_root("addresses_reflect_add_and_remove");
    leaves_host_alone(|| {
        let ns = net::create_namespace().ctx("create")?;
        let nl = Netlink::open(&ns).ctx("open")?;
        nl.create_veth("d0", "d1", None).ctx("veth")?;
        let v4 = ip("192.0.2.10");
        nl.add_address("d0", v4, 24).ctx("add v4")?;
        nl.add_address_with("d0", ip(A6), 64, AddressOptions::new().nodad(true))
            .ctx("add v6")?;
        let d0 = nl.link("d0").ctx("d0")?;
        let addrs = nl.addresses("d0").ctx("addresses")?;
        for (want, len) in [(v4, 24), (ip(A6), 64)] {
            let a = addrs
                .iter()
                .find(|a| a.address == want)
                .ok_or_else(|| format!("{want} missing from {addrs:?}"))?;
            ensure!(a.prefix_len == len && a.link == d0.index, "{a:?}");
            ensure_eq!(a.scope, Scope::Universe);
        }
        ensure!(
            nl.addresses("d1").ctx("d1")?.is_empty(),
            "the peer got addresses"
        );
        let e = failed(nl.add_address("d0", v4, 24), "add twice")?;
        ensure!(
            matches!(&e, Error::Netlink { op: Operation::NewAddress, link: Some(l), .. } if l == "d0")
                && e.raw_os_error() == Some(libc::EEXIST),
            "{e:?}"
        );

        nl.remove_address("d0", v4, 24).ctx("remove v4")?;
        nl.remove_address("d0", ip(A6), 64).ctx("remove v6")?;
        let left = nl.addresses("d0").ctx("addresses")?;
        ensure!(
            !left.iter().any(|a| a.address == v4 || a.address == ip(A6)),
            "left: {left:?}"
        );
        let e = failed(nl.remove_address("d0", v4, 24), "remove twice")?;
        ensure!(
            matches!(
                e,
                Error::Netlink {
                    op: Operation::DelAddress,
                    ..
                }
            ) && e.raw_os_error() == Some(libc::EADDRNOTAVAIL),
            "{e:?}"
        );
        Ok(())
    });
}

#[test]
#[ignore = "needs root"]
fn waiting_for_an_address_the_link_does_not_have_fails_at_once() {
    assert_root("waiting_for_an_address_the_link_does_not_have_fails_at_once");
    let ns = net::create_namespace().unwrap();
    let nl = Netlink::open(&ns).unwrap();
    let e = nl
        .wait_address_ready("lo", ip(A6), Duration::from_secs(3600))
        .unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EADDRNOTAVAIL), "{e}");
}

#[test]
#[ignore = "needs root"]
fn waiting_for_a_veth_whose_peer_is_down_times_out() {
    assert_root("waiting_for_a_veth_whose_peer_is_down_times_out");
    let ns = net::create_namespace().unwrap();
    let nl = Netlink::open(&ns).unwrap();
    nl.create_veth("w0", "w1", None).unwrap();
    nl.link_up("w0").unwrap();
    // The peer is down, so w0 never runs; the deadline is the point of this test.
    let e = nl
        .wait_link_running("w0", Duration::from_millis(50))
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::Netlink {
                op: Operation::GetLink,
                ..
            }
        ) && e.raw_os_error() == Some(libc::ETIMEDOUT),
        "{e:?}"
    );
    // Bringing the peer up makes it run, and the waiter sees it.
    nl.link_up("w1").unwrap();
    let w0 = nl.wait_link_running("w0", DEADLINE).unwrap();
    assert!(w0.running, "{w0:?}");
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

#[test]
#[ignore = "needs root"]
fn every_operation_on_a_missing_link_is_no_such_link() {
    assert_root("every_operation_on_a_missing_link_is_no_such_link");
    let ns = net::create_namespace().unwrap();
    let other = net::create_namespace().unwrap();
    let nl = Netlink::open(&ns).unwrap();
    let missing = "nope0";
    let results: Vec<(&str, Result<(), Error>)> = vec![
        ("link", nl.link(missing).map(drop)),
        ("link_up", nl.link_up(missing)),
        ("link_down", nl.link_down(missing)),
        ("set_mtu", nl.set_mtu(missing, 1400)),
        ("rename_link", nl.rename_link(missing, "x0")),
        ("move_link", nl.move_link(missing, &other)),
        ("attach_to_bridge", nl.attach_to_bridge(missing, "lo")),
        ("detach_from_bridge", nl.detach_from_bridge(missing)),
        ("delete_link", nl.delete_link(missing)),
        ("add_address", nl.add_address(missing, ip(A6), 64)),
        ("remove_address", nl.remove_address(missing, ip(A6), 64)),
        ("addresses", nl.addresses(missing).map(drop)),
        (
            "add_route",
            nl.add_route("10.0.0.0/8".parse().unwrap(), None, Some(missing)),
        ),
        (
            "wait_link_running",
            nl.wait_link_running(missing, DEADLINE).map(drop),
        ),
        (
            "wait_address_ready",
            nl.wait_address_ready(missing, ip(A6), DEADLINE).map(drop),
        ),
    ];
    for (what, r) in results {
        let e = r.expect_err(what);
        assert!(
            matches!(&e, Error::NoSuchLink { name, ns: id } if name == missing && *id == ns.id()),
            "{what}: {e:?}"
        );
        assert_eq!(e.raw_os_error(), Some(libc::ENODEV), "{what}");
        assert_eq!(
            std::io::Error::from(e).kind(),
            std::io::ErrorKind::NotFound,
            "{what}"
        );
    }
}

#[test]
#[ignore = "needs root"]
fn kernel_refusals_carry_the_message_errno_link_and_namespace() {
    assert_root("kernel_refusals_carry_the_message_errno_link_and_namespace");
    let ns = net::create_namespace().unwrap();
    let nl = Netlink::open(&ns).unwrap();
    nl.create_veth("e0", "e1", None).unwrap();

    let e = nl.create_veth("e0", "e2", None).unwrap_err();
    match &e {
        Error::Netlink {
            op,
            link,
            ns: id,
            source,
            ..
        } => {
            assert_eq!(*op, Operation::NewLink);
            assert_eq!(link.as_deref(), Some("e0"));
            assert_eq!(*id, ns.id());
            assert_eq!(source.raw_os_error(), Some(libc::EEXIST));
        }
        other => panic!("{other:?}"),
    }
    let text = e.to_string();
    assert!(
        text.contains("RTM_NEWLINK") && text.contains("EEXIST") && text.contains("\"e0\""),
        "{text}"
    );
    assert!(!text.contains('\n'), "{text}");

    // An MTU below the device minimum: the kernel explains itself in an extended ACK.
    let e = nl.set_mtu("e0", 10).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EINVAL), "{e}");
    match &e {
        Error::Netlink { op, message, .. } => {
            assert_eq!(*op, Operation::SetLink);
            let m = message.as_deref().unwrap_or_default();
            assert!(m.to_lowercase().contains("mtu"), "message {message:?}");
            assert!(e.to_string().contains(m), "{e}");
        }
        other => panic!("{other:?}"),
    }

    // A route destination with host bits set.
    let e = nl
        .add_route("10.1.2.3/8".parse().unwrap(), None, Some("e0"))
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::Netlink {
                op: Operation::NewRoute,
                ..
            }
        ) && e.raw_os_error() == Some(libc::EINVAL),
        "{e:?}"
    );
}

#[test]
fn bad_input_is_rejected_before_any_request() {
    // The caller's own namespace: opening needs no privilege, and nothing is sent.
    let host = Namespace::current(NamespaceKind::Network).unwrap();
    let nl = Netlink::open(&host).unwrap();
    let cases: Vec<(&str, Result<(), Error>)> = vec![
        ("empty name", nl.link_up("")),
        ("long name", nl.link_up("sixteen_chars_xx")),
        ("slash", nl.create_bridge("a/b")),
        ("dotdot", nl.create_bridge("..")),
        ("space", nl.create_veth("ok0", "bad name", None)),
        ("rename target", nl.rename_link("lo", "with:colon")),
        ("v4 prefix", nl.add_address("lo", ip("10.0.0.1"), 33)),
        ("v6 prefix", nl.remove_address("lo", ip(A6), 129)),
        (
            "route needs a hop",
            nl.add_route("10.0.0.0/8".parse().unwrap(), None, None),
        ),
        (
            "mixed families",
            nl.add_route("10.0.0.0/8".parse().unwrap(), Some(ip(A6)), None),
        ),
    ];
    for (what, r) in cases {
        let e = r.expect_err(what);
        assert!(matches!(e, Error::InvalidInput { .. }), "{what}: {e:?}");
    }
}

#[test]
fn open_rejects_a_namespace_that_is_not_a_network_namespace() {
    let uts = Namespace::current(NamespaceKind::Uts).unwrap();
    let e = Netlink::open(&uts).unwrap_err();
    assert!(
        matches!(
            e,
            Error::WrongKind {
                expected: NamespaceKind::Network,
                found: NamespaceKind::Uts,
                ..
            }
        ),
        "{e:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Rootless
// ---------------------------------------------------------------------------------------------

#[test]
fn rootless_listing_of_the_callers_namespace_works_and_changes_are_eperm() {
    rootless(|| {
        let host = Namespace::current(NamespaceKind::Network).ctx("current")?;
        let nl = Netlink::open(&host).ctx("open")?;
        let lo = nl.link("lo").ctx("lo")?;
        ensure!(lo.index >= 1, "{lo:?}");
        ensure!(
            nl.links().ctx("links")?.iter().any(|l| l.name == "lo"),
            "no lo"
        );
        // Setting lo's MTU to what it is would change nothing even if it were allowed.
        let e = failed(nl.set_mtu("lo", lo.mtu), "unprivileged set_mtu")?;
        ensure!(
            matches!(
                e,
                Error::Netlink {
                    op: Operation::SetLink,
                    ..
                }
            ) && e.raw_os_error() == Some(libc::EPERM),
            "{e:?}"
        );
        Ok(())
    })
    .unwrap();
}

#[test]
#[ignore = "needs root"]
fn rootless_open_of_a_namespace_the_caller_has_no_rights_over_is_eperm_with_a_hint() {
    assert_root("rootless_open_of_a_namespace_the_caller_has_no_rights_over_is_eperm_with_a_hint");
    // Created by root, owned by the initial user namespace.
    let ns = net::create_namespace().unwrap();
    rootless(|| {
        let e = failed(Netlink::open(&ns), "open")?;
        ensure!(
            matches!(
                e,
                Error::Os {
                    op: Operation::Setns,
                    ..
                }
            ) && e.raw_os_error() == Some(libc::EPERM)
                && e.hint() == Some(&Hint::NeedsCapSysAdmin),
            "{e:?}"
        );
        Ok(())
    })
    .unwrap();
}

/// Joins the user namespace of `holder` (a forked, single-threaded child may), becoming root
/// there with every capability over the namespaces it owns.
fn join_user_namespace_of(holder: &Holder) -> Result<(), String> {
    Namespace::from_pidfd(holder.pidfd.as_fd(), NamespaceKind::User)
        .ctx("open holder user ns")?
        .enter()
        .ctx("enter holder user ns")
}

#[test]
fn rootless_user_configures_a_network_namespace_its_user_namespace_owns() {
    let holder = Holder::rootless(NamespaceSet::USER | NamespaceSet::NET);
    rootless(|| {
        join_user_namespace_of(&holder)?;
        let net = Namespace::from_pidfd(holder.pidfd.as_fd(), NamespaceKind::Network)
            .ctx("open holder net ns")?;
        let nl = Netlink::open(&net).ctx("open")?;
        nl.loopback_up().ctx("lo up")?;
        nl.create_bridge("rbr0").ctx("bridge")?;
        nl.create_veth("r0", "r1", None).ctx("veth")?;
        nl.attach_to_bridge("r0", "rbr0").ctx("attach")?;
        nl.set_mtu("r1", 1280).ctx("mtu")?;
        nl.add_address("r1", ip("198.51.100.1"), 24)
            .ctx("address")?;
        let r0 = nl.link("r0").ctx("r0")?;
        let br = nl.link("rbr0").ctx("rbr0")?;
        ensure_eq!(r0.master, Some(br.index));
        ensure!(nl.link("r1").ctx("r1")?.mtu == 1280, "mtu");
        ensure!(
            nl.addresses("r1")
                .ctx("addresses")?
                .iter()
                .any(|a| a.address == ip("198.51.100.1")),
            "address missing"
        );
        Ok(())
    })
    .unwrap();
    // What the rootless child made is in the holder's namespace, not in ours.
    let mine = Netlink::open(&Namespace::current(NamespaceKind::Network).unwrap()).unwrap();
    assert!(
        !mine.links().unwrap().iter().any(|l| l.name == "rbr0"),
        "the bridge leaked into the test's namespace"
    );
}

/// A rootless, multithreaded caller configures the network namespace of a child it spawned
/// with `map_root`, without entering anything itself: `Netlink::open` makes the socket in a
/// helper that enters the owning user namespace first.
#[test]
fn rootless_parent_configures_its_childs_network_namespace_without_entering_it() {
    rootless(|| {
        // Another thread: the kernel refuses setns of a user namespace to multithreaded
        // callers, so the open must not depend on this process entering one.
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let other = std::thread::spawn(move || rx.recv());
        let mut child = linux_namespaces::Command::new("/bin/sh")
            .args(["-c", "read _"])
            .unshare(NamespaceSet::USER | NamespaceSet::NET)
            .map_root()
            .stdin(linux_namespaces::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .ctx("spawn")?;
        let net = child.namespace(NamespaceKind::Network).ctx("netns")?;
        let nl = Netlink::open(&net).ctx("open")?;
        nl.loopback_up().ctx("lo up")?;
        nl.create_veth("v0", "v1", None).ctx("veth")?;
        nl.add_address("v0", ip("192.0.2.1"), 24).ctx("address")?;
        ensure!(nl.link("lo").ctx("lo")?.up, "lo is down");
        ensure!(
            nl.addresses("v0")
                .ctx("addresses")?
                .iter()
                .any(|a| a.address == ip("192.0.2.1")),
            "address missing"
        );
        let user = Namespace::current(NamespaceKind::User).ctx("user")?;
        let here = Namespace::current(NamespaceKind::Network).ctx("net")?;
        ensure!(user.id() != net.owner().ctx("owner")?.id(), "not rootless");
        ensure!(here.id() != net.id(), "the caller moved");
        tx.send(()).ok();
        other.join().ok();
        drop(child.stdin.take());
        child.wait().ctx("wait")?;
        Ok(())
    })
    .unwrap();
}

#[test]
fn rootless_veth_between_two_namespaces_carries_udp() {
    let before = host_net();
    let holder = Holder::rootless(NamespaceSet::USER | NamespaceSet::NET);
    rootless(|| {
        join_user_namespace_of(&holder)?;
        // The holder's namespace is a; b is created now, owned by the same user namespace.
        let a = Namespace::from_pidfd(holder.pidfd.as_fd(), NamespaceKind::Network)
            .ctx("holder net")?;
        let b = net::create_namespace().ctx("create b")?;
        let (na, nb) = (Netlink::open(&a).ctx("na")?, Netlink::open(&b).ctx("nb")?);
        na.create_veth("ra", "rb", Some(&b)).ctx("veth")?;
        let nodad = AddressOptions::new().nodad(true);
        na.add_address_with("ra", ip(A6), 64, nodad).ctx("addr a")?;
        nb.add_address_with("rb", ip(B6), 64, nodad).ctx("addr b")?;
        na.link_up("ra").ctx("up a")?;
        nb.link_up("rb").ctx("up b")?;
        na.wait_link_running("ra", DEADLINE).ctx("run a")?;
        nb.wait_link_running("rb", DEADLINE).ctx("run b")?;
        let rx = in_netns(&b, || UdpSocket::bind((ip(B6), 0))).ctx("bind b")?;
        let tx = in_netns(&a, || UdpSocket::bind((ip(A6), 0))).ctx("bind a")?;
        tx.send_to(b"rootless", rx.local_addr().ctx("addr")?)
            .ctx("send")?;
        rx.set_read_timeout(Some(DEADLINE)).ctx("timeout")?;
        let mut buf = [0u8; 16];
        let (n, from) = rx.recv_from(&mut buf).ctx("recv")?;
        ensure!(&buf[..n] == b"rootless" && from.ip() == ip(A6), "{from}");
        Ok(())
    })
    .unwrap();
    drop(holder);
    assert_eq!(before, host_net(), "the host network namespace changed");
}
