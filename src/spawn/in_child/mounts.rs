//! Mount steps: on file descriptors where the kernel has the new mount API, by path before.
#![allow(unsafe_code)]

use core::ffi::CStr;

use super::Fd;
use crate::mount::{MountKind, PreparedMount};
use crate::sys::raw;

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
    let attr = raw::MountAttr {
        attr_set: attrs,
        ..Default::default()
    };
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
    let both_empty = raw::MOVE_MOUNT_F_EMPTY_PATH | raw::MOVE_MOUNT_T_EMPTY_PATH;
    let rec = if m.recursive {
        libc::AT_RECURSIVE as u32
    } else {
        0
    };
    let t = m.target.as_c_str();
    match m.kind {
        MountKind::Mount => {
            let target = open_nofollow(t)?;
            let fstype = m.fstype.as_deref().ok_or(libc::EINVAL)?;
            let fs = Fd(raw::fsopen(fstype, 1 /* FSOPEN_CLOEXEC */)? as i32);
            for (k, v) in &m.options {
                match v {
                    Some(v) => raw::fsconfig(fs.0, raw::FSCONFIG_SET_STRING, Some(k), Some(v))?,
                    None => raw::fsconfig(fs.0, raw::FSCONFIG_SET_FLAG, Some(k), None)?,
                };
            }
            raw::fsconfig(fs.0, raw::FSCONFIG_CMD_CREATE, None, None)?;
            // MOUNT_ATTR_RDONLY/NOSUID/NODEV/NOEXEC have the values of the MS_* flags.
            let mnt = Fd(raw::fsmount(fs.0, 1 /* FSMOUNT_CLOEXEC */, m.flags as u32)? as i32);
            raw::move_mount(mnt.0, EMPTY, target.0, EMPTY, both_empty)
        }
        MountKind::Propagation => {
            let target = open_nofollow(t)?;
            let attr = raw::MountAttr {
                propagation: m.flags & !libc::MS_REC,
                ..Default::default()
            };
            raw::mount_setattr(target.0, EMPTY, libc::AT_EMPTY_PATH as u32 | rec, &attr)
        }
        MountKind::Bind => {
            let target = open_nofollow(t)?;
            let source = m.source.as_deref().ok_or(libc::EINVAL)?;
            let tree = Fd(raw::open_tree(
                libc::AT_FDCWD,
                source,
                raw::OPEN_TREE_CLONE | libc::O_CLOEXEC as u32 | rec,
            )? as i32);
            if m.attrs != 0 {
                let attr = raw::MountAttr {
                    attr_set: m.attrs,
                    ..Default::default()
                };
                raw::mount_setattr(tree.0, EMPTY, libc::AT_EMPTY_PATH as u32 | rec, &attr)?;
            }
            raw::move_mount(tree.0, EMPTY, target.0, EMPTY, both_empty)
        }
        MountKind::Remount => {
            let target = open_nofollow(t)?;
            let attr = raw::MountAttr {
                attr_set: m.attrs,
                ..Default::default()
            };
            raw::mount_setattr(target.0, EMPTY, libc::AT_EMPTY_PATH as u32 | rec, &attr)
        }
        MountKind::Unmount => {
            // umount2 takes no fd: check the path has no symlinks, and do not follow the last.
            drop(open_nofollow(t)?);
            raw::umount2(t, m.flags as i32 | libc::UMOUNT_NOFOLLOW)
        }
        MountKind::PivotRoot => {
            // Make the new root a mount point by binding it onto itself, then enter the mount
            // on top (reopened by path: the first fd still names what lies beneath it).
            {
                let below = open_nofollow(t)?;
                let tree = Fd(raw::open_tree(
                    below.0,
                    EMPTY,
                    raw::OPEN_TREE_CLONE
                        | libc::O_CLOEXEC as u32
                        | libc::AT_RECURSIVE as u32
                        | libc::AT_EMPTY_PATH as u32,
                )? as i32);
                raw::move_mount(tree.0, EMPTY, below.0, EMPTY, both_empty)?;
            }
            let top = open_nofollow(t)?;
            raw::fchdir(top.0)?;
            raw::pivot_root(c".", c".")?;
            raw::umount2(c".", libc::MNT_DETACH)?;
            raw::chdir(c"/")
        }
        MountKind::Chroot => {
            let dir = open_nofollow(t)?;
            raw::fchdir(dir.0)?;
            raw::chroot(c".")?;
            raw::chdir(c"/")
        }
        MountKind::Mkdir => {
            let parent = open_nofollow(&m.parent)?;
            match raw::mkdirat(parent.0, &m.name, m.flags as u32) {
                Err(libc::EEXIST) => Ok(0),
                r => r,
            }
        }
        MountKind::File => {
            let parent = open_nofollow(&m.parent)?;
            let fd = raw::openat(
                parent.0,
                &m.name,
                libc::O_WRONLY | libc::O_CREAT | libc::O_NOFOLLOW,
                m.flags as u32,
            )?;
            raw::close(fd as i32)
        }
        MountKind::Symlink => {
            let parent = open_nofollow(&m.parent)?;
            raw::symlinkat(m.source.as_deref().ok_or(libc::EINVAL)?, parent.0, &m.name)
        }
    }
}

/// The path-based form of a mount step, for kernels before 5.6 (no `openat2`).
pub(super) fn mount_step(m: &PreparedMount) -> raw::R {
    let t = m.target.as_c_str();
    match m.kind {
        MountKind::Mount => raw::mount(
            m.source.as_deref(),
            t,
            m.fstype.as_deref(),
            m.flags,
            m.data.as_deref(),
        ),
        MountKind::Propagation => raw::mount(None, t, None, m.flags, None),
        MountKind::Bind => {
            raw::mount(m.source.as_deref(), t, None, m.flags, None)?;
            if m.attrs != 0 {
                set_attrs(t, m.attrs, m.recursive)?;
            }
            Ok(0)
        }
        MountKind::Remount => set_attrs(t, m.attrs, m.recursive),
        MountKind::Unmount => raw::umount2(t, m.flags as i32),
        MountKind::PivotRoot => {
            raw::mount(Some(t), t, None, libc::MS_BIND | libc::MS_REC, None)?;
            raw::chdir(t)?;
            raw::pivot_root(c".", c".")?;
            raw::umount2(c".", libc::MNT_DETACH)?;
            raw::chdir(c"/")
        }
        MountKind::Chroot => {
            raw::chroot(t)?;
            raw::chdir(c"/")
        }
        MountKind::Mkdir => match raw::mkdir(t, m.flags as u32) {
            Err(libc::EEXIST) => Ok(0),
            r => r,
        },
        MountKind::File => {
            let fd = raw::open(
                t,
                libc::O_WRONLY | libc::O_CREAT | libc::O_NOFOLLOW,
                m.flags as u32,
            )?;
            raw::close(fd as i32)
        }
        MountKind::Symlink => match &m.source {
            Some(target) => raw::symlink(target, t),
            None => Err(libc::EINVAL),
        },
    }
}
