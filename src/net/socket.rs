//! The route netlink socket: opening it inside a network namespace, one request and its
//! replies, the kernel's error replies with their extended ACK text, and waiting for
//! notifications.

use std::cell::Cell;
use std::io;
use std::time::{Duration, Instant};

use netlink_packet_core::{
    NLM_F_ACK, NLM_F_ACK_TLVS, NLM_F_CAPPED, NLM_F_DUMP, NLM_F_DUMP_INTR, NLM_F_REQUEST,
    NetlinkBuffer, NetlinkHeader, NetlinkMessage, NetlinkPayload,
};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_ROUTE};

use crate::error::{Error, Operation, Result, Target};
use crate::kind::NamespaceKind;
use crate::namespace::{Namespace, NamespaceId};

/// Multicast groups (`RTMGRP_*` bits of `sockaddr_nl.nl_groups`).
pub(crate) const RTMGRP_LINK: u32 = 0x1;
pub(crate) const RTMGRP_IPV4_IFADDR: u32 = 0x10;
pub(crate) const RTMGRP_IPV6_IFADDR: u32 = 0x100;

/// `NLMSGERR_ATTR_MSG`: the extended ACK's human-readable message.
const NLMSGERR_ATTR_MSG: u16 = 1;
const NLMSG_HDRLEN: usize = 16;
/// How often a dump the kernel marked inconsistent (`NLM_F_DUMP_INTR`) is retried.
const DUMP_RETRIES: usize = 8;

/// What a request is, for its error.
pub(crate) struct Ctx<'a> {
    pub(crate) op: Operation,
    pub(crate) action: &'static str,
    pub(crate) link: Option<&'a str>,
}

impl Ctx<'_> {
    pub(crate) fn error(
        &self,
        ns: NamespaceId,
        source: io::Error,
        message: Option<String>,
    ) -> Error {
        Error::Netlink {
            op: self.op,
            action: self.action,
            link: self.link.map(str::to_owned),
            ns,
            source,
            message,
        }
    }
}

/// A `NETLINK_ROUTE` socket created inside one network namespace.
pub(crate) struct RouteSocket {
    sock: Socket,
    ns: NamespaceId,
    seq: Cell<u32>,
}

impl RouteSocket {
    /// Creates the socket inside `ns`, subscribed to `groups`.
    ///
    /// A socket belongs to the network namespace of the thread that created it, for its
    /// whole life. Unless the caller's thread is already in `ns`, the socket is made on a
    /// short-lived thread that enters `ns` first (`setns(2)` with `CLONE_NEWNET` is allowed
    /// per thread) and ends right after; the caller's own thread never moves.
    pub(crate) fn open(ns: &Namespace, groups: u32) -> Result<RouteSocket> {
        let id = ns.id();
        if ns.kind() != NamespaceKind::Network {
            return Err(Error::WrongKind {
                target: Target::Namespace(id),
                expected: NamespaceKind::Network,
                found: ns.kind(),
            });
        }
        let make = || Self::make(id, groups);
        let here = Namespace::current(NamespaceKind::Network).is_ok_and(|cur| cur.id() == id);
        let sock = if here {
            make()?
        } else {
            let entered = std::thread::scope(|scope| {
                let worker = std::thread::Builder::new()
                    .name("netns-socket".into())
                    .spawn_scoped(scope, || {
                        ns.enter()?;
                        make()
                    })
                    .map_err(|e| Error::os(Operation::NetlinkSocket, Target::Namespace(id), e))?;
                worker
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            });
            match entered {
                // setns(2) of a network namespace also needs CAP_SYS_ADMIN in the caller's
                // own user namespace: an unprivileged owner of the namespace's user
                // namespace gets the socket from a helper that enters that first.
                Err(e) if e.raw_os_error() == Some(libc::EPERM) => {
                    Self::through_owner(ns, groups).map_err(|_| e)?
                }
                r => r?,
            }
        };
        Ok(RouteSocket {
            sock,
            ns: id,
            seq: Cell::new(0),
        })
    }

