//! [`ProcessStatus`]: the namespace-relevant fields of `/proc/<pid>/status`.

use crate::error::{Error, Operation, Result, Target};

/// What `/proc/<pid>/status` says about a process that matters for namespaces and
/// sandboxing: its ids in each nested pid namespace, credentials, capability sets, seccomp
/// mode and signal masks.
///
/// # References
///  - [proc_pid_status(5)](https://man7.org/linux/man-pages/man5/proc_pid_status.5.html)
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProcessStatus {
    /// `Name`: the command name (up to 15 bytes).
    pub name: String,
    /// `State`: the state letter (`R`, `S`, `Z`, ...).
    pub state: char,
    /// `Pid`.
    pub pid: u32,
    /// `PPid`: 0 when the parent is outside the reader's pid namespace.
    pub ppid: u32,
    /// `NSpid`: the pid in each pid namespace the process is in, outermost (the reader's) first.
    pub ns_pids: Vec<u32>,
    /// `Uid`: real, effective, saved, filesystem.
    pub uids: [u32; 4],
    /// `Gid`: real, effective, saved, filesystem.
    pub gids: [u32; 4],
    /// `Groups`: supplementary groups.
    pub groups: Vec<u32>,
    /// `Threads`.
    pub threads: u32,
    /// `SigBlk`, `SigIgn`, `SigCgt`: signal n is bit n - 1.
    pub signals_blocked: u64,
    /// Ignored signals.
    pub signals_ignored: u64,
    /// Caught signals.
    pub signals_caught: u64,
    /// `CapInh`, `CapPrm`, `CapEff`, `CapBnd`, `CapAmb`: capability n is bit n.
    pub cap_inheritable: u64,
    /// Permitted capabilities.
    pub cap_permitted: u64,
    /// Effective capabilities.
    pub cap_effective: u64,
    /// Bounding set.
    pub cap_bounding: u64,
    /// Ambient capabilities.
    pub cap_ambient: u64,
    /// `NoNewPrivs`.
    pub no_new_privs: bool,
    /// `Seccomp`: 0 off, 1 strict, 2 filter.
    pub seccomp: u8,
}

