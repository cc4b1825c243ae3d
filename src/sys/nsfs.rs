//! The nsfs and pidfs ioctls, and the few namespace and pidfd system calls rustix does not wrap.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use crate::kind::{NamespaceKind, NamespaceSet};

const NSIO: libc::c_ulong = 0xb7;
/// `NS_GET_USERNS` (Linux 4.9): an fd for the user namespace that owns a namespace.
pub(crate) const NS_GET_USERNS: libc::c_ulong = (NSIO << 8) | 0x1;
/// `NS_GET_PARENT` (Linux 4.9): an fd for the parent of a pid or user namespace.
pub(crate) const NS_GET_PARENT: libc::c_ulong = (NSIO << 8) | 0x2;
/// `NS_GET_NSTYPE` (Linux 4.11): the `CLONE_NEW*` flag of a namespace.
const NS_GET_NSTYPE: libc::c_ulong = (NSIO << 8) | 0x3;
/// `NS_GET_OWNER_UID` (Linux 4.11): the uid that created a user namespace.
const NS_GET_OWNER_UID: libc::c_ulong = (NSIO << 8) | 0x4;

/// `PIDFS_IOCTL_MAGIC`; the `PIDFD_GET_*_NAMESPACE` ioctls are `_IO(0xFF, n)` (Linux 6.11).
const PIDFS_IOCTL_MAGIC: libc::c_ulong = 0xFF;

/// `NSFS_MAGIC`, the `f_type` of every namespace file.
#[allow(clippy::unnecessary_cast)] // c_long or c_uint, by target
pub(crate) const NSFS_MAGIC: i64 = libc::NSFS_MAGIC as i64;

static_assertions::const_assert_eq!(NS_GET_USERNS, 0xb701);
static_assertions::const_assert_eq!(NS_GET_OWNER_UID, 0xb704);

/// An ioctl without argument that returns a new fd (`NS_GET_USERNS`, `NS_GET_PARENT`,
/// `PIDFD_GET_*_NAMESPACE`, `SIOCGSKNS`).
fn ioctl_fd(fd: BorrowedFd<'_>, request: libc::c_ulong) -> io::Result<OwnedFd> {
    // The argument is passed as an explicit 0: `ioctl` is variadic, and without a third
    // argument the kernel sees whatever the register holds; the pidfd ioctls refuse any
    // non-zero argument with EINVAL.
    // SAFETY: these requests read no memory through the argument and return a new file
    // descriptor (opened O_CLOEXEC by the kernel) or -1; `fd` is borrowed and stays open for
    // the call.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), request as _, 0 as libc::c_ulong) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a non-negative return is a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(r) })
}

/// `ioctl(fd, NS_GET_USERNS)`.
pub(crate) fn ns_get_userns(fd: BorrowedFd<'_>) -> io::Result<OwnedFd> {
    ioctl_fd(fd, NS_GET_USERNS)
}

/// `ioctl(fd, NS_GET_PARENT)`.
pub(crate) fn ns_get_parent(fd: BorrowedFd<'_>) -> io::Result<OwnedFd> {
    ioctl_fd(fd, NS_GET_PARENT)
}

/// `SIOCGSKNS` (Linux 4.9, `linux/sockios.h`): an fd for the network namespace of a socket.
const SIOCGSKNS: libc::c_ulong = 0x894C;

/// `ioctl(socket, SIOCGSKNS)`. `ENOTTY` for an fd that is not a socket; `EPERM` without
/// `CAP_NET_ADMIN` in the user namespace owning the socket's network namespace.
pub(crate) fn socket_netns(socket: BorrowedFd<'_>) -> io::Result<OwnedFd> {
    ioctl_fd(socket, SIOCGSKNS)
}

/// `SO_NETNS_COOKIE` (Linux 5.14, asm-generic `socket.h`; every target this crate builds for
/// uses the generic value): a 64-bit cookie naming a socket's network namespace.
const SO_NETNS_COOKIE: libc::c_int = 71;

