//! `inspect::ProcessStatus::parse`: /proc/<pid>/status text.
#![no_main]
use libfuzzer_sys::fuzz_target;
use linux_namespaces::inspect::ProcessStatus;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(st) = ProcessStatus::parse(text) {
        // Whatever parsed has the two lines the parser insists on.
        assert!(text.contains("Name:") && text.contains("Pid:"));
        let _ = st.innermost_pid();
    }
});
