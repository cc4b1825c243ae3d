//! Configuring network namespaces over route netlink (feature `net`): links, veth pairs,
//! bridges, addresses and routes, without entering the namespace.
//!
//! [`Netlink::open`] makes a `NETLINK_ROUTE` socket inside a network namespace the caller
//! holds a [`Namespace`] handle to. Every operation goes through that socket, so it acts on
//! that namespace while the calling thread stays where it is: a test harness or a runtime can
//! set up many namespaces from one thread, and nothing runs `ip(8)`.
//!
//! ```no_run
//! use linux_namespaces::net::{self, Netlink};
//!
//! # fn main() -> linux_namespaces::Result<()> {
//! // Two new network namespaces; the caller stays in its own.
//! let (a, b) = (net::create_namespace()?, net::create_namespace()?);
//! let (na, nb) = (Netlink::open(&a)?, Netlink::open(&b)?);
//!
//! // A veth pair: "veth0" in a, its peer "veth1" in b.
//! na.create_veth("veth0", "veth1", Some(&b))?;
//! na.add_address("veth0", "10.0.0.1".parse().unwrap(), 24)?;
//! nb.add_address("veth1", "10.0.0.2".parse().unwrap(), 24)?;
//! for (nl, link) in [(&na, "veth0"), (&nb, "veth1")] {
//!     nl.loopback_up()?;
//!     nl.link_up(link)?;
//! }
//! nb.add_default_route("10.0.0.1".parse().unwrap(), None)?;
//! # Ok(())
//! # }
//! ```
//!
//! Needs `CAP_NET_ADMIN` in the user namespace that owns the network namespace for changes
//! (listing needs nothing). Opening the socket in another network namespace goes through
//! `setns(2)`, which needs `CAP_SYS_ADMIN` both over that namespace and in the caller's own
//! user namespace. An unprivileged caller that owns the namespace's user namespace (it
//! spawned the child with [`Command::map_root`](crate::Command::map_root), say) has the first
//! but not the second: for it, [`Netlink::open`] makes the socket in a short-lived forked
//! helper that enters the owning user namespace first and passes the socket back. So a
//! rootless, even multithreaded, parent configures its child's network namespace without
//! entering anything.
//!
//! # References
//!  - [rtnetlink(7)](https://man7.org/linux/man-pages/man7/rtnetlink.7.html),
//!    [netlink(7)](https://man7.org/linux/man-pages/man7/netlink.7.html),
//!    [network_namespaces(7)](https://man7.org/linux/man-pages/man7/network_namespaces.7.html),
//!    [ip-link(8)](https://man7.org/linux/man-pages/man8/ip-link.8.html),
//!    [ip-address(8)](https://man7.org/linux/man-pages/man8/ip-address.8.html),
//!    [ip-route(8)](https://man7.org/linux/man-pages/man8/ip-route.8.html)

mod address;
mod link;
mod nsid;
mod route;
mod socket;
mod types;

use std::fmt;
use std::net::IpAddr;

use netlink_packet_route::AddressFamily;

use crate::error::{Error, Operation, Result};
use crate::kind::{NamespaceKind, NamespaceSet};
use crate::namespace::{Namespace, NamespaceId};
use crate::namespaces::Namespaces;

use socket::RouteSocket;
pub use types::{Address, AddressOptions, IpPrefix, Link, Route, Scope};

/// `IFNAMSIZ` less the terminating NUL.
pub(super) const MAX_NAME_LEN: usize = 15;
pub(super) const IFF_UP: u32 = 0x1;
pub(super) const IFF_RUNNING: u32 = 0x40;
pub(super) const IFA_F_TENTATIVE: u32 = 0x40;
pub(super) const IFA_F_DADFAILED: u32 = 0x08;

