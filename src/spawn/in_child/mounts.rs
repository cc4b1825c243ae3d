//! Mount steps: on file descriptors where the kernel has the new mount API, by path before.

use core::ffi::CStr;

use super::Fd;
use crate::mount::PreparedMount;
use crate::sys::raw::{self, FsconfigCmd};

/// `statfs` `f_flags` bits that a bind remount must keep (the kernel locks them in a user
/// namespace), translated to `mount(2)` flags.
fn kept_flags(f_flags: u64) -> u64 {
    let pairs = [
        (libc::ST_RDONLY, libc::MS_RDONLY),
        (libc::ST_NOSUID, libc::MS_NOSUID),
        (libc::ST_NODEV, libc::MS_NODEV),
        (libc::ST_NOEXEC, libc::MS_NOEXEC),
        (libc::ST_NOATIME, libc::MS_NOATIME),
        (libc::ST_NODIRATIME, libc::MS_NODIRATIME),
        (libc::ST_RELATIME, libc::MS_RELATIME),
    ];
    pairs
        .iter()
        .filter(|(st, _)| f_flags & *st != 0)
        .fold(0, |acc, (_, ms)| acc | *ms)
}

/// Sets `MS_RDONLY|MS_NOSUID|MS_NODEV|MS_NOEXEC` bits on a mount: `mount_setattr(2)` where the
/// kernel has it (only these bits change, recursively if asked), else a bind remount that
/// carries over the flags the mount already has.
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
            let keep = kept_flags(raw::statfs_flags(target)?);
            raw::mount(
                None,
                target,
                None,
                libc::MS_REMOUNT | libc::MS_BIND | keep | attrs,
                None,
            )
        }
        r => r,
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
/// `move_mount` onto the target fd. `ENOSYS` means a kernel before 5.6: use [`mount_step`].
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
            let attr = raw::mount_attr(0, flags & !libc::MS_REC);
            raw::mount_setattr(
                target.0,
                EMPTY,
                libc::AT_EMPTY_PATH as u32 | rec(*recursive),
                &attr,
            )
        }
        PreparedMount::Bind {
            source,
            target,
            attrs,
            recursive,
        } => {
            let target = open_nofollow(target)?;
            let tree = Fd(raw::open_tree(
                libc::AT_FDCWD,
                source,
                libc::OPEN_TREE_CLONE | libc::O_CLOEXEC as u32 | rec(*recursive),
            )? as i32);
            if *attrs != 0 {
                let attr = raw::mount_attr(*attrs, 0);
                raw::mount_setattr(
                    tree.0,
                    EMPTY,
                    libc::AT_EMPTY_PATH as u32 | rec(*recursive),
                    &attr,
                )?;
            }
            raw::move_mount(tree.0, EMPTY, target.0, EMPTY, both_empty)
        }
        PreparedMount::Remount {
            target,
            attrs,
            recursive,
        } => {
            let target = open_nofollow(target)?;
            let attr = raw::mount_attr(*attrs, 0);
            raw::mount_setattr(
                target.0,
                EMPTY,
                libc::AT_EMPTY_PATH as u32 | rec(*recursive),
                &attr,
            )
        }
        PreparedMount::Unmount { target, flags } => {
            // umount2 takes no fd: check the path has no symlinks, and do not follow the last.
            drop(open_nofollow(target)?);
            raw::umount2(target, *flags | libc::UMOUNT_NOFOLLOW)
        }
        PreparedMount::PivotRoot { new_root } => {
            // Make the new root a mount point by binding it onto itself, then enter the mount
            // on top (reopened by path: the first fd still names what lies beneath it).
            {
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
            }
            let top = open_nofollow(new_root)?;
            raw::fchdir(top.0)?;
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
            let fd = raw::openat(
                parent.0,
                &entry.name,
                libc::O_WRONLY | libc::O_CREAT | libc::O_NOFOLLOW,
                *mode,
            )?;
            raw::close(fd as i32)
        }
        PreparedMount::Symlink { entry, text } => {
            let parent = open_nofollow(&entry.parent)?;
            raw::symlinkat(text, parent.0, &entry.name)
        }
    }
}

/// The path-based form of a mount step, for kernels before 5.6 (no `openat2`).
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
        } => {
            let rec = if *recursive { libc::MS_REC } else { 0 };
            raw::mount(Some(source), target, None, libc::MS_BIND | rec, None)?;
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
        PreparedMount::Unmount { target, flags } => raw::umount2(target, *flags),
        PreparedMount::PivotRoot { new_root } => {
            raw::mount(
                Some(new_root),
                new_root,
                None,
                libc::MS_BIND | libc::MS_REC,
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
            let fd = raw::open(
                &entry.path,
                libc::O_WRONLY | libc::O_CREAT | libc::O_NOFOLLOW,
                *mode,
            )?;
            raw::close(fd as i32)
        }
        PreparedMount::Symlink { entry, text } => raw::symlink(text, &entry.path),
    }
}
