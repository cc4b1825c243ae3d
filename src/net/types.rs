//! The values the netlink operations take and return: prefixes, links, addresses, routes.
//!
//! These are the crate's own types, so the netlink packet crates stay an implementation detail.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use crate::error::{Error, Result};

/// An IP address with a prefix length, such as `10.0.0.1/24` or `fd00:6c6e:73::1/64`.
///
/// The address is kept as given, host bits included: `10.0.0.1/24` is the address to put on an
/// interface, and [`network`](Self::network) is `10.0.0.0/24`, the form a route destination
/// must have. [`FromStr`] accepts `ADDR/LEN`, and a bare address as a host prefix (`/32`,
/// `/128`).
///
/// # References
///  - [rtnetlink(7)](https://man7.org/linux/man-pages/man7/rtnetlink.7.html) (`ifa_prefixlen`,
///    `rtm_dst_len`)
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IpPrefix {
    addr: IpAddr,
    len: u8,
}

impl IpPrefix {
    /// `0.0.0.0/0`: every IPv4 destination, the destination of an IPv4 default route.
    pub const ANY_V4: IpPrefix = IpPrefix {
        addr: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        len: 0,
    };

    /// `::/0`: every IPv6 destination, the destination of an IPv6 default route.
    pub const ANY_V6: IpPrefix = IpPrefix {
        addr: IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        len: 0,
    };

    /// `addr/len`.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] if `len` is longer than the address (32 bits for IPv4, 128 for
    /// IPv6).
    pub fn new(addr: IpAddr, len: u8) -> Result<IpPrefix> {
        let max = max_len(addr);
        if len > max {
            return Err(Error::invalid(
                "prefix length",
                format!("/{len} is longer than the {max} bits of {addr}"),
            ));
        }
        Ok(IpPrefix { addr, len })
    }

    /// The whole-address prefix of `addr` (`/32` or `/128`).
    pub fn host(addr: IpAddr) -> IpPrefix {
        IpPrefix {
            addr,
            len: max_len(addr),
        }
    }

    /// The address, with its host bits as given.
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The prefix length in bits.
    pub fn prefix_len(&self) -> u8 {
        self.len
    }

    /// Whether this is an IPv6 prefix.
    pub fn is_ipv6(&self) -> bool {
        self.addr.is_ipv6()
    }

    /// Whether this is a `/0` prefix, the destination of a default route.
    pub fn is_default(&self) -> bool {
        self.len == 0
    }

    /// The network: the same prefix with the host bits cleared (`10.0.0.1/24` gives
    /// `10.0.0.0/24`).
    pub fn network(&self) -> IpPrefix {
        let addr = match self.addr {
            IpAddr::V4(a) => IpAddr::V4(Ipv4Addr::from_bits(a.to_bits() & mask32(self.len))),
            IpAddr::V6(a) => IpAddr::V6(Ipv6Addr::from_bits(a.to_bits() & mask128(self.len))),
        };
        IpPrefix {
            addr,
            len: self.len,
        }
    }

    /// Whether `ip` lies in this prefix.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(a), IpAddr::V4(b)) => (a.to_bits() ^ b.to_bits()) & mask32(self.len) == 0,
            (IpAddr::V6(a), IpAddr::V6(b)) => (a.to_bits() ^ b.to_bits()) & mask128(self.len) == 0,
            _ => false,
        }
    }
}

fn max_len(addr: IpAddr) -> u8 {
    if addr.is_ipv4() { 32 } else { 128 }
}

fn mask32(len: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0)
}

fn mask128(len: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0)
}

impl fmt::Display for IpPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

impl FromStr for IpPrefix {
    type Err = Error;

    /// Parses `ADDR/LEN` (`10.0.0.1/24`, `fd00::1/64`) or a bare `ADDR` (a host prefix).
    fn from_str(s: &str) -> Result<IpPrefix> {
        let bad = |why: &str| Error::invalid("IP prefix", format!("{s:?}: {why}"));
        let (addr, len) = match s.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (s, None),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| bad("not an IPv4 or IPv6 address"))?;
        match len {
            None => Ok(IpPrefix::host(addr)),
            Some(l) if !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit()) => {
                let len: u8 = l.parse().map_err(|_| bad("prefix length out of range"))?;
                IpPrefix::new(addr, len)
            }
            Some(_) => Err(bad("the prefix length is not a number")),
        }
    }
}