    /// The socket made by a forked helper that enters the user namespace owning `ns`, then
    /// `ns` (see `sys::socket_in_user_namespace`). Only where that is not the caller's own
    /// user namespace.
    fn through_owner(ns: &Namespace, groups: u32) -> Result<Socket> {
        let id = ns.id();
        let owner = ns.owner()?;
        if owner.id() == Namespace::current(NamespaceKind::User)?.id() {
            return Err(Error::os(
                Operation::NetlinkSocket,
                Target::Namespace(id),
                io::Error::from_raw_os_error(libc::EPERM),
            ));
        }
        let fd = crate::sys::socket_in_user_namespace(
            std::os::fd::AsFd::as_fd(&owner),
            std::os::fd::AsFd::as_fd(ns),
            libc::AF_NETLINK,
            libc::SOCK_RAW,
            NETLINK_ROUTE as i32,
        )
        .map_err(|e| Error::os(Operation::NetlinkSocket, Target::Namespace(id), e))?;
        Self::configure(crate::sys::netlink_socket(fd), id, groups)
    }

    fn make(ns: NamespaceId, groups: u32) -> Result<Socket> {
        let err = |e| Error::os(Operation::NetlinkSocket, Target::Namespace(ns), e);
        let sock = Socket::new(NETLINK_ROUTE).map_err(err)?;
        Self::configure(sock, ns, groups)
    }

    fn configure(mut sock: Socket, ns: NamespaceId, groups: u32) -> Result<Socket> {
        let err = |e| Error::os(Operation::NetlinkSocket, Target::Namespace(ns), e);
        sock.bind(&SocketAddr::new(0, groups)).map_err(err)?;
        // Error replies that carry the request's header only (not the whole request) and the
        // kernel's text explaining the error. Both are optional (Linux 4.3, 4.12): without
        // them, errors are still reported, just without the text.
        let _ = sock.set_cap_ack(true);
        let _ = sock.set_ext_ack(true);
        Ok(sock)
    }

    pub(crate) fn ns(&self) -> NamespaceId {
        self.ns
    }

    fn io_error(&self, e: io::Error) -> Error {
        Error::os(Operation::NetlinkIo, Target::Namespace(self.ns), e)
    }

    /// Sends `msg` with `NLM_F_ACK` and returns the messages that came back before the ACK.
    pub(crate) fn request(
        &self,
        msg: RouteNetlinkMessage,
        flags: u16,
        ctx: &Ctx<'_>,
    ) -> Result<Vec<RouteNetlinkMessage>> {
        self.exchange(msg, NLM_F_ACK | flags, ctx)
    }

    /// Sends `msg` as a dump request and returns every message of the dump.
    pub(crate) fn dump(
        &self,
        msg: RouteNetlinkMessage,
        ctx: &Ctx<'_>,
    ) -> Result<Vec<RouteNetlinkMessage>> {
        self.exchange(msg, NLM_F_DUMP, ctx)
    }

