//! Raw system calls for the code between `clone3` and `execve`.
//!
//! They go straight to the kernel: no libc, so no `errno` (which a `CLONE_VM` child would
//! share with the parent thread), no locks, no allocation, no panics. Results are
//! `Err(errno)`.
//!
//! The boundary is typed the way rustix's is: paths are `&CStr`, buffers are slices, kernel
//! structures are references, and argv/envp are [`argv`](super::argv)'s `CStringArray` and
//! `Envp`. A wrapper whose arguments cannot be checked by their types (a stack to run on, a
//! function that must not return) is an `unsafe fn` in [`clone`](super::clone). Every `unsafe`
//! block below says why that one call is sound.
#![allow(unsafe_code)]

use core::ffi::{CStr, c_long};

use super::argv::{CStringArray, Envp};
use std::os::fd::RawFd;

/// An errno value returned by a raw system call.
pub(crate) type Errno = i32;
/// A system call's non-negative return value, or its errno.
pub(crate) type R = Result<usize, Errno>;

#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn syscall6(n: c_long, a: [usize; 6]) -> isize {
    let ret: isize;
    // SAFETY: the Linux x86_64 syscall ABI: number in rax, arguments in rdi, rsi, rdx, r10,
    // r8, r9; the kernel clobbers rcx and r11 and touches no stack. What the call does with
    // its arguments is the caller's contract (see `syscall`).
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
    // SAFETY: the Linux aarch64 syscall ABI: number in x8, arguments in x0..x5, result in x0;
    // the kernel preserves every other register and touches no stack. What the call does
    // with its arguments is the caller's contract (see `syscall`).
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
    // Elsewhere libc's syscall() is the portable way in. It sets errno, which is why spawn()
    // never shares its address space with the child on these architectures
    // (`HAS_CLONE_VM_TRAMPOLINE`): the child's errno is its own.
    // SAFETY: what the call does with its arguments is the caller's contract.
    let r = unsafe { libc::syscall(n, a[0], a[1], a[2], a[3], a[4], a[5]) };
    if r == -1 {
        // SAFETY: __errno_location returns this thread's errno slot, valid to read.
        -(unsafe { *libc::__errno_location() } as isize)
    } else {
        r as isize
    }
}

/// Whether clone3 with `CLONE_VM` and a child stack is available on this architecture.
pub(crate) const HAS_CLONE_VM_TRAMPOLINE: bool =
    cfg!(any(target_arch = "x86_64", target_arch = "aarch64"));

/// The kernel's `-errno` convention turned into a `Result`.
#[inline(always)]
pub(super) fn check(r: isize) -> R {
    if (-4095..0).contains(&r) {
        Err(-r as Errno)
    } else {
        Ok(r as usize)
    }
}

/// System call `n` with up to six arguments (the rest zero).
///
/// # Safety
/// `n` is a system call number and `args` are its arguments: every pointer among them points
/// to memory that is valid, for the whole call, for what that system call does with it
/// (read a NUL-terminated string, read or write so many bytes, ...).
#[inline(always)]
pub(super) unsafe fn syscall<const N: usize>(n: c_long, args: [usize; N]) -> R {
    const { assert!(N <= 6) };
    let mut a = [0usize; 6];
    let mut i = 0;
    while i < N {
        a[i] = args[i];
        i += 1;
    }
    // SAFETY: forwarded from this function's contract.
    check(unsafe { syscall6(n, a) })
}

fn p(s: &CStr) -> usize {
    s.as_ptr() as usize
}

fn opt(s: Option<&CStr>) -> usize {
    s.map_or(0, p)
}

