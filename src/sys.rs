//! Raw system calls and ioctls that rustix does not wrap. Every `unsafe` block of the crate
//! outside the spawn child path lives here.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

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
pub(crate) const NSFS_MAGIC: i64 = 0x6e73_6673;

static_assertions::const_assert_eq!(NS_GET_USERNS, 0xb701);
static_assertions::const_assert_eq!(NS_GET_OWNER_UID, 0xb704);

fn pidfd_ioctl_for(kind: NamespaceKind) -> libc::c_ulong {
    let nr = match kind {
        NamespaceKind::Cgroup => 1,
        NamespaceKind::Ipc => 2,
        NamespaceKind::Mount => 3,
        NamespaceKind::Network => 4,
        NamespaceKind::Pid => 5,
        NamespaceKind::Time => 7,
        NamespaceKind::User => 9,
        NamespaceKind::Uts => 10,
    };
    (PIDFS_IOCTL_MAGIC << 8) | nr
}

/// An ioctl without argument that returns a new fd (`NS_GET_USERNS`, `NS_GET_PARENT`,
/// `PIDFD_GET_*_NAMESPACE`).
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

/// `ioctl(pidfd, PIDFD_GET_<KIND>_NAMESPACE)`.
pub(crate) fn pidfd_get_namespace(
    pidfd: BorrowedFd<'_>,
    kind: NamespaceKind,
) -> io::Result<OwnedFd> {
    ioctl_fd(pidfd, pidfd_ioctl_for(kind))
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

/// Whether the process behind `pidfd` is still alive: `pidfd_send_signal(pidfd, 0, NULL, 0)`
/// (Linux 5.1), which checks existence and permission without sending anything. rustix's
/// `Signal` cannot express signal 0, hence the raw call.
pub(crate) fn pidfd_is_alive(pidfd: BorrowedFd<'_>) -> io::Result<bool> {
    // SAFETY: signal 0 sends nothing; the siginfo pointer may be NULL; `pidfd` is borrowed
    // and stays open for the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            0 as libc::c_int,
            std::ptr::null::<libc::siginfo_t>(),
            0 as libc::c_uint,
        )
    };
    if r == 0 {
        return Ok(true);
    }
    let e = io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::ESRCH) => Ok(false),
        // It exists, we just may not signal it.
        Some(libc::EPERM) => Ok(true),
        _ => Err(e),
    }
}

/// The running kernel's `(major, minor)` from `uname(2)`, parsed once.
pub(crate) fn kernel_version() -> (u32, u32) {
    static V: std::sync::OnceLock<(u32, u32)> = std::sync::OnceLock::new();
    *V.get_or_init(|| {
        let uname = rustix::system::uname();
        parse_release(&uname.release().to_string_lossy())
    })
}

