//! Links: listing, up and down, MTU, names, namespaces, bridges, veth pairs.

use std::time::{Duration, Instant};

use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::link::{
    InfoData, InfoKind, InfoVeth, LinkAttribute, LinkFlags, LinkInfo, LinkMessage,
};

use std::os::fd::AsRawFd;

use super::socket::{Ctx, RTMGRP_LINK, RouteSocket};
use super::{IFF_RUNNING, IFF_UP, Link, Netlink, check_name, check_network};
use crate::error::{Error, Operation, Result};
use crate::namespace::Namespace;

impl Netlink {
    /// Every link in the namespace, in index order (`RTM_GETLINK` dump; `ip link show`).
    ///
    /// # Errors
    /// [`Error::Netlink`] or [`Error::Os`] if the dump fails.
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

    pub(super) fn index(&self, name: &str) -> Result<u32> {
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
    /// # Errors
    /// [`Error::NoSuchLink`] if a link named here is not there; [`Error::Netlink`] with the
    /// kernel's errno (and message) if it refuses the request; [`Error::Os`] if the socket fails.
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
    /// # Errors
    /// [`Error::NoSuchLink`] if a link named here is not there; [`Error::Netlink`] with the
    /// kernel's errno (and message) if it refuses the request; [`Error::Os`] if the socket fails.
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
    /// # Errors
    /// [`Error::NoSuchLink`] if a link named here is not there; [`Error::Netlink`] with the
    /// kernel's errno (and message) if it refuses the request; [`Error::Os`] if the socket fails.
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
    /// # Errors
    /// [`Error::NoSuchLink`] if a link named here is not there; [`Error::Netlink`] with the
    /// kernel's errno (and message) if it refuses the request; [`Error::Os`] if the socket fails.
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
    /// # Errors
    /// [`Error::NoSuchLink`] if a link named here is not there; [`Error::Netlink`] with the
    /// kernel's errno (and message) if it refuses the request; [`Error::Os`] if the socket fails.
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
    /// # Errors
    /// [`Error::InvalidInput`] for a name that cannot be an interface name; [`Error::Netlink`]
    /// with `EEXIST` if a link has that name.
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
    /// # Errors
    /// [`Error::NoSuchLink`] if a link named here is not there; [`Error::Netlink`] with the
    /// kernel's errno (and message) if it refuses the request; [`Error::Os`] if the socket fails.
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
    pub(super) fn wait_for<T>(
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
