//! Network namespace ids (nsid): the numbers one network namespace gives others, as
//! `ip netns list-id` shows them and `lsns` in its NETNSID column.

use std::os::fd::AsRawFd;

use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::nsid::{NsidAttribute, NsidMessage};

use super::socket::Ctx;
use super::{Netlink, check_network};
use crate::error::{Error, Operation, Result};
use crate::namespace::Namespace;

/// `NETNSA_NSID_NOT_ASSIGNED`: the nsid the kernel reports for a namespace it gave none.
const NSID_NOT_ASSIGNED: i32 = -1;

impl Netlink {
    /// The id that this socket's network namespace gave the network namespace `ns`
    /// (`RTM_GETNSID` with `NETNSA_FD`; `ip netns list-id`, the `link-netnsid` of `ip link`,
    /// the NETNSID column of `lsns`), or `None` if it gave it none
    /// (`NETNSA_NSID_NOT_ASSIGNED`).
    ///
    /// An nsid is local to the namespace that assigns it: the same namespace may have a
    /// different id, or none, seen from elsewhere. The kernel assigns one itself when a link
    /// crosses namespaces (a veth pair's peer), and [`set_nsid`](Self::set_nsid) or
    /// `ip netns set NAME ID` assigns one explicitly. Reading needs no privilege.
    ///
    /// # Errors
    /// [`Error::WrongKind`] if `ns` is not a network namespace (nothing is sent);
    /// [`Error::Netlink`] if the kernel refuses the request; [`Error::Os`] if the socket
    /// fails.
    ///
    /// # References
    ///  - [rtnetlink(7)](https://man7.org/linux/man-pages/man7/rtnetlink.7.html),
    ///    [ip-netns(8)](https://man7.org/linux/man-pages/man8/ip-netns.8.html) (`list-id`)
    #[doc(alias = "RTM_GETNSID")]
    #[doc(alias = "NETNSID")]
    pub fn nsid_of(&self, ns: &Namespace) -> Result<Option<i32>> {
        check_network(ns)?;
        let mut msg = NsidMessage::default();
        msg.attributes.push(NsidAttribute::Fd(fd_attribute(ns)?));
        let ctx = Ctx {
            op: Operation::GetNsid,
            action: "get nsid",
            link: None,
        };
        let replies = self
            .sock
            .request(RouteNetlinkMessage::GetNsId(msg), 0, &ctx)?;
        let id = replies
            .into_iter()
            .find_map(|m| match m {
                RouteNetlinkMessage::NewNsId(m) => m.attributes.into_iter().find_map(|a| match a {
                    NsidAttribute::Id(id) => Some(id),
                    _ => None,
                }),
                _ => None,
            })
            .ok_or_else(|| {
                ctx.error(
                    self.id(),
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        "RTM_GETNSID reply without NETNSA_NSID",
                    ),
                    None,
                )
            })?;
        Ok((id != NSID_NOT_ASSIGNED && id >= 0).then_some(id))
    }

    /// Gives the network namespace `ns` the id `nsid` in this socket's network namespace
    /// (`RTM_NEWNSID` with `NETNSA_FD` and `NETNSA_NSID`; `ip netns set NAME ID`). An nsid,
    /// once given, stays until one of the two namespaces is destroyed.
    ///
    /// Needs `CAP_NET_ADMIN` in the user namespace owning this socket's network namespace.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for an `nsid` above `i32::MAX` and [`Error::WrongKind`] if `ns`
    /// is not a network namespace (nothing is sent); [`Error::Netlink`] with `EEXIST` if `ns`
    /// already has an id here or `nsid` is taken, `EPERM` without `CAP_NET_ADMIN`.
    ///
    /// # References
    ///  - [rtnetlink(7)](https://man7.org/linux/man-pages/man7/rtnetlink.7.html),
    ///    [ip-netns(8)](https://man7.org/linux/man-pages/man8/ip-netns.8.html) (`set`)
    #[doc(alias = "RTM_NEWNSID")]
    pub fn set_nsid(&self, ns: &Namespace, nsid: u32) -> Result<()> {
        let nsid = i32::try_from(nsid)
            .map_err(|_| Error::invalid("nsid", format!("{nsid} is above {}", i32::MAX)))?;
        check_network(ns)?;
        let mut msg = NsidMessage::default();
        msg.attributes.push(NsidAttribute::Fd(fd_attribute(ns)?));
        msg.attributes.push(NsidAttribute::Id(nsid));
        let ctx = Ctx {
            op: Operation::NewNsid,
            action: "set nsid",
            link: None,
        };
        self.sock
            .request(RouteNetlinkMessage::NewNsId(msg), 0, &ctx)
            .map(drop)
    }
}

/// The handle's fd as the `u32` the attribute carries (an open fd is never negative).
fn fd_attribute(ns: &Namespace) -> Result<u32> {
    u32::try_from(ns.as_raw_fd())
        .map_err(|_| Error::invalid("namespace fd", format!("{}", ns.as_raw_fd())))
}
