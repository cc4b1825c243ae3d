//! Persisted namespaces: a namespace kept alive by a bind mount of its nsfs file, from
//! [`Namespace::persist`] to removal.
//!
//! One type, [`PersistedNamespace`], is such a mount wherever it comes from: what `persist`
//! returns, what [`list`] finds in a mount table (including `ip netns add`'s mounts under
//! `/run/netns`), and what [`PersistedNamespace::at`] finds at a path. It is removed with
//! [`PersistedNamespace::remove`], which checks first that the mount is still the one found.
//!
//! A persisted namespace lives as long as its bind mount, after every process in it has gone.
//! Such a mount is *orphaned* when no process is left in the namespace: nothing runs there, and
//! only the name keeps it alive. Test harnesses and runtimes that crash leave these behind;
//! [`orphans`] finds them and [`cleanup`] removes them.
//!
//! ```no_run
//! use linux_namespaces::persist::{self, MountTable};
//!
//! # fn main() -> linux_namespaces::Result<()> {
//! for u in persist::usage(MountTable::Caller)? {
//!     let ns = &u.namespace;
//!     println!("{} {} {} processes", ns.id, ns.path.display(), u.pids.len());
//! }
//! // Remove the orphans under /run/netns; namespaces with processes are left alone.
//! let done = persist::cleanup("/run/netns")?;
//! println!("removed {}, kept {} in use", done.removed.len(), done.in_use.len());
//! # Ok(())
//! # }
//! ```
//!
//! # What "in use" means
//! A namespace is in use when the inspector's scan of `/proc` (the one behind
//! [`inspect::list`]) finds a process in it. The scan sees the processes of the caller's
//! `/proc`: a process in a pid namespace the caller cannot see, or one whose links the caller
//! may not read (another user's, without `CAP_SYS_PTRACE`), does not count. Run as root in the
//! initial pid namespace for a complete answer. An fd that holds the namespace open does not
//! count either.
//!
//! Removing a bind mount never ends a namespace that has a process in it: the process keeps it
//! alive. What removal takes away is the *name*: `ip netns exec NAME` and
//! [`Namespace::from_path`] can no longer find it. That is why a namespace in use is removed
//! only with an explicit `force`.
//!
//! # References
//!  - [proc_pid_mountinfo(5)](https://man7.org/linux/man-pages/man5/proc_pid_mountinfo.5.html),
//!    [open_tree(2)](https://man7.org/linux/man-pages/man2/open_tree.2.html),
//!    [move_mount(2)](https://man7.org/linux/man-pages/man2/move_mount.2.html),
//!    [mount(2)](https://man7.org/linux/man-pages/man2/mount.2.html),
//!    [umount2(2)](https://man7.org/linux/man-pages/man2/umount2.2.html),
//!    [ip-netns(8)](https://man7.org/linux/man-pages/man8/ip-netns.8.html),
//!    [namespaces(7)](https://man7.org/linux/man-pages/man7/namespaces.7.html)

use std::ffi::OsStr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags};
use rustix::mount::{MoveMountFlags, OpenTreeFlags, UnmountFlags};

use crate::error::{Error, Operation, Result, Target};
use crate::inspect::{self, NamespaceIds};
use crate::kernel::{Probe, Probed};
use crate::kind::{NamespaceKind, NamespaceSet};
use crate::namespace::{self, Namespace, NamespaceId};
use crate::sys;
use crate::validate;

/// Whose mount table to read.
///
/// # References
///  - [proc_pid_mountinfo(5)](https://man7.org/linux/man-pages/man5/proc_pid_mountinfo.5.html)
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MountTable {
    /// The calling thread's mount namespace (`/proc/thread-self/mountinfo`).
    Caller,
    /// The mount namespace of process `pid` (`/proc/<pid>/mountinfo`), with mount points
    /// relative to that process's root. Reading it needs ptrace read access to the process.
    Process(u32),
}

