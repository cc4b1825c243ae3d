//! Mount operations as values. A [`Command`](crate::Command) applies them in order in the
//! child, inside its mount namespace, before it executes the program.

use std::fmt;
use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::validate::cstring;

pub(crate) mod flags;
mod prepared;

pub(crate) use prepared::PreparedMount;
use prepared::{Entry, NewFs, absolute, without_dot_dot};

/// Mount propagation type.
///
/// # References
///  - [mount_namespaces(7)](https://man7.org/linux/man-pages/man7/mount_namespaces.7.html)
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Propagation {
    /// `MS_PRIVATE`: events propagate neither way.
    Private,
    /// `MS_SLAVE`: events propagate in from the master only.
    Slave,
    /// `MS_SHARED`: events propagate both ways within the peer group.
    Shared,
    /// `MS_UNBINDABLE`: private, and cannot be bind-mounted.
    Unbindable,
}

impl Propagation {
    fn flag(self) -> u64 {
        match self {
            Propagation::Private => flags::MS_PRIVATE,
            Propagation::Slave => flags::MS_SLAVE,
            Propagation::Shared => flags::MS_SHARED,
            Propagation::Unbindable => flags::MS_UNBINDABLE,
        }
    }
}

impl std::str::FromStr for Propagation {
    type Err = Error;
    /// `private`, `slave`, `shared` or `unbindable` (the names of `unshare --propagation`).
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "private" => Propagation::Private,
            "slave" => Propagation::Slave,
            "shared" => Propagation::Shared,
            "unbindable" => Propagation::Unbindable,
            _ => {
                return Err(Error::invalid(
                    "propagation",
                    format!("{s:?} is not private, slave, shared or unbindable"),
                ));
            }
        })
    }
}

/// What a [`Mount`] does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    Propagation {
        target: PathBuf,
        propagation: Propagation,
    },
    Proc {
        target: PathBuf,
    },
    Tmpfs {
        target: PathBuf,
        size: Option<u64>,
        mode: Option<u32>,
    },
    Fs {
        fstype: String,
        target: PathBuf,
        options: Vec<(String, Option<String>)>,
    },
    Bind {
        source: PathBuf,
        target: PathBuf,
    },
    Remount {
        target: PathBuf,
    },
    Unmount {
        target: PathBuf,
        lazy: bool,
    },
    PivotRoot {
        new_root: PathBuf,
    },
    Chroot {
        path: PathBuf,
    },
    Mkdir {
        path: PathBuf,
        mode: u32,
    },
    File {
        path: PathBuf,
        mode: u32,
    },
    Symlink {
        target: PathBuf,
        link: PathBuf,
    },
}

/// One step of filesystem setup in the child: a mount, a propagation change, an unmount, a
/// change of root, or creating a directory or symlink to mount on.
///
/// Paths are absolute and are interpreted in the child, after the steps before this one (so a
/// bind into a tmpfs mounted by an earlier step lands in that tmpfs). They are resolved without
/// following symlinks, so a path with a `..` component, never needed then, is refused before
/// any process exists ([`Error::InvalidInput`]): walking up from a directory that is renamed
/// meanwhile could lead out of the tree. Flags set with the builder methods apply where they
/// make sense (`read_only` on a bind or remount, `size` on a tmpfs);
/// [`Command::mount`](crate::Command::mount) rejects a combination that does not.
///
/// ```
/// use linux_namespaces::{Command, Mount, NamespaceSet, Propagation};
///
/// # fn main() -> linux_namespaces::Result<()> {
/// // A private tmpfs with a read-only view of /usr/share in it.
/// let out = Command::new("/bin/sh")
///     .args(["-c", "touch /mnt/share/x 2>/dev/null || echo read-only; ls /mnt"])
///     .unshare(NamespaceSet::USER | NamespaceSet::MOUNT)
///     .map_root()
///     .mount(Mount::propagation("/", Propagation::Private).recursive())
///     .mount(Mount::tmpfs("/mnt").size(1 << 20))
///     .mount(Mount::mkdir("/mnt/share", 0o755))
///     .mount(Mount::bind("/usr/share", "/mnt/share").read_only())
///     .output()?;
/// assert_eq!(out.stdout, b"read-only\nshare\n");
/// # Ok(())
/// # }
/// ```
///
/// # References
///  - [mount(2)](https://man7.org/linux/man-pages/man2/mount.2.html),
///    [mount_setattr(2)](https://man7.org/linux/man-pages/man2/mount_setattr.2.html),
///    [openat2(2)](https://man7.org/linux/man-pages/man2/openat2.2.html),
///    [pivot_root(2)](https://man7.org/linux/man-pages/man2/pivot_root.2.html),
///    [umount2(2)](https://man7.org/linux/man-pages/man2/umount2.2.html)
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mount {
    pub(crate) op: Op,
    pub(crate) recursive: bool,
    pub(crate) read_only: bool,
    pub(crate) nosuid: bool,
    pub(crate) nodev: bool,
    pub(crate) noexec: bool,
    pub(crate) follow_source: bool,
}

