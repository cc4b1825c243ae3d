//! `IdMap`'s parser and validator: uid_map/gid_map text from users or /proc.
#![no_main]
use libfuzzer_sys::fuzz_target;
use linux_namespaces::IdMap;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(map) = text.parse::<IdMap>() {
        // A valid map formats to kernel text that parses back to the same map and fits a page.
        let out = map.to_string();
        assert!(out.len() <= 4096);
        assert_eq!(out.parse::<IdMap>().expect("own output parses"), map);
        for r in map.ranges() {
            assert!(r.count > 0);
            assert!(r.inside.checked_add(r.count).is_some());
            assert!(r.outside.checked_add(r.count).is_some());
        }
    }
});