/// Creates a new network namespace and returns a handle to it, without moving the caller.
///
/// `unshare(CLONE_NEWNET)` runs on a short-lived thread, which ends right after; the handle
/// keeps the namespace alive. The new namespace has only a loopback interface, and it is
/// down (see [`Netlink::loopback_up`]). Keep it beyond the handle with
/// [`Namespace::persist`] (at `/run/netns/NAME` for `ip netns`).
///
/// Needs `CAP_SYS_ADMIN` in the caller's user namespace; the new namespace is owned by it.
///
/// # Errors
/// [`Error::Os`] from `unshare(2)` (`EPERM` without `CAP_SYS_ADMIN`) or if the thread
/// cannot be started.
///
/// # References
///  - [unshare(2)](https://man7.org/linux/man-pages/man2/unshare.2.html),
///    [network_namespaces(7)](https://man7.org/linux/man-pages/man7/network_namespaces.7.html)
#[doc(alias = "CLONE_NEWNET")]
#[doc(alias = "ip netns add")]
pub fn create_namespace() -> Result<Namespace> {
    std::thread::scope(|scope| {
        let worker = std::thread::Builder::new()
            .name("netns-create".into())
            .spawn_scoped(scope, || {
                let mut created = Namespaces::unshare_calling_thread(NamespaceSet::NET)?;
                created.take(NamespaceKind::Network).ok_or_else(|| {
                    Error::invalid("network namespace", "unshare returned no handle")
                })
            })
            .map_err(|e| {
                Error::os(
                    Operation::Unshare,
                    crate::error::Target::Caller(NamespaceSet::NET),
                    e,
                )
            })?;
        worker
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// A route netlink (`NETLINK_ROUTE`) socket bound to one network namespace, and the link,
/// address and route operations done through it.
///
/// Links are named by interface name and looked up (`RTM_GETLINK`) at each call; a name that
/// is not there is [`Error::NoSuchLink`]. A request the kernel refuses is [`Error::Netlink`]
/// with the netlink message, what it was for, the link, the namespace, the errno, and the
/// kernel's own explanation where it gives one (extended ACK).
///
/// The socket stays in the namespace it was opened in, whatever thread uses it later. A
/// `Netlink` can be sent to another thread but not shared between threads (it numbers its
/// requests); open one per thread instead.
///
/// # References
///  - [rtnetlink(7)](https://man7.org/linux/man-pages/man7/rtnetlink.7.html),
///    [netlink(7)](https://man7.org/linux/man-pages/man7/netlink.7.html)
pub struct Netlink {
    ns: Namespace,
    sock: RouteSocket,
}

impl fmt::Debug for Netlink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Netlink")
            .field("ns", &format_args!("{}", self.ns.id()))
            .finish_non_exhaustive()
    }
}

impl Netlink {
    /// Opens a `NETLINK_ROUTE` socket inside the network namespace `ns`, without moving the
    /// caller into it.
    ///
    /// Unless the calling thread is already in `ns`, the socket is created on a short-lived
    /// thread that enters `ns` (`setns(2)` with `CLONE_NEWNET`, which the kernel allows per
    /// thread) and ends; a socket belongs for its life to the namespace it was created in. A
    /// duplicate of the handle is kept (for [`namespace`](Self::namespace) and the `wait_*`
    /// methods), so `ns` may be dropped.
    ///
    /// If `setns(2)` is refused (`EPERM`) and the namespace's owning user namespace is not
    /// the caller's, the socket is made by a forked helper that enters the owning user
    /// namespace and then `ns` (`setns(2)` of a user namespace needs a single-threaded
    /// process), and sent back over a socket pair (`SCM_RIGHTS`): that works for the
    /// unprivileged owner of that user namespace.
    ///
    /// # Errors
    /// [`Error::WrongKind`] if `ns` is not a network namespace; [`Error::Os`] from `setns`
    /// (`EPERM` without `CAP_SYS_ADMIN` over `ns`, when the helper cannot do better) or from
    /// `socket(2)`.
    ///
    /// # References
    ///  - [netlink(7)](https://man7.org/linux/man-pages/man7/netlink.7.html),
    ///    [setns(2)](https://man7.org/linux/man-pages/man2/setns.2.html),
    ///    [unix(7)](https://man7.org/linux/man-pages/man7/unix.7.html) (`SCM_RIGHTS`)
    pub fn open(ns: &Namespace) -> Result<Netlink> {
        let sock = RouteSocket::open(ns, 0)?;
        Ok(Netlink {
            ns: ns.try_clone()?,
            sock,
        })
    }

    /// The network namespace this socket acts in: the one every `RTM_*` request made
    /// through it reads or changes.
    pub fn namespace(&self) -> &Namespace {
        &self.ns
    }

    fn id(&self) -> NamespaceId {
        self.sock.ns()
    }

    // -----------------------------------------------------------------------------------------
    // Links
    // -----------------------------------------------------------------------------------------
}

pub(super) fn check_network(ns: &Namespace) -> Result<()> {
    if ns.kind() == NamespaceKind::Network {
        Ok(())
    } else {
        Err(Error::WrongKind {
            target: crate::error::Target::Namespace(ns.id()),
            expected: NamespaceKind::Network,
            found: ns.kind(),
        })
    }
}

/// Checks what the kernel's `dev_valid_name()` checks, so a bad name is an input error rather
/// than a kernel `EINVAL`.
pub(super) fn check_name(what: &'static str, name: &str) -> Result<()> {
    let bad = |why: &str| Err(Error::invalid(what, format!("{name:?} {why}")));
    if name.is_empty() {
        return bad("is empty");
    }
    if name.len() > MAX_NAME_LEN {
        return bad("is longer than 15 bytes (IFNAMSIZ)");
    }
    if name == "." || name == ".." {
        return bad("is not allowed as an interface name");
    }
    if name
        .chars()
        .any(|c| c == '/' || c == ':' || c == '\0' || c.is_whitespace())
    {
        return bad("contains '/', ':', a NUL or white space");
    }
    Ok(())
}

pub(super) fn family(addr: IpAddr) -> AddressFamily {
    if addr.is_ipv6() {
        AddressFamily::Inet6
    } else {
        AddressFamily::Inet
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interface_names_are_checked_like_the_kernel() {
        for ok in ["lo", "veth0", "a", "br-0.1", "fifteen_bytes_x"] {
            assert!(check_name("n", ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            ".",
            "..",
            "a/b",
            "a:b",
            "a b",
            "sixteen_bytes_xx",
            "tab\t",
        ] {
            assert!(
                matches!(check_name("n", bad), Err(Error::InvalidInput { .. })),
                "{bad:?}"
            );
        }
    }
}