    fn exchange(
        &self,
        msg: RouteNetlinkMessage,
        flags: u16,
        ctx: &Ctx<'_>,
    ) -> Result<Vec<RouteNetlinkMessage>> {
        let is_dump = flags & NLM_F_DUMP == NLM_F_DUMP;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let seq = self.seq.get().wrapping_add(1).max(1);
            self.seq.set(seq);
            let mut header = NetlinkHeader::default();
            header.flags = NLM_F_REQUEST | flags;
            header.sequence_number = seq;
            let mut packet = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(msg.clone()));
            packet.finalize();
            let mut bytes = vec![0u8; packet.buffer_len()];
            packet.serialize(&mut bytes);
            retry_eintr(|| self.sock.send(&bytes, 0)).map_err(|e| self.io_error(e))?;
            let (replies, interrupted) = self.replies(seq, is_dump, ctx)?;
            if interrupted && attempt < DUMP_RETRIES {
                // The table changed while the kernel was dumping it; the parts may not fit
                // together. Ask again.
                continue;
            }
            return Ok(replies);
        }
    }

    /// Reads replies to request `seq` until its ACK, error or `NLMSG_DONE`.
    fn replies(
        &self,
        seq: u32,
        is_dump: bool,
        ctx: &Ctx<'_>,
    ) -> Result<(Vec<RouteNetlinkMessage>, bool)> {
        let mut out = Vec::new();
        let mut interrupted = false;
        loop {
            let (data, from) =
                retry_eintr(|| self.sock.recv_from_full()).map_err(|e| self.io_error(e))?;
            if from.port_number() != 0 {
                continue; // not from the kernel
            }
            for raw in split(&data) {
                let raw = raw.map_err(|e| self.io_error(e))?;
                let header_flags = NetlinkBuffer::new(raw).flags();
                let message = NetlinkMessage::<RouteNetlinkMessage>::deserialize(raw)
                    .map_err(|e| self.io_error(io::Error::new(io::ErrorKind::InvalidData, e)))?;
                if message.header.sequence_number != seq {
                    continue; // a late reply to an earlier request
                }
                interrupted |= header_flags & NLM_F_DUMP_INTR != 0;
                match message.payload {
                    NetlinkPayload::InnerMessage(m) => out.push(m),
                    NetlinkPayload::Error(e) => match e.code {
                        None => return Ok((out, interrupted)),
                        Some(code) => {
                            let text = ext_ack_message(header_flags, &e.header);
                            return Err(ctx.error(
                                self.ns,
                                io::Error::from_raw_os_error(code.get().abs()),
                                text,
                            ));
                        }
                    },
                    NetlinkPayload::Done(done) if is_dump => {
                        if done.code < 0 {
                            return Err(ctx.error(
                                self.ns,
                                io::Error::from_raw_os_error(-done.code),
                                None,
                            ));
                        }
                        return Ok((out, interrupted));
                    }
                    _ => {}
                }
            }
        }
    }

    /// Waits until a notification arrives or `deadline` passes; returns whether one came.
    /// Everything queued is read and dropped: the caller asks for the state afresh, so the
    /// notifications' contents (and an overrun, `ENOBUFS`, that lost some) do not matter.
    pub(crate) fn wait_notification(&self, deadline: Instant) -> Result<bool> {
        use rustix::event::{PollFd, PollFlags, poll};
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(false);
            }
            let timeout = rustix::time::Timespec::try_from(left.min(Duration::from_secs(3600)))
                .unwrap_or(rustix::time::Timespec {
                    tv_sec: 3600,
                    tv_nsec: 0,
                });
            let mut fds = [PollFd::new(&self.sock, PollFlags::IN)];
            match poll(&mut fds, Some(&timeout)) {
                Ok(0) => continue,
                Ok(_) => break,
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(self.io_error(e.into())),
            }
        }
        let mut buf = Vec::with_capacity(256);
        loop {
            buf.clear();
            match self
                .sock
                .recv(&mut buf, libc::MSG_DONTWAIT | libc::MSG_TRUNC)
            {
                Ok(_) => continue,
                Err(e) => match e.raw_os_error() {
                    Some(libc::EAGAIN) => return Ok(true),
                    Some(libc::EINTR | libc::ENOBUFS) => continue,
                    _ => return Err(self.io_error(e)),
                },
            }
        }
    }
}

fn retry_eintr<T>(mut f: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    loop {
        match f() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => return r,
        }
    }
}

