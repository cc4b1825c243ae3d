//! `NamespaceId::parse_link`: text of /proc/<pid>/ns links and nsfs mount roots.
#![no_main]
use libfuzzer_sys::fuzz_target;
use linux_namespaces::NamespaceId;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(id) = NamespaceId::parse_link(text, 7) {
        // Whatever parses prints back to a text that parses to the same id.
        let again = NamespaceId::parse_link(&id.to_string(), 7).expect("display parses");
        assert_eq!(again, id);
    }
});