impl ProcessStatus {
    /// Reads and parses `/proc/<pid>/status`.
    ///
    /// # Errors
    /// [`Error::NoSuchProcess`] if there is no such process.
    pub fn of(pid: u32) -> Result<Self> {
        crate::validate::check_pid(pid)?;
        let path = format!("/proc/{pid}/status");
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ESRCH)) => {
                return Err(Error::NoSuchProcess { pid });
            }
            Err(e) => return Err(Error::os(Operation::ReadProc, Target::Path(path.into()), e)),
        };
        Self::parse(&text)
    }

    /// Parses the text of a status file. Lines it does not know are skipped, so newer kernels'
    /// additions do not break it; a known line with a malformed value is an error, and so is
    /// text without `Name` and `Pid`.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] if a line this parser knows is malformed.
    pub fn parse(text: &str) -> Result<Self> {
        let mut st = ProcessStatus::default();
        let (mut have_name, mut have_pid) = (false, false);
        for line in text.lines() {
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            let bad = || Error::invalid("status line", format!("{line:?}"));
            let num = |v: &str| v.parse::<u32>().map_err(|_| bad());
            let hex = |v: &str| {
                if v.is_empty() || v.len() > 16 {
                    return Err(bad());
                }
                u64::from_str_radix(v, 16).map_err(|_| bad())
            };
            let list = |v: &str| v.split_whitespace().map(num).collect::<Result<Vec<u32>>>();
            let four = |v: &str| -> Result<[u32; 4]> {
                let l = list(v)?;
                <[u32; 4]>::try_from(l.as_slice()).map_err(|_| bad())
            };
            match key {
                "Name" => {
                    // Escaped by the kernel; the raw field (after "Name:\t") is kept as is.
                    st.name = line["Name:".len()..].trim_start_matches('\t').to_string();
                    have_name = true;
                }
                "State" => st.state = value.chars().next().ok_or_else(bad)?,
                "Pid" => {
                    st.pid = num(value)?;
                    have_pid = true;
                }
                "PPid" => st.ppid = num(value)?,
                "NSpid" => st.ns_pids = list(value)?,
                "Uid" => st.uids = four(value)?,
                "Gid" => st.gids = four(value)?,
                "Groups" => st.groups = list(value)?,
                "Threads" => st.threads = num(value)?,
                "SigBlk" => st.signals_blocked = hex(value)?,
                "SigIgn" => st.signals_ignored = hex(value)?,
                "SigCgt" => st.signals_caught = hex(value)?,
                "CapInh" => st.cap_inheritable = hex(value)?,
                "CapPrm" => st.cap_permitted = hex(value)?,
                "CapEff" => st.cap_effective = hex(value)?,
                "CapBnd" => st.cap_bounding = hex(value)?,
                "CapAmb" => st.cap_ambient = hex(value)?,
                "NoNewPrivs" => st.no_new_privs = num(value)? != 0,
                "Seccomp" => st.seccomp = u8::try_from(num(value)?).map_err(|_| bad())?,
                _ => {}
            }
        }
        if !have_name || !have_pid {
            return Err(Error::invalid("status", "no Name or Pid line"));
        }
        Ok(st)
    }

    /// The pid in the innermost pid namespace (what `getpid()` returns inside).
    pub fn innermost_pid(&self) -> u32 {
        self.ns_pids.last().copied().unwrap_or(self.pid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn own_status_parses() {
        let st = ProcessStatus::of(std::process::id()).unwrap();
        assert_eq!(st.pid, std::process::id());
        assert!(st.threads >= 1);
        assert_eq!(st.ns_pids.first(), Some(&st.pid));
        assert_eq!(st.innermost_pid(), *st.ns_pids.last().unwrap());
    }

    #[test]
    fn malformed_known_lines_are_errors() {
        for bad in [
            "Name:\tx\nPid:\tnope\n",
            "Name:\tx\nPid:\t1\nUid:\t1 2 3\n",
            "Name:\tx\nPid:\t1\nCapEff:\tzz\n",
            "Name:\tx\nPid:\t1\nCapEff:\t00000000000000000\n",
            "Pid:\t1\n",
        ] {
            assert!(ProcessStatus::parse(bad).is_err(), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn fields_round_trip(pid in 1u32..1 << 22, ns in proptest::collection::vec(1u32..1 << 22, 1..4),
                             uids in any::<[u32; 4]>(), caps in any::<u64>(), nnp in any::<bool>()) {
            let text = format!(
                "Name:\tsh\nUmask:\t0022\nState:\tS (sleeping)\nPid:\t{pid}\nPPid:\t0\nNSpid:\t{}\nUid:\t{}\nCapEff:\t{caps:016x}\nNoNewPrivs:\t{}\nSeccomp:\t2\nFuture:\tsomething new\n",
                ns.iter().map(u32::to_string).collect::<Vec<_>>().join("\t"),
                uids.iter().map(u32::to_string).collect::<Vec<_>>().join("\t"),
                u8::from(nnp),
            );
            let st = ProcessStatus::parse(&text).unwrap();
            prop_assert_eq!(st.pid, pid);
            prop_assert_eq!(&st.ns_pids, &ns);
            prop_assert_eq!(st.uids, uids);
            prop_assert_eq!(st.cap_effective, caps);
            prop_assert_eq!(st.no_new_privs, nnp);
            prop_assert_eq!(st.seccomp, 2);
            prop_assert_eq!(st.state, 'S');
        }

        #[test]
        fn parser_never_panics(text in "\\PC{0,200}") {
            let _ = ProcessStatus::parse(&text);
        }
    }
}