/// A namespace kept alive by a bind mount of its nsfs file: which namespace, where, which
/// mount, in which mount namespace's table.
///
/// Made by [`Namespace::persist`], found by [`list`] or [`PersistedNamespace::at`]. Dropping
/// it leaves the mount in place (that is the point of persisting); [`remove`](Self::remove)
/// takes it away.
///
/// # References
///  - [proc_pid_mountinfo(5)](https://man7.org/linux/man-pages/man5/proc_pid_mountinfo.5.html),
///    [ip-netns(8)](https://man7.org/linux/man-pages/man8/ip-netns.8.html)
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PersistedNamespace {
    /// The namespace mounted (from the mount's root, such as `net:[4026532177]`).
    pub id: NamespaceId,
    /// The mount point, relative to the root of the process whose table was read.
    pub path: PathBuf,
    /// The mount's id (field 1 of mountinfo, `statx(2)`'s `stx_mnt_id`).
    pub mount_id: u64,
    /// The mount namespace whose table lists this mount.
    pub mount_namespace: NamespaceId,
}

/// A persisted namespace with the processes found in it: orphaned when there are none.
///
/// A snapshot: processes may enter or leave the namespace right after the scan.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Usage {
    /// The mount.
    pub namespace: PersistedNamespace,
    /// The processes found in the namespace by the scan, ascending (pids as the caller's
    /// `/proc` shows them).
    pub pids: Vec<u32>,
}

impl Usage {
    /// Whether no process was found in the namespace.
    pub fn is_orphaned(&self) -> bool {
        self.pids.is_empty()
    }
}

/// What [`cleanup`] did.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct Cleanup {
    /// Orphans whose mounts were removed (unmounted and unlinked).
    pub removed: Vec<PersistedNamespace>,
    /// Mounts of namespaces in use, left in place.
    pub in_use: Vec<Usage>,
    /// Orphans whose removal failed, with why. Nothing was unmounted for those whose error is
    /// [`Error::MountChanged`] or [`Error::NotANamespace`].
    pub failed: Vec<(PersistedNamespace, Error)>,
}

/// Whether `open_tree(2)` and `move_mount(2)` (Linux 5.2) work here; without them `persist`
/// mounts with `mount(2)` (see [`Namespace::persist`]).
static MOUNT_API: Probe = Probe::new();

