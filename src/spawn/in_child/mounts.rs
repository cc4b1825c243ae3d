//! Mount steps: on file descriptors ([`mount_step_fd`]), or by path where the caller allowed
//! that and the kernel lacks `openat2` ([`mount_step`]).
//!
//! On file descriptors, every path is resolved once, without following symlinks, and the
//! step then acts on what the fd names. Where a call is missing (`mount_setattr` before 5.12)
//! the same operation is done with an older call *on the same fd* ([`on_fd`]); never by
//! looking the path up again.

use core::ffi::CStr;

use super::Fd;
use crate::mount::PreparedMount;
use crate::mount::flags;
use crate::sys::raw::{self, FsconfigCmd};

/// `statfs` `f_flags` bits that a bind remount must keep (the kernel locks them in a user
/// namespace), translated to `mount(2)` flags.
fn kept_flags(f_flags: u64) -> u64 {
    let pairs = [
        (flags::ST_RDONLY, flags::MS_RDONLY),
        (flags::ST_NOSUID, flags::MS_NOSUID),
        (flags::ST_NODEV, flags::MS_NODEV),
        (flags::ST_NOEXEC, flags::MS_NOEXEC),
        (flags::ST_NOATIME, flags::MS_NOATIME),
        (flags::ST_NODIRATIME, flags::MS_NODIRATIME),
        (flags::ST_RELATIME, flags::MS_RELATIME),
    ];
    pairs
        .iter()
        .filter(|(st, _)| f_flags & *st != 0)
        .fold(0, |acc, (_, ms)| acc | *ms)
}

/// Sets `MS_RDONLY|MS_NOSUID|MS_NODEV|MS_NOEXEC` bits on the mount at a path (the path-based
/// steps): `mount_setattr(2)` where the kernel has it (only these bits change, recursively if
/// asked), else a bind remount that carries over the flags the mount already has.
fn set_attrs(target: &CStr, attrs: u64, recursive: bool) -> raw::R {
    // MOUNT_ATTR_RDONLY/NOSUID/NODEV/NOEXEC have the values of MS_RDONLY/NOSUID/NODEV/NOEXEC.
    let attr = raw::mount_attr(attrs, 0);
    let flags = if recursive {
        libc::AT_RECURSIVE as u32
    } else {
        0
    };
    match raw::mount_setattr(libc::AT_FDCWD, target, flags, &attr) {
        Err(libc::ENOSYS) if !recursive => {
            let keep = kept_flags(raw::statfs(target)?.flags);
            raw::mount(
                None,
                target,
                None,
                flags::MS_REMOUNT | flags::MS_BIND | keep | attrs,
                None,
            )
        }
        r => r,
    }
}

/// Sets `MS_RDONLY|MS_NOSUID|MS_NODEV|MS_NOEXEC` bits on the mount `fd` names:
/// `mount_setattr(2)`, or before 5.12 [`remount_fd`]. A recursive change has no such fallback
/// (a remount changes one mount): `ENOSYS`, which the parent reports as `Unsupported`.
fn set_attrs_fd(fd: i32, attrs: u64, recursive: bool) -> raw::R {
    let attr = raw::mount_attr(attrs, 0);
    let flags = libc::AT_EMPTY_PATH as u32
        | if recursive {
            libc::AT_RECURSIVE as u32
        } else {
            0
        };
    match raw::mount_setattr(fd, c"", flags, &attr) {
        Err(libc::ENOSYS) if !recursive => remount_fd(fd, attrs),
        r => r,
    }
}

/// A bind remount of the mount `fd` names (`MS_REMOUNT|MS_BIND` through [`on_fd`]) that adds
/// `attrs` and keeps the flags it has (`fstatfs(2)` of the fd).
fn remount_fd(fd: i32, attrs: u64) -> raw::R {
    let keep = kept_flags(raw::fstatfs(fd)?.flags);
    on_fd(fd, |path| {
        raw::mount(
            None,
            path,
            None,
            flags::MS_REMOUNT | flags::MS_BIND | keep | attrs,
            None,
        )
    })
}

/// Runs `op` with the working directory set to `dir`, then sets the old one back (from an
/// `O_PATH` fd of it), whatever `op` returned.
fn in_dir(dir: i32, op: impl FnOnce() -> raw::R) -> raw::R {
    let saved = Fd(raw::open_path(libc::AT_FDCWD, c".", 0)? as i32);
    raw::fchdir(dir)?;
    let r = op();
    raw::fchdir(saved.0)?;
    r
}

/// Longest [`fd_link`]: `self/fd/` (8), 10 digits, NUL.
const FD_LINK_LEN: usize = 19;

