//! Addresses: adding, removing, listing, waiting for duplicate address detection.

use std::net::IpAddr;
use std::time::Duration;

use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::address::{
    AddressAttribute, AddressFlags, AddressHeaderFlags, AddressMessage,
};

use super::socket::{Ctx, RTMGRP_IPV4_IFADDR, RTMGRP_IPV6_IFADDR};
use super::{
    Address, AddressOptions, IFA_F_DADFAILED, IFA_F_TENTATIVE, IpPrefix, Netlink, Scope, family,
};
use crate::error::{Operation, Result};

impl Netlink {
    /// Adds an address to a link (`RTM_NEWADDR`; `ip address add ADDR/LEN dev LINK`). The
    /// kernel also adds the route to the prefix (see [`AddressOptions::noprefixroute`]).
    ///
    /// An IPv6 address starts *tentative* while duplicate address detection runs (about a
    /// second once the link is running) and cannot be bound until then; see
    /// [`wait_address_ready`](Self::wait_address_ready) and [`AddressOptions::nodad`].
    ///
    /// # Errors
    /// [`Error::InvalidInput`](crate::Error::InvalidInput) if `prefix_len` is too long for the
    /// address; [`Error::Netlink`](crate::Error::Netlink) with `EEXIST` if the link has it
    /// already.
    ///
    /// # References
    ///  - [rtnetlink(7)](https://man7.org/linux/man-pages/man7/rtnetlink.7.html)
    #[doc(alias = "RTM_NEWADDR")]
    pub fn add_address(&self, link: &str, addr: IpAddr, prefix_len: u8) -> Result<()> {
        self.add_address_with(link, addr, prefix_len, AddressOptions::new())
    }

    /// [`add_address`](Self::add_address) with options (`IFA_FLAGS`).
    ///
    /// # Errors
    /// [`Error::NoSuchLink`](crate::Error::NoSuchLink) if a link named here is not there;
    /// [`Error::Netlink`](crate::Error::Netlink) with the kernel's errno (and message) if it
    /// refuses the request; [`Error::Os`](crate::Error::Os) if the socket fails.
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
    /// [`Error::Netlink`](crate::Error::Netlink) with `EADDRNOTAVAIL` if the link does not have it.
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
    /// # Errors
    /// [`Error::NoSuchLink`](crate::Error::NoSuchLink) if a link named here is not there; [`Error::Netlink`](crate::Error::Netlink) with the
    /// kernel's errno (and message) if it refuses the request; [`Error::Os`](crate::Error::Os) if the socket fails.
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
    /// # Errors
    /// [`Error::Netlink`](crate::Error::Netlink) or [`Error::Os`](crate::Error::Os) if the dump fails.
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
    /// [`Error::Netlink`](crate::Error::Netlink) with `EADDRNOTAVAIL` if the link does not have the address,
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