impl Namespace {
    /// Keeps the namespace alive after every process and handle is gone by bind-mounting its
    /// nsfs file on `path`, the way `ip netns add` does: a network namespace persisted at
    /// `/run/netns/NAME` is usable with `ip netns exec NAME`.
    ///
    /// `path` must be absolute, must name a file (not end in `/`, `.` or `..`) and must not
    /// exist (a symlink there counts as existing); its parent directory must exist. Needs
    /// `CAP_SYS_ADMIN` over the caller's mount namespace. A mount namespace cannot be persisted
    /// inside itself or a namespace created after it (the kernel refuses loops with `EINVAL`).
    /// Undo with [`PersistedNamespace::remove`].
    ///
    /// The mount lands on the file this call creates and nowhere else, even in a directory
    /// others can write to: the parent directory is opened once (symlinks in it are followed:
    /// that part of the path is the caller's choice), the file is created through that
    /// directory fd (`O_CREAT | O_EXCL | O_NOFOLLOW`, mode 0) and kept open, and the namespace
    /// is mounted onto that fd (`open_tree(2)` clone, then `move_mount(2)`), never onto
    /// whatever the path resolves to later. Then the name is looked up again without
    /// following symlinks: if it no longer holds the namespace (someone moved the file away
    /// meanwhile), the mount is undone through its fd and [`Error::MountChanged`] is
    /// returned. In every error case nothing stays mounted, and the file this call created is
    /// removed (after checking, by device and inode, that a name still leads to it).
    ///
    /// Fallback: a kernel before 5.2 has no `open_tree(2)`, and there the only way to mount
    /// onto the created file rather than onto a path is `mount(2)` (`MS_BIND`) onto
    /// `/proc/thread-self/fd/<file>`, which leads to the file itself wherever it is. The same
    /// check follows; a mount on a file moved away is found through the file's fd and undone.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a relative or empty path or one that names no file;
    /// [`Error::Os`] with `EEXIST` if the path exists, `ENOENT` if the parent directory does
    /// not (or if the created file was replaced before the mount), or from the mount;
    /// [`Error::MountChanged`] if the created file was moved away before the check (nothing
    /// is left mounted).
    ///
    /// # References
    ///  - [open_tree(2)](https://man7.org/linux/man-pages/man2/open_tree.2.html),
    ///    [move_mount(2)](https://man7.org/linux/man-pages/man2/move_mount.2.html),
    ///    [openat(2)](https://man7.org/linux/man-pages/man2/openat.2.html),
    ///    [mount(2)](https://man7.org/linux/man-pages/man2/mount.2.html) (`MS_BIND`),
    ///    [ip-netns(8)](https://man7.org/linux/man-pages/man8/ip-netns.8.html)
    pub fn persist(&self, path: impl AsRef<Path>) -> Result<PersistedNamespace> {
        let path = path.as_ref();
        validate::check_mount_path(path)?;
        let (parent, name) = split_mount_path(path)?;
        let target = || Target::Path(path.to_path_buf());
        // Everything that can fail without side effects comes first.
        let mount_namespace = Namespace::current(NamespaceKind::Mount)?.id();
        let dir = rustix::fs::open(
            parent,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| Error::os(Operation::CreateMountPoint, target(), e.into()))?;
        // An existing path is the caller's mistake: say so (`EEXIST`) before a permission
        // error from the mount could hide it. `O_EXCL` below is what decides.
        if rustix::fs::statat(&dir, name, rustix::fs::AtFlags::SYMLINK_NOFOLLOW).is_ok() {
            return Err(Error::os(
                Operation::CreateMountPoint,
                target(),
                std::io::Error::from_raw_os_error(libc::EEXIST),
            ));
        }
        let tree = self.clone_tree(path)?;
        let file = rustix::fs::openat(
            &dir,
            name,
            OFlags::RDONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| Error::os(Operation::CreateMountPoint, target(), e.into()))?;
        let created = Created {
            dir: dir.as_fd(),
            name,
            file: file.as_fd(),
        };
        let mounted = match &tree {
            Some(tree) => rustix::mount::move_mount(
                tree,
                "",
                &file,
                "",
                MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH | MoveMountFlags::MOVE_MOUNT_T_EMPTY_PATH,
            ),
            // The created file by its fd, not by the path: `/proc/thread-self/fd/N` leads to
            // the file itself wherever it is now.
            None => rustix::mount::mount_bind(
                namespace::proc_fd_path(self.as_fd()).as_str(),
                namespace::proc_fd_path(file.as_fd()).as_str(),
            ),
        };
        if let Err(e) = mounted {
            created.remove();
            return Err(Error::os(Operation::BindMount, target(), e.into()));
        }
        // Did the mount land at the name? `O_NOFOLLOW`: a symlink there now is not the mount.
        let held = rustix::fs::openat(
            &dir,
            name,
            OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .ok()
        .filter(|fd| {
            rustix::fs::fstat(fd)
                .is_ok_and(|st| (st.st_dev, st.st_ino) == (self.id().dev(), self.id().ino()))
        });
        let undo = |held: Option<&OwnedFd>| {
            // The mount itself, by an fd of its root: the mount's clone fd, or the root found
            // at the name.
            let root = tree.as_ref().or(held);
            match root {
                Some(fd) => {
                    let _ = rustix::mount::unmount(
                        namespace::proc_fd_path(fd.as_fd()).as_str(),
                        UnmountFlags::DETACH,
                    );
                }
                None => created.unmount_moved(self.id()),
            }
            created.remove();
        };
        let Some(held) = held else {
            undo(None);
            return Err(Error::MountChanged {
                path: path.to_path_buf(),
                expected: self.id(),
                found: None,
            });
        };
        let mount_id = match mount_id_of(held.as_fd(), path) {
            Ok(id) => id,
            Err(e) => {
                undo(Some(&held));
                return Err(e);
            }
        };
        Ok(PersistedNamespace {
            id: self.id(),
            path: path.to_path_buf(),
            mount_id,
            mount_namespace,
        })
    }

    /// A detached clone of the namespace's nsfs file as a mount (`open_tree(2)` with
    /// `OPEN_TREE_CLONE`), or `None` on a kernel without it.
    fn clone_tree(&self, path: &Path) -> Result<Option<OwnedFd>> {
        if MOUNT_API.get() == Probed::Absent {
            return Ok(None);
        }
        match rustix::mount::open_tree(
            self,
            "",
            OpenTreeFlags::OPEN_TREE_CLONE
                | OpenTreeFlags::OPEN_TREE_CLOEXEC
                | OpenTreeFlags::AT_EMPTY_PATH,
        ) {
            Ok(fd) => {
                MOUNT_API.set(Probed::Present);
                Ok(Some(fd))
            }
            Err(rustix::io::Errno::NOSYS) => {
                MOUNT_API.set(Probed::Absent);
                Ok(None)
            }
            Err(e) => Err(Error::os(
                Operation::BindMount,
                Target::Path(path.to_path_buf()),
                e.into(),
            )),
        }
    }
}

/// The parent directory and the file name of a path to persist on: the name must be a plain
/// component (not empty, `.` or `..`), so that the file created is the one the path names.
fn split_mount_path(path: &Path) -> Result<(&Path, &OsStr)> {
    let bytes = path.as_os_str().as_bytes();
    let cut = bytes.iter().rposition(|&b| b == b'/').unwrap_or(0);
    let name = OsStr::from_bytes(&bytes[cut + 1..]);
    if name.is_empty() || name == "." || name == ".." {
        return Err(Error::invalid(
            "persist path",
            format!("{} does not name a file", path.display()),
        ));
    }
    let parent = match &bytes[..cut] {
        b"" => Path::new("/"),
        p => Path::new(OsStr::from_bytes(p)),
    };
    Ok((parent, name))
}

/// The file `persist` created: its directory, its name there and an fd of the file itself.
struct Created<'a> {
    dir: BorrowedFd<'a>,
    name: &'a OsStr,
    file: BorrowedFd<'a>,
}