/// `openat(AT_FDCWD, path, flags | O_CLOEXEC, mode)`.
pub(crate) fn open(path: &CStr, flags: i32, mode: u32) -> R {
    openat(libc::AT_FDCWD, path, flags, mode)
}
/// `openat(dir, path, flags | O_CLOEXEC, mode)`.
pub(crate) fn openat(dir: RawFd, path: &CStr, flags: i32, mode: u32) -> R {
    let flags = flags | libc::O_CLOEXEC;
    // SAFETY: path is a NUL-terminated string the kernel only reads.
    unsafe {
        syscall(
            libc::SYS_openat,
            [dir as usize, p(path), flags as usize, mode as usize],
        )
    }
}
pub(crate) fn read(fd: RawFd, buf: &mut [u8]) -> R {
    // SAFETY: the kernel writes at most buf.len() bytes into buf.
    unsafe {
        syscall(
            libc::SYS_read,
            [fd as usize, buf.as_mut_ptr() as usize, buf.len()],
        )
    }
}
pub(crate) fn write(fd: RawFd, buf: &[u8]) -> R {
    // SAFETY: the kernel reads at most buf.len() bytes from buf.
    unsafe {
        syscall(
            libc::SYS_write,
            [fd as usize, buf.as_ptr() as usize, buf.len()],
        )
    }
}
pub(crate) fn close(fd: RawFd) -> R {
    // SAFETY: no pointer argument.
    unsafe { syscall(libc::SYS_close, [fd as usize]) }
}
/// `close_range(first, last, flags)` (Linux 5.9; `CLOSE_RANGE_CLOEXEC` 5.11).
pub(crate) fn close_range(first: u32, last: u32, flags: u32) -> R {
    // SAFETY: no pointer argument.
    unsafe {
        syscall(
            libc::SYS_close_range,
            [first as usize, last as usize, flags as usize],
        )
    }
}
pub(crate) fn dup3(old: RawFd, new: RawFd, flags: i32) -> R {
    // SAFETY: no pointer argument.
    unsafe { syscall(libc::SYS_dup3, [old as usize, new as usize, flags as usize]) }
}
/// `fcntl(fd, F_DUPFD_CLOEXEC, floor)`: a close-on-exec copy at the lowest free fd >= floor.
pub(crate) fn dup_cloexec_from(fd: RawFd, floor: RawFd) -> R {
    // SAFETY: F_DUPFD_CLOEXEC takes an integer, no pointer.
    unsafe {
        syscall(
            libc::SYS_fcntl,
            [fd as usize, libc::F_DUPFD_CLOEXEC as usize, floor as usize],
        )
    }
}
/// `ppoll` of one fd without waiting; the returned events.
pub(crate) fn poll_one(fd: RawFd, events: i16) -> Result<i16, Errno> {
    let mut pfd = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    let zero = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: the kernel writes one pollfd into pfd and reads one timespec; the sigmask
    // pointer is NULL (its size argument is then ignored).
    unsafe {
        syscall(
            libc::SYS_ppoll,
            [
                &mut pfd as *mut libc::pollfd as usize,
                1,
                &zero as *const libc::timespec as usize,
                0,
                8,
            ],
        )
    }?;
    Ok(pfd.revents)
}
pub(crate) fn mount(
    src: Option<&CStr>,
    target: &CStr,
    fstype: Option<&CStr>,
    flags: u64,
    data: Option<&CStr>,
) -> R {
    // SAFETY: every pointer is a NUL-terminated string (or NULL) the kernel only reads; the
    // data of the filesystems this crate mounts (tmpfs, proc, devpts, ...) is a string.
    unsafe {
        syscall(
            libc::SYS_mount,
            [opt(src), p(target), opt(fstype), flags as usize, opt(data)],
        )
    }
}
pub(crate) fn umount2(target: &CStr, flags: i32) -> R {
    // SAFETY: target is a NUL-terminated string the kernel only reads.
    unsafe { syscall(libc::SYS_umount2, [p(target), flags as usize]) }
}
/// `mount_setattr(2)` (Linux 5.12).
pub(crate) fn mount_setattr(dir: RawFd, path: &CStr, flags: u32, attr: &libc::mount_attr) -> R {
    // SAFETY: the kernel reads a string and size_of::<mount_attr>() bytes from attr.
    unsafe {
        syscall(
            libc::SYS_mount_setattr,
            [
                dir as usize,
                p(path),
                flags as usize,
                attr as *const libc::mount_attr as usize,
                core::mem::size_of::<libc::mount_attr>(),
            ],
        )
    }
}
/// A `mount_attr` that sets `attr_set` and changes propagation to `propagation` (0: not).
pub(crate) fn mount_attr(attr_set: u64, propagation: u64) -> libc::mount_attr {
    libc::mount_attr {
        attr_set,
        attr_clr: 0,
        propagation,
        userns_fd: 0,
    }
}
/// `RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS`.
pub(crate) const RESOLVE_NO_LINKS: u64 = libc::RESOLVE_NO_MAGICLINKS | libc::RESOLVE_NO_SYMLINKS;
/// `openat2(dir, path, O_PATH|O_CLOEXEC, resolve)` (Linux 5.6): an `O_PATH` fd, resolved
/// under the given `RESOLVE_*` rules.
pub(crate) fn open_path(dir: RawFd, path: &CStr, resolve: u64) -> R {
    // SAFETY: open_how is plain integers; all-zero is its documented default.
    let mut how: libc::open_how = unsafe { core::mem::zeroed() };
    how.flags = (libc::O_PATH | libc::O_CLOEXEC) as u64;
    how.resolve = resolve;
    // SAFETY: the kernel reads a string and size_of::<open_how>() bytes from how.
    unsafe {
        syscall(
            libc::SYS_openat2,
            [
                dir as usize,
                p(path),
                &how as *const libc::open_how as usize,
                core::mem::size_of::<libc::open_how>(),
            ],
        )
    }
}
/// The file type and mode (`stx_mode`) of what `fd` refers to (`statx(2)` with
/// `AT_EMPTY_PATH`; an `O_PATH` fd will do, and nothing is opened).
pub(crate) fn fstat_mode(fd: RawFd) -> Result<u32, Errno> {
    // SAFETY: statx is plain integers and arrays; all-zero is a valid value.
    let mut stx: libc::statx = unsafe { core::mem::zeroed() };
    // SAFETY: the path is an empty string the kernel reads; it writes one struct statx into
    // stx.
    unsafe {
        syscall(
            libc::SYS_statx,
            [
                fd as usize,
                p(c""),
                libc::AT_EMPTY_PATH as usize,
                libc::STATX_TYPE as usize,
                &mut stx as *mut libc::statx as usize,
            ],
        )
    }?;
    Ok(u32::from(stx.stx_mode))
}
pub(crate) fn mkdirat(dir: RawFd, path: &CStr, mode: u32) -> R {
    // SAFETY: path is a NUL-terminated string the kernel only reads.
    unsafe { syscall(libc::SYS_mkdirat, [dir as usize, p(path), mode as usize]) }
}
pub(crate) fn mkdir(path: &CStr, mode: u32) -> R {
    mkdirat(libc::AT_FDCWD, path, mode)
}
pub(crate) fn symlinkat(text: &CStr, dir: RawFd, link: &CStr) -> R {
    // SAFETY: both are NUL-terminated strings the kernel only reads.
    unsafe { syscall(libc::SYS_symlinkat, [p(text), dir as usize, p(link)]) }
}
pub(crate) fn symlink(text: &CStr, link: &CStr) -> R {
    symlinkat(text, libc::AT_FDCWD, link)
}
pub(crate) fn socket(domain: i32, ty: i32, proto: i32) -> R {
    // SAFETY: no pointer argument.
    unsafe {
        syscall(
            libc::SYS_socket,
            [domain as usize, ty as usize, proto as usize],
        )
    }
}
/// `struct ifreq` with the `ifr_flags` member of its union.
#[repr(C)]
pub(crate) struct IfreqFlags {
    pub(crate) name: [u8; libc::IFNAMSIZ],
    pub(crate) flags: i16,
    pad: [u8; IFREQ_PAD],
}
const IFREQ_PAD: usize = core::mem::size_of::<libc::ifreq>() - libc::IFNAMSIZ - 2;
static_assertions::assert_eq_size!(IfreqFlags, libc::ifreq);