/// `getsockopt(socket, SOL_SOCKET, SO_NETNS_COOKIE)`: the cookie of the socket's network
/// namespace, unique for the life of the system. `ENOPROTOOPT` before Linux 5.14.
pub(crate) fn socket_netns_cookie(socket: BorrowedFd<'_>) -> io::Result<u64> {
    let mut cookie: u64 = 0;
    let mut len = std::mem::size_of::<u64>() as libc::socklen_t;
    // SAFETY: the kernel writes at most `len` bytes to `cookie`, a live u64, and the new
    // length to `len`, a live socklen_t.
    let r = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            SO_NETNS_COOKIE,
            (&raw mut cookie).cast(),
            &mut len,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    if len as usize != std::mem::size_of::<u64>() {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    Ok(cookie)
}

/// `ioctl(pidfd, PIDFD_GET_<KIND>_NAMESPACE)`.
pub(crate) fn pidfd_get_namespace(
    pidfd: BorrowedFd<'_>,
    kind: NamespaceKind,
) -> io::Result<OwnedFd> {
    ioctl_fd(
        pidfd,
        (PIDFS_IOCTL_MAGIC << 8) | libc::c_ulong::from(kind.pidfd_ioctl_nr()),
    )
}

/// `ioctl(pidfd, PIDFD_GET_PID_FOR_CHILDREN_NAMESPACE)` (Linux 6.11): unlike
/// `/proc/<pid>/ns/pid_for_children`, this opens a pid namespace that has no process yet.
pub(crate) fn pidfd_get_pid_for_children(pidfd: BorrowedFd<'_>) -> io::Result<OwnedFd> {
    ioctl_fd(pidfd, (PIDFS_IOCTL_MAGIC << 8) | 6)
}

/// `PIDFD_THREAD` (Linux 6.9): a pidfd for one thread rather than a thread group.
const PIDFD_THREAD: libc::c_uint = libc::O_EXCL as libc::c_uint;

/// `pidfd_open(tid, PIDFD_THREAD)`: a pidfd for the thread (or thread-group leader) `tid`.
/// rustix's `PidfdFlags` has no `PIDFD_THREAD`, hence the raw call.
pub(crate) fn pidfd_open_thread(tid: i32) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes two integers and returns a new fd (O_CLOEXEC) or -1.
    let r = unsafe { libc::syscall(libc::SYS_pidfd_open, tid as libc::pid_t, PIDFD_THREAD) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a non-negative return is a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(r as i32) })
}

/// `ioctl(fd, NS_GET_NSTYPE)`: the `CLONE_NEW*` value.
pub(crate) fn ns_get_nstype(fd: BorrowedFd<'_>) -> io::Result<u32> {
    // SAFETY: NS_GET_NSTYPE reads no memory through its (explicitly zero) argument and
    // returns the type or -1.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), NS_GET_NSTYPE as _, 0 as libc::c_ulong) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r as u32)
    }
}

/// `ioctl(fd, NS_GET_OWNER_UID, &uid)`.
pub(crate) fn ns_get_owner_uid(fd: BorrowedFd<'_>) -> io::Result<u32> {
    let mut uid: libc::uid_t = 0;
    // SAFETY: NS_GET_OWNER_UID writes one uid_t through the pointer, which points to a live
    // local of that type.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), NS_GET_OWNER_UID as _, &mut uid) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(uid)
    }
}

/// `unshare(2)` of namespace flags only.
pub(crate) fn unshare(set: NamespaceSet) -> io::Result<()> {
    // SAFETY: rustix marks unshare unsafe because CLONE_FILES would split the fd table between
    // threads. A NamespaceSet can hold only CLONE_NEW* bits (checked at compile time in
    // kind.rs), none of which touch the fd table.
    unsafe {
        rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::from_bits_retain(set.bits()))
    }
    .map_err(io::Error::from)
}