impl Created<'_> {
    /// Whether `fd` is the created file (same device and inode).
    fn is_it(&self, fd: BorrowedFd<'_>) -> bool {
        match (rustix::fs::fstat(fd), rustix::fs::fstat(self.file)) {
            (Ok(a), Ok(b)) => (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino),
            _ => false,
        }
    }

    /// Where the created file is now (`readlink` of its fd), split into an open directory
    /// and a name; `None` if it has been unlinked.
    fn now_at(&self) -> Option<(OwnedFd, std::ffi::OsString)> {
        let link = std::fs::read_link(namespace::proc_fd_path(self.file)).ok()?;
        let (parent, name) = split_mount_path(&link).ok()?;
        let dir = rustix::fs::open(
            parent,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .ok()?;
        Some((dir, name.to_owned()))
    }

    /// Removes the created file if a name still leads to it: its name in the directory, or
    /// wherever it was moved to. Each name is checked (device and inode, not following a
    /// symlink) just before the `unlinkat(2)`, so nothing else is removed in its place.
    fn remove(&self) {
        let unlink_if_ours = |dir: BorrowedFd<'_>, name: &OsStr| -> bool {
            let ours = rustix::fs::openat(
                dir,
                name,
                OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .is_ok_and(|fd| self.is_it(fd.as_fd()));
            ours && rustix::fs::unlinkat(dir, name, rustix::fs::AtFlags::empty()).is_ok()
        };
        if unlink_if_ours(self.dir, self.name) {
            return;
        }
        if let Some((dir, name)) = self.now_at() {
            unlink_if_ours(dir.as_fd(), &name);
        }
    }

    /// Without the new mount API there is no fd of the mount: find the created file where it
    /// was moved to, and unmount the namespace mounted on it by an fd of the mount's root.
    fn unmount_moved(&self, id: NamespaceId) {
        let Some((dir, name)) = self.now_at() else {
            return;
        };
        let Ok(root) = rustix::fs::openat(
            &dir,
            &name,
            OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        ) else {
            return;
        };
        if rustix::fs::fstat(&root).is_ok_and(|st| (st.st_dev, st.st_ino) == (id.dev(), id.ino())) {
            let _ = rustix::mount::unmount(
                namespace::proc_fd_path(root.as_fd()).as_str(),
                UnmountFlags::DETACH,
            );
        }
    }
}