fn parse_release(release: &str) -> (u32, u32) {
    let mut parts = release
        .split(|c: char| !c.is_ascii_digit())
        .map(|s| s.parse::<u32>().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

#[cfg(test)]
mod tests {
    #[test]
    fn release_parses_major_minor() {
        assert_eq!(super::parse_release("6.18.44-fc-v669"), (6, 18));
        assert_eq!(super::parse_release("5.8.0"), (5, 8));
        assert_eq!(super::parse_release("garbage"), (0, 0));
    }
}

/// Raw system calls for the code between `clone3` and `execve`.
///
/// They go straight to the kernel: no libc, so no `errno` (which a `CLONE_VM` child would
/// share with the parent thread), no locks, no allocation. Results are `Err(errno)`.
pub(crate) mod raw {
    use core::ffi::{CStr, c_long};

    /// An errno value returned by a raw system call.
    pub(crate) type Errno = i32;
    pub(crate) type R = Result<usize, Errno>;

    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    unsafe fn syscall6(n: c_long, a: [usize; 6]) -> isize {
        let ret: isize;
        // SAFETY: the Linux x86_64 syscall ABI: number in rax, arguments in rdi, rsi, rdx, r10,
        // r8, r9; the kernel clobbers rcx and r11. The caller vouches for the arguments.
        unsafe {
            core::arch::asm!(
                "syscall",
                inlateout("rax") n as isize => ret,
                in("rdi") a[0], in("rsi") a[1], in("rdx") a[2],
                in("r10") a[3], in("r8") a[4], in("r9") a[5],
                lateout("rcx") _, lateout("r11") _,
                options(nostack)
            );
        }
        ret
    }

    #[cfg(target_arch = "aarch64")]
    #[inline(always)]
    unsafe fn syscall6(n: c_long, a: [usize; 6]) -> isize {
        let ret: isize;
        // SAFETY: the Linux aarch64 syscall ABI: number in x8, arguments in x0..x5, result in
        // x0. The caller vouches for the arguments.
        unsafe {
            core::arch::asm!(
                "svc 0",
                in("x8") n,
                inlateout("x0") a[0] as isize => ret,
                in("x1") a[1], in("x2") a[2], in("x3") a[3], in("x4") a[4], in("x5") a[5],
                options(nostack)
            );
        }
        ret
    }

    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    unsafe fn syscall6(n: c_long, a: [usize; 6]) -> isize {
        // Elsewhere libc's syscall() is the only portable way in. It sets errno, which is why
        // spawn() never uses CLONE_VM on these architectures (see `spawn::Mode`).
        // SAFETY: as above; the caller vouches for the arguments.
        let r = unsafe { libc::syscall(n, a[0], a[1], a[2], a[3], a[4], a[5]) };
        if r == -1 {
            // SAFETY: reading errno of this thread.
            -(unsafe { *libc::__errno_location() } as isize)
        } else {
            r as isize
        }
    }

    /// Whether clone3 with `CLONE_VM` and a child stack is available on this architecture.
    pub(crate) const HAS_CLONE_VM_TRAMPOLINE: bool =
        cfg!(any(target_arch = "x86_64", target_arch = "aarch64"));

    #[inline(always)]
    fn check(r: isize) -> R {
        if (-4095..0).contains(&r) {
            Err((-r) as Errno)
        } else {
            Ok(r as usize)
        }
    }

    macro_rules! sys {
        ($n:expr $(, $a:expr)*) => {{
            let args = pad(&[$($a as usize),*]);
            // SAFETY: each wrapper below passes the arguments its system call documents, with
            // pointers to live, correctly sized memory that outlives the call.
            check(unsafe { syscall6($n as c_long, args) })
        }};
    }

    #[inline(always)]
    fn pad(a: &[usize]) -> [usize; 6] {
        let mut out = [0usize; 6];
        out[..a.len()].copy_from_slice(a);
        out
    }

    fn p(s: &CStr) -> usize {
        s.as_ptr() as usize
    }

    fn opt(s: Option<&CStr>) -> usize {
        s.map_or(0, p)
    }

    pub(crate) fn open(path: &CStr, flags: i32, mode: u32) -> R {
        sys!(
            libc::SYS_openat,
            libc::AT_FDCWD,
            p(path),
            flags | libc::O_CLOEXEC,
            mode
        )
    }
    pub(crate) fn read(fd: i32, buf: &mut [u8]) -> R {
        sys!(libc::SYS_read, fd, buf.as_mut_ptr(), buf.len())
    }
    pub(crate) fn write(fd: i32, buf: &[u8]) -> R {
        sys!(libc::SYS_write, fd, buf.as_ptr(), buf.len())
    }
    pub(crate) fn close(fd: i32) -> R {
        sys!(libc::SYS_close, fd)
    }
    pub(crate) fn close_range(first: u32, last: u32) -> R {
        sys!(libc::SYS_close_range, first, last, 0)
    }
    /// `close_range(first, last, CLOSE_RANGE_CLOEXEC)` (Linux 5.11): marks the fds
    /// close-on-exec instead of closing them now.
    pub(crate) fn close_range_cloexec(first: u32, last: u32) -> R {
        sys!(
            libc::SYS_close_range,
            first,
            last,
            libc::CLOSE_RANGE_CLOEXEC
        )
    }
    pub(crate) fn dup3(old: i32, new: i32, flags: i32) -> R {
        sys!(libc::SYS_dup3, old, new, flags)
    }
    pub(crate) fn fcntl(fd: i32, cmd: i32, arg: usize) -> R {
        sys!(libc::SYS_fcntl, fd, cmd, arg)
    }
    pub(crate) fn poll_one(fd: i32, events: i16) -> Result<i16, Errno> {
        let mut pfd = libc::pollfd {
            fd,
            events,
            revents: 0,
        };
        sys!(
            libc::SYS_ppoll,
            &mut pfd as *mut libc::pollfd,
            1,
            &libc::timespec {
                tv_sec: 0,
                tv_nsec: 0
            } as *const _,
            0,
            8
        )?;
        Ok(pfd.revents)
    }
    pub(crate) fn mount(
        src: Option<&CStr>,
        target: &CStr,
        fstype: Option<&CStr>,
        flags: u64,
        data: Option<&CStr>,
    ) -> R {
        sys!(
            libc::SYS_mount,
            opt(src),
            p(target),
            opt(fstype),
            flags,
            opt(data)
        )
    }
    pub(crate) fn umount2(target: &CStr, flags: i32) -> R {
        sys!(libc::SYS_umount2, p(target), flags)
    }
    pub(crate) fn mount_setattr(dir: i32, path: &CStr, flags: u32, attr: &MountAttr) -> R {
        sys!(
            libc::SYS_mount_setattr,
            dir,
            p(path),
            flags,
            attr as *const MountAttr,
            core::mem::size_of::<MountAttr>()
        )
    }
    /// `statfs(2)`, returning `f_flags` (the `ST_*` mount flags).
    #[cfg(target_pointer_width = "64")]
    /// `struct open_how` of `openat2(2)`.
    #[repr(C)]
    struct OpenHow {
        flags: u64,
        mode: u64,
        resolve: u64,
    }
    /// `RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS`.
    pub(crate) const RESOLVE_NO_LINKS: u64 = 0x02 | 0x04;
    /// `openat2(dir, path, O_PATH|O_CLOEXEC, resolve)` (Linux 5.6): an `O_PATH` fd, resolved
    /// under the given `RESOLVE_*` rules.
    pub(crate) fn open_path(dir: i32, path: &CStr, resolve: u64) -> R {
        let how = OpenHow {
            flags: (libc::O_PATH | libc::O_CLOEXEC) as u64,
            mode: 0,
            resolve,
        };
        sys!(
            libc::SYS_openat2,
            dir,
            p(path),
            &how as *const OpenHow,
            core::mem::size_of::<OpenHow>()
        )
    }
    pub(crate) fn openat(dir: i32, path: &CStr, flags: i32, mode: u32) -> R {
        sys!(
            libc::SYS_openat,
            dir,
            p(path),
            flags | libc::O_CLOEXEC,
            mode
        )
    }
    pub(crate) fn mkdirat(dir: i32, path: &CStr, mode: u32) -> R {
        sys!(libc::SYS_mkdirat, dir, p(path), mode)
    }
    pub(crate) fn symlinkat(target: &CStr, dir: i32, link: &CStr) -> R {
        sys!(libc::SYS_symlinkat, p(target), dir, p(link))
    }
    pub(crate) fn socket(domain: i32, ty: i32, proto: i32) -> R {
        sys!(libc::SYS_socket, domain, ty, proto)
    }
    /// An ioctl whose argument is a pointer to a caller-owned buffer of the size the request
    /// expects (checked by the caller).
    pub(crate) fn ioctl_ptr(fd: i32, request: libc::c_ulong, arg: *mut u8) -> R {
        sys!(libc::SYS_ioctl, fd, request, arg)
    }
    pub(crate) fn fchdir(fd: i32) -> R {
        sys!(libc::SYS_fchdir, fd)
    }
    /// `open_tree(2)` (Linux 5.2).
    pub(crate) fn open_tree(dir: i32, path: &CStr, flags: u32) -> R {
        sys!(libc::SYS_open_tree, dir, p(path), flags)
    }
    /// `move_mount(2)` (Linux 5.2).
    pub(crate) fn move_mount(
        from: i32,
        from_path: &CStr,
        to: i32,
        to_path: &CStr,
        flags: u32,
    ) -> R {
        sys!(
            libc::SYS_move_mount,
            from,
            p(from_path),
            to,
            p(to_path),
            flags
        )
    }
    /// `fsopen(2)` (Linux 5.2).
    pub(crate) fn fsopen(fstype: &CStr, flags: u32) -> R {
        sys!(libc::SYS_fsopen, p(fstype), flags)
    }
    /// `fsconfig(2)` (Linux 5.2).
    pub(crate) fn fsconfig(fd: i32, cmd: u32, key: Option<&CStr>, value: Option<&CStr>) -> R {
        sys!(libc::SYS_fsconfig, fd, cmd, opt(key), opt(value), 0)
    }
    /// `fsmount(2)` (Linux 5.2).
    pub(crate) fn fsmount(fd: i32, flags: u32, attrs: u32) -> R {
        sys!(libc::SYS_fsmount, fd, flags, attrs)
    }
    pub(crate) const OPEN_TREE_CLONE: u32 = 1;
    pub(crate) const MOVE_MOUNT_F_EMPTY_PATH: u32 = 0x04;
    pub(crate) const MOVE_MOUNT_T_EMPTY_PATH: u32 = 0x40;
    pub(crate) const FSCONFIG_SET_FLAG: u32 = 0;
    pub(crate) const FSCONFIG_SET_STRING: u32 = 1;
    pub(crate) const FSCONFIG_CMD_CREATE: u32 = 6;

    pub(crate) fn statfs_flags(path: &CStr) -> Result<u64, Errno> {
        // The 64-bit kernel struct statfs: 7 longs, fsid, namelen, frsize, flags, 4 spare.
        let mut words = [0u64; 15];
        sys!(libc::SYS_statfs, p(path), words.as_mut_ptr())?;
        Ok(words[10])
    }
    #[cfg(not(target_pointer_width = "64"))]
    pub(crate) fn statfs_flags(_: &CStr) -> Result<u64, Errno> {
        Err(libc::ENOSYS)
    }
    pub(crate) fn symlink(target: &CStr, link: &CStr) -> R {
        sys!(libc::SYS_symlinkat, p(target), libc::AT_FDCWD, p(link))
    }
    pub(crate) fn pivot_root(new_root: &CStr, put_old: &CStr) -> R {
        sys!(libc::SYS_pivot_root, p(new_root), p(put_old))
    }
    pub(crate) fn chroot(path: &CStr) -> R {
        sys!(libc::SYS_chroot, p(path))
    }
    pub(crate) fn chdir(path: &CStr) -> R {
        sys!(libc::SYS_chdir, p(path))
    }
    pub(crate) fn mkdir(path: &CStr, mode: u32) -> R {
        sys!(libc::SYS_mkdirat, libc::AT_FDCWD, p(path), mode)
    }
    pub(crate) fn sethostname(name: &[u8]) -> R {
        sys!(libc::SYS_sethostname, name.as_ptr(), name.len())
    }
    pub(crate) fn setdomainname(name: &[u8]) -> R {
        sys!(libc::SYS_setdomainname, name.as_ptr(), name.len())
    }
    pub(crate) fn setns(fd: i32, nstype: u32) -> R {
        sys!(libc::SYS_setns, fd, nstype)
    }
    pub(crate) fn unshare(flags: u32) -> R {
        sys!(libc::SYS_unshare, flags)
    }
    pub(crate) fn setresuid(r: u32, e: u32, s: u32) -> R {
        sys!(libc::SYS_setresuid, r, e, s)
    }
    pub(crate) fn setresgid(r: u32, e: u32, s: u32) -> R {
        sys!(libc::SYS_setresgid, r, e, s)
    }
    pub(crate) fn setgroups(groups: &[u32]) -> R {
        sys!(libc::SYS_setgroups, groups.len(), groups.as_ptr())
    }
    pub(crate) fn prctl(op: i32, a: usize, b: usize, c: usize, d: usize) -> R {
        sys!(libc::SYS_prctl, op, a, b, c, d)
    }
    pub(crate) fn capget(hdr: &mut CapHeader, data: &mut [CapData; 2]) -> R {
        sys!(libc::SYS_capget, hdr as *mut CapHeader, data.as_mut_ptr())
    }
    pub(crate) fn capset(hdr: &mut CapHeader, data: &[CapData; 2]) -> R {
        sys!(libc::SYS_capset, hdr as *mut CapHeader, data.as_ptr())
    }
    pub(crate) fn seccomp_filter(prog: &libc::sock_fprog) -> R {
        sys!(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            0,
            prog as *const libc::sock_fprog
        )
    }
    pub(crate) fn prlimit(resource: u32, limit: &libc::rlimit64) -> R {
        sys!(
            libc::SYS_prlimit64,
            0,
            resource,
            limit as *const libc::rlimit64,
            0
        )
    }
    pub(crate) fn prlimit_get(resource: u32, out: &mut libc::rlimit64) -> R {
        sys!(
            libc::SYS_prlimit64,
            0,
            resource,
            0,
            out as *mut libc::rlimit64
        )
    }
    pub(crate) fn umask(mask: u32) -> R {
        sys!(libc::SYS_umask, mask)
    }
    pub(crate) fn setsid() -> R {
        sys!(libc::SYS_setsid)
    }
    pub(crate) fn getppid() -> R {
        sys!(libc::SYS_getppid)
    }
    pub(crate) fn kill(pid: i32, sig: i32) -> R {
        sys!(libc::SYS_kill, pid, sig)
    }
    pub(crate) fn wait4(pid: i32, status: &mut i32, options: i32) -> R {
        sys!(libc::SYS_wait4, pid, status as *mut i32, options, 0)
    }
    /// `rt_sigprocmask(how, set, NULL)` with the kernel's 8-byte sigset.
    pub(crate) fn sigprocmask(how: i32, set: &u64) -> R {
        sys!(libc::SYS_rt_sigprocmask, how, set as *const u64, 0, 8)
    }
    /// Sets signal `sig` to `SIG_DFL` (kernel `struct sigaction` layout: handler first).
    pub(crate) fn sigaction_default(sig: i32) -> R {
        let act = KernelSigaction {
            handler: libc::SIG_DFL,
            flags: 0,
            restorer: 0,
            mask: 0,
        };
        sys!(
            libc::SYS_rt_sigaction,
            sig,
            &act as *const KernelSigaction,
            0,
            8
        )
    }
    /// Whether signal `sig` has a handler installed (not `SIG_DFL`, not `SIG_IGN`).
    pub(crate) fn sigaction_is_handler(sig: i32) -> bool {
        let mut old = KernelSigaction {
            handler: 0,
            flags: 0,
            restorer: 0,
            mask: 0,
        };
        sys!(
            libc::SYS_rt_sigaction,
            sig,
            0,
            &mut old as *mut KernelSigaction,
            8
        )
        .is_ok()
            && old.handler != libc::SIG_DFL
            && old.handler != libc::SIG_IGN
    }
    /// `rt_sigtimedwait(set, info, NULL)`: waits for one of the signals in `set`.
    pub(crate) fn sigwaitinfo(set: &u64, info: &mut libc::siginfo_t) -> R {
        sys!(
            libc::SYS_rt_sigtimedwait,
            set as *const u64,
            info as *mut libc::siginfo_t,
            0,
            8
        )
    }
    pub(crate) fn execve(
        path: &CStr,
        argv: *const *const libc::c_char,
        envp: *const *const libc::c_char,
    ) -> R {
        sys!(libc::SYS_execve, p(path), argv, envp)
    }
    /// A fork-like `clone3(2)` without `CLONE_VM`: returns twice, as `fork` does.
    ///
    /// # Safety
    /// The caller handles the child's return (0) without returning into code that assumes a
    /// single process, as after `fork`.
    pub(crate) unsafe fn clone3_fork(args: &mut CloneArgs) -> R {
        sys!(
            libc::SYS_clone3,
            args as *mut CloneArgs,
            core::mem::size_of::<CloneArgs>()
        )
    }
    /// The legacy `clone(2)` in fork-like form (no stack), for kernels without clone3.
    ///
    /// # Safety
    /// As for [`clone3_fork`].
    pub(crate) unsafe fn clone_fork(flags: u64, pidfd: &mut i32) -> R {
        // x86_64 and most others: clone(flags, stack, parent_tid, child_tid, tls).
        sys!(libc::SYS_clone, flags, 0, pidfd as *mut i32, 0, 0)
    }
    pub(crate) fn exit(code: i32) -> ! {
        loop {
            let _ = sys!(libc::SYS_exit_group, code);
        }
    }

    /// `struct clone_args` of `clone3(2)` (version 2, 88 bytes, with `cgroup`).
    #[repr(C)]
    #[derive(Default, Debug)]
    pub(crate) struct CloneArgs {
        pub(crate) flags: u64,
        pub(crate) pidfd: u64,
        pub(crate) child_tid: u64,
        pub(crate) parent_tid: u64,
        pub(crate) exit_signal: u64,
        pub(crate) stack: u64,
        pub(crate) stack_size: u64,
        pub(crate) tls: u64,
        pub(crate) set_tid: u64,
        pub(crate) set_tid_size: u64,
        pub(crate) cgroup: u64,
    }
    static_assertions::assert_eq_size!(CloneArgs, [u8; 88]);

    /// `struct mount_attr` of `mount_setattr(2)`.
    #[repr(C)]
    #[derive(Default)]
    pub(crate) struct MountAttr {
        pub(crate) attr_set: u64,
        pub(crate) attr_clr: u64,
        pub(crate) propagation: u64,
        pub(crate) userns_fd: u64,
    }

    #[repr(C)]
    struct KernelSigaction {
        handler: usize,
        flags: u64,
        restorer: usize,
        mask: u64,
    }

    /// `struct __user_cap_header_struct`.
    #[repr(C)]
    pub(crate) struct CapHeader {
        pub(crate) version: u32,
        pub(crate) pid: i32,
    }
    /// `struct __user_cap_data_struct`.
    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    pub(crate) struct CapData {
        pub(crate) effective: u32,
        pub(crate) permitted: u32,
        pub(crate) inheritable: u32,
    }
    /// `_LINUX_CAPABILITY_VERSION_3`.
    pub(crate) const CAP_VERSION_3: u32 = 0x2008_0522;

    /// `clone3` with `CLONE_VM`: the child starts on `args.stack` and runs `entry(arg)`, which
    /// must never return. Returns the child's pid in the parent.
    ///
    /// # Safety
    /// `args.stack`/`args.stack_size` must describe writable memory that nothing else uses
    /// until the child has exec'd or exited; `entry` must not return, and must touch only its
    /// own stack and memory the parent does not mutate meanwhile.
    #[cfg(target_arch = "x86_64")]
    pub(crate) unsafe fn clone3_vm(
        args: &mut CloneArgs,
        entry: extern "C" fn(usize) -> !,
        arg: usize,
    ) -> R {
        let ret: isize;
        // SAFETY: clone3 returns twice. The parent (rax != 0) jumps past the child block and
        // sees the same registers as before. The child (rax == 0) runs on the fresh stack the
        // kernel switched to (16-byte aligned by the caller); it clears the frame pointer and
        // calls `entry(arg)` from r12/r13, which the syscall preserves, and never comes back.
        unsafe {
            core::arch::asm!(
                "syscall",
                "test rax, rax",
                "jnz 2f",
                "xor ebp, ebp",
                "mov rdi, r13",
                "call r12",
                "ud2",
                "2:",
                inlateout("rax") libc::SYS_clone3 as isize => ret,
                in("rdi") args as *mut CloneArgs,
                in("rsi") core::mem::size_of::<CloneArgs>(),
                in("r12") entry as usize,
                in("r13") arg,
                lateout("rcx") _, lateout("r11") _,
                options(nostack)
            );
        }
        check(ret)
    }

    /// See the x86_64 version.
    ///
    /// # Safety
    /// As for the x86_64 version.
    #[cfg(target_arch = "aarch64")]
    pub(crate) unsafe fn clone3_vm(
        args: &mut CloneArgs,
        entry: extern "C" fn(usize) -> !,
        arg: usize,
    ) -> R {
        let ret: isize;
        // SAFETY: as on x86_64: x19/x20 survive the syscall; the child, on its new stack, clears
        // the frame pointer and link register and branches to `entry(arg)`, never returning.
        unsafe {
            core::arch::asm!(
                "svc 0",
                "cbnz x0, 2f",
                "mov x29, xzr",
                "mov x30, xzr",
                "mov x0, x20",
                "blr x19",
                "brk #1",
                "2:",
                in("x8") libc::SYS_clone3,
                inlateout("x0") args as *mut CloneArgs as isize => ret,
                in("x1") core::mem::size_of::<CloneArgs>(),
                in("x19") entry as usize,
                in("x20") arg,
                options(nostack)
            );
        }
        check(ret)
    }

    /// Not available: `spawn` uses the fork-like path on these architectures.
    ///
    /// # Safety
    /// Never called.
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    pub(crate) unsafe fn clone3_vm(_: &mut CloneArgs, _: extern "C" fn(usize) -> !, _: usize) -> R {
        Err(libc::ENOSYS)
    }
}

/// Takes ownership of the pidfd that `clone3(CLONE_PIDFD)` stored. Call only with that value,
/// once, right after a successful clone.
pub(crate) fn pidfd_from_clone(raw: RawFd) -> OwnedFd {
    // SAFETY: the kernel created this fd for the caller in the clone that just succeeded;
    // nothing else owns it.
    unsafe { OwnedFd::from_raw_fd(raw) }
}

/// Blocks every signal on the calling thread until dropped, then restores the old mask.
/// Spawning holds it across `clone3` so the child starts with all signals blocked.
pub(crate) struct SignalsBlocked {
    old: libc::sigset_t,
}

pub(crate) fn block_all_signals() -> SignalsBlocked {
    // SAFETY: sigset_t is plain old data; sigfillset/pthread_sigmask only write the sets we
    // pass, which are live locals.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
        SignalsBlocked { old }
    }
}

impl Drop for SignalsBlocked {
    fn drop(&mut self) {
        // SAFETY: restores the mask saved by block_all_signals on this same thread.
        unsafe {
            libc::pthread_sigmask(libc::SIG_SETMASK, &self.old, std::ptr::null_mut());
        }
    }
}

/// A stack for a `CLONE_VM` child: anonymous memory with a guard page below it, so an
/// overflow faults instead of writing into the parent's memory.
pub(crate) struct Stack {
    base: *mut std::ffi::c_void,
    len: usize,
}

impl Stack {
    pub(crate) const SIZE: usize = 64 * 1024;

    pub(crate) fn new() -> io::Result<Stack> {
        let page = rustix::param::page_size();
        let len = Self::SIZE + page;
        // SAFETY: a fresh private anonymous mapping aliases nothing; the guard page is inside
        // it. The mapping is released in Drop.
        unsafe {
            let base = rustix::mm::mmap_anonymous(
                std::ptr::null_mut(),
                len,
                rustix::mm::ProtFlags::READ | rustix::mm::ProtFlags::WRITE,
                rustix::mm::MapFlags::PRIVATE | rustix::mm::MapFlags::STACK,
            )?;
            let stack = Stack { base, len };
            rustix::mm::mprotect(base, page, rustix::mm::MprotectFlags::empty())?;
            Ok(stack)
        }
    }

    /// Lowest usable address (above the guard page) and usable size.
    pub(crate) fn region(&self) -> (u64, u64) {
        let page = self.len - Self::SIZE;
        (self.base as u64 + page as u64, Self::SIZE as u64)
    }
}

thread_local! {
    /// One stack per thread, reused across spawns: no mmap/munmap (and no page faults on a
    /// fresh mapping) per spawn, and no shared state between threads that spawn at once.
    static STACK: std::cell::Cell<Option<Stack>> = const { std::cell::Cell::new(None) };
}

impl Stack {
    /// This thread's cached stack, or a new one. Give it back with [`Stack::release`].
    pub(crate) fn take() -> io::Result<Stack> {
        match STACK.with(|s| s.take()) {
            Some(s) => Ok(s),
            None => Stack::new(),
        }
    }

    /// Keeps the stack for the next spawn on this thread. Only call once no child runs on it.
    pub(crate) fn release(self) {
        STACK.with(|s| s.set(Some(self)));
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in new(); no child runs on it any more
        // (spawn drops the stack only after the child exec'd or was reaped).
        unsafe {
            let _ = rustix::mm::munmap(self.base, self.len);
        }
    }
}

/// Registers an owned fd (a pidfd) with tokio's reactor for readability.
#[cfg(feature = "tokio")]
pub(crate) fn register_readable(fd: OwnedFd) -> io::Result<tokio::io::unix::AsyncFd<OwnedFd>> {
    // SAFETY: the AsyncFd takes ownership of `fd`, so for the registration's whole lifetime the
    // fd stays open, names the same file description, and `as_raw_fd()` returns the same
    // number; it is closed only when the AsyncFd is dropped, after deregistering.
    unsafe { tokio::io::unix::AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE) }
        .map_err(io::Error::from)
}
