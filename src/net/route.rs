//! Routes: adding, removing, listing.

use std::net::IpAddr;

use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

use super::socket::Ctx;
use super::{IpPrefix, Netlink, Route, Scope, family};
use crate::error::{Error, Operation, Result};

impl Netlink {
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
    /// # Errors
    /// [`Error::NoSuchLink`] if a link named here is not there; [`Error::Netlink`] with the
    /// kernel's errno (and message) if it refuses the request; [`Error::Os`] if the socket fails.
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
    /// # Errors
    /// [`Error::Netlink`] or [`Error::Os`] if the dump fails.
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