/// The id of the mount `fd` is on: `statx(2)` with `STATX_MNT_ID` (Linux 5.8), else the last
/// line of the caller's mount table at `path`.
fn mount_id_of(fd: BorrowedFd<'_>, path: &Path) -> Result<u64> {
    let st = rustix::fs::statx(
        fd,
        "",
        rustix::fs::AtFlags::EMPTY_PATH,
        rustix::fs::StatxFlags::MNT_ID,
    )
    .map_err(|e| Error::os(Operation::Stat, Target::Path(path.into()), e.into()))?;
    if rustix::fs::StatxFlags::from_bits_retain(st.stx_mask)
        .contains(rustix::fs::StatxFlags::MNT_ID)
    {
        return Ok(st.stx_mnt_id);
    }
    list(MountTable::Caller)?
        .into_iter()
        .rev()
        .find(|m| m.path == path)
        .map(|m| m.mount_id)
        .ok_or_else(|| Error::NotANamespace {
            target: Target::Path(path.into()),
        })
}

impl PersistedNamespace {
    /// The kind of the namespace mounted.
    pub fn kind(&self) -> NamespaceKind {
        self.id.kind()
    }

    /// The persisted namespace at `path` in the caller's mount table: the topmost nsfs mount
    /// there (`/proc/thread-self/mountinfo`), checked against what the path holds now
    /// (`fstatfs(2)`, `fstat(2)`), without following a symlink at `path`.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a relative path or a symlink; [`Error::NotANamespace`] if
    /// no nsfs mount is there; [`Error::Os`] with `ENOENT` if nothing is.
    ///
    /// # References
    ///  - [proc_pid_mountinfo(5)](https://man7.org/linux/man-pages/man5/proc_pid_mountinfo.5.html),
    ///    [lstat(2)](https://man7.org/linux/man-pages/man2/lstat.2.html)
    pub fn at(path: impl AsRef<Path>) -> Result<PersistedNamespace> {
        let path = path.as_ref();
        validate::check_mount_path(path)?;
        let target = || Target::Path(path.to_path_buf());
        // Never follow a symlink to a mount somewhere else.
        let st =
            rustix::fs::lstat(path).map_err(|e| Error::os(Operation::Stat, target(), e.into()))?;
        if rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::Symlink {
            return Err(Error::invalid(
                "persist path",
                format!("{} is a symbolic link", path.display()),
            ));
        }
        let fs =
            rustix::fs::statfs(path).map_err(|e| Error::os(Operation::Stat, target(), e.into()))?;
        if fs.f_type as i64 != sys::NSFS_MAGIC {
            return Err(Error::NotANamespace { target: target() });
        }
        list(MountTable::Caller)?
            .into_iter()
            .rev()
            .find(|m| m.path == path)
            .ok_or_else(|| Error::NotANamespace { target: target() })
    }

    /// The processes in the namespace, ascending: one scan of `/proc` for its kind (see the
    /// [module docs](self) for what the scan sees).
    ///
    /// # Errors
    /// [`Error::Os`] if `/proc` cannot be read.
    ///
    /// # References
    ///  - [proc_pid_ns(5)](https://man7.org/linux/man-pages/man5/proc_pid_ns.5.html)
    pub fn processes(&self) -> Result<Vec<u32>> {
        let found = inspect::processes_by_namespace(self.kind().as_set())?;
        Ok(found.get(&self.id).cloned().unwrap_or_default())
    }

