//! uid and gid maps of user namespaces: values that parse, validate and format the way the
//! kernel reads `/proc/<pid>/uid_map` and `gid_map`.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Operation, Result, Target};
use crate::kind::NamespaceKind;
use crate::spawn::SetGroups;

const MAX_LINES: usize = IdMap::MAX_LINES;
const MAX_TEXT: usize = IdMap::MAX_TEXT;

/// One line of a uid or gid map: `count` ids starting at `inside` in the namespace map to ids
/// starting at `outside` in the parent namespace.
///
/// # References
///  - [user_namespaces(7)](https://man7.org/linux/man-pages/man7/user_namespaces.7.html),
///    "User and group ID mappings: uid_map and gid_map"
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IdRange {
    /// First id inside the namespace.
    pub inside: u32,
    /// First id in the parent namespace.
    pub outside: u32,
    /// How many ids; at least 1.
    pub count: u32,
}

impl IdRange {
    /// A range; checked when it becomes part of an [`IdMap`].
    pub const fn new(inside: u32, outside: u32, count: u32) -> Self {
        IdRange {
            inside,
            outside,
            count,
        }
    }

    fn check(&self) -> Result<()> {
        let bad = |why: &str| Err(Error::invalid("id map", format!("line {self}: {why}")));
        if self.count == 0 {
            return bad("count must be at least 1");
        }
        // The kernel adds first + count in u32 and rejects a sum that wraps.
        if self.inside.checked_add(self.count).is_none() {
            return bad("inside range runs past 4294967295");
        }
        if self.outside.checked_add(self.count).is_none() {
            return bad("outside range runs past 4294967295");
        }
        Ok(())
    }

    fn overlaps(a: (u32, u32), b: (u32, u32)) -> bool {
        let (a0, a1) = (a.0 as u64, a.0 as u64 + a.1 as u64);
        let (b0, b1) = (b.0 as u64, b.0 as u64 + b.1 as u64);
        a0 < b1 && b0 < a1
    }
}

impl fmt::Display for IdRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.inside, self.outside, self.count)
    }
}

/// A validated uid or gid map: 1 to [`MAX_LINES`](IdMap::MAX_LINES) non-overlapping
/// [`IdRange`]s whose text fits in one page, as the kernel requires of a write to
/// `uid_map`/`gid_map`.
///
/// Parse from the kernel's text (`"0 1000 1\n1 100000 65536"`) or build from ranges.
/// [`Display`](fmt::Display) gives the text the kernel reads back.
///
/// # References
///  - [user_namespaces(7)](https://man7.org/linux/man-pages/man7/user_namespaces.7.html)
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct IdMap {
    ranges: Vec<IdRange>,
}

impl IdMap {
    /// The most lines the kernel accepts in one map (Linux 4.15 and later; 5 before).
    pub const MAX_LINES: usize = 340;

    /// The largest map text the kernel takes in its single `write(2)`: one page.
    pub const MAX_TEXT: usize = 4096;

