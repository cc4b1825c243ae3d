//! Mount steps in the form the child applies them: strings and flags ready, no allocation
//! left to do after clone.

use std::ffi::{CString, OsStr};
use std::path::{Component, Path};

use crate::error::{Error, Result};
use crate::validate::cstring;

/// A mount step with its strings and flags ready for the child: one variant per thing the
/// child does, holding only what that needs.
#[derive(Debug)]
pub(crate) enum PreparedMount {
    /// Mount a new filesystem.
    NewFs(NewFs),
    /// Change the propagation type (`MS_SHARED`... with `MS_REC` when `recursive`).
    Propagation {
        target: CString,
        flags: u64,
        recursive: bool,
    },
    /// Bind `source` on `target`, then set `attrs` (`MS_RDONLY|MS_NOSUID|MS_NODEV|MS_NOEXEC`).
    /// The source is resolved without following links unless `follow_source`.
    Bind {
        source: CString,
        target: CString,
        attrs: u64,
        recursive: bool,
        follow_source: bool,
    },
    /// Set `attrs` on the mount at `target`.
    Remount {
        target: CString,
        attrs: u64,
        recursive: bool,
    },
    /// `umount2` with these flags: lazily on the target's fd, else (`entry`) by its name in
    /// its parent directory.
    Unmount {
        target: CString,
        entry: Option<Entry>,
        flags: i32,
    },
    PivotRoot {
        new_root: CString,
    },
    Chroot {
        path: CString,
    },
    Mkdir {
        entry: Entry,
        mode: u32,
    },
    File {
        entry: Entry,
        mode: u32,
    },
    /// A symlink at `entry` whose text is `text`.
    Symlink {
        entry: Entry,
        text: CString,
    },
}

/// A new filesystem: its type, where, its `MS_*` flags, and its options both as `fsconfig(2)`
/// pairs and as the comma-separated `data` of `mount(2)`.
#[derive(Debug)]
pub(crate) struct NewFs {
    pub(crate) fstype: CString,
    pub(crate) target: CString,
    pub(crate) flags: u64,
    pub(crate) data: Option<CString>,
    pub(crate) options: Vec<(CString, Option<CString>)>,
}

impl NewFs {
    pub(super) fn new(
        fstype: &str,
        target: CString,
        flags: u64,
        options: &[(String, Option<String>)],
    ) -> Result<NewFs> {
        let text = |what: &'static str, v: &str| -> Result<CString> {
            if v.is_empty() || v.contains(',') {
                return Err(Error::invalid(
                    what,
                    format!("{v:?} is empty or contains ','"),
                ));
            }
            cstring(what, OsStr::new(v))
        };
        let fstype = text("filesystem type", fstype)?;
        let mut pairs = Vec::with_capacity(options.len());
        let mut data = Vec::new();
        for (k, v) in options {
            if k.contains('=') {
                return Err(Error::invalid(
                    "mount option",
                    format!("key {k:?} contains '='"),
                ));
            }
            pairs.push((
                text("mount option", k)?,
                v.as_deref().map(|v| text("mount option", v)).transpose()?,
            ));
            data.push(match v {
                Some(v) => format!("{k}={v}"),
                None => k.clone(),
            });
        }
        let data =
            (!data.is_empty()).then(|| CString::new(data.join(",")).expect("checked for NUL"));
        Ok(NewFs {
            fstype,
            target,
            flags,
            data,
            options: pairs,
        })
    }
}

/// A directory entry to create: the whole path (for the path-based fallback), and its parent
/// directory and last component for the `*at` calls that create it relative to a directory
/// opened without following symlinks.
#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) path: CString,
    pub(crate) parent: CString,
    pub(crate) name: CString,
}

impl Entry {
    pub(super) fn new(path: &Path) -> Result<Entry> {
        let full = absolute(path)?;
        let parent = path.parent().unwrap_or(Path::new("/"));
        let name = path.file_name().ok_or_else(|| {
            Error::invalid(
                "mount path",
                format!("{} has no last component", path.display()),
            )
        })?;
        Ok(Entry {
            path: full,
            parent: cstring("mount path", parent.as_os_str())?,
            name: cstring("mount path", name)?,
        })
    }
}

/// An absolute path without `..` as a C string. Mount paths are resolved without following
/// symlinks, so `..` is never needed; and walking up from a directory that is renamed
/// meanwhile could lead out of the tree the path names.
pub(super) fn absolute(p: &Path) -> Result<CString> {
    if !p.is_absolute() {
        return Err(Error::invalid(
            "mount path",
            format!("{} is not absolute", p.display()),
        ));
    }
    without_dot_dot("mount path", p)?;
    cstring("mount path", p.as_os_str())
}

/// [`Error::InvalidInput`] about `what` if `p` has a `..` component.
pub(super) fn without_dot_dot(what: &'static str, p: &Path) -> Result<()> {
    if p.components().any(|c| c == Component::ParentDir) {
        return Err(Error::invalid(
            what,
            format!(
                "{} has a `..` component, which could lead out of the tree it names",
                p.display()
            ),
        ));
    }
    Ok(())
}
