//! Names users type: namespace kinds, kind sets, mount propagation.
#![no_main]
use libfuzzer_sys::fuzz_target;
use linux_namespaces::{NamespaceKind, NamespaceSet, Propagation};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(k) = text.parse::<NamespaceKind>() {
        assert_eq!(NamespaceKind::from_proc_name(k.proc_name()), Some(k));
    }
    if let Ok(set) = text.parse::<NamespaceSet>() {
        assert_eq!(set.to_string().parse::<NamespaceSet>().expect("display parses"), set);
    }
    let _ = text.parse::<Propagation>();
});