    /// Removes the bind mount (`umount2(2)` with `MNT_DETACH | UMOUNT_NOFOLLOW`, then
    /// `unlink(2)` of the mount point).
    ///
    /// Before anything is unmounted:
    /// * unless `force`, `/proc` is scanned for the namespace's kind, and if a process is in
    ///   the namespace the mount is left alone: [`Error::NamespaceInUse`] with the pids;
    /// * the mount must be in the caller's mount namespace, else [`Error::ForeignMount`];
    /// * the caller's table must still list the mount, and the path must still hold the same
    ///   namespace (an `nsfs` file with the same device and inode), else
    ///   [`Error::MountChanged`] (or [`Error::NotANamespace`] if something that is not a
    ///   namespace is there now). A mount that is not nsfs is never unmounted.
    ///
    /// When another nsfs mount lies underneath at the same mount point, only the top one is
    /// unmounted and the file is kept (it is still a mount point).
    ///
    /// Forcing removes the name only: processes in the namespace keep it alive (see the
    /// [module docs](self)). Needs `CAP_SYS_ADMIN` over the caller's mount namespace.
    ///
    /// # Errors
    /// The above, and [`Error::Os`] from `umount2` or `unlink`.
    ///
    /// # References
    ///  - [umount2(2)](https://man7.org/linux/man-pages/man2/umount2.2.html),
    ///    [unlink(2)](https://man7.org/linux/man-pages/man2/unlink.2.html)
    #[doc(alias = "umount2")]
    #[doc(alias = "ip netns delete")]
    pub fn remove(&self, force: bool) -> Result<()> {
        self.check_table()?;
        if !force {
            let pids = self.processes()?;
            if !pids.is_empty() {
                return Err(self.in_use(pids));
            }
        }
        self.remove_mount()
    }

    fn in_use(&self, pids: Vec<u32>) -> Error {
        Error::NamespaceInUse {
            path: self.path.clone(),
            id: self.id,
            pids,
        }
    }

    /// [`Error::ForeignMount`] unless the mount is in the caller's mount table.
    fn check_table(&self) -> Result<()> {
        let caller = Namespace::current(NamespaceKind::Mount)?.id();
        if self.mount_namespace != caller {
            return Err(Error::ForeignMount {
                path: self.path.clone(),
                mount_namespace: self.mount_namespace,
                caller,
            });
        }
        Ok(())
    }

    /// The checks and the unmount shared by [`remove`](Self::remove) and [`cleanup`] (usage
    /// already checked).
    fn remove_mount(&self) -> Result<()> {
        self.check_table()?;
        let changed = |found| Error::MountChanged {
            path: self.path.clone(),
            expected: self.id,
            found,
        };
        // The table as it is now. Later lines are mounted on top of earlier ones, so the last
        // mount at this mount point is the one the path reaches.
        let now = list(MountTable::Caller)?;
        let mut here = now.iter().filter(|n| n.path == self.path);
        let count = here.clone().count();
        match here.next_back() {
            Some(top) if top.mount_id == self.mount_id => {}
            Some(top) => return Err(changed(Some(top.id))),
            None => return Err(changed(None)),
        }
        // The table may lag a mount made over this one by something other than nsfs; the path
        // itself must hold the namespace.
        let held = Namespace::from_path(&self.path).map_err(|e| match e {
            Error::Os { ref source, .. } if source.raw_os_error() == Some(libc::ENOENT) => {
                changed(None)
            }
            other => other,
        })?;
        if held.id() != self.id {
            return Err(changed(Some(held.id())));
        }
        drop(held);
        let target = || Target::Path(self.path.clone());
        rustix::mount::unmount(
            &self.path,
            rustix::mount::UnmountFlags::DETACH | rustix::mount::UnmountFlags::NOFOLLOW,
        )
        .map_err(|e| Error::os(Operation::Unmount, target(), e.into()))?;
        if count > 1 {
            // Another nsfs mount lies underneath: the file stays a mount point.
            return Ok(());
        }
        rustix::fs::unlink(&self.path).map_err(|e| Error::os(Operation::Remove, target(), e.into()))
    }
}

