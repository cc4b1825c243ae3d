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
//! (listing needs nothing), and to open the socket in a namespace other than the caller's,
//! `CAP_SYS_ADMIN` there too (for `setns(2)`). A process that is root in a user namespace it
//! created (see [`Command::map_root`](crate::Command::map_root)) has both over the network
//! namespaces that user namespace owns: rootless configuration works.
//!
//! # References
//!  - [rtnetlink(7)](https://man7.org/linux/man-pages/man7/rtnetlink.7.html),
//!    [netlink(7)](https://man7.org/linux/man-pages/man7/netlink.7.html),
//!    [network_namespaces(7)](https://man7.org/linux/man-pages/man7/network_namespaces.7.html),
//!    [ip-link(8)](https://man7.org/linux/man-pages/man8/ip-link.8.html),
//!    [ip-address(8)](https://man7.org/linux/man-pages/man8/ip-address.8.html),
//!    [ip-route(8)](https://man7.org/linux/man-pages/man8/ip-route.8.html)

mod socket;
mod types;

use std::fmt;
use std::net::IpAddr;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::address::{
    AddressAttribute, AddressFlags, AddressHeaderFlags, AddressMessage,
};
use netlink_packet_route::link::{
    InfoData, InfoKind, InfoVeth, LinkAttribute, LinkFlags, LinkInfo, LinkMessage,
};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

use crate::error::{Error, Operation, Result};
use crate::kind::{NamespaceKind, NamespaceSet};
use crate::namespace::{Namespace, NamespaceId};

use socket::{Ctx, RTMGRP_IPV4_IFADDR, RTMGRP_IPV6_IFADDR, RTMGRP_LINK, RouteSocket};
pub use types::{Address, AddressOptions, IpPrefix, Link, Route, Scope};

/// `IFNAMSIZ` less the terminating NUL.
const MAX_NAME_LEN: usize = 15;
const IFF_UP: u32 = 0x1;
const IFF_RUNNING: u32 = 0x40;
const IFA_F_TENTATIVE: u32 = 0x40;
const IFA_F_DADFAILED: u32 = 0x08;