impl IfreqFlags {
    pub(crate) fn new(name: &[u8; 2]) -> IfreqFlags {
        let mut ifr = IfreqFlags {
            name: [0; libc::IFNAMSIZ],
            flags: 0,
            pad: [0; IFREQ_PAD],
        };
        ifr.name[0] = name[0];
        ifr.name[1] = name[1];
        ifr
    }
}
/// `ioctl(fd, SIOCGIFFLAGS or SIOCSIFFLAGS, &ifr)`.
pub(crate) fn ioctl_ifflags(fd: RawFd, request: libc::c_ulong, ifr: &mut IfreqFlags) -> R {
    // SAFETY: SIOC[GS]IFFLAGS read and write one struct ifreq, which IfreqFlags has the size
    // and layout of.
    unsafe {
        syscall(
            libc::SYS_ioctl,
            [
                fd as usize,
                request as usize,
                ifr as *mut IfreqFlags as usize,
            ],
        )
    }
}
pub(crate) fn fchdir(fd: RawFd) -> R {
    // SAFETY: no pointer argument.
    unsafe { syscall(libc::SYS_fchdir, [fd as usize]) }
}
/// `open_tree(2)` (Linux 5.2).
pub(crate) fn open_tree(dir: RawFd, path: &CStr, flags: u32) -> R {
    // SAFETY: path is a NUL-terminated string the kernel only reads.
    unsafe { syscall(libc::SYS_open_tree, [dir as usize, p(path), flags as usize]) }
}
/// `move_mount(2)` (Linux 5.2).
pub(crate) fn move_mount(
    from: RawFd,
    from_path: &CStr,
    to: RawFd,
    to_path: &CStr,
    flags: u32,
) -> R {
    // SAFETY: both paths are NUL-terminated strings the kernel only reads.
    unsafe {
        syscall(
            libc::SYS_move_mount,
            [
                from as usize,
                p(from_path),
                to as usize,
                p(to_path),
                flags as usize,
            ],
        )
    }
}
/// `fsopen(2)` (Linux 5.2).
pub(crate) fn fsopen(fstype: &CStr, flags: u32) -> R {
    // SAFETY: fstype is a NUL-terminated string the kernel only reads.
    unsafe { syscall(libc::SYS_fsopen, [p(fstype), flags as usize]) }
}
/// `fsconfig(2)` with a flag (`FSCONFIG_SET_FLAG`), a string value (`FSCONFIG_SET_STRING`) or
/// no key (`FSCONFIG_CMD_CREATE`) (Linux 5.2).
pub(crate) fn fsconfig(fd: RawFd, cmd: FsconfigCmd, key: Option<&CStr>, value: Option<&CStr>) -> R {
    // SAFETY: key and value are NUL-terminated strings (or NULL) the kernel only reads; these
    // three commands take nothing else.
    unsafe {
        syscall(
            libc::SYS_fsconfig,
            [fd as usize, cmd as usize, opt(key), opt(value), 0],
        )
    }
}
/// The `fsconfig(2)` commands used here; the only ones [`fsconfig`] accepts.
#[derive(Clone, Copy)]
#[repr(u32)]
pub(crate) enum FsconfigCmd {
    SetFlag = libc::FSCONFIG_SET_FLAG,
    SetString = libc::FSCONFIG_SET_STRING,
    Create = libc::FSCONFIG_CMD_CREATE,
}
/// `fsmount(2)` (Linux 5.2).
pub(crate) fn fsmount(fd: RawFd, flags: u32, attrs: u32) -> R {
    // SAFETY: no pointer argument.
    unsafe {
        syscall(
            libc::SYS_fsmount,
            [fd as usize, flags as usize, attrs as usize],
        )
    }
}
/// What `statfs(2)` and `fstatfs(2)` tell about a filesystem: its magic number (`f_type`)
/// and the mount's `ST_*` flags (`f_flags`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct FsInfo {
    pub(crate) fs_type: u64,
    pub(crate) flags: u64,
}
/// The 64-bit kernel struct statfs: 7 longs, fsid, namelen, frsize, flags, 4 spare.
#[cfg(target_pointer_width = "64")]
type StatfsWords = [u64; 15];
#[cfg(target_pointer_width = "64")]
fn fs_info(words: &StatfsWords) -> FsInfo {
    let [fs_type, .., flags, _, _, _, _] = *words;
    FsInfo { fs_type, flags }
}
/// `statfs(2)` of the filesystem at `path`.
#[cfg(target_pointer_width = "64")]
pub(crate) fn statfs(path: &CStr) -> Result<FsInfo, Errno> {
    let mut words: StatfsWords = [0; 15];
    // SAFETY: path is a string the kernel reads; it writes one struct statfs (120 bytes on
    // 64-bit architectures) into `words`, which is that size.
    unsafe { syscall(libc::SYS_statfs, [p(path), words.as_mut_ptr() as usize]) }?;
    Ok(fs_info(&words))
}
/// `fstatfs(2)` of the filesystem `fd` is on (an `O_PATH` fd will do).
#[cfg(target_pointer_width = "64")]
pub(crate) fn fstatfs(fd: RawFd) -> Result<FsInfo, Errno> {
    let mut words: StatfsWords = [0; 15];
    // SAFETY: no string; the kernel writes one struct statfs (120 bytes on 64-bit
    // architectures) into `words`, which is that size.
    unsafe {
        syscall(
            libc::SYS_fstatfs,
            [fd as usize, words.as_mut_ptr() as usize],
        )
    }?;
    Ok(fs_info(&words))
}
/// Not needed where the new mount API exists; 32-bit kernels before 5.12 fail the steps that
/// need it.
#[cfg(not(target_pointer_width = "64"))]
pub(crate) fn statfs(_: &CStr) -> Result<FsInfo, Errno> {
    Err(libc::ENOSYS)
}
/// As [`statfs`].
#[cfg(not(target_pointer_width = "64"))]
pub(crate) fn fstatfs(_: RawFd) -> Result<FsInfo, Errno> {
    Err(libc::ENOSYS)
}
pub(crate) fn pivot_root(new_root: &CStr, put_old: &CStr) -> R {
    // SAFETY: both are NUL-terminated strings the kernel only reads.
    unsafe { syscall(libc::SYS_pivot_root, [p(new_root), p(put_old)]) }
}
pub(crate) fn chroot(path: &CStr) -> R {
    // SAFETY: path is a NUL-terminated string the kernel only reads.
    unsafe { syscall(libc::SYS_chroot, [p(path)]) }
}
pub(crate) fn chdir(path: &CStr) -> R {
    // SAFETY: path is a NUL-terminated string the kernel only reads.
    unsafe { syscall(libc::SYS_chdir, [p(path)]) }
}
pub(crate) fn sethostname(name: &[u8]) -> R {
    // SAFETY: the kernel reads name.len() bytes from name.
    unsafe { syscall(libc::SYS_sethostname, [name.as_ptr() as usize, name.len()]) }
}
pub(crate) fn setdomainname(name: &[u8]) -> R {
    // SAFETY: the kernel reads name.len() bytes from name.
    unsafe {
        syscall(
            libc::SYS_setdomainname,
            [name.as_ptr() as usize, name.len()],
        )
    }
}
pub(crate) fn setns(fd: RawFd, nstype: u32) -> R {
    // SAFETY: no pointer argument.
    unsafe { syscall(libc::SYS_setns, [fd as usize, nstype as usize]) }
}
pub(crate) fn unshare(flags: u32) -> R {
    // SAFETY: no pointer argument. (The child is single-threaded, so CLONE_FILES and friends
    // would affect nothing else; the callers pass namespace flags only.)
    unsafe { syscall(libc::SYS_unshare, [flags as usize]) }
}
pub(crate) fn setresuid(r: u32, e: u32, s: u32) -> R {
    // SAFETY: no pointer argument.
    unsafe { syscall(libc::SYS_setresuid, [r as usize, e as usize, s as usize]) }
}
pub(crate) fn setresgid(r: u32, e: u32, s: u32) -> R {
    // SAFETY: no pointer argument.
    unsafe { syscall(libc::SYS_setresgid, [r as usize, e as usize, s as usize]) }
}
pub(crate) fn setgroups(groups: &[u32]) -> R {
    // SAFETY: the kernel reads groups.len() gid_t values (u32) from groups.
    unsafe {
        syscall(
            libc::SYS_setgroups,
            [groups.len(), groups.as_ptr() as usize],
        )
    }
}
/// `prctl(op, arg)` for the operations whose argument is an integer.
pub(crate) fn prctl(op: Prctl, arg: usize) -> R {
    let (op, arg2, arg3) = match op {
        Prctl::SetNoNewPrivs => (libc::PR_SET_NO_NEW_PRIVS, 1, 0),
        Prctl::SetKeepCaps => (libc::PR_SET_KEEPCAPS, 1, 0),
        Prctl::SetPdeathsig => (libc::PR_SET_PDEATHSIG, arg, 0),
        Prctl::SetChildSubreaper => (libc::PR_SET_CHILD_SUBREAPER, 1, 0),
        Prctl::CapbsetDrop => (libc::PR_CAPBSET_DROP, arg, 0),
        Prctl::AmbientClearAll => (
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL as usize,
            0,
        ),
        Prctl::AmbientRaise => (
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_RAISE as usize,
            arg,
        ),
    };
    // SAFETY: none of these operations takes a pointer.
    unsafe { syscall(libc::SYS_prctl, [op as usize, arg2, arg3, 0, 0]) }
}
/// The `prctl(2)` operations the child uses.
#[derive(Clone, Copy)]
pub(crate) enum Prctl {
    SetNoNewPrivs,
    SetKeepCaps,
    /// The argument is the signal.
    SetPdeathsig,
    SetChildSubreaper,
    /// The argument is the capability.
    CapbsetDrop,
    AmbientClearAll,
    /// The argument is the capability.
    AmbientRaise,
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
/// `_LINUX_CAPABILITY_VERSION_3`: two `CapData`, for capabilities 0..=63.
pub(crate) const CAP_VERSION_3: u32 = 0x2008_0522;
pub(crate) fn capget(hdr: &mut CapHeader, data: &mut [CapData; 2]) -> R {
    // SAFETY: with version 3 the kernel reads the header and writes two CapData.
    unsafe {
        syscall(
            libc::SYS_capget,
            [hdr as *mut CapHeader as usize, data.as_mut_ptr() as usize],
        )
    }
}
pub(crate) fn capset(hdr: &mut CapHeader, data: &[CapData; 2]) -> R {
    // SAFETY: with version 3 the kernel reads the header and two CapData.
    unsafe {
        syscall(
            libc::SYS_capset,
            [hdr as *mut CapHeader as usize, data.as_ptr() as usize],
        )
    }
}
/// `seccomp(SECCOMP_SET_MODE_FILTER, 0, &prog)` for the classic BPF program `filter`.
pub(crate) fn seccomp_filter(filter: &[libc::sock_filter]) -> R {
    let prog = libc::sock_fprog {
        len: filter.len() as u16,
        filter: filter.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: the kernel reads the sock_fprog and `len` instructions through its pointer,
    // which are the slice (the parent checked that it has 1..=4096 of them).
    unsafe {
        syscall(
            libc::SYS_seccomp,
            [
                libc::SECCOMP_SET_MODE_FILTER as usize,
                0,
                &prog as *const libc::sock_fprog as usize,
            ],
        )
    }
}
/// `prlimit64(0, resource, &limit, NULL)`: sets the caller's limit.
pub(crate) fn prlimit(resource: u32, limit: &libc::rlimit64) -> R {
    // SAFETY: the kernel reads one rlimit64; the old-limit pointer is NULL.
    unsafe {
        syscall(
            libc::SYS_prlimit64,
            [
                0,
                resource as usize,
                limit as *const libc::rlimit64 as usize,
                0,
            ],
        )
    }
}
/// `prlimit64(0, resource, NULL, &out)`: reads the caller's limit.
pub(crate) fn prlimit_get(resource: u32, out: &mut libc::rlimit64) -> R {
    // SAFETY: the new-limit pointer is NULL; the kernel writes one rlimit64 into out.
    unsafe {
        syscall(
            libc::SYS_prlimit64,
            [0, resource as usize, 0, out as *mut libc::rlimit64 as usize],
        )
    }
}
pub(crate) fn umask(mask: u32) -> R {
    // SAFETY: no pointer argument.
    unsafe { syscall(libc::SYS_umask, [mask as usize]) }
}
pub(crate) fn setsid() -> R {
    // SAFETY: no argument.
    unsafe { syscall(libc::SYS_setsid, []) }
}
pub(crate) fn getpid() -> R {
    // SAFETY: no argument.
    unsafe { syscall(libc::SYS_getpid, []) }
}
pub(crate) fn getppid() -> R {
    // SAFETY: no argument.
    unsafe { syscall(libc::SYS_getppid, []) }
}
pub(crate) fn kill(pid: i32, sig: i32) -> R {
    // SAFETY: no pointer argument.
    unsafe { syscall(libc::SYS_kill, [pid as usize, sig as usize]) }
}
pub(crate) fn wait4(pid: i32, status: &mut i32, options: i32) -> R {
    // SAFETY: the kernel writes one int into status; the rusage pointer is NULL.
    unsafe {
        syscall(
            libc::SYS_wait4,
            [
                pid as usize,
                status as *mut i32 as usize,
                options as usize,
                0,
            ],
        )
    }
}
/// `rt_sigprocmask(how, set, NULL)` with the kernel's 8-byte sigset.
pub(crate) fn sigprocmask(how: i32, set: &u64) -> R {
    // SAFETY: the kernel reads 8 bytes (the size passed) from set; the old-set pointer is NULL.
    unsafe {
        syscall(
            libc::SYS_rt_sigprocmask,
            [how as usize, set as *const u64 as usize, 0, 8],
        )
    }
}
/// The kernel's `struct sigaction` (handler first, then flags, restorer and mask).
#[repr(C)]
struct KernelSigaction {
    handler: usize,
    flags: u64,
    restorer: usize,
    mask: u64,
}
/// Sets signal `sig` to `SIG_DFL`.
pub(crate) fn sigaction_default(sig: i32) -> R {
    let act = KernelSigaction {
        handler: libc::SIG_DFL,
        flags: 0,
        restorer: 0,
        mask: 0,
    };
    // SAFETY: the kernel reads one kernel sigaction with an 8-byte mask (the size passed);
    // the old-action pointer is NULL.
    unsafe {
        syscall(
            libc::SYS_rt_sigaction,
            [sig as usize, &act as *const KernelSigaction as usize, 0, 8],
        )
    }
}
/// Whether signal `sig` has a handler installed (not `SIG_DFL`, not `SIG_IGN`).
pub(crate) fn sigaction_is_handler(sig: i32) -> bool {
    let mut old = KernelSigaction {
        handler: 0,
        flags: 0,
        restorer: 0,
        mask: 0,
    };
    // SAFETY: the new-action pointer is NULL; the kernel writes one kernel sigaction with an
    // 8-byte mask (the size passed) into old.
    let r = unsafe {
        syscall(
            libc::SYS_rt_sigaction,
            [
                sig as usize,
                0,
                &mut old as *mut KernelSigaction as usize,
                8,
            ],
        )
    };
    r.is_ok() && old.handler != libc::SIG_DFL && old.handler != libc::SIG_IGN
}
/// `rt_sigtimedwait(set, info, NULL)`: waits for one of the signals in `set`.
pub(crate) fn sigwaitinfo(set: &u64, info: &mut libc::siginfo_t) -> R {
    // SAFETY: the kernel reads an 8-byte set (the size passed) and writes one siginfo_t;
    // the timeout pointer is NULL.
    unsafe {
        syscall(
            libc::SYS_rt_sigtimedwait,
            [
                set as *const u64 as usize,
                info as *mut libc::siginfo_t as usize,
                0,
                8,
            ],
        )
    }
}
/// `execve(2)`: returns only if it failed.
pub(crate) fn execve(path: &CStr, argv: &CStringArray, envp: &Envp) -> Errno {
    // SAFETY: path is a NUL-terminated string; argv and envp are NULL-terminated arrays of
    // pointers to NUL-terminated strings, all owned by the arrays and alive for the call.
    let r = unsafe {
        syscall(
            libc::SYS_execve,
            [p(path), argv.as_ptr() as usize, envp.as_ptr() as usize],
        )
    };
    match r {
        Err(e) => e,
        Ok(_) => libc::EIO,
    }
}
/// `exit_group(code)`.
pub(crate) fn exit(code: i32) -> ! {
    loop {
        // SAFETY: no pointer argument; exit_group does not return.
        let _ = unsafe { syscall(libc::SYS_exit_group, [code as usize]) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_errors_are_negative_errnos() {
        assert_eq!(check(-(libc::ENOENT as isize)), Err(libc::ENOENT));
        assert_eq!(check(3), Ok(3));
        assert_eq!(close(-1), Err(libc::EBADF));
    }
}