/// `pidfd_send_signal(pidfd, sig, NULL, 0)` (Linux 5.1): any signal number the kernel takes,
/// 0 (check existence and permission, send nothing) and the real-time signals included,
/// which rustix's `Signal` cannot express, hence the raw call. The kernel checks `sig`
/// (`EINVAL` outside `0..=SIGRTMAX`).
pub(crate) fn pidfd_send_signal(pidfd: BorrowedFd<'_>, sig: i32) -> io::Result<()> {
    // SAFETY: the call reads no memory (the siginfo pointer is NULL, which the kernel takes
    // as "fill in the usual siginfo"); `pidfd` is borrowed and stays open for the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            sig as libc::c_int,
            std::ptr::null::<libc::siginfo_t>(),
            0 as libc::c_uint,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Whether the process behind `pidfd` is still alive: `pidfd_send_signal(pidfd, 0, NULL, 0)`
/// (Linux 5.1), which checks existence and permission without sending anything.
pub(crate) fn pidfd_is_alive(pidfd: BorrowedFd<'_>) -> io::Result<bool> {
    let Err(e) = pidfd_send_signal(pidfd, 0) else {
        return Ok(true);
    };
    match e.raw_os_error() {
        Some(libc::ESRCH) => Ok(false),
        // It exists, we just may not signal it.
        Some(libc::EPERM) => Ok(true),
        _ => Err(e),
    }
}

/// A socket made inside the namespaces `user` and then `net` by a short-lived forked helper,
/// and sent back over a socket pair (`SCM_RIGHTS`); the caller's threads never move.
///
/// Entering a network namespace needs `CAP_SYS_ADMIN` in the caller's own user namespace as
/// well as in the one owning it, so an unprivileged caller must enter the owning user
/// namespace first; the kernel lets only a single-threaded process do that, hence the forked
/// helper. The socket keeps the helper's credentials (full capabilities in `user`), and the
/// kernel checks those together with the sender's own.
#[cfg(feature = "net")]
pub(crate) fn socket_in_user_namespace(
    user: BorrowedFd<'_>,
    net: BorrowedFd<'_>,
    domain: i32,
    ty: i32,
    protocol: i32,
) -> io::Result<OwnedFd> {
    use rustix::net::{
        AddressFamily, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer,
        SendAncillaryMessage, SendFlags, SocketFlags, SocketType,
    };
    let (ours, theirs) = rustix::net::socketpair(
        AddressFamily::UNIX,
        SocketType::SEQPACKET,
        SocketFlags::CLOEXEC,
        None,
    )?;
    let mut args = super::clone::CloneArgs {
        exit_signal: libc::SIGCHLD as u64,
        ..Default::default()
    };
    // SAFETY: fork-like clones return twice; both branches are handled right below. The
    // child has its own copy of memory and only makes system calls (through `raw` and
    // rustix's raw backend: no allocation, no lock another thread of the parent could hold)
    // before it exits.
    let pid = unsafe {
        super::clone::clone3_fork(&mut args).or_else(|e| match e {
            libc::ENOSYS => {
                let mut unused = 0;
                super::clone::clone_fork(libc::SIGCHLD as u64, &mut unused)
            }
            e => Err(e),
        })
    }
    .map_err(io::Error::from_raw_os_error)?;
    if pid == 0 {
        let made = (|| -> Result<(), i32> {
            super::raw::setns(user.as_raw_fd(), libc::CLONE_NEWUSER as u32)?;
            super::raw::setns(net.as_raw_fd(), libc::CLONE_NEWNET as u32)?;
            let sock = super::raw::socket(domain, ty | libc::SOCK_CLOEXEC, protocol)? as i32;
            // SAFETY: the fd was just made by socket(2) in this process and nothing else owns it.
            let sock = unsafe { OwnedFd::from_raw_fd(sock) };
            let mut space =
                [std::mem::MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(1))];
            let mut control = SendAncillaryBuffer::new(&mut space);
            let fds = [std::os::fd::AsFd::as_fd(&sock)];
            control.push(SendAncillaryMessage::ScmRights(&fds));
            rustix::net::sendmsg(
                &theirs,
                &[std::io::IoSlice::new(b"s")],
                &mut control,
                SendFlags::empty(),
            )
            .map_err(|e| e.raw_os_error())?;
            Ok(())
        })();
        super::raw::exit(match made {
            Ok(()) => 0,
            Err(errno) => errno.clamp(1, 255),
        })
    }
    drop(theirs);
    let mut space = [std::mem::MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let mut byte = [0u8; 1];
    let received = rustix::net::recvmsg(
        &ours,
        &mut [std::io::IoSliceMut::new(&mut byte)],
        &mut control,
        RecvFlags::CMSG_CLOEXEC,
    );
    let mut sock = None;
    if received.is_ok() {
        for msg in control.drain() {
            if let RecvAncillaryMessage::ScmRights(fds) = msg {
                for fd in fds {
                    sock.get_or_insert(fd);
                }
            }
        }
    }
    let mut status = 0;
    let waited = loop {
        match super::raw::wait4(pid as i32, &mut status, 0) {
            Err(libc::EINTR) => continue,
            r => break r,
        }
    };
    match sock {
        Some(fd) => Ok(fd),
        None if waited.is_ok() && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) != 0 => {
            Err(io::Error::from_raw_os_error(libc::WEXITSTATUS(status)))
        }
        None => Err(received
            .err()
            .map_or_else(|| io::Error::from_raw_os_error(libc::EIO), io::Error::from)),
    }
}