/// Creates a new network namespace and returns a handle to it, without moving the caller.
///
/// `unshare(CLONE_NEWNET)` runs on a short-lived thread, which ends right after; the handle
/// keeps the namespace alive. The new namespace has only a loopback interface, and it is
/// down (see [`Netlink::loopback_up`]). Keep it beyond the handle with
/// [`Namespace::persist`] (at `/run/netns/NAME` for `ip netns`).
///
/// Needs `CAP_SYS_ADMIN` in the caller's user namespace; the new namespace is owned by it.
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
                let mut created = Namespace::unshare(NamespaceSet::NET)?;
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
    /// # Errors
    /// [`Error::WrongKind`] if `ns` is not a network namespace; [`Error::Os`] from `setns`
    /// (`EPERM` without `CAP_SYS_ADMIN` over `ns`) or from `socket(2)`.
    ///
    /// # References
    ///  - [netlink(7)](https://man7.org/linux/man-pages/man7/netlink.7.html),
    ///    [setns(2)](https://man7.org/linux/man-pages/man2/setns.2.html)
    pub fn open(ns: &Namespace) -> Result<Netlink> {
        let sock = RouteSocket::open(ns, 0)?;
        Ok(Netlink {
            ns: ns.try_clone()?,
            sock,
        })
    }

    /// The network namespace this socket acts in: the one every `RTM_*` request made
    /// through it reads or changes.
    ///
    /// # References
    ///  - [netlink(7)](https://man7.org/linux/man-pages/man7/netlink.7.html),
    ///    [network_namespaces(7)](https://man7.org/linux/man-pages/man7/network_namespaces.7.html)
    pub fn namespace(&self) -> &Namespace {
        &self.ns
    }

    fn id(&self) -> NamespaceId {
        self.sock.ns()
    }

    // -----------------------------------------------------------------------------------------
    // Links
    // -----------------------------------------------------------------------------------------

    /// Every link in the namespace, in index order (`RTM_GETLINK` dump; `ip link show`).
    ///
    /// # References
    ///  - [rtnetlink(7)](https://man7.org/linux/man-pages/man7/rtnetlink.7.html)
    #[doc(alias = "RTM_GETLINK")]
    pub fn links(&self) -> Result<Vec<Link>> {
        let ctx = Ctx {
            op: Operation::GetLink,
            action: "list links",
            link: None,
        };
        let replies = self
            .sock
            .dump(RouteNetlinkMessage::GetLink(LinkMessage::default()), &ctx)?;
        let mut links: Vec<Link> = replies
            .into_iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewLink(l) => Some(link_from(l)),
                _ => None,
            })
            .collect();
        links.sort_by_key(|l| l.index);
        Ok(links)
    }

    /// The link named `name` (`RTM_GETLINK` with `IFLA_IFNAME`; `ip link show NAME`).
    ///
    /// # Errors
    /// [`Error::NoSuchLink`] if there is none; [`Error::InvalidInput`] if `name` cannot be an
    /// interface name (empty, longer than 15 bytes, `.`/`..`, or with `/`, `:` or white
    /// space).
    ///
    /// # References
    ///  - [rtnetlink(7)](https://man7.org/linux/man-pages/man7/rtnetlink.7.html)
    #[doc(alias = "RTM_GETLINK")]
    pub fn link(&self, name: &str) -> Result<Link> {
        check_name("link name", name)?;
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(name.to_owned()));
        let ctx = Ctx {
            op: Operation::GetLink,
            action: "look up link",
            link: Some(name),
        };
        let replies = match self
            .sock
            .request(RouteNetlinkMessage::GetLink(msg), 0, &ctx)
        {
            Err(e) if e.raw_os_error() == Some(libc::ENODEV) => {
                return Err(self.no_such_link(name));
            }
            r => r?,
        };
        replies
            .into_iter()
            .find_map(|m| match m {
                RouteNetlinkMessage::NewLink(l) => Some(link_from(l)),
                _ => None,
            })
            .ok_or_else(|| self.no_such_link(name))
    }

    fn no_such_link(&self, name: &str) -> Error {
        Error::NoSuchLink {
            name: name.to_owned(),
            ns: self.id(),
        }
    }

    fn index(&self, name: &str) -> Result<u32> {
        Ok(self.link(name)?.index)
    }

    /// Sends `RTM_SETLINK` for the link `name` with `edit` applied to the message.
    fn set_link(
        &self,
        name: &str,
        action: &'static str,
        edit: impl FnOnce(&mut LinkMessage),
    ) -> Result<()> {
        let mut msg = LinkMessage::default();
        msg.header.index = self.index(name)?;
        edit(&mut msg);
        let ctx = Ctx {
            op: Operation::SetLink,
            action,
            link: Some(name),
        };
        self.sock
            .request(RouteNetlinkMessage::SetLink(msg), 0, &ctx)
            .map(drop)
    }

    fn set_up(&self, name: &str, up: bool) -> Result<()> {
        let action = if up { "set link up" } else { "set link down" };
        self.set_link(name, action, |m| {
            m.header.flags = if up {
                LinkFlags::Up
            } else {
                LinkFlags::empty()
            };
            m.header.change_mask = LinkFlags::Up;
        })
    }

    /// Brings the link up (`RTM_SETLINK` setting `IFF_UP`; `ip link set NAME up`).
    ///
    /// The link is administratively up at once; it is [running](Link::running) when it also
    /// has carrier (for a veth, when its peer is up too), which the kernel completes shortly
    /// after. [`wait_link_running`](Self::wait_link_running) waits for that.
    ///
    /// # References
    ///  - [rtnetlink(7)](https://man7.org/linux/man-pages/man7/rtnetlink.7.html),
    ///    [netdevice(7)](https://man7.org/linux/man-pages/man7/netdevice.7.html)
    #[doc(alias = "RTM_SETLINK")]
    #[doc(alias = "IFF_UP")]
    pub fn link_up(&self, name: &str) -> Result<()> {
        self.set_up(name, true)
    }

    /// Takes the link down (`RTM_SETLINK` clearing `IFF_UP`; `ip link set NAME down`).
    ///
    /// # References
    ///  - [rtnetlink(7)](https://man7.org/linux/man-pages/man7/rtnetlink.7.html)
    #[doc(alias = "RTM_SETLINK")]
    pub fn link_down(&self, name: &str) -> Result<()> {
        self.set_up(name, false)
    }

    /// Brings the loopback interface `lo` up (`RTM_SETLINK`; `ip link set lo up`). A new
    /// network namespace starts with it down, so even `127.0.0.1` is unreachable until this.
    ///
    /// # References
    ///  - [rtnetlink(7)](https://man7.org/linux/man-pages/man7/rtnetlink.7.html)
    #[doc(alias = "RTM_SETLINK")]
    pub fn loopback_up(&self) -> Result<()> {
        self.set_up("lo", true)
    }

    /// Sets the link's MTU (`RTM_SETLINK` with `IFLA_MTU`; `ip link set NAME mtu MTU`).
    ///
    /// # Errors
    /// [`Error::Netlink`] with `EINVAL` if the device does not accept `mtu`.
    ///
    /// # References
    ///  - [rtnetlink(7)](https://man7.org/linux/man-pages/man7/rtnetlink.7.html)
    #[doc(alias = "RTM_SETLINK")]
    #[doc(alias = "IFLA_MTU")]
    pub fn set_mtu(&self, name: &str, mtu: u32) -> Result<()> {
        self.set_link(name, "set mtu", |m| {
            m.attributes.push(LinkAttribute::Mtu(mtu));
        })
    }

    /// Renames a link (`RTM_SETLINK` with `IFLA_IFNAME`; `ip link set OLD name NEW`).
    ///
    /// # Errors
    /// [`Error::Netlink`] with `EEXIST` if `new` is taken; with `EBUSY` if the link is up
    /// and the kernel renames only links that are down (older kernels, and some drivers).
    ///
    /// # References
    ///  - [rtnetlink(7)](https://man7.org/linux/man-pages/man7/rtnetlink.7.html)
    #[doc(alias = "RTM_SETLINK")]
    #[doc(alias = "IFLA_IFNAME")]
    pub fn rename_link(&self, old: &str, new: &str) -> Result<()> {
        check_name("new link name", new)?;
        self.set_link(old, "rename link", |m| {
            m.attributes.push(LinkAttribute::IfName(new.to_owned()));
        })
    }

    /// Moves a link into another network namespace (`RTM_SETLINK` with `IFLA_NET_NS_FD`;
    /// `ip link set NAME netns NS`). The link goes down and loses its addresses on the way,
    /// as the kernel does for every move.
    ///
    /// Needs `CAP_NET_ADMIN` over both namespaces.
    ///
    /// # Errors
    /// [`Error::WrongKind`] if `to` is not a network namespace; [`Error::Netlink`] with
    /// `EEXIST` if `to` has a link of that name.
    ///
    /// # References
    ///  - [rtnetlink(7)](https://man7.org/linux/man-pages/man7/rtnetlink.7.html),
    ///    [network_namespaces(7)](https://man7.org/linux/man-pages/man7/network_namespaces.7.html)
    #[doc(alias = "RTM_SETLINK")]
    #[doc(alias = "IFLA_NET_NS_FD")]
    pub fn move_link(&self, name: &str, to: &Namespace) -> Result<()> {
        check_network(to)?;
        self.set_link(name, "move link to another namespace", |m| {
            m.attributes.push(LinkAttribute::NetNsFd(to.as_raw_fd()));
        })
    }

    /// Attaches a link to a bridge (`RTM_SETLINK` with `IFLA_MASTER`;
    /// `ip link set LINK master BRIDGE`).
    ///
    /// # References
    ///  - [rtnetlink(7)](https://man7.org/linux/man-pages/man7/rtnetlink.7.html)
    #[doc(alias = "RTM_SETLINK")]
    #[doc(alias = "IFLA_MASTER")]
    pub fn attach_to_bridge(&self, link: &str, bridge: &str) -> Result<()> {
        let master = self.index(bridge)?;
        self.set_link(link, "attach link to bridge", |m| {
            m.attributes.push(LinkAttribute::Controller(master));
        })
    }

    /// Detaches a link from its bridge (`RTM_SETLINK` with `IFLA_MASTER` 0;
    /// `ip link set LINK nomaster`).
    ///
    /// # References
    ///  - [rtnetlink(7)](https://man7.org/linux/man-pages/man7/rtnetlink.7.html)
    #[doc(alias = "RTM_SETLINK")]
    pub fn detach_from_bridge(&self, link: &str) -> Result<()> {
        self.set_link(link, "detach link from bridge", |m| {
            m.attributes.push(LinkAttribute::Controller(0));
        })
    }

    fn new_link(&self, name: &str, action: &'static str, info: Vec<LinkInfo>) -> Result<()> {
        check_name("link name", name)?;
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(name.to_owned()));
        msg.attributes.push(LinkAttribute::LinkInfo(info));
        let ctx = Ctx {
            op: Operation::NewLink,
            action,
            link: Some(name),
        };
        self.sock
            .request(
                RouteNetlinkMessage::NewLink(msg),
                NLM_F_CREATE | NLM_F_EXCL,
                &ctx,
            )
            .map(drop)
    }

    /// Creates a veth pair (`RTM_NEWLINK` of kind `veth` with `VETH_INFO_PEER`;
    /// `ip link add NAME type veth peer name PEER [netns NS]`): `name` in this namespace and
    /// `peer` in `peer_ns` (`IFLA_NET_NS_FD` on the peer), or in this namespace too if
    /// `None`. Both ends start down.
    ///
    /// # Errors
    /// [`Error::Netlink`] with `EEXIST` if either name is taken in its namespace;
    /// [`Error::WrongKind`] if `peer_ns` is not a network namespace.
    ///
    /// # References
    ///  - [rtnetlink(7)](https://man7.org/linux/man-pages/man7/rtnetlink.7.html),
    ///    [veth(4)](https://man7.org/linux/man-pages/man4/veth.4.html)
    #[doc(alias = "RTM_NEWLINK")]
    #[doc(alias = "veth")]
    pub fn create_veth(&self, name: &str, peer: &str, peer_ns: Option<&Namespace>) -> Result<()> {
        check_name("veth peer name", peer)?;
        let mut peer_msg = LinkMessage::default();
        peer_msg
            .attributes
            .push(LinkAttribute::IfName(peer.to_owned()));
        if let Some(ns) = peer_ns {
            check_network(ns)?;
            peer_msg
                .attributes
                .push(LinkAttribute::NetNsFd(ns.as_raw_fd()));
        }
        self.new_link(
            name,
            "create veth pair",
            vec![
                LinkInfo::Kind(InfoKind::Veth),
                LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer_msg))),
            ],
        )
    }

    /// Creates a bridge (`RTM_NEWLINK` of kind `bridge`; `ip link add NAME type bridge`),
    /// down and with no ports. Attach links with [`attach_to_bridge`](Self::attach_to_bridge).
    ///
    /// # References
    ///  - [rtnetlink(7)](https://man7.org/linux/man-pages/man7/rtnetlink.7.html),
    ///    [ip-link(8)](https://man7.org/linux/man-pages/man8/ip-link.8.html)
    #[doc(alias = "RTM_NEWLINK")]
    pub fn create_bridge(&self, name: &str) -> Result<()> {
        self.new_link(
            name,
            "create bridge",
            vec![LinkInfo::Kind(InfoKind::Bridge)],
        )
    }

    /// Deletes a link (`RTM_DELLINK`; `ip link delete NAME`). Deleting one end of a veth
    /// pair deletes both.
    ///
    /// # References
    ///  - [rtnetlink(7)](https://man7.org/linux/man-pages/man7/rtnetlink.7.html)
    #[doc(alias = "RTM_DELLINK")]
    pub fn delete_link(&self, name: &str) -> Result<()> {
        let mut msg = LinkMessage::default();
        msg.header.index = self.index(name)?;
        let ctx = Ctx {
            op: Operation::DelLink,
            action: "delete link",
            link: Some(name),
        };
        self.sock
            .request(RouteNetlinkMessage::DelLink(msg), 0, &ctx)
            .map(drop)
    }

    /// Waits until the link is [running](Link::running) (`IFF_RUNNING`), for at most
    /// `timeout`, and returns it.
    ///
    /// After [`link_up`](Self::link_up) the kernel finishes activating the device
    /// asynchronously; a packet sent before that may be dropped. This subscribes to link
    /// notifications (`RTMGRP_LINK`: `RTM_NEWLINK` events) on a second socket, then looks at
    /// the link, and looks again after each notification: it does not poll on a timer.
    ///
    /// # Errors
    /// [`Error::Netlink`] with `ETIMEDOUT` if the link is not running by then (a veth whose
    /// peer is down never is); [`Error::NoSuchLink`] if it does not exist or goes away.
    ///
    /// # References
    ///  - [rtnetlink(7)](https://man7.org/linux/man-pages/man7/rtnetlink.7.html),
    ///    [netlink(7)](https://man7.org/linux/man-pages/man7/netlink.7.html) (multicast groups)
    #[doc(alias = "RTMGRP_LINK")]
    pub fn wait_link_running(&self, name: &str, timeout: Duration) -> Result<Link> {
        let ctx = Ctx {
            op: Operation::GetLink,
            action: "wait for the link to be running",
            link: Some(name),
        };
        self.wait_for(RTMGRP_LINK, timeout, &ctx, || {
            let link = self.link(name)?;
            Ok(link.running.then_some(link))
        })
    }

    /// Subscribes to `groups`, then calls `check` until it returns a value, once at the start
    /// and again after each notification, until `timeout`.
    fn wait_for<T>(
        &self,
        groups: u32,
        timeout: Duration,
        ctx: &Ctx<'_>,
        mut check: impl FnMut() -> Result<Option<T>>,
    ) -> Result<T> {
        let deadline = Instant::now() + timeout;
        // Subscribed before the first look, so no change between the look and the wait is
        // missed.
        let monitor = RouteSocket::open(&self.ns, groups)?;
        loop {
            if let Some(v) = check()? {
                return Ok(v);
            }
            if !monitor.wait_notification(deadline)? {
                // One last look: a change may have come with the deadline.
                return match check()? {
                    Some(v) => Ok(v),
                    None => Err(ctx.error(
                        self.id(),
                        std::io::Error::from_raw_os_error(libc::ETIMEDOUT),
                        None,
                    )),
                };
            }
        }
    }

    // -----------------------------------------------------------------------------------------
    // Addresses
    // -----------------------------------------------------------------------------------------

    /// Adds an address to a link (`RTM_NEWADDR`; `ip address add ADDR/LEN dev LINK`). The
    /// kernel also adds the route to the prefix (see [`AddressOptions::noprefixroute`]).
    ///
    /// An IPv6 address starts *tentative* while duplicate address detection runs (about a
    /// second once the link is running) and cannot be bound until then; see
    /// [`wait_address_ready`](Self::wait_address_ready) and [`AddressOptions::nodad`].
    ///
    /// # Errors
    /// [`Error::InvalidInput`] if `prefix_len` is too long for the address;
    /// [`Error::Netlink`] with `EEXIST` if the link has it already.
    ///
    /// # References
    ///  - [rtnetlink(7)](https://man7.org/linux/man-pages/man7/rtnetlink.7.html)
    #[doc(alias = "RTM_NEWADDR")]
    pub fn add_address(&self, link: &str, addr: IpAddr, prefix_len: u8) -> Result<()> {
        self.add_address_with(link, addr, prefix_len, AddressOptions::new())
    }

    /// [`add_address`](Self::add_address) with options (`IFA_FLAGS`).
    ///
    /// # References
    ///  - [rtnetlink(7)](https://man7.org/linux/man-pages/man7/rtnetlink.7.html)
    #[doc(alias = "RTM_NEWADDR")]
    #[doc(alias = "IFA_F_NODAD")]
    pub fn add_address_with(
        &self,
        link: &str,
        addr: IpAddr,
        prefix_len: u8,
        options: AddressOptions,
    ) -> Result<()> {
        IpPrefix::new(addr, prefix_len)?;
        let mut flags = AddressFlags::empty();
        if options.nodad {
            flags |= AddressFlags::Nodad;
        }
        if options.noprefixroute {
            flags |= AddressFlags::Noprefixroute;
        }
        let mut msg = self.address_message(link, addr, prefix_len)?;
        msg.header.flags = AddressHeaderFlags::from_bits_truncate(flags.bits() as u8);
        if !flags.is_empty() {
            msg.attributes.push(AddressAttribute::Flags(flags));
        }
        let ctx = Ctx {
            op: Operation::NewAddress,
            action: "add address",
            link: Some(link),
        };
        self.sock
            .request(
                RouteNetlinkMessage::NewAddress(msg),
                NLM_F_CREATE | NLM_F_EXCL,
                &ctx,
            )
            .map(drop)
    }

    /// Removes an address from a link (`RTM_DELADDR`; `ip address del ADDR/LEN dev LINK`).
    ///
    /// # Errors
    /// [`Error::Netlink`] with `EADDRNOTAVAIL` if the link does not have it.
    ///
    /// # References
    ///  - [rtnetlink(7)](https://man7.org/linux/man-pages/man7/rtnetlink.7.html)
    #[doc(alias = "RTM_DELADDR")]
    pub fn remove_address(&self, link: &str, addr: IpAddr, prefix_len: u8) -> Result<()> {
        IpPrefix::new(addr, prefix_len)?;
        let msg = self.address_message(link, addr, prefix_len)?;
        let ctx = Ctx {
            op: Operation::DelAddress,
            action: "remove address",
            link: Some(link),
        };
        self.sock
            .request(RouteNetlinkMessage::DelAddress(msg), 0, &ctx)
            .map(drop)
    }

    fn address_message(&self, link: &str, addr: IpAddr, prefix_len: u8) -> Result<AddressMessage> {
        let mut msg = AddressMessage::default();
        msg.header.family = family(addr);
        msg.header.prefix_len = prefix_len;
        msg.header.index = self.index(link)?;
        // As ip(8) does: IPv4 loopback addresses are host-scoped. (The kernel picks the scope
        // of IPv6 addresses itself.)
        if matches!(addr, IpAddr::V4(v4) if v4.is_loopback()) {
            msg.header.scope = netlink_packet_route::address::AddressScope::Host;
        }
        // As ip(8) does: the local address, and the same as the (peer) address.
        msg.attributes.push(AddressAttribute::Local(addr));
        msg.attributes.push(AddressAttribute::Address(addr));
        Ok(msg)
    }

    /// The addresses on the link `name`, IPv4 and IPv6 (`RTM_GETADDR` dump;
    /// `ip address show dev NAME`).
    ///
    /// # References
    ///  - [rtnetlink(7)](https://man7.org/linux/man-pages/man7/rtnetlink.7.html)
    #[doc(alias = "RTM_GETADDR")]
    pub fn addresses(&self, name: &str) -> Result<Vec<Address>> {
        let index = self.index(name)?;
        let mut all = self.all_addresses()?;
        all.retain(|a| a.link == index);
        Ok(all)
    }

    /// Every address in the namespace, on every link (`RTM_GETADDR` dump;
    /// `ip address show`), ordered by link index.
    ///
    /// # References
    ///  - [rtnetlink(7)](https://man7.org/linux/man-pages/man7/rtnetlink.7.html)
    #[doc(alias = "RTM_GETADDR")]
    pub fn all_addresses(&self) -> Result<Vec<Address>> {
        let ctx = Ctx {
            op: Operation::GetAddress,
            action: "list addresses",
            link: None,
        };
        let replies = self.sock.dump(
            RouteNetlinkMessage::GetAddress(AddressMessage::default()),
            &ctx,
        )?;
        let mut out: Vec<Address> = replies
            .into_iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewAddress(a) => address_from(a),
                _ => None,
            })
            .collect();
        out.sort_by_key(|a| a.link);
        Ok(out)
    }

    /// Waits until `addr` on `link` is no longer tentative (IPv6 duplicate address
    /// detection has finished, `IFA_F_TENTATIVE` cleared), for at most `timeout`, and returns
    /// it. IPv4 addresses and `nodad` addresses are ready at once.
    ///
    /// Detection runs only while the link is running (for a veth: both ends up). This
    /// subscribes to address notifications (`RTMGRP_IPV4_IFADDR`, `RTMGRP_IPV6_IFADDR`) on a
    /// second socket and looks at the address again after each one: no timer polling.
    ///
    /// # Errors
    /// [`Error::Netlink`] with `EADDRNOTAVAIL` if the link does not have the address,
    /// `EADDRINUSE` if detection found it in use elsewhere (`IFA_F_DADFAILED`), `ETIMEDOUT`
    /// when `timeout` passes first.
    ///
    /// # References
    ///  - [rtnetlink(7)](https://man7.org/linux/man-pages/man7/rtnetlink.7.html),
    ///    [netlink(7)](https://man7.org/linux/man-pages/man7/netlink.7.html) (multicast groups)
    #[doc(alias = "IFA_F_TENTATIVE")]
    #[doc(alias = "RTMGRP_IPV6_IFADDR")]
    pub fn wait_address_ready(
        &self,
        link: &str,
        addr: IpAddr,
        timeout: Duration,
    ) -> Result<Address> {
        let ctx = Ctx {
            op: Operation::GetAddress,
            action: "wait for duplicate address detection",
            link: Some(link),
        };
        self.wait_for(
            RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR,
            timeout,
            &ctx,
            || {
                let found = self
                    .addresses(link)?
                    .into_iter()
                    .find(|a| a.address == addr);
                match found {
                    None => Err(ctx.error(
                        self.id(),
                        std::io::Error::from_raw_os_error(libc::EADDRNOTAVAIL),
                        None,
                    )),
                    Some(a) if a.dad_failed => Err(ctx.error(
                        self.id(),
                        std::io::Error::from_raw_os_error(libc::EADDRINUSE),
                        None,
                    )),
                    Some(a) if a.tentative => Ok(None),
                    Some(a) => Ok(Some(a)),
                }
            },
        )
    }

    // -----------------------------------------------------------------------------------------
    // Routes
    // -----------------------------------------------------------------------------------------

    /// Adds a route to the main table (`RTM_NEWROUTE`;
    /// `ip route add DEST [via GATEWAY] [dev DEV]`): to `dest` through `gateway`, or directly
    /// attached on `dev` when there is no gateway. Routes go in the main table with protocol
    /// `boot`, as `ip route add` puts them.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when there is neither a gateway nor a device, or the gateway's
    /// family differs from the destination's; [`Error::Netlink`] with `EEXIST` if the route
    /// exists, `ENETUNREACH` if the gateway is not on a directly attached network, `EINVAL`
    /// if `dest` has host bits set (use [`IpPrefix::network`]).
    ///
    /// # References
    ///  - [rtnetlink(7)](https://man7.org/linux/man-pages/man7/rtnetlink.7.html),
    ///    [ip-route(8)](https://man7.org/linux/man-pages/man8/ip-route.8.html)
    #[doc(alias = "RTM_NEWROUTE")]
    pub fn add_route(
        &self,
        dest: IpPrefix,
        gateway: Option<IpAddr>,
        dev: Option<&str>,
    ) -> Result<()> {
        if gateway.is_none() && dev.is_none() {
            return Err(Error::invalid(
                "route",
                format!("a route to {dest} needs a gateway, a device or both"),
            ));
        }
        if let Some(gw) = gateway.filter(|gw| gw.is_ipv6() != dest.is_ipv6()) {
            return Err(Error::invalid(
                "route gateway",
                format!("{gw} is not of the same family as {dest}"),
            ));
        }
        let mut msg = route_message(dest);
        msg.header.protocol = RouteProtocol::Boot;
        msg.header.kind = RouteType::Unicast;
        msg.header.scope = if gateway.is_some() {
            RouteScope::Universe
        } else {
            RouteScope::Link
        };
        if let Some(gw) = gateway {
            msg.attributes
                .push(RouteAttribute::Gateway(RouteAddress::from(gw)));
        }
        if let Some(dev) = dev {
            msg.attributes.push(RouteAttribute::Oif(self.index(dev)?));
        }
        let ctx = Ctx {
            op: Operation::NewRoute,
            action: "add route",
            link: dev,
        };
        self.sock
            .request(
                RouteNetlinkMessage::NewRoute(msg),
                NLM_F_CREATE | NLM_F_EXCL,
                &ctx,
            )
            .map(drop)
    }

    /// Adds a default route through `gateway` (`RTM_NEWROUTE` to `0.0.0.0/0` or `::/0`;
    /// `ip route add default via GATEWAY [dev DEV]`).
    ///
    /// # References
    ///  - [rtnetlink(7)](https://man7.org/linux/man-pages/man7/rtnetlink.7.html)
    #[doc(alias = "RTM_NEWROUTE")]
    pub fn add_default_route(&self, gateway: IpAddr, dev: Option<&str>) -> Result<()> {
        let dest = if gateway.is_ipv6() {
            IpPrefix::ANY_V6
        } else {
            IpPrefix::ANY_V4
        };
        self.add_route(dest, Some(gateway), dev)
    }

    /// Removes the main-table route to `dest` (`RTM_DELROUTE`; `ip route del DEST`).
    ///
    /// # Errors
    /// [`Error::Netlink`] with `ESRCH` (or `ENOENT` for IPv6) if there is no such route.
    ///
    /// # References
    ///  - [rtnetlink(7)](https://man7.org/linux/man-pages/man7/rtnetlink.7.html)
    #[doc(alias = "RTM_DELROUTE")]
    pub fn remove_route(&self, dest: IpPrefix) -> Result<()> {
        let mut msg = route_message(dest);
        // Match any route to dest, whatever its scope (as `ip route del` asks).
        msg.header.scope = RouteScope::NoWhere;
        let ctx = Ctx {
            op: Operation::DelRoute,
            action: "remove route",
            link: None,
        };
        self.sock
            .request(RouteNetlinkMessage::DelRoute(msg), 0, &ctx)
            .map(drop)
    }

    /// The unicast routes of the main table, IPv4 and IPv6 (`RTM_GETROUTE` dump;
    /// `ip route show` and `ip -6 route show`).
    ///
    /// # References
    ///  - [rtnetlink(7)](https://man7.org/linux/man-pages/man7/rtnetlink.7.html)
    #[doc(alias = "RTM_GETROUTE")]
    pub fn routes(&self) -> Result<Vec<Route>> {
        let ctx = Ctx {
            op: Operation::GetRoute,
            action: "list routes",
            link: None,
        };
        let replies = self
            .sock
            .dump(RouteNetlinkMessage::GetRoute(RouteMessage::default()), &ctx)?;
        Ok(replies
            .into_iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewRoute(r) => route_from(r),
                _ => None,
            })
            .collect())
    }
}