impl Mount {
    fn new(op: Op) -> Mount {
        Mount {
            op,
            recursive: false,
            read_only: false,
            nosuid: false,
            nodev: false,
            noexec: false,
            follow_source: false,
        }
    }

    /// Sets the propagation type of the mount at `target`
    /// (`mount(NULL, target, NULL, MS_PRIVATE, NULL)` and friends); add
    /// [`recursive`](Self::recursive) for `MS_REC`. `unshare --propagation private` is
    /// `Mount::propagation("/", Propagation::Private).recursive()`.
    pub fn propagation(target: impl Into<PathBuf>, propagation: Propagation) -> Mount {
        Mount::new(Op::Propagation {
            target: target.into(),
            propagation,
        })
    }

    /// Mounts a proc filesystem at `target` (`nosuid,nodev,noexec`). It shows the pid
    /// namespace the child is in, so pair it with a new pid namespace. Without privilege over
    /// the mount's owner this needs a new user namespace too.
    pub fn proc(target: impl Into<PathBuf>) -> Mount {
        let mut m = Mount::new(Op::Proc {
            target: target.into(),
        });
        (m.nosuid, m.nodev, m.noexec) = (true, true, true);
        m
    }

    /// Mounts a tmpfs at `target`; set [`size`](Self::size) and [`mode`](Self::mode) as needed
    /// (the kernel's defaults otherwise: half of RAM, mode 1777).
    pub fn tmpfs(target: impl Into<PathBuf>) -> Mount {
        Mount::new(Op::Tmpfs {
            target: target.into(),
            size: None,
            mode: None,
        })
    }

    /// Mounts a new filesystem of type `fstype` (`devpts`, `mqueue`, `sysfs`, ...) at
    /// `target`; add its options with [`option`](Self::option). With the new mount API the
    /// options go through `fsconfig(2)` one by one; on older kernels they become the
    /// comma-separated `data` of `mount(2)`.
    ///
    /// `Mount::fs("devpts", "/dev/pts").option("newinstance", None).option("ptmxmode", Some("0666"))`
    pub fn fs(fstype: impl Into<String>, target: impl Into<PathBuf>) -> Mount {
        Mount::new(Op::Fs {
            fstype: fstype.into(),
            target: target.into(),
            options: Vec::new(),
        })
    }

    /// Adds a filesystem option to a [`fs`](Self::fs) mount: `key=value`, or a flag `key`.
    pub fn option(mut self, key: impl Into<String>, value: Option<&str>) -> Mount {
        if let Op::Fs { options, .. } = &mut self.op {
            options.push((key.into(), value.map(str::to_string)));
        }
        self
    }