    /// A map from ranges, checked against the kernel's rules: at least one and at most
    /// [`MAX_LINES`](IdMap::MAX_LINES) lines, no zero counts, no range running past `u32::MAX`,
    /// no two ranges overlapping inside or outside, text at most [`MAX_TEXT`](IdMap::MAX_TEXT)
    /// bytes.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for no ranges, more than 340, a range of length 0 or running
    /// past `u32::MAX`, or overlapping ranges.
    pub fn new(ranges: impl IntoIterator<Item = IdRange>) -> Result<Self> {
        let ranges: Vec<IdRange> = ranges.into_iter().collect();
        if ranges.is_empty() {
            return Err(Error::invalid("id map", "a map needs at least one line"));
        }
        if ranges.len() > MAX_LINES {
            return Err(Error::invalid(
                "id map",
                format!(
                    "{} lines; the kernel accepts at most {MAX_LINES}",
                    ranges.len()
                ),
            ));
        }
        for r in &ranges {
            r.check()?;
        }
        for (i, a) in ranges.iter().enumerate() {
            for b in &ranges[i + 1..] {
                if IdRange::overlaps((a.inside, a.count), (b.inside, b.count)) {
                    return Err(Error::invalid(
                        "id map",
                        format!("lines {a} and {b} overlap inside the namespace"),
                    ));
                }
                if IdRange::overlaps((a.outside, a.count), (b.outside, b.count)) {
                    return Err(Error::invalid(
                        "id map",
                        format!("lines {a} and {b} overlap outside the namespace"),
                    ));
                }
            }
        }
        let map = IdMap { ranges };
        // The text's length, counted without formatting it: "inside outside count\n".
        let digits = |n: u32| n.checked_ilog10().unwrap_or(0) as usize + 1;
        let len: usize = map
            .ranges
            .iter()
            .map(|r| digits(r.inside) + digits(r.outside) + digits(r.count) + 3)
            .sum();
        debug_assert_eq!(len, map.to_string().len());
        if len > MAX_TEXT {
            return Err(Error::invalid(
                "id map",
                format!("{len} bytes of text; the kernel reads at most {MAX_TEXT}"),
            ));
        }
        Ok(map)
    }

    /// The one-line map `inside outside 1`: a single id, checked as [`new`](Self::new)
    /// checks every map.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] if either id is `u32::MAX` (the range would run past it, which
    /// the kernel refuses).
    pub fn single(inside: u32, outside: u32) -> Result<Self> {
        IdMap::new([IdRange::new(inside, outside, 1)])
    }

    /// The ranges, in the order given.
    pub fn ranges(&self) -> &[IdRange] {
        &self.ranges
    }

    /// Whether this is a single line mapping exactly one id, `outside`: the only map an
    /// unprivileged process may write for itself.
    pub fn is_single_id(&self, outside: u32) -> bool {
        matches!(self.ranges.as_slice(), [r] if r.count == 1 && r.outside == outside)
    }

    /// The id inside the namespace that `outside` maps to, if any.
    pub fn map_outside(&self, outside: u32) -> Option<u32> {
        self.ranges.iter().find_map(|r| {
            let off = outside.checked_sub(r.outside)?;
            (off < r.count).then(|| r.inside + off)
        })
    }

    /// The id in the parent namespace that `inside` maps to, if any.
    pub fn map_inside(&self, inside: u32) -> Option<u32> {
        self.ranges.iter().find_map(|r| {
            let off = inside.checked_sub(r.inside)?;
            (off < r.count).then(|| r.outside + off)
        })
    }
}

/// Which map of a process: `uid_map` or `gid_map`.
#[derive(Clone, Copy)]
enum Which {
    Uid,
    Gid,
}

impl Which {
    fn helper(self) -> &'static str {
        match self {
            Which::Uid => "newuidmap",
            Which::Gid => "newgidmap",
        }
    }
    fn op(self) -> Operation {
        match self {
            Which::Uid => Operation::UidMap,
            Which::Gid => Operation::GidMap,
        }
    }
}

fn user_target(pid: u32) -> Target {
    Target::Process {
        pid,
        kind: Some(NamespaceKind::User),
    }
}

/// Writes `text` to `/proc/<pid>/<file>` in one `write(2)` (the kernel parses a map or the
/// `setgroups` word from a single write).
fn write_proc(pid: Option<u32>, file: &str, text: &[u8], op: Operation) -> Result<()> {
    let (path, pid) = match pid {
        Some(pid) => {
            crate::validate::check_pid(pid)?;
            (format!("/proc/{pid}/{file}"), pid)
        }
        None => (format!("/proc/self/{file}"), std::process::id()),
    };
    let fd = match rustix::fs::open(
        path.as_str(),
        rustix::fs::OFlags::WRONLY | rustix::fs::OFlags::CLOEXEC | rustix::fs::OFlags::NOCTTY,
        rustix::fs::Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::NOENT)
            if !std::path::Path::new(&path)
                .parent()
                .is_some_and(std::path::Path::exists) =>
        {
            return Err(Error::NoSuchProcess { pid });
        }
        Err(e) => return Err(Error::os(op, user_target(pid), e.into())),
    };
    match rustix::io::write(&fd, text) {
        Ok(n) if n == text.len() => Ok(()),
        Ok(_) => Err(Error::os(
            op,
            user_target(pid),
            std::io::Error::from_raw_os_error(libc::EIO),
        )),
        Err(e) => Err(Error::os(op, user_target(pid), e.into())),
    }
}