impl From<IpAddr> for IpPrefix {
    /// The host prefix of the address.
    fn from(addr: IpAddr) -> IpPrefix {
        IpPrefix::host(addr)
    }
}

/// How far an address or route reaches (`ifa_scope`, `rtm_scope`: the kernel's `RT_SCOPE_*`).
///
/// # References
///  - [rtnetlink(7)](https://man7.org/linux/man-pages/man7/rtnetlink.7.html)
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    /// `RT_SCOPE_UNIVERSE` (0): valid everywhere.
    Universe,
    /// `RT_SCOPE_SITE` (200): within the site (IPv6, deprecated).
    Site,
    /// `RT_SCOPE_LINK` (253): on the directly attached link only (`fe80::/10`, routes
    /// without a gateway).
    Link,
    /// `RT_SCOPE_HOST` (254): within this host (`127.0.0.1`, `::1`).
    Host,
    /// `RT_SCOPE_NOWHERE` (255): the destination does not exist.
    Nowhere,
    /// Another value.
    Other(u8),
}

impl From<u8> for Scope {
    fn from(v: u8) -> Scope {
        match v {
            0 => Scope::Universe,
            200 => Scope::Site,
            253 => Scope::Link,
            254 => Scope::Host,
            255 => Scope::Nowhere,
            other => Scope::Other(other),
        }
    }
}

impl From<Scope> for u8 {
    fn from(s: Scope) -> u8 {
        match s {
            Scope::Universe => 0,
            Scope::Site => 200,
            Scope::Link => 253,
            Scope::Host => 254,
            Scope::Nowhere => 255,
            Scope::Other(v) => v,
        }
    }
}

/// One network interface, as an `RTM_NEWLINK` reply to `RTM_GETLINK` describes it.
///
/// # References
///  - [rtnetlink(7)](https://man7.org/linux/man-pages/man7/rtnetlink.7.html) (`struct ifinfomsg`,
///    `IFLA_*`), [netdevice(7)](https://man7.org/linux/man-pages/man7/netdevice.7.html)
///    (`IFF_*` flags)
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    /// The interface index (`ifi_index`), unique within the network namespace.
    pub index: u32,
    /// The interface name (`IFLA_IFNAME`).
    pub name: String,
    /// Administratively up (`IFF_UP`), as set by [`link_up`](super::Netlink::link_up).
    pub up: bool,
    /// Operationally up (`IFF_RUNNING`): up, with carrier, and the kernel has finished
    /// bringing it into service. A veth end runs once both ends are up.
    pub running: bool,
    /// The MTU (`IFLA_MTU`).
    pub mtu: u32,
    /// The index of the bridge (or other master device) this link is attached to
    /// (`IFLA_MASTER`).
    pub master: Option<u32>,
    /// The driver kind (`IFLA_INFO_KIND`: `"veth"`, `"bridge"`, ...); `None` for devices that
    /// do not report one, such as loopback and most physical NICs.
    pub kind: Option<String>,
    /// The hardware address (`IFLA_ADDRESS`), empty if the device has none.
    pub hw_address: Vec<u8>,
    /// All device flags (`ifi_flags`, the `IFF_*` bits of netdevice(7)).
    pub flags: u32,
}

/// One address on an interface, as an `RTM_NEWADDR` reply to `RTM_GETADDR` describes it.
///
/// # References
///  - [rtnetlink(7)](https://man7.org/linux/man-pages/man7/rtnetlink.7.html) (`struct ifaddrmsg`,
///    `IFA_*`, `IFA_F_*`)
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Address {
    /// The index of the interface it is on (`ifa_index`).
    pub link: u32,
    /// The address (`IFA_LOCAL`, or `IFA_ADDRESS` where there is no `IFA_LOCAL`, as for IPv6).
    pub address: IpAddr,
    /// The prefix length (`ifa_prefixlen`).
    pub prefix_len: u8,
    /// The scope (`ifa_scope`).
    pub scope: Scope,
    /// Duplicate address detection is still running (`IFA_F_TENTATIVE`): an IPv6 address
    /// cannot be bound or used as a source until this clears. See
    /// [`wait_address_ready`](super::Netlink::wait_address_ready).
    pub tentative: bool,
    /// Duplicate address detection found another host with this address
    /// (`IFA_F_DADFAILED`); the address will not be used.
    pub dad_failed: bool,
    /// The label (`IFA_LABEL`, IPv4 only).
    pub label: Option<String>,
    /// All address flags (`IFA_FLAGS`, the `IFA_F_*` bits).
    pub flags: u32,
}

