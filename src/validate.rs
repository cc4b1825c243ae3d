//! Input checks every entry point shares: pids, paths, C strings. Each rejects bad input with
//! [`Error::InvalidInput`] before any system call is made.

use std::ffi::{CString, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::error::{Error, Result};

/// Rejects pid 0 and pids above `i32::MAX`, which no process can have.
pub(crate) fn check_pid(pid: u32) -> Result<()> {
    if pid == 0 || pid > i32::MAX as u32 {
        return Err(Error::invalid("pid", format!("{pid} is not a process id")));
    }
    Ok(())
}

/// Builds a C string, rejecting interior NUL bytes with a typed error.
pub(crate) fn cstring(what: &'static str, s: &OsStr) -> Result<CString> {
    CString::new(s.as_bytes()).map_err(|_| {
        Error::invalid(
            what,
            format!("{:?} contains a NUL byte", s.to_string_lossy()),
        )
    })
}

/// A path to mount on or unmount: as [`check_path`], and absolute (a mount point relative to
/// whatever the working directory happens to be is a mistake waiting to happen).
pub(crate) fn check_mount_path(path: &Path) -> Result<()> {
    check_path("persist path", path)?;
    if !path.is_absolute() {
        return Err(Error::invalid(
            "persist path",
            format!("{} is not absolute", path.display()),
        ));
    }
    Ok(())
}

pub(crate) fn check_path(what: &'static str, path: &Path) -> Result<()> {
    let bytes = path.as_os_str().as_bytes();
    if bytes.is_empty() {
        return Err(Error::invalid(what, "empty path"));
    }
    if bytes.contains(&0) {
        return Err(Error::invalid(
            what,
            format!("{} contains a NUL byte", path.display()),
        ));
    }
    Ok(())
}