    /// Bind-mounts `source` on `target` (`MS_BIND`).
    ///
    /// The source is resolved like the target: without following any symlink or `/proc` magic
    /// link in it (`openat2(2)` with `RESOLVE_NO_SYMLINKS|RESOLVE_NO_MAGICLINKS`, then
    /// `open_tree(2)` of that fd), so that a source inside an untrusted tree (a volume, an
    /// image) cannot name something outside it; a link fails the step with `ELOOP`. A source
    /// with a `..` component is rejected before any process exists ([`Error::InvalidInput`]).
    /// For a trusted source that may be a link (a host path such as `/etc/resolv.conf`), add
    /// [`follow_source_symlinks`](Self::follow_source_symlinks).
    ///
    /// [`recursive`](Self::recursive) adds the
    /// submounts (`MS_REC`), [`read_only`](Self::read_only) makes it (and with `recursive`, every
    /// submount) read-only with `mount_setattr(2)`. Before Linux 5.12 a non-recursive one is
    /// remounted read-only right after it is attached, and a recursive one fails with
    /// [`Error::Unsupported`] (`KernelFeature::MountSetattr`).
    pub fn bind(source: impl Into<PathBuf>, target: impl Into<PathBuf>) -> Mount {
        Mount::new(Op::Bind {
            source: source.into(),
            target: target.into(),
        })
    }

    /// Changes the flags of the existing mount at `target` (set with the builder methods;
    /// flags not set are left as they are), with `mount_setattr(2)` or, before Linux 5.12, a
    /// `MS_REMOUNT|MS_BIND` remount that keeps the mount's other flags (a recursive one is then
    /// [`Error::Unsupported`]).
    pub fn remount(target: impl Into<PathBuf>) -> Mount {
        Mount::new(Op::Remount {
            target: target.into(),
        })
    }

    /// Unmounts `target` (`umount2(2)`); `lazy` detaches it now and frees it when unused
    /// (`MNT_DETACH`).
    ///
    /// The target is resolved without following symlinks (`ELOOP`), as for every step. A lazy
    /// unmount then acts on exactly that mount, through its fd (its `/proc/self/fd` link, in
    /// a `/proc` checked to be procfs; where the child sees no procfs, `fchdir(2)` to it, which
    /// works for directories only). A non-lazy unmount cannot hold a reference to the mount
    /// (the kernel would find it busy: `EBUSY`), so it unmounts the last component by name in
    /// its parent directory, opened without following symlinks, with `UMOUNT_NOFOLLOW`; a
    /// target without a last component (`/`) is rejected before any process exists.
    pub fn unmount(target: impl Into<PathBuf>, lazy: bool) -> Mount {
        Mount::new(Op::Unmount {
            target: target.into(),
            lazy,
        })
    }

    /// Makes `new_root` the root: bind-mounts it on itself (so it is a mount point),
    /// `pivot_root(2)`s into it and detaches the old root, leaving no path to the host's
    /// filesystem. The mount it sits on must not be shared: set
    /// [`propagation`](Self::propagation) of `/` to private (or slave) first.
    pub fn pivot_root(new_root: impl Into<PathBuf>) -> Mount {
        Mount::new(Op::PivotRoot {
            new_root: new_root.into(),
        })
    }

    /// `chroot(2)` to `path` and `chdir("/")`: the simple alternative to
    /// [`pivot_root`](Self::pivot_root), which leaves the old root mounted underneath.
    pub fn chroot(path: impl Into<PathBuf>) -> Mount {
        Mount::new(Op::Chroot { path: path.into() })
    }

    /// Creates the directory `path` (`mkdir(2)`; an existing directory is fine), for example
    /// a mount point inside a tmpfs that an earlier step mounted.
    pub fn mkdir(path: impl Into<PathBuf>, mode: u32) -> Mount {
        Mount::new(Op::Mkdir {
            path: path.into(),
            mode,
        })
    }

    /// Creates an empty regular file `path`, for example a target for binding `/dev/null` into
    /// a new root (`open(2)` with `O_CREAT|O_EXCL|O_NONBLOCK|O_NOCTTY|O_NOFOLLOW`).
    ///
    /// What is already there is never opened: it is looked at through an `O_PATH|O_NOFOLLOW`
    /// fd. An existing regular file is fine and left as it is; a symlink fails the step with
    /// `ELOOP`, a directory with `EISDIR`, anything else (a FIFO, whose opening would wait for
    /// a reader, a socket, a device) with `EEXIST`.
    pub fn file(path: impl Into<PathBuf>, mode: u32) -> Mount {
        Mount::new(Op::File {
            path: path.into(),
            mode,
        })
    }

