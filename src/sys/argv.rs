//! argv and envp for `execve(2)`, built in the parent: owned C strings and the
//! NULL-terminated pointer arrays the kernel reads, and the environment as std passes it
//! (the caller's `environ`, or the caller's variables with changes applied at each spawn).
#![allow(unsafe_code)]

use core::ffi::{CStr, c_char};
use std::ffi::CString;

unsafe extern "C" {
    /// The process environment, `environ(7)`: a NULL-terminated array of `NAME=value`
    /// strings that `setenv(3)` and `std::env::set_var` replace.
    static mut environ: *const *const c_char;
}

/// The environment a child passes to `execve(2)`.
#[derive(Debug)]
pub(crate) enum Envp {
    /// The caller's `environ` as it is when the child executes, as std passes it for a
    /// command without environment changes: nothing copied.
    Inherit,
    /// The caller's environment at each spawn with changes applied: see [`Merged`].
    Merged(Merged),
}

impl Default for Envp {
    fn default() -> Envp {
        Envp::Merged(Merged::default())
    }
}

impl Envp {
    pub(super) fn as_ptr(&self) -> *const *const c_char {
        match self {
            // SAFETY: reads the pointer value of a libc global (a copy; no reference is
            // made). std::env::set_var requires that no other thread reads the environment
            // while it runs other than through std::env, so the array is not being replaced
            // meanwhile, as for getenv(3).
            Envp::Inherit => unsafe { environ },
            Envp::Merged(m) => m.ptrs.as_ptr(),
        }
    }
}

/// An environment with changes: the caller's variables (unless cleared) except those the
/// changes name, then the variables set, as pointers rebuilt by [`refresh`](Self::refresh)
/// at each spawn into a buffer that keeps its capacity, so a reused command sees the
/// environment of each spawn and allocates nothing once the buffer is large enough.
#[derive(Debug, Default)]
pub(crate) struct Merged {
    /// Whether the caller's environment is the base (false after `env_clear`).
    pub(crate) inherit: bool,
    /// Names set or removed, sorted: the caller's variables of these names are left out.
    pub(crate) names: Vec<Box<[u8]>>,
    /// `NAME=value` of the variables set, in name order.
    pub(crate) set: Vec<CString>,
    ptrs: Vec<*const c_char>,
}

// SAFETY: `ptrs` points into `set` (owned, immutable) and into the process environment, which
// is process-wide; sending or sharing the value shares only those immutable bytes.
unsafe impl Send for Merged {}
// SAFETY: as above: nothing is mutated through a shared reference.
unsafe impl Sync for Merged {}

impl Merged {
    /// Rebuilds the pointer array from the caller's environment as it is now. Call in the
    /// parent, before the child is created.
    pub(crate) fn refresh(&mut self) {
        self.ptrs.clear();
        if self.inherit {
            // SAFETY: `environ` is NULL or a NULL-terminated array of pointers to
            // NUL-terminated strings; std::env::set_var's contract rules out a concurrent
            // replacement (see `Envp::as_ptr`), and so the strings are not freed while this
            // spawn runs. Only pointers are copied.
            unsafe {
                let mut e = environ;
                while !e.is_null() && !(*e).is_null() {
                    let entry = CStr::from_ptr(*e).to_bytes();
                    let name = entry.split(|b| *b == b'=').next().unwrap_or(entry);
                    if self.names.binary_search_by(|n| (**n).cmp(name)).is_err() {
                        self.ptrs.push(*e);
                    }
                    e = e.add(1);
                }
            }
        }
        self.ptrs.extend(self.set.iter().map(|c| c.as_ptr()));
        self.ptrs.push(core::ptr::null());
    }

    /// The entries as the last [`refresh`](Self::refresh) left them.
    #[cfg(test)]
    pub(crate) fn entries(&self) -> Vec<&CStr> {
        let n = self.ptrs.len().saturating_sub(1);
        // SAFETY: every pointer but the last (NULL) points to a NUL-terminated string that
        // lives as long as `self` (in `set`) or the process environment.
        self.ptrs[..n]
            .iter()
            .map(|p| unsafe { CStr::from_ptr(*p) })
            .collect()
    }
}

/// argv or envp for `execve(2)`: owned C strings and the NULL-terminated array of pointers to
/// them, built once in the parent, as `std::process` builds its own.
#[derive(Default)]
pub(crate) struct CStringArray {
    items: Vec<CString>,
    ptrs: Vec<*const c_char>,
}

// SAFETY: the pointers point into the heap buffers of `items`, which this value owns, never
// mutates and frees only with the pointers; sending or sharing the array sends or shares
// those immutable bytes, as for `Vec<CString>`.
unsafe impl Send for CStringArray {}
// SAFETY: as above: nothing is mutated through a shared reference.
unsafe impl Sync for CStringArray {}

impl core::fmt::Debug for CStringArray {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_list().entries(&self.items).finish()
    }
}

impl CStringArray {
    pub(crate) fn new(items: Vec<CString>) -> CStringArray {
        // The pointers stay valid when `items` moves: they point into each CString's own
        // heap buffer, not into the Vec.
        let ptrs = items
            .iter()
            .map(|c| c.as_ptr())
            .chain([core::ptr::null()])
            .collect();
        CStringArray { items, ptrs }
    }

    #[cfg(test)]
    fn items(&self) -> &[CString] {
        &self.items
    }

    pub(super) fn as_ptr(&self) -> *const *const c_char {
        self.ptrs.as_ptr()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_environment_is_the_callers_less_the_changed_names_then_the_set_ones() {
        let mut m = Merged {
            inherit: false,
            names: vec![b"A".as_slice().into(), b"PATH".as_slice().into()],
            set: vec![c"A=1".into()],
            ..Merged::default()
        };
        m.refresh();
        assert_eq!(m.entries(), [c"A=1"]);
        m.inherit = true;
        m.refresh();
        let entries = m.entries();
        // cargo runs tests with PATH set and without a variable named A.
        assert!(std::env::var_os("PATH").is_some());
        assert!(!entries.iter().any(|e| e.to_bytes().starts_with(b"PATH=")));
        assert_eq!(entries.last(), Some(&c"A=1"));
        let callers = std::env::vars_os()
            .filter(|(k, _)| k != "PATH" && k != "A")
            .count();
        assert_eq!(entries.len(), callers + 1);
        // Refreshing again reuses the buffer.
        let cap = m.ptrs.capacity();
        m.refresh();
        assert_eq!(m.ptrs.capacity(), cap);
    }

    #[test]
    fn string_arrays_are_null_terminated_pointers_to_their_items() {
        let a = CStringArray::new(vec![c"a".into(), c"bc".into()]);
        assert_eq!(a.items().len(), 2);
        assert_eq!(a.ptrs.len(), 3);
        assert!(a.ptrs[2].is_null());
        assert_eq!(a.ptrs[1], a.items()[1].as_ptr());
    }
}