fn check_network(ns: &Namespace) -> Result<()> {
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
fn check_name(what: &'static str, name: &str) -> Result<()> {
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

fn family(addr: IpAddr) -> AddressFamily {
    if addr.is_ipv6() {
        AddressFamily::Inet6
    } else {
        AddressFamily::Inet
    }
}

fn route_message(dest: IpPrefix) -> RouteMessage {
    let mut msg = RouteMessage::default();
    msg.header.address_family = family(dest.addr());
    msg.header.destination_prefix_length = dest.prefix_len();
    msg.header.table = RouteHeader::RT_TABLE_MAIN;
    if !dest.is_default() {
        msg.attributes
            .push(RouteAttribute::Destination(RouteAddress::from(dest.addr())));
    }
    msg
}

fn link_from(msg: LinkMessage) -> Link {
    let mut link = Link {
        index: msg.header.index,
        name: String::new(),
        up: msg.header.flags.bits() & IFF_UP != 0,
        running: msg.header.flags.bits() & IFF_RUNNING != 0,
        mtu: 0,
        master: None,
        kind: None,
        hw_address: Vec::new(),
        flags: msg.header.flags.bits(),
    };
    for attr in msg.attributes {
        match attr {
            LinkAttribute::IfName(n) => link.name = n,
            LinkAttribute::Mtu(m) => link.mtu = m,
            LinkAttribute::Controller(m) if m != 0 => link.master = Some(m),
            LinkAttribute::Address(a) => link.hw_address = a,
            LinkAttribute::LinkInfo(infos) => {
                for info in infos {
                    if let LinkInfo::Kind(k) = info {
                        link.kind = Some(k.to_string());
                    }
                }
            }
            _ => {}
        }
    }
    link
}

fn address_from(msg: AddressMessage) -> Option<Address> {
    let mut local = None;
    let mut address = None;
    let mut label = None;
    let mut flags = u32::from(msg.header.flags.bits());
    for attr in msg.attributes {
        match attr {
            AddressAttribute::Local(a) => local = Some(a),
            AddressAttribute::Address(a) => address = Some(a),
            AddressAttribute::Label(l) => label = Some(l),
            AddressAttribute::Flags(f) => flags = f.bits(),
            _ => {}
        }
    }
    Some(Address {
        link: msg.header.index,
        address: local.or(address)?,
        prefix_len: msg.header.prefix_len,
        scope: Scope::from(u8::from(msg.header.scope)),
        tentative: flags & IFA_F_TENTATIVE != 0,
        dad_failed: flags & IFA_F_DADFAILED != 0,
        label,
        flags,
    })
}

fn route_from(msg: RouteMessage) -> Option<Route> {
    let header = &msg.header;
    if header.kind != RouteType::Unicast {
        return None;
    }
    let mut table = u32::from(header.table);
    let mut dest = None;
    let mut gateway = None;
    let mut link = None;
    let mut preferred_source = None;
    let mut metric = None;
    for attr in &msg.attributes {
        match attr {
            RouteAttribute::Table(t) => table = *t,
            RouteAttribute::Destination(a) => dest = ip_of(a),
            RouteAttribute::Gateway(a) => gateway = ip_of(a),
            RouteAttribute::Oif(i) => link = Some(*i),
            RouteAttribute::PrefSource(a) => preferred_source = ip_of(a),
            RouteAttribute::Priority(p) => metric = Some(*p),
            _ => {}
        }
    }
    if table != u32::from(RouteHeader::RT_TABLE_MAIN) {
        return None;
    }
    let any = match header.address_family {
        AddressFamily::Inet => IpPrefix::ANY_V4,
        AddressFamily::Inet6 => IpPrefix::ANY_V6,
        _ => return None,
    };
    let destination = match dest {
        Some(addr) => IpPrefix::new(addr, header.destination_prefix_length).ok()?,
        None => any,
    };
    Some(Route {
        destination,
        gateway,
        link,
        preferred_source,
        metric,
        scope: Scope::from(u8::from(header.scope)),
        protocol: u8::from(header.protocol),
    })
}

fn ip_of(a: &RouteAddress) -> Option<IpAddr> {
    match a {
        RouteAddress::Inet(v4) => Some(IpAddr::V4(*v4)),
        RouteAddress::Inet6(v6) => Some(IpAddr::V6(*v6)),
        _ => None,
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