    /// Creates a symbolic link at `link` whose text is `target` (`symlink(2)`), for example
    /// `/bin -> usr/bin` in a new root.
    pub fn symlink(target: impl Into<PathBuf>, link: impl Into<PathBuf>) -> Mount {
        Mount::new(Op::Symlink {
            target: target.into(),
            link: link.into(),
        })
    }

    /// Lets a [`bind`](Self::bind) source follow symlinks (and `/proc` magic links), for a
    /// trusted source such as a host path like `/etc/resolv.conf` that may be a symlink.
    pub fn follow_source_symlinks(mut self) -> Mount {
        self.follow_source = true;
        self
    }

    /// `MS_REC`: apply to submounts too (binds, propagation, remounts).
    pub fn recursive(mut self) -> Mount {
        self.recursive = true;
        self
    }

    /// Read-only (`MS_RDONLY` / `MOUNT_ATTR_RDONLY`): writes get `EROFS`.
    pub fn read_only(mut self) -> Mount {
        self.read_only = true;
        self
    }

    /// `nosuid`.
    pub fn nosuid(mut self) -> Mount {
        self.nosuid = true;
        self
    }

    /// `nodev`.
    pub fn nodev(mut self) -> Mount {
        self.nodev = true;
        self
    }

    /// `noexec`.
    pub fn noexec(mut self) -> Mount {
        self.noexec = true;
        self
    }

    /// tmpfs size limit in bytes (`size=`).
    pub fn size(mut self, bytes: u64) -> Mount {
        if let Op::Tmpfs { size, .. } = &mut self.op {
            *size = Some(bytes);
        }
        self
    }

    /// tmpfs root directory mode (`mode=`), e.g. `0o755`.
    pub fn mode(mut self, mode: u32) -> Mount {
        if let Op::Tmpfs { mode: m, .. } = &mut self.op {
            *m = Some(mode);
        }
        self
    }

    fn attr_flags(&self) -> u64 {
        let mut f = 0;
        if self.read_only {
            f |= flags::MS_RDONLY;
        }
        if self.nosuid {
            f |= flags::MS_NOSUID;
        }
        if self.nodev {
            f |= flags::MS_NODEV;
        }
        if self.noexec {
            f |= flags::MS_NOEXEC;
        }
        f
    }

