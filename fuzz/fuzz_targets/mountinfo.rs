//! `inspect::parse_mountinfo_line`: lines of /proc/<pid>/mountinfo.
#![no_main]
use libfuzzer_sys::fuzz_target;
use linux_namespaces::inspect::parse_mountinfo_line;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for line in text.lines() {
        if let Some(m) = parse_mountinfo_line(line) {
            // Fields never contain the separators the kernel escapes.
            assert!(!m.fstype.contains(' ') || line.contains("\\040"));
        }
    }
});