impl IdMap {
    /// Writes this map to `/proc/<pid>/uid_map`: the uid map of the user namespace that
    /// process `pid` is in, which must have none yet (a map is written once). `None` is the
    /// calling process (`/proc/self`, right even where the caller's pid in the mounted `/proc`
    /// is not [`std::process::id()`], as in a forked child of a new pid namespace), e.g. after
    /// [`Namespaces::unshare_calling_thread`](crate::Namespaces::unshare_calling_thread) of a
    /// user namespace.
    ///
    /// The kernel's rules (user_namespaces(7)): the writer needs `CAP_SETUID` in the user
    /// namespace of `pid`, and must be in that namespace or its parent; a writer without
    /// `CAP_SETUID` in the parent namespace may map only its own effective uid, in a
    /// single-line map, and only as a process of the namespace or its creator. Ranges that
    /// `/etc/subuid` grants need [`newuidmap`](Self::newuidmap) instead.
    /// [`Command::uid_map`](crate::Command::uid_map) does this for a spawned child.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for an invalid pid; [`Error::NoSuchProcess`] if process `pid`
    /// is gone; [`Error::Os`] ([`Operation::UidMap`]) from `open(2)` or `write(2)`: `EPERM`
    /// for a map the writer may not write (or a second write), `EINVAL` for a map the kernel
    /// refuses.
    ///
    /// # References
    ///  - [user_namespaces(7)](https://man7.org/linux/man-pages/man7/user_namespaces.7.html),
    ///    "User and group ID mappings: uid_map and gid_map"
    #[doc(alias = "uid_map")]
    pub fn write_uid_map(&self, pid: Option<u32>) -> Result<()> {
        write_proc(
            pid,
            "uid_map",
            self.to_string().as_bytes(),
            Operation::UidMap,
        )
    }

    /// Writes this map to `/proc/<pid>/gid_map`, as [`write_uid_map`](Self::write_uid_map)
    /// for groups (`CAP_SETGID`). An unprivileged writer must first deny `setgroups(2)` in
    /// the namespace ([`SetGroups::write`] with [`SetGroups::Deny`]), else the kernel answers
    /// `EPERM`.
    ///
    /// # Errors
    /// As for [`write_uid_map`](Self::write_uid_map), with [`Operation::GidMap`].
    ///
    /// # References
    ///  - [user_namespaces(7)](https://man7.org/linux/man-pages/man7/user_namespaces.7.html),
    ///    "User and group ID mappings: uid_map and gid_map", "The /proc/pid/setgroups file"
    #[doc(alias = "gid_map")]
    pub fn write_gid_map(&self, pid: Option<u32>) -> Result<()> {
        write_proc(
            pid,
            "gid_map",
            self.to_string().as_bytes(),
            Operation::GidMap,
        )
    }

    /// Sets this map as the uid map of process `pid` through the set-user-ID helper
    /// `newuidmap(1)` (shadow's `uidmap` package), found in `PATH`: it lets an unprivileged
    /// user map the ranges `/etc/subuid` grants it (and its own uid). The helper runs as a
    /// child of the caller (`newuidmap <pid> <inside> <outside> <count>...`), with stdin
    /// from `/dev/null`; this returns when it has exited.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for an invalid pid; [`Error::Os`] ([`Operation::UidMap`]) if
    /// the helper cannot be run (`ENOENT`: not installed) or exits unsuccessfully (then the
    /// error carries its status and its message, kind `PermissionDenied`).
    ///
    /// # References
    ///  - [newuidmap(1)](https://man7.org/linux/man-pages/man1/newuidmap.1.html),
    ///    [subuid(5)](https://man7.org/linux/man-pages/man5/subuid.5.html)
    pub fn newuidmap(&self, pid: u32) -> Result<()> {
        self.run_helper(pid, Which::Uid)
    }