    /// Checks paths and flags and builds what the child needs, allocated now in the parent.
    pub(crate) fn prepare(&self) -> Result<PreparedMount> {
        let flags = self.attr_flags();
        let only_flags = |what: &str, allowed: u64| -> Result<()> {
            if flags & !allowed != 0
                || (self.recursive && what != "bind" && what != "propagation" && what != "remount")
                || (self.follow_source && what != "bind")
            {
                return Err(Error::invalid(
                    "mount",
                    format!("{self}: flags do not apply to {what}"),
                ));
            }
            Ok(())
        };
        const FS_FLAGS: u64 =
            flags::MS_NOSUID | flags::MS_NODEV | flags::MS_NOEXEC | flags::MS_RDONLY;
        let recursive = self.recursive;
        Ok(match &self.op {
            Op::Propagation {
                target,
                propagation,
            } => {
                only_flags("propagation", 0)?;
                PreparedMount::Propagation {
                    target: absolute(target)?,
                    flags: propagation.flag() | if recursive { flags::MS_REC } else { 0 },
                    recursive,
                }
            }
            Op::Proc { target } => {
                only_flags("proc", FS_FLAGS)?;
                PreparedMount::NewFs(NewFs {
                    fstype: c"proc".into(),
                    target: absolute(target)?,
                    flags,
                    data: None,
                    options: Vec::new(),
                })
            }
            Op::Tmpfs { target, size, mode } => {
                only_flags("tmpfs", FS_FLAGS)?;
                let mut options = Vec::new();
                if let Some(s) = size {
                    options.push(("size".to_string(), Some(s.to_string())));
                }
                if let Some(m) = mode {
                    if *m > 0o7777 {
                        return Err(Error::invalid(
                            "tmpfs mode",
                            format!("{m:o} is not a file mode"),
                        ));
                    }
                    options.push(("mode".to_string(), Some(format!("{m:o}"))));
                }
                PreparedMount::NewFs(NewFs::new("tmpfs", absolute(target)?, flags, &options)?)
            }
            Op::Fs {
                fstype,
                target,
                options,
            } => {
                only_flags("a new filesystem", FS_FLAGS)?;
                PreparedMount::NewFs(NewFs::new(fstype, absolute(target)?, flags, options)?)
            }
            Op::Bind { source, target } => {
                without_dot_dot("bind source", source)?;
                PreparedMount::Bind {
                    source: absolute(source)?,
                    target: absolute(target)?,
                    attrs: flags,
                    recursive,
                    follow_source: self.follow_source,
                }
            }
            Op::Remount { target } => {
                if flags == 0 {
                    return Err(Error::invalid(
                        "mount",
                        format!("{self}: a remount needs a flag to set"),
                    ));
                }
                PreparedMount::Remount {
                    target: absolute(target)?,
                    attrs: flags,
                    recursive,
                }
            }
            Op::Unmount { target, lazy } => {
                only_flags("unmount", 0)?;
                PreparedMount::Unmount {
                    target: absolute(target)?,
                    // Not lazily, it is unmounted by name in its parent directory.
                    entry: if *lazy {
                        None
                    } else {
                        Some(Entry::new(target)?)
                    },
                    flags: if *lazy { libc::MNT_DETACH } else { 0 },
                }
            }
            Op::PivotRoot { new_root } => {
                only_flags("pivot_root", 0)?;
                PreparedMount::PivotRoot {
                    new_root: absolute(new_root)?,
                }
            }
            Op::Chroot { path } => {
                only_flags("chroot", 0)?;
                PreparedMount::Chroot {
                    path: absolute(path)?,
                }
            }
            Op::Mkdir { path, mode } => {
                only_flags("mkdir", 0)?;
                PreparedMount::Mkdir {
                    entry: Entry::new(path)?,
                    mode: *mode,
                }
            }
            Op::File { path, mode } => {
                only_flags("file", 0)?;
                PreparedMount::File {
                    entry: Entry::new(path)?,
                    mode: *mode,
                }
            }
            Op::Symlink { target, link } => {
                only_flags("symlink", 0)?;
                PreparedMount::Symlink {
                    entry: Entry::new(link)?,
                    text: cstring("symlink target", target.as_os_str())?,
                }
            }
        })
    }

    /// Whether this step changes the mount table (and so needs a mount namespace of the
    /// child's own): everything but mkdir, file, symlink and chroot.
    pub(crate) fn changes_mounts(&self) -> bool {
        !matches!(
            self.op,
            Op::Mkdir { .. } | Op::File { .. } | Op::Symlink { .. } | Op::Chroot { .. }
        )
    }

    /// Whether this step can be done only with `mount_setattr(2)`: a recursive bind or remount
    /// that sets flags (a remount, its fallback, changes one mount).
    pub(crate) fn needs_mount_setattr(&self) -> bool {
        self.recursive
            && self.attr_flags() != 0
            && matches!(self.op, Op::Bind { .. } | Op::Remount { .. })
    }
}

