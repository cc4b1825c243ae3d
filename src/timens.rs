//! Clock offsets of time namespaces.

use std::io::Write;

use crate::diagnose::Hint;
use crate::error::{Error, Operation, Result, Target};
use crate::kernel::KernelFeature;
use crate::kind::NamespaceKind;

/// A clock of a time namespace.
///
/// # References
///  - [time_namespaces(7)](https://man7.org/linux/man-pages/man7/time_namespaces.7.html)
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TimeClock {
    /// `CLOCK_MONOTONIC` (and its coarse and raw variants).
    Monotonic,
    /// `CLOCK_BOOTTIME`, which `/proc/uptime` shows.
    Boottime,
}

impl TimeClock {
    fn clock_id(self) -> libc::clockid_t {
        match self {
            TimeClock::Monotonic => libc::CLOCK_MONOTONIC,
            TimeClock::Boottime => libc::CLOCK_BOOTTIME,
        }
    }
}

/// The text of a `timens_offsets` write: one `<clock-id> <secs> <nanos>` line per offset
/// (numeric clock ids, which every kernel with time namespaces reads).
pub(crate) fn offsets_text(
    offsets: impl IntoIterator<Item = (TimeClock, i64, u32)>,
) -> Result<String> {
    let mut text = String::new();
    for (clock, secs, nanos) in offsets {
        if nanos >= 1_000_000_000 {
            return Err(Error::invalid(
                "time offset",
                format!("{nanos} nanoseconds is not below one second"),
            ));
        }
        text.push_str(&format!("{} {secs} {nanos}\n", clock.clock_id()));
    }
    Ok(text)
}

/// Sets clock offsets of the time namespace that the future children of process `pid` will be
/// in (its `time_for_children`, e.g. after
/// [`Namespaces::unshare_calling_thread`](crate::Namespaces::unshare_calling_thread) of a time
/// namespace), by writing `/proc/<pid>/timens_offsets`.
///
/// The kernel accepts offsets only until the first process enters the namespace; afterwards
/// this is an [`Error::Os`] with `EACCES` and [`Hint::TimeNamespaceEntered`], never a silent
/// no-op. Needs `CAP_SYS_TIME` in the user namespace that owns the time namespace.
/// [`Command::time_offset`](crate::Command::time_offset) does the same for a spawned child.
///
/// # Errors
/// [`Error::InvalidInput`] for no offsets, `nanos` of 1e9 or more, or an invalid pid;
/// [`Error::NoSuchProcess`] if the process is gone; [`Error::Unsupported`] without time
/// namespaces; [`Error::Os`] from the write, with [`Hint::TimeNamespaceEntered`] once a
/// process has entered the namespace (`EACCES`).
///
/// # References
///  - [time_namespaces(7)](https://man7.org/linux/man-pages/man7/time_namespaces.7.html),
///    "The /proc/pid/timens_offsets file"
pub fn set_time_offsets(pid: u32, offsets: &[(TimeClock, i64, u32)]) -> Result<()> {
    crate::validate::check_pid(pid)?;
    if offsets.is_empty() {
        return Err(Error::invalid("time offset", "no offsets given"));
    }
    let text = offsets_text(offsets.iter().copied())?;
    let path = format!("/proc/{pid}/timens_offsets");
    let target = || Target::Process {
        pid,
        kind: Some(NamespaceKind::Time),
    };
    let mut file = match std::fs::OpenOptions::new().write(true).open(&path) {
        Ok(f) => f,
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
            return Err(if std::path::Path::new(&format!("/proc/{pid}")).exists() {
                Error::Unsupported {
                    feature: KernelFeature::TimeNamespaces,
                }
            } else {
                Error::NoSuchProcess { pid }
            });
        }
        Err(e) => return Err(Error::os(Operation::TimeOffsets, target(), e)),
    };
    // One write: the kernel parses the whole buffer at once.
    file.write_all(text.as_bytes()).map_err(|e| {
        let entered = e.raw_os_error() == Some(libc::EACCES);
        let mut err = Error::os(Operation::TimeOffsets, target(), e);
        if entered {
            if let Error::Os { hint, .. } = &mut err {
                *hint = Some(Hint::TimeNamespaceEntered);
            }
        }
        err
    })
}