/// The persisted namespaces (nsfs bind mounts) in a mount table, in the table's order (parents
/// before the mounts on top of them). Lines whose filesystem type is not `nsfs` are passed
/// over.
///
/// For [`MountTable::Process`], the process's mount namespace is read before and after its
/// table, and the read is repeated if the process moved to another mount namespace meanwhile.
///
/// # Errors
/// [`Error::NoSuchProcess`] if the process is gone; [`Error::Os`] if the table cannot be read
/// (`EACCES` without ptrace read access).
///
/// # References
///  - [proc_pid_mountinfo(5)](https://man7.org/linux/man-pages/man5/proc_pid_mountinfo.5.html),
///    [readlink(2)](https://man7.org/linux/man-pages/man2/readlink.2.html)
pub fn list(table: MountTable) -> Result<Vec<PersistedNamespace>> {
    if let MountTable::Process(pid) = table {
        validate::check_pid(pid)?;
    }
    let dev = inspect::nsfs_dev()?;
    let mount_ns = || -> Result<NamespaceId> {
        match table {
            MountTable::Caller => Ok(Namespace::current(NamespaceKind::Mount)?.id()),
            MountTable::Process(pid) => NamespaceIds::of_kinds(pid, NamespaceSet::MOUNT)?
                .get(NamespaceKind::Mount)
                .ok_or(Error::NoSuchProcess { pid }),
        }
    };
    let path = match table {
        MountTable::Caller => PathBuf::from("/proc/thread-self/mountinfo"),
        MountTable::Process(pid) => PathBuf::from(format!("/proc/{pid}/mountinfo")),
    };
    let mut attempts = 0;
    loop {
        let before = mount_ns()?;
        let text = std::fs::read_to_string(&path).map_err(|e| match (table, e.raw_os_error()) {
            (MountTable::Process(pid), Some(libc::ENOENT | libc::ESRCH)) => {
                Error::NoSuchProcess { pid }
            }
            _ => Error::os(Operation::ReadProc, Target::Path(path.clone()), e),
        })?;
        let after = mount_ns()?;
        attempts += 1;
        if before != after && attempts < 3 {
            continue;
        }
        return Ok(parse_table(&text, dev, after));
    }
}

/// The nsfs lines of a mountinfo text.
fn parse_table(text: &str, dev: u64, mount_namespace: NamespaceId) -> Vec<PersistedNamespace> {
    text.lines()
        // Cheap filter first: most systems have many mounts and few of them nsfs.
        .filter(|l| l.contains(" - nsfs "))
        .filter_map(inspect::parse_mountinfo_line)
        .filter(|m| m.fstype == "nsfs")
        .filter_map(|m| {
            let id = NamespaceId::parse_link(m.root.to_str()?, dev).ok()?;
            Some(PersistedNamespace {
                id,
                path: m.mount_point,
                mount_id: u64::from(m.mount_id),
                mount_namespace,
            })
        })
        .collect()
}

/// Which of `namespaces` some process is in: one scan of `/proc` for the kinds present (see
/// the [module docs](self) for what the scan sees).
///
/// # Errors
/// [`Error::Os`] if `/proc` cannot be read.
///
/// # References
///  - [proc_pid_ns(5)](https://man7.org/linux/man-pages/man5/proc_pid_ns.5.html),
///    [readlink(2)](https://man7.org/linux/man-pages/man2/readlink.2.html)
pub fn usage_of(namespaces: Vec<PersistedNamespace>) -> Result<Vec<Usage>> {
    let kinds: NamespaceSet = namespaces.iter().map(PersistedNamespace::kind).collect();
    let found = inspect::processes_by_namespace(kinds)?;
    Ok(namespaces
        .into_iter()
        .map(|namespace| Usage {
            pids: found.get(&namespace.id).cloned().unwrap_or_default(),
            namespace,
        })
        .collect())
}

/// The persisted namespaces of a mount table with their processes: [`list`] then
/// [`usage_of`].
///
/// # Errors
/// As for those two.
///
/// # References
///  - [proc_pid_mountinfo(5)](https://man7.org/linux/man-pages/man5/proc_pid_mountinfo.5.html),
///    [proc_pid_ns(5)](https://man7.org/linux/man-pages/man5/proc_pid_ns.5.html)
pub fn usage(table: MountTable) -> Result<Vec<Usage>> {
    usage_of(list(table)?)
}

/// The orphaned persisted namespaces of a mount table: those no process is in.
///
/// # Errors
/// As for [`usage`].
///
/// # References
///  - [proc_pid_mountinfo(5)](https://man7.org/linux/man-pages/man5/proc_pid_mountinfo.5.html),
///    [proc_pid_ns(5)](https://man7.org/linux/man-pages/man5/proc_pid_ns.5.html)
pub fn orphans(table: MountTable) -> Result<Vec<PersistedNamespace>> {
    Ok(usage(table)?
        .into_iter()
        .filter(Usage::is_orphaned)
        .map(|u| u.namespace)
        .collect())
}

