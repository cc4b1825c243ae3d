//! Mount tables: [`parse_mountinfo_line`] for one line of `/proc/<pid>/mountinfo` (the
//! persisted namespaces of a table are [`persist::list`](crate::persist::list)).

use std::path::PathBuf;

/// The fields of one `/proc/<pid>/mountinfo` line, unescaped.
///
/// # References
///  - [proc_pid_mountinfo(5)](https://man7.org/linux/man-pages/man5/proc_pid_mountinfo.5.html)
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct MountInfo {
    /// Mount id (field 1).
    pub mount_id: u32,
    /// Parent mount id (field 2).
    pub parent_id: u32,
    /// The device, `major:minor` (field 3).
    pub dev: (u32, u32),
    /// The root of the mount within its filesystem (field 4). For an nsfs mount, the
    /// namespace's link text, such as `net:[4026532177]`.
    pub root: PathBuf,
    /// The mount point (field 5), relative to the reading process's root.
    pub mount_point: PathBuf,
    /// Per-mount options (field 6), e.g. `rw,nosuid`.
    pub options: String,
    /// Optional fields (propagation: `shared:N`, `master:N`, `propagate_from:N`, `unbindable`).
    pub optional: Vec<String>,
    /// Filesystem type, e.g. `nsfs`.
    pub fstype: String,
    /// Mount source (non-UTF-8 bytes replaced).
    pub source: String,
    /// Superblock options.
    pub super_options: String,
}

/// Parses one line of `/proc/<pid>/mountinfo`; `None` if it is malformed.
///
/// Paths keep their bytes exactly (the kernel's octal escapes `\040`, `\011`, `\012`, `\134`
/// are undone), so mount points that are not UTF-8 survive.
pub fn parse_mountinfo_line(line: &str) -> Option<MountInfo> {
    use std::os::unix::ffi::OsStringExt;
    let path = |f: &str| Some(PathBuf::from(std::ffi::OsString::from_vec(unescape(f)?)));
    let text = |f: &str| Some(String::from_utf8_lossy(&unescape(f)?).into_owned());
    let mut fields = line.split(' ');
    let mount_id = fields.next()?.parse().ok()?;
    let parent_id = fields.next()?.parse().ok()?;
    let (major, minor) = fields.next()?.split_once(':')?;
    let dev = (major.parse().ok()?, minor.parse().ok()?);
    let root = path(fields.next()?)?;
    let mount_point = path(fields.next()?)?;
    let options = fields.next()?.to_string();
    let mut optional = Vec::new();
    loop {
        let f = fields.next()?;
        if f == "-" {
            break;
        }
        optional.push(f.to_string());
    }
    let fstype = text(fields.next()?)?;
    let source = text(fields.next()?)?;
    let super_options = fields.next()?.to_string();
    if fields.next().is_some() {
        return None;
    }
    Some(MountInfo {
        mount_id,
        parent_id,
        dev,
        root,
        mount_point,
        options,
        optional,
        fstype,
        source,
        super_options,
    })
}

/// Undoes the kernel's octal escapes (`\040` for space, `\011`, `\012`, `\134`).
fn unescape(field: &str) -> Option<Vec<u8>> {
    let b = field.as_bytes();
    if !b.contains(&b'\\') {
        return Some(b.to_vec());
    }
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' {
            let oct = b.get(i + 1..i + 4)?;
            if !oct.iter().all(|c| (b'0'..=b'7').contains(c)) {
                return None;
            }
            let v = oct.iter().fold(0u32, |n, c| n * 8 + u32::from(c - b'0'));
            out.push(u8::try_from(v).ok()?);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_nsfs_mount_line() {
        let m = parse_mountinfo_line(
            "43 42 0:4 net:[4026532177] /run/netns/t1 rw shared:2 - nsfs nsfs rw",
        )
        .unwrap();
        assert_eq!(m.fstype, "nsfs");
        assert_eq!(m.root, PathBuf::from("net:[4026532177]"));
        assert_eq!(m.dev, (0, 4));
        assert_eq!(m.mount_point, PathBuf::from("/run/netns/t1"));
        assert_eq!(m.optional, vec!["shared:2".to_string()]);
    }

    #[test]
    fn unescapes_spaces_in_mount_points() {
        let m = parse_mountinfo_line("1 2 0:4 / /a\\040b rw - tmpfs tmp\\134x rw").unwrap();
        assert_eq!(m.mount_point, PathBuf::from("/a b"));
        assert_eq!(m.source, "tmp\\x");
        assert!(parse_mountinfo_line("1 2 0:4 / /a\\04 rw - tmpfs t rw").is_none());
        assert!(parse_mountinfo_line("1 2 0:4 / /a rw shared:1").is_none());
    }

    #[test]
    fn keeps_non_utf8_mount_points() {
        use std::os::unix::ffi::OsStrExt;
        let m = parse_mountinfo_line("1 2 0:4 / /a\\377b rw - tmpfs t rw").unwrap();
        assert_eq!(m.mount_point.as_os_str().as_bytes(), b"/a\xffb");
        assert!(parse_mountinfo_line("1 2 04 / /a rw - tmpfs t rw").is_none());
    }

    fn escape(s: &str) -> String {
        s.bytes()
            .map(|b| match b {
                b' ' | b'\t' | b'\n' | b'\\' => format!("\\{b:03o}"),
                _ => (b as char).to_string(),
            })
            .collect()
    }

    proptest! {
        #[test]
        fn mountinfo_line_round_trips(
            id in 1u32..100000, parent in 1u32..100000,
            root in "/[a-z \\\\]{0,12}", mp in "/[a-z0-9 \\t]{0,16}",
            opt in proptest::collection::vec("(shared|master):[0-9]{1,3}", 0..3),
            fstype in "[a-z0-9]{1,8}", source in "[a-z/]{1,10}",
        ) {
            let line = format!("{id} {parent} 0:42 {} {} rw,relatime {}{}- {fstype} {source} rw",
                escape(&root), escape(&mp), opt.join(" "), if opt.is_empty() { "" } else { " " });
            let m = parse_mountinfo_line(&line).unwrap();
            prop_assert_eq!(m.mount_id, id);
            prop_assert_eq!(m.parent_id, parent);
            prop_assert_eq!(m.root, PathBuf::from(root));
            prop_assert_eq!(m.mount_point, PathBuf::from(mp));
            prop_assert_eq!(m.optional, opt);
            prop_assert_eq!(m.fstype, fstype);
        }

        #[test]
        fn mountinfo_parser_never_panics(line in "\\PC{0,80}") {
            let _ = parse_mountinfo_line(&line);
        }
    }
}