/// The netlink messages in one datagram (each starts with its `nlmsghdr`, aligned to 4).
fn split(data: &[u8]) -> impl Iterator<Item = io::Result<&[u8]>> {
    let mut rest = data;
    std::iter::from_fn(move || {
        if rest.len() < NLMSG_HDRLEN {
            return None;
        }
        let len = u32::from_ne_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        if len < NLMSG_HDRLEN || len > rest.len() {
            rest = &[];
            return Some(Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("netlink message length {len} does not fit the datagram"),
            )));
        }
        let (msg, tail) = rest.split_at(len);
        rest = tail.get(align4(len) - len..).unwrap_or(&[]);
        Some(Ok(msg))
    })
}

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// The extended ACK's message text (`NLMSGERR_ATTR_MSG`) from an `NLMSG_ERROR` payload after
/// its error code: the original request (or only its header, with `NLM_F_CAPPED`), then
/// attributes if `NLM_F_ACK_TLVS` is set.
fn ext_ack_message(flags: u16, payload: &[u8]) -> Option<String> {
    if flags & NLM_F_ACK_TLVS == 0 || payload.len() < NLMSG_HDRLEN {
        return None;
    }
    let request_len = if flags & NLM_F_CAPPED != 0 {
        NLMSG_HDRLEN
    } else {
        u32::from_ne_bytes(payload[..4].try_into().ok()?) as usize
    };
    let mut attrs = payload.get(align4(request_len)..)?;
    while attrs.len() >= 4 {
        let len = u16::from_ne_bytes([attrs[0], attrs[1]]) as usize;
        let kind = u16::from_ne_bytes([attrs[2], attrs[3]]) & netlink_packet_core::NLA_TYPE_MASK;
        if len < 4 || len > attrs.len() {
            return None;
        }
        if kind == NLMSGERR_ATTR_MSG {
            let text = String::from_utf8_lossy(&attrs[4..len]);
            let text = text.trim_end_matches('\0').trim();
            return (!text.is_empty()).then(|| text.to_owned());
        }
        attrs = attrs.get(align4(len)..).unwrap_or(&[]);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nla(kind: u16, value: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&((4 + value.len()) as u16).to_ne_bytes());
        v.extend_from_slice(&kind.to_ne_bytes());
        v.extend_from_slice(value);
        v.resize(align4(v.len()), 0);
        v
    }

    #[test]
    fn ext_ack_text_is_found_after_a_capped_header() {
        let mut payload = vec![0u8; NLMSG_HDRLEN];
        payload[..4].copy_from_slice(&64u32.to_ne_bytes());
        payload.extend(nla(3, &7u32.to_ne_bytes())); // NLMSGERR_ATTR_OFFS
        payload.extend(nla(NLMSGERR_ATTR_MSG, b"Invalid prefix\0"));
        assert_eq!(
            ext_ack_message(NLM_F_ACK_TLVS | NLM_F_CAPPED, &payload).as_deref(),
            Some("Invalid prefix")
        );
        assert_eq!(ext_ack_message(NLM_F_CAPPED, &payload), None);
    }

    #[test]
    fn ext_ack_text_is_found_after_a_whole_request() {
        let mut payload = vec![0u8; 22];
        payload[..4].copy_from_slice(&22u32.to_ne_bytes());
        payload.resize(24, 0);
        payload.extend(nla(NLMSGERR_ATTR_MSG, b"no\0"));
        assert_eq!(
            ext_ack_message(NLM_F_ACK_TLVS, &payload).as_deref(),
            Some("no")
        );
    }

    #[test]
    fn malformed_ext_ack_is_ignored() {
        for payload in [vec![], vec![0u8; 3], {
            let mut p = vec![0u8; NLMSG_HDRLEN];
            p.extend_from_slice(&[200, 0, 1, 0, b'x']);
            p
        }] {
            assert_eq!(
                ext_ack_message(NLM_F_ACK_TLVS | NLM_F_CAPPED, &payload),
                None
            );
        }
    }

    #[test]
    fn datagrams_split_into_messages() {
        let mut d = Vec::new();
        for len in [20u32, 16] {
            let mut m = vec![0u8; len as usize];
            m[..4].copy_from_slice(&len.to_ne_bytes());
            d.extend(m);
        }
        let parts: Vec<_> = split(&d).collect::<io::Result<_>>().unwrap();
        assert_eq!(parts.iter().map(|p| p.len()).collect::<Vec<_>>(), [20, 16]);
        let mut bad = vec![0u8; 16];
        bad[..4].copy_from_slice(&99u32.to_ne_bytes());
        assert!(split(&bad).next().unwrap().is_err());
    }
}