/// Removes every orphaned persisted namespace whose mount point is under the absolute path
/// `under` (compared by whole path components; `/` for all) in the caller's mount
/// namespace: one read of the mount table, one scan of `/proc`, then
/// [`PersistedNamespace::remove`]'s checks and unmount for each orphan, topmost mounts first.
/// Mounts of namespaces in use are left and reported.
///
/// A process may enter an orphan through its mount between the scan and the removal; the
/// namespace then lives on through that process, and only its name is gone.
///
/// # Errors
/// [`Error::InvalidInput`] for a relative `under`; [`Error::Os`] if the table or `/proc`
/// cannot be read. Failures to remove one mount do not stop the others: they are in
/// [`Cleanup::failed`].
///
/// # References
///  - [umount2(2)](https://man7.org/linux/man-pages/man2/umount2.2.html),
///    [proc_pid_mountinfo(5)](https://man7.org/linux/man-pages/man5/proc_pid_mountinfo.5.html),
///    [ip-netns(8)](https://man7.org/linux/man-pages/man8/ip-netns.8.html)
pub fn cleanup(under: impl AsRef<Path>) -> Result<Cleanup> {
    let under = under.as_ref();
    if !under.is_absolute() {
        return Err(Error::invalid(
            "cleanup directory",
            format!("{} is not an absolute path", under.display()),
        ));
    }
    let mounts: Vec<PersistedNamespace> = list(MountTable::Caller)?
        .into_iter()
        .filter(|m| m.path.starts_with(under))
        .collect();
    let mut out = Cleanup::default();
    // Later lines are mounted on top of earlier ones: remove them first.
    for u in usage_of(mounts)?.into_iter().rev() {
        if !u.is_orphaned() {
            out.in_use.push(u);
            continue;
        }
        match u.namespace.remove_mount() {
            Ok(()) => out.removed.push(u.namespace),
            Err(e) => out.failed.push((u.namespace, e)),
        }
    }
    out.removed.reverse();
    out.in_use.reverse();
    out.failed.reverse();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_persist_path_splits_into_its_directory_and_a_file_name() {
        let split = |p: &str| {
            split_mount_path(Path::new(p))
                .map(|(d, n)| (d.to_path_buf(), n.to_owned()))
                .ok()
        };
        let ok = |d: &str, n: &str| Some((PathBuf::from(d), n.into()));
        assert_eq!(split("/run/netns/blue"), ok("/run/netns", "blue"));
        assert_eq!(split("/blue"), ok("/", "blue"));
        assert_eq!(split("/a//b"), ok("/a/", "b"));
        for bad in ["/", "/run/netns/", "/run/.", "/run/..", "//"] {
            assert_eq!(split(bad), None, "{bad}");
        }
    }

    #[test]
    fn only_nsfs_lines_with_namespace_roots_are_taken() {
        let mnt = NamespaceId::new(NamespaceKind::Mount, 4, 1);
        let text = "\
22 1 0:21 / /proc rw,nosuid - proc proc rw
43 22 0:4 net:[4026532177] /run/netns/a\\040b rw shared:2 - nsfs nsfs rw
44 22 0:4 uts:[4026532178] /tmp/u rw - nsfs nsfs rw
45 22 0:50 / /tmp/fake rw - tmpfs nsfs rw
46 22 0:4 / /tmp/whole rw - nsfs nsfs rw
47 22 0:4 bogus:[1] /tmp/bogus rw - nsfs nsfs rw
";
        let got = parse_table(text, 4, mnt);
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(
            got[0].id,
            NamespaceId::new(NamespaceKind::Network, 4, 4026532177)
        );
        assert_eq!(got[0].path, PathBuf::from("/run/netns/a b"));
        assert_eq!(got[0].mount_id, 43);
        assert_eq!(got[0].mount_namespace, mnt);
        assert_eq!(got[1].kind(), NamespaceKind::Uts);
    }
}