    /// [`newuidmap`](Self::newuidmap) for the gid map, with `newgidmap(1)` and `/etc/subgid`.
    ///
    /// # Errors
    /// As for [`newuidmap`](Self::newuidmap), with [`Operation::GidMap`].
    ///
    /// # References
    ///  - [newgidmap(1)](https://man7.org/linux/man-pages/man1/newgidmap.1.html),
    ///    [subgid(5)](https://man7.org/linux/man-pages/man5/subgid.5.html)
    pub fn newgidmap(&self, pid: u32) -> Result<()> {
        self.run_helper(pid, Which::Gid)
    }

    fn run_helper(&self, pid: u32, which: Which) -> Result<()> {
        crate::validate::check_pid(pid)?;
        let helper = which.helper();
        let mut c = std::process::Command::new(helper);
        c.arg(pid.to_string());
        for r in &self.ranges {
            c.args([
                r.inside.to_string(),
                r.outside.to_string(),
                r.count.to_string(),
            ]);
        }
        let out = c
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .output()
            .map_err(|e| {
                Error::os(
                    which.op(),
                    user_target(pid),
                    std::io::Error::new(e.kind(), format!("running {helper}: {e}")),
                )
            })?;
        if out.status.success() {
            return Ok(());
        }
        let msg = String::from_utf8_lossy(&out.stderr).trim().to_string();
        Err(Error::os(
            which.op(),
            user_target(pid),
            std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                format!("{helper} failed ({}): {msg}", out.status),
            ),
        ))
    }
}

impl SetGroups {
    /// Writes `allow` or `deny` to `/proc/<pid>/setgroups`, which decides whether processes
    /// in the user namespace of `pid` may call `setgroups(2)`. `deny` is required before an
    /// unprivileged [`IdMap::write_gid_map`], is permanent for the namespace and its
    /// descendants, and must be written before the gid map exists. `None` is the calling
    /// process (`/proc/self`), as for [`IdMap::write_uid_map`].
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for an invalid pid; [`Error::NoSuchProcess`] if the process
    /// is gone; [`Error::Os`] ([`Operation::Setgroups`]) from `open(2)` (`ENOENT` on
    /// kernels before 3.19) or `write(2)` (`EPERM` once the gid map is written, or for
    /// `allow` in a namespace whose parent denies it).
    ///
    /// # References
    ///  - [user_namespaces(7)](https://man7.org/linux/man-pages/man7/user_namespaces.7.html),
    ///    "The /proc/pid/setgroups file"
    pub fn write(self, pid: Option<u32>) -> Result<()> {
        let word: &[u8] = match self {
            SetGroups::Allow => b"allow",
            SetGroups::Deny => b"deny",
        };
        write_proc(pid, "setgroups", word, Operation::Setgroups)
    }
}

impl fmt::Display for IdMap {
    /// The kernel's text: one `inside outside count` line per range, each ending in `\n`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for r in &self.ranges {
            writeln!(f, "{r}")?;
        }
        Ok(())
    }
}

impl FromStr for IdMap {
    type Err = Error;

