//! passwd(5) and group(5) entries, shared by the example tools. The files only: a user or
//! group known only through another NSS source (LDAP, systemd-userdb, ...), which
//! `getpwuid(3)` would also ask, is not found.

// Each tool uses a part of this module.
#![allow(dead_code)]

/// One entry of a passwd(5) or group(5) file.
pub struct Entry<'a> {
    /// The name (first field), never empty.
    pub name: &'a [u8],
    /// The uid or gid (third field).
    pub id: u32,
    /// All fields, the name first; at most 7 (a 7th keeps any further colons).
    pub fields: Vec<&'a [u8]>,
}

impl Entry<'_> {
    /// The name as text (invalid UTF-8 replaced).
    pub fn name_lossy(&self) -> String {
        String::from_utf8_lossy(self.name).into_owned()
    }
}

/// The entries of `text` with a name and a numeric id, in file order: the first one for an
/// id or a name is the one `getpwuid(3)` or `getpwnam(3)` returns. Other lines (comments,
/// NIS `+` lines, damaged ones) are passed over.
pub fn entries(text: &[u8]) -> impl Iterator<Item = Entry<'_>> {
    text.split(|&b| b == b'\n').filter_map(|line| {
        let fields: Vec<&[u8]> = line.splitn(7, |&b| b == b':').collect();
        let id = std::str::from_utf8(fields.get(2)?).ok()?.parse().ok()?;
        let name = fields[0];
        (!name.is_empty()).then_some(Entry { name, id, fields })
    })
}

/// The bytes of the file at `path` (`/etc/passwd`, `/etc/group`); empty if it cannot be read.
pub fn read(path: &str) -> Vec<u8> {
    std::fs::read(path).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_need_a_name_and_a_numeric_id() {
        let text = b"root:x:0:0:root:/root:/bin/bash\n\
            +::::::\n\
            bad line\n\
            :x:5:5::/:/bin/sh\n\
            alice:x:1000:1000:Alice:/home/alice:/usr/bin/zsh\n\
            staff:x:50:alice,bob\n\
            odd:x:7:7:a:b:c:d\n";
        let got: Vec<(String, u32, usize)> = entries(text)
            .map(|e| (e.name_lossy(), e.id, e.fields.len()))
            .collect();
        assert_eq!(
            got,
            [
                ("root".into(), 0, 7),
                ("alice".into(), 1000, 7),
                ("staff".into(), 50, 4),
                ("odd".into(), 7, 7),
            ]
        );
        let odd = entries(text).find(|e| e.id == 7).unwrap();
        assert_eq!(odd.fields[6], b"c:d");
    }
}