impl Address {
    /// The address and its prefix length together.
    pub fn prefix(&self) -> IpPrefix {
        IpPrefix {
            addr: self.address,
            len: self.prefix_len,
        }
    }
}

/// One route of the main routing table, as an `RTM_NEWROUTE` reply to `RTM_GETROUTE`
/// describes it.
///
/// # References
///  - [rtnetlink(7)](https://man7.org/linux/man-pages/man7/rtnetlink.7.html) (`struct rtmsg`,
///    `RTA_*`)
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// The destination (`RTA_DST` and `rtm_dst_len`); `/0` for a default route.
    pub destination: IpPrefix,
    /// The next hop (`RTA_GATEWAY`), if the destination is not directly attached.
    pub gateway: Option<IpAddr>,
    /// The index of the outgoing interface (`RTA_OIF`).
    pub link: Option<u32>,
    /// The preferred source address (`RTA_PREFSRC`).
    pub preferred_source: Option<IpAddr>,
    /// The metric (`RTA_PRIORITY`).
    pub metric: Option<u32>,
    /// The scope (`rtm_scope`).
    pub scope: Scope,
    /// Who installed it (`rtm_protocol`: 2 kernel, 3 boot (`ip route add`), 4 static, ...).
    pub protocol: u8,
}

/// Options for [`add_address_with`](super::Netlink::add_address_with).
///
/// # References
///  - [rtnetlink(7)](https://man7.org/linux/man-pages/man7/rtnetlink.7.html) (`IFA_FLAGS`)
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AddressOptions {
    pub(crate) nodad: bool,
    pub(crate) noprefixroute: bool,
}

impl AddressOptions {
    /// No options: what `ip address add ADDR/LEN dev LINK` sends (`RTM_NEWADDR` without
    /// `IFA_FLAGS`).
    pub fn new() -> AddressOptions {
        AddressOptions::default()
    }

    /// Skip IPv6 duplicate address detection (`IFA_F_NODAD`, `ip address add ... nodad`):
    /// the address is usable at once instead of tentative for about a second. Only for
    /// addresses known to be unique on the link. IPv4 has no duplicate address detection.
    pub fn nodad(mut self, on: bool) -> AddressOptions {
        self.nodad = on;
        self
    }

    /// Do not add the route to the address's prefix (`IFA_F_NOPREFIXROUTE`,
    /// `ip address add ... noprefixroute`).
    pub fn noprefixroute(mut self, on: bool) -> AddressOptions {
        self.noprefixroute = on;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_parses_and_displays() {
        let p: IpPrefix = "10.1.2.3/24".parse().unwrap();
        assert_eq!(p.to_string(), "10.1.2.3/24");
        assert_eq!(p.network().to_string(), "10.1.2.0/24");
        assert!(p.contains("10.1.2.200".parse().unwrap()));
        assert!(!p.contains("10.1.3.1".parse().unwrap()));
        let v6: IpPrefix = "fd00:6c6e:73::1/64".parse().unwrap();
        assert_eq!(v6.network().to_string(), "fd00:6c6e:73::/64");
        assert_eq!(
            "fd00::1".parse::<IpPrefix>().unwrap().prefix_len(),
            128,
            "a bare address is a host prefix"
        );
        assert!(IpPrefix::ANY_V4.contains("192.0.2.1".parse().unwrap()));
        assert!(IpPrefix::ANY_V6.is_default());
        assert_eq!(IpPrefix::ANY_V4.network(), IpPrefix::ANY_V4);
    }

    #[test]
    fn bad_prefixes_are_rejected() {
        for bad in [
            "10.0.0.1/33",
            "fd00::1/129",
            "10.0.0.1/",
            "10.0.0.1/+4",
            "10.0.0/24",
            "",
            "/24",
            "10.0.0.1/24/1",
            "10.0.0.1/999",
        ] {
            assert!(
                matches!(bad.parse::<IpPrefix>(), Err(Error::InvalidInput { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn scope_round_trips() {
        for v in 0..=255u8 {
            assert_eq!(u8::from(Scope::from(v)), v);
        }
    }
}