    /// Parses the kernel's text: lines of three unsigned decimal numbers separated by spaces
    /// or tabs (as `/proc/<pid>/uid_map` shows them, with any leading padding).
    fn from_str(s: &str) -> Result<Self> {
        let mut ranges = Vec::new();
        for (n, line) in s.lines().enumerate() {
            let fields: Vec<&str> = line.split_ascii_whitespace().collect();
            let bad = || {
                Error::invalid(
                    "id map",
                    format!("line {}: {line:?} is not 'inside outside count'", n + 1),
                )
            };
            let [a, b, c] = fields.as_slice() else {
                return Err(bad());
            };
            let num = |f: &str| {
                if f.bytes().all(|b| b.is_ascii_digit()) {
                    f.parse::<u32>().map_err(|_| bad())
                } else {
                    Err(bad())
                }
            };
            ranges.push(IdRange::new(num(a)?, num(b)?, num(c)?));
        }
        IdMap::new(ranges)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn examples() {
        let m: IdMap = "0 1000 1\n1 100000 65536\n".parse().unwrap();
        assert_eq!(m.ranges().len(), 2);
        assert_eq!(m.to_string(), "0 1000 1\n1 100000 65536\n");
        assert_eq!(m.map_inside(5), Some(100004));
        assert_eq!(m.map_outside(1000), Some(0));
        assert!(IdMap::single(0, 1000).unwrap().is_single_id(1000));
        assert!(IdMap::single(u32::MAX, 0).is_err());
        assert!(IdMap::single(0, u32::MAX).is_err());
        // As /proc shows it, padded.
        assert!("         0          0 4294967295".parse::<IdMap>().is_ok());
    }

    #[test]
    fn kernel_rules_are_enforced() {
        for bad in [
            "",
            "0 0 0",
            "0 0",
            "0 0 1 1",
            "-1 0 1",
            "+1 0 1",
            "0 0 4294967296",
            "1 0 4294967295",
            "0 1 4294967295",
            "0 0 10\n5 100 10",
            "0 0 10\n100 5 10",
            "x 0 1",
        ] {
            assert!(bad.parse::<IdMap>().is_err(), "{bad:?} accepted");
        }
        let too_many = (0..341u32).map(|i| IdRange::new(i, i + 1000, 1));
        assert!(IdMap::new(too_many).is_err());
    }

    #[test]
    fn text_longer_than_a_page_is_rejected() {
        // 340 lines of large numbers exceed 4096 bytes.
        let big = (0..340u32).map(|i| IdRange::new(4_000_000_000 + i, 4_100_000_000 + i, 1));
        let e = IdMap::new(big).unwrap_err();
        assert!(e.to_string().contains("bytes of text"), "{e}");
    }

    fn range() -> impl Strategy<Value = IdRange> {
        (any::<u32>(), any::<u32>(), 1u32..100_000).prop_map(|(a, b, c)| IdRange::new(a, b, c))
    }

    proptest! {
        #[test]
        fn valid_maps_round_trip_through_text(ranges in proptest::collection::vec(range(), 1..8)) {
            if let Ok(map) = IdMap::new(ranges.clone()) {
                let text = map.to_string();
                prop_assert_eq!(text.parse::<IdMap>().unwrap(), map);
            }
        }

        #[test]
        fn validation_agrees_with_the_kernel_rules(ranges in proptest::collection::vec(range(), 0..6)) {
            let ok = IdMap::new(ranges.clone()).is_ok();
            let in_bounds = ranges.iter().all(|r| r.count > 0
                && (r.inside as u64 + r.count as u64) <= u32::MAX as u64
                && (r.outside as u64 + r.count as u64) <= u32::MAX as u64);
            let disjoint = ranges.iter().enumerate().all(|(i, a)| ranges[i + 1..].iter().all(|b| {
                let sep = |x: u32, xc: u32, y: u32, yc: u32| x as u64 + xc as u64 <= y as u64 || y as u64 + yc as u64 <= x as u64;
                sep(a.inside, a.count, b.inside, b.count) && sep(a.outside, a.count, b.outside, b.count)
            }));
            prop_assert_eq!(ok, !ranges.is_empty() && in_bounds && disjoint);
        }

        #[test]
        fn mapping_is_inverse(ranges in proptest::collection::vec(range(), 1..5), probe in any::<u32>()) {
            if let Ok(map) = IdMap::new(ranges) {
                if let Some(out) = map.map_inside(probe) {
                    prop_assert_eq!(map.map_outside(out), Some(probe));
                }
            }
        }

        #[test]
        fn parser_never_panics(s in "\\PC{0,64}") {
            let _ = s.parse::<IdMap>();
        }
    }
}
