//! Raw system calls for the code between `clone3` and `execve`.
//!
//! They go straight to the kernel: no libc, so no `errno` (which a `CLONE_VM` child would
//! share with the parent thread), no locks, no allocation. Results are `Err(errno)`.
#![allow(unsafe_code)]

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
pub(crate) fn move_mount(from: i32, from_path: &CStr, to: i32, to_path: &CStr, flags: u32) -> R {
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