impl fmt::Display for Mount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.op {
            Op::Propagation {
                target,
                propagation,
            } => write!(f, "make {} {:?}", target.display(), propagation)?,
            Op::Proc { target } => write!(f, "proc on {}", target.display())?,
            Op::Fs {
                fstype,
                target,
                options,
            } => {
                write!(f, "{fstype} on {}", target.display())?;
                for (k, v) in options {
                    match v {
                        Some(v) => write!(f, " {k}={v}")?,
                        None => write!(f, " {k}")?,
                    }
                }
            }
            Op::Tmpfs { target, size, mode } => {
                write!(f, "tmpfs on {}", target.display())?;
                if let Some(s) = size {
                    write!(f, " size={s}")?;
                }
                if let Some(m) = mode {
                    write!(f, " mode={m:o}")?;
                }
            }
            Op::Bind { source, target } => {
                write!(f, "bind {} on {}", source.display(), target.display())?
            }
            Op::Remount { target } => write!(f, "remount {}", target.display())?,
            Op::Unmount { target, lazy } => write!(
                f,
                "unmount {}{}",
                target.display(),
                if *lazy { " (lazy)" } else { "" }
            )?,
            Op::PivotRoot { new_root } => write!(f, "pivot_root into {}", new_root.display())?,
            Op::Chroot { path } => write!(f, "chroot into {}", path.display())?,
            Op::Mkdir { path, mode } => write!(f, "mkdir {} mode {mode:o}", path.display())?,
            Op::File { path, mode } => write!(f, "create file {} mode {mode:o}", path.display())?,
            Op::Symlink { target, link } => {
                write!(f, "symlink {} -> {}", link.display(), target.display())?
            }
        }
        let mut opts = Vec::new();
        if self.recursive {
            opts.push("recursive");
        }
        if self.read_only {
            opts.push("read-only");
        }
        if self.nosuid {
            opts.push("nosuid");
        }
        if self.nodev {
            opts.push("nodev");
        }
        if self.noexec {
            opts.push("noexec");
        }
        if self.follow_source {
            opts.push("follows source symlinks");
        }
        if !opts.is_empty() {
            write!(f, " ({})", opts.join(", "))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bind_sources_with_dot_dot_are_rejected() {
        for m in [
            Mount::bind("/a/../etc", "/x"),
            Mount::bind("/a/..", "/x").follow_source_symlinks(),
        ] {
            assert!(matches!(
                m.prepare(),
                Err(Error::InvalidInput {
                    what: "bind source",
                    ..
                })
            ));
        }
        assert!(Mount::bind("/a/./b", "/x").prepare().is_ok());
        assert!(
            Mount::tmpfs("/t")
                .follow_source_symlinks()
                .prepare()
                .is_err()
        );
        assert_eq!(
            Mount::bind("/a", "/b").follow_source_symlinks().to_string(),
            "bind /a on /b (follows source symlinks)"
        );
    }

    /// Every mount path is resolved without following symlinks, so `..` is never needed in
    /// one, and it could lead out of the tree the path names (a directory renamed while the
    /// path is walked): refused in each kind of step, before anything happens.
    #[test]
    fn mount_paths_with_dot_dot_are_rejected() {
        let up = "/r/x/../y";
        for m in [
            Mount::propagation(up, Propagation::Private),
            Mount::proc(up),
            Mount::tmpfs(up),
            Mount::fs("tmpfs", up),
            Mount::bind("/usr", up),
            Mount::remount(up).read_only(),
            Mount::unmount(up, false),
            Mount::unmount(up, true),
            Mount::pivot_root(up),
            Mount::chroot(up),
            Mount::mkdir(up, 0o755),
            Mount::file(up, 0o644),
            Mount::symlink("/anything/..", up),
        ] {
            match m.prepare() {
                Err(Error::InvalidInput {
                    what: "mount path", ..
                }) => {}
                other => panic!("{m}: {other:?}"),
            }
        }
        // A symlink's text is not a mount path: `..` in it is the link's business.
        assert!(Mount::symlink("../x", "/r/l").prepare().is_ok());
    }

    #[test]
    fn a_non_lazy_unmount_needs_a_last_component() {
        assert!(Mount::unmount("/", false).prepare().is_err());
        assert!(Mount::unmount("/a/..", false).prepare().is_err());
        assert!(Mount::unmount("/", true).prepare().is_ok());
        assert!(Mount::unmount("/a/b/", false).prepare().is_ok());
    }

    #[test]
    fn relative_paths_are_rejected() {
        assert!(Mount::proc("proc").prepare().is_err());
        assert!(Mount::bind("/usr", "usr").prepare().is_err());
        assert!(Mount::bind("usr", "/x").prepare().is_err());
    }

    #[test]
    fn flags_that_do_not_apply_are_rejected() {
        assert!(
            Mount::propagation("/", Propagation::Private)
                .read_only()
                .prepare()
                .is_err()
        );
        assert!(Mount::remount("/x").prepare().is_err());
        assert!(Mount::remount("/x").read_only().prepare().is_ok());
        assert!(Mount::tmpfs("/t").recursive().prepare().is_err());
    }

    #[test]
    fn tmpfs_options_become_mount_data() {
        let p = new_fs(
            Mount::tmpfs("/t")
                .size(1 << 20)
                .mode(0o755)
                .prepare()
                .unwrap(),
        );
        assert_eq!(p.data.as_deref(), Some(c"size=1048576,mode=755"));
        assert!(Mount::tmpfs("/t").mode(0o17777).prepare().is_err());
    }

    #[test]
    fn display_names_the_operation() {
        let m = Mount::bind("/usr", "/r/usr").recursive().read_only();
        assert_eq!(m.to_string(), "bind /usr on /r/usr (recursive, read-only)");
    }

    use proptest::prelude::*;

    proptest! {
        #[test]
        fn tmpfs_options_round_trip(size in proptest::option::of(any::<u64>()), mode in proptest::option::of(0u32..0o10000)) {
            let mut m = Mount::tmpfs("/t");
            if let Some(s) = size { m = m.size(s); }
            if let Some(md) = mode { m = m.mode(md); }
            let p = new_fs(m.prepare().unwrap());
            let data = p.data.as_ref().map(|d| d.to_str().unwrap().to_string()).unwrap_or_default();
            let parsed: Vec<(&str, &str)> = data.split(',').filter(|x| !x.is_empty()).map(|kv| kv.split_once('=').unwrap()).collect();
            prop_assert_eq!(parsed.iter().find(|(k, _)| *k == "size").map(|(_, v)| v.parse::<u64>().unwrap()), size);
            prop_assert_eq!(parsed.iter().find(|(k, _)| *k == "mode").map(|(_, v)| u32::from_str_radix(v, 8).unwrap()), mode);
            // fsconfig gets the same pairs.
            prop_assert_eq!(p.options.len(), parsed.len());
        }

        #[test]
        fn fs_options_become_data_and_fsconfig_pairs(opts in proptest::collection::vec(("[a-z_]{1,8}", proptest::option::of("[a-z0-9]{1,8}")), 0..5)) {
            let mut m = Mount::fs("devpts", "/d");
            for (k, v) in &opts { m = m.option(k.clone(), v.as_deref()); }
            let p = new_fs(m.prepare().unwrap());
            let want: Vec<String> = opts.iter().map(|(k, v)| match v { Some(v) => format!("{k}={v}"), None => k.clone() }).collect();
            prop_assert_eq!(p.data.map(|d| d.into_string().unwrap()).unwrap_or_default(), want.join(","));
            prop_assert_eq!(p.options.len(), opts.len());
            prop_assert!(m_display_is_one_line(&Mount::fs("devpts", "/d")));
        }

        #[test]
        fn separators_in_option_text_are_rejected(k in "[a-z]{0,3}[,=][a-z]{0,3}") {
            prop_assert!(Mount::fs("devpts", "/d").option(k.clone(), None).prepare().is_err());
            prop_assert!(Mount::fs("devpts", "/d").option("x", Some(&k)).prepare().is_err() || !k.contains(','));
        }
    }

    fn new_fs(p: PreparedMount) -> NewFs {
        match p {
            PreparedMount::NewFs(fs) => fs,
            other => panic!("not a new filesystem: {other:?}"),
        }
    }

    fn m_display_is_one_line(m: &Mount) -> bool {
        !m.to_string().contains('\n')
    }

    #[test]
    fn nul_bytes_are_rejected() {
        assert!(Mount::tmpfs("/a\0b").prepare().is_err());
    }
}