/// `self/fd/<fd>` as a C string in `buf`, without allocating.
fn fd_link(fd: i32, buf: &mut [u8; FD_LINK_LEN]) -> Result<&CStr, raw::Errno> {
    let mut n = u32::try_from(fd).map_err(|_| libc::EBADF)?;
    let mut digits = [0u8; 10];
    let mut len = 0usize;
    for d in digits.iter_mut() {
        *d = b'0'.saturating_add((n % 10) as u8);
        len = len.saturating_add(1);
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let text = b"self/fd/"
        .iter()
        .chain(digits.iter().take(len).rev())
        .chain(core::iter::once(&0u8));
    for (b, slot) in text.zip(buf.iter_mut()) {
        *slot = *b;
    }
    CStr::from_bytes_until_nul(buf).map_err(|_| libc::ENAMETOOLONG)
}

/// The procfs the child sees at `/proc`, opened without following symlinks and checked with
/// `fstatfs(2)` (a new root may hold anything at `/proc`), if `self` resolves in it (the
/// child is visible in its pid namespace).
fn proc_root() -> Option<Fd> {
    let proc = Fd(raw::open_path(libc::AT_FDCWD, c"/proc", raw::RESOLVE_NO_LINKS).ok()? as i32);
    #[allow(clippy::unnecessary_cast)] // c_long or c_uint, by target
    let procfs = raw::fstatfs(proc.0).ok()?.fs_type == libc::PROC_SUPER_MAGIC as u64;
    if !procfs {
        return None;
    }
    drop(Fd(raw::open_path(proc.0, c"self", 0).ok()? as i32));
    Some(proc)
}

/// Runs a system call that takes only a path (`mount(2)`, `umount2(2)`) on exactly the object
/// `fd` names, without looking its path up again: `op` gets the fd's magic link `self/fd/<fd>`
/// relative to the verified procfs of [`proc_root`] (the working directory meanwhile), which
/// the kernel resolves to the fd's own mount and dentry. Where the child sees no procfs, `op`
/// gets `.` with the working directory set to `fd` itself (directories only; a file gives
/// `ENOTDIR`).
fn on_fd(fd: i32, op: impl FnOnce(&CStr) -> raw::R) -> raw::R {
    let mut buf = [0u8; FD_LINK_LEN];
    match proc_root() {
        Some(proc) => {
            let link = fd_link(fd, &mut buf)?;
            in_dir(proc.0, || op(link))
        }
        None => in_dir(fd, || op(c".")),
    }
}

/// Makes sure `name` in `dir` is a regular file, without ever opening what is there: an
/// `O_PATH|O_NOFOLLOW` probe and its type (`statx(2)` of that fd); if nothing is there, a new
/// file (`O_CREAT|O_EXCL`, so never one that appeared meanwhile, with `O_NONBLOCK|O_NOCTTY` in
/// case). Opening a FIFO planted there for writing would wait for a reader, forever, while the
/// parent waits for this child. An existing regular file is left as it is; a symlink is
/// `ELOOP`, a directory `EISDIR`, anything else (a FIFO, a socket, a device) `EEXIST`.
fn ensure_regular_file(dir: i32, name: &CStr, mode: u32) -> raw::R {
    let fd = match raw::openat(dir, name, libc::O_PATH | libc::O_NOFOLLOW, 0) {
        Ok(fd) => Fd(fd as i32),
        Err(libc::ENOENT) => Fd(raw::openat(
            dir,
            name,
            libc::O_WRONLY
                | libc::O_CREAT
                | libc::O_EXCL
                | libc::O_NONBLOCK
                | libc::O_NOCTTY
                | libc::O_NOFOLLOW,
            mode,
        )? as i32),
        Err(e) => return Err(e),
    };
    match raw::fstat_mode(fd.0)? & libc::S_IFMT {
        libc::S_IFREG => Ok(0),
        libc::S_IFLNK => Err(libc::ELOOP),
        libc::S_IFDIR => Err(libc::EISDIR),
        _ => Err(libc::EEXIST),
    }
}

/// Opens a mount path as `O_PATH` without following any symlink in it (`openat2(2)` with
/// `RESOLVE_NO_SYMLINKS|RESOLVE_NO_MAGICLINKS`): a symlink planted in a new root cannot
/// redirect a mount, chroot or pivot_root elsewhere; it fails with `ELOOP` instead.
fn open_nofollow(path: &CStr) -> Result<Fd, raw::Errno> {
    raw::open_path(libc::AT_FDCWD, path, raw::RESOLVE_NO_LINKS).map(|fd| Fd(fd as i32))
}

/// A mount step done on file descriptors: targets opened with [`open_nofollow`], new
/// filesystems made with `fsopen`/`fsmount`, binds cloned with `open_tree` (made read-only
/// while still detached, so they are never writable where they land), all attached with
/// `move_mount` onto the target fd. Before 5.12 (no `mount_setattr`), flags and propagation
/// are set with `mount(2)` on the same fds ([`on_fd`]); a recursive flag change fails with
/// `ENOSYS`.
pub(super) fn mount_step_fd(m: &PreparedMount) -> raw::R {
    const EMPTY: &CStr = c"";
    let both_empty = libc::MOVE_MOUNT_F_EMPTY_PATH | libc::MOVE_MOUNT_T_EMPTY_PATH;
    let rec = |recursive: bool| {
        if recursive {
            libc::AT_RECURSIVE as u32
        } else {
            0
        }
    };
    match m {
        PreparedMount::NewFs(fs) => {
            let target = open_nofollow(&fs.target)?;
            let ctx = Fd(raw::fsopen(&fs.fstype, libc::FSOPEN_CLOEXEC)? as i32);
            raw::fsconfig(
                ctx.0,
                FsconfigCmd::SetString,
                Some(c"source"),
                Some(&fs.fstype),
            )?;
            for (k, v) in &fs.options {
                match v {
                    Some(v) => raw::fsconfig(ctx.0, FsconfigCmd::SetString, Some(k), Some(v))?,
                    None => raw::fsconfig(ctx.0, FsconfigCmd::SetFlag, Some(k), None)?,
                };
            }
            raw::fsconfig(ctx.0, FsconfigCmd::Create, None, None)?;
            // MOUNT_ATTR_RDONLY/NOSUID/NODEV/NOEXEC have the values of the MS_* flags.
            let mnt = Fd(raw::fsmount(ctx.0, libc::FSMOUNT_CLOEXEC, fs.flags as u32)? as i32);
            raw::move_mount(mnt.0, EMPTY, target.0, EMPTY, both_empty)
        }
        PreparedMount::Propagation {
            target,
            flags,
            recursive,
        } => {
            let target = open_nofollow(target)?;
            let attr = raw::mount_attr(0, flags & !flags::MS_REC);
            match raw::mount_setattr(
                target.0,
                EMPTY,
                libc::AT_EMPTY_PATH as u32 | rec(*recursive),
                &attr,
            ) {
                // Before 5.12: mount(2) on the same mount (MS_REC in the flags).
                Err(libc::ENOSYS) => on_fd(target.0, |p| raw::mount(None, p, None, *flags, None)),
                r => r,
            }
        }
        PreparedMount::Bind {
            source,
            target,
            attrs,
            recursive,
            follow_source,
        } => {
            let target = open_nofollow(target)?;
            let clone = libc::OPEN_TREE_CLONE | libc::O_CLOEXEC as u32 | rec(*recursive);
            let tree = Fd(if *follow_source {
                raw::open_tree(libc::AT_FDCWD, source, clone)?
            } else {
                // The source as the target: resolved once without links, cloned from the fd.
                let source = open_nofollow(source)?;
                raw::open_tree(source.0, EMPTY, clone | libc::AT_EMPTY_PATH as u32)?
            } as i32);
            if *attrs != 0 {
                let attr = raw::mount_attr(*attrs, 0);
                match raw::mount_setattr(
                    tree.0,
                    EMPTY,
                    libc::AT_EMPTY_PATH as u32 | rec(*recursive),
                    &attr,
                ) {
                    Ok(_) => {}
                    // Before 5.12, one mount: attach it, then remount it by its fd (writable
                    // for that moment); taken away again if the remount fails.
                    Err(libc::ENOSYS) if !*recursive => {
                        raw::move_mount(tree.0, EMPTY, target.0, EMPTY, both_empty)?;
                        return remount_fd(tree.0, *attrs).inspect_err(|_| {
                            let _ = on_fd(tree.0, |p| raw::umount2(p, libc::MNT_DETACH));
                        });
                    }
                    // A recursive one cannot be done without it: ENOSYS, reported by the
                    // parent as Unsupported(MountSetattr); the detached copy goes with the fd.
                    Err(e) => return Err(e),
                }
            }
            raw::move_mount(tree.0, EMPTY, target.0, EMPTY, both_empty)
        }
        PreparedMount::Remount {
            target,
            attrs,
            recursive,
        } => {
            let target = open_nofollow(target)?;
            set_attrs_fd(target.0, *attrs, *recursive)
        }
        PreparedMount::Unmount {
            entry: Some(entry),
            flags,
            ..
        } => {
            // Not lazily: an fd of the mount would make it busy. By name in the parent (the
            // working directory meanwhile), checked for links first, the last not followed.
            let parent = open_nofollow(&entry.parent)?;
            drop(Fd(
                raw::open_path(parent.0, &entry.name, raw::RESOLVE_NO_LINKS)? as i32,
            ));
            in_dir(parent.0, || {
                raw::umount2(&entry.name, *flags | libc::UMOUNT_NOFOLLOW)
            })
        }
        PreparedMount::Unmount {
            target,
            entry: None,
            flags,
        } => {
            // Lazily: on the mount the fd names (the magic link is followed: no NOFOLLOW).
            let target = open_nofollow(target)?;
            on_fd(target.0, |p| raw::umount2(p, *flags))
        }
        PreparedMount::PivotRoot { new_root } => {
            // Make the new root a mount point by binding it onto itself, then enter the mount
            // on top: the tree's fd names its root (the first fd still names what lies
            // beneath), so the path is not looked up again.
            let below = open_nofollow(new_root)?;
            let tree = Fd(raw::open_tree(
                below.0,
                EMPTY,
                libc::OPEN_TREE_CLONE
                    | libc::O_CLOEXEC as u32
                    | libc::AT_RECURSIVE as u32
                    | libc::AT_EMPTY_PATH as u32,
            )? as i32);
            raw::move_mount(tree.0, EMPTY, below.0, EMPTY, both_empty)?;
            drop(below);
            raw::fchdir(tree.0)?;
            drop(tree);
            raw::pivot_root(c".", c".")?;
            raw::umount2(c".", libc::MNT_DETACH)?;
            raw::chdir(c"/")
        }
        PreparedMount::Chroot { path } => {
            let dir = open_nofollow(path)?;
            raw::fchdir(dir.0)?;
            raw::chroot(c".")?;
            raw::chdir(c"/")
        }
        PreparedMount::Mkdir { entry, mode } => {
            let parent = open_nofollow(&entry.parent)?;
            match raw::mkdirat(parent.0, &entry.name, *mode) {
                Err(libc::EEXIST) => Ok(0),
                r => r,
            }
        }
        PreparedMount::File { entry, mode } => {
            let parent = open_nofollow(&entry.parent)?;
            ensure_regular_file(parent.0, &entry.name, *mode)
        }
        PreparedMount::Symlink { entry, text } => {
            let parent = open_nofollow(&entry.parent)?;
            raw::symlinkat(text, parent.0, &entry.name)
        }
    }
}

/// The path-based form of a mount step, for kernels before 5.6 (no `openat2`), used only
/// when the caller allowed it (`Command::allow_path_based_mounts`): it follows symlinks.
pub(super) fn mount_step(m: &PreparedMount) -> raw::R {
    match m {
        PreparedMount::NewFs(fs) => raw::mount(
            Some(&fs.fstype),
            &fs.target,
            Some(&fs.fstype),
            fs.flags,
            fs.data.as_deref(),
        ),
        PreparedMount::Propagation { target, flags, .. } => {
            raw::mount(None, target, None, *flags, None)
        }
        PreparedMount::Bind {
            source,
            target,
            attrs,
            recursive,
            ..
        } => {
            let rec = if *recursive { flags::MS_REC } else { 0 };
            raw::mount(Some(source), target, None, flags::MS_BIND | rec, None)?;
            if *attrs != 0 {
                set_attrs(target, *attrs, *recursive)?;
            }
            Ok(0)
        }
        PreparedMount::Remount {
            target,
            attrs,
            recursive,
        } => set_attrs(target, *attrs, *recursive),
        PreparedMount::Unmount { target, flags, .. } => raw::umount2(target, *flags),
        PreparedMount::PivotRoot { new_root } => {
            raw::mount(
                Some(new_root),
                new_root,
                None,
                flags::MS_BIND | flags::MS_REC,
                None,
            )?;
            raw::chdir(new_root)?;
            raw::pivot_root(c".", c".")?;
            raw::umount2(c".", libc::MNT_DETACH)?;
            raw::chdir(c"/")
        }
        PreparedMount::Chroot { path } => {
            raw::chroot(path)?;
            raw::chdir(c"/")
        }
        PreparedMount::Mkdir { entry, mode } => match raw::mkdir(&entry.path, *mode) {
            Err(libc::EEXIST) => Ok(0),
            r => r,
        },
        PreparedMount::File { entry, mode } => {
            ensure_regular_file(libc::AT_FDCWD, &entry.path, *mode)
        }
        PreparedMount::Symlink { entry, text } => raw::symlink(text, &entry.path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fd_links_name_the_fd_in_procfs() {
        let mut buf = [0u8; FD_LINK_LEN];
        assert_eq!(fd_link(0, &mut buf), Ok(c"self/fd/0"));
        let mut buf = [0u8; FD_LINK_LEN];
        assert_eq!(fd_link(1234, &mut buf), Ok(c"self/fd/1234"));
        let mut buf = [0u8; FD_LINK_LEN];
        assert_eq!(fd_link(i32::MAX, &mut buf), Ok(c"self/fd/2147483647"));
        let mut buf = [0u8; FD_LINK_LEN];
        assert_eq!(fd_link(-1, &mut buf), Err(libc::EBADF));
    }
}
