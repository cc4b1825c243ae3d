//! [`Capabilities`]: a set of Linux capabilities, for the capability sets a
//! [`Command`](crate::Command) gives its child.

use std::fmt;
use std::str::FromStr;

use bitflags::bitflags;

use crate::error::Error;

bitflags! {
    /// A set of Linux capabilities (bit *n* is capability *n*, as in `capget(2)`'s sets and
    /// `/proc/<pid>/status`'s `Cap*` lines).
    ///
    /// # References
    ///  - [capabilities(7)](https://man7.org/linux/man-pages/man7/capabilities.7.html)
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
    pub struct Capabilities: u64 {
        /// `CAP_CHOWN`
        const CHOWN = 1 << 0;
        /// `CAP_DAC_OVERRIDE`
        const DAC_OVERRIDE = 1 << 1;
        /// `CAP_DAC_READ_SEARCH`
        const DAC_READ_SEARCH = 1 << 2;
        /// `CAP_FOWNER`
        const FOWNER = 1 << 3;
        /// `CAP_FSETID`
        const FSETID = 1 << 4;
        /// `CAP_KILL`
        const KILL = 1 << 5;
        /// `CAP_SETGID`
        const SETGID = 1 << 6;
        /// `CAP_SETUID`
        const SETUID = 1 << 7;
        /// `CAP_SETPCAP`
        const SETPCAP = 1 << 8;
        /// `CAP_LINUX_IMMUTABLE`
        const LINUX_IMMUTABLE = 1 << 9;
        /// `CAP_NET_BIND_SERVICE`
        const NET_BIND_SERVICE = 1 << 10;
        /// `CAP_NET_BROADCAST`
        const NET_BROADCAST = 1 << 11;
        /// `CAP_NET_ADMIN`
        const NET_ADMIN = 1 << 12;
        /// `CAP_NET_RAW`
        const NET_RAW = 1 << 13;
        /// `CAP_IPC_LOCK`
        const IPC_LOCK = 1 << 14;
        /// `CAP_IPC_OWNER`
        const IPC_OWNER = 1 << 15;
        /// `CAP_SYS_MODULE`
        const SYS_MODULE = 1 << 16;
        /// `CAP_SYS_RAWIO`
        const SYS_RAWIO = 1 << 17;
        /// `CAP_SYS_CHROOT`
        const SYS_CHROOT = 1 << 18;
        /// `CAP_SYS_PTRACE`
        const SYS_PTRACE = 1 << 19;
        /// `CAP_SYS_PACCT`
        const SYS_PACCT = 1 << 20;
        /// `CAP_SYS_ADMIN`
        const SYS_ADMIN = 1 << 21;
        /// `CAP_SYS_BOOT`
        const SYS_BOOT = 1 << 22;
        /// `CAP_SYS_NICE`
        const SYS_NICE = 1 << 23;
        /// `CAP_SYS_RESOURCE`
        const SYS_RESOURCE = 1 << 24;
        /// `CAP_SYS_TIME`
        const SYS_TIME = 1 << 25;
        /// `CAP_SYS_TTY_CONFIG`
        const SYS_TTY_CONFIG = 1 << 26;
        /// `CAP_MKNOD`
        const MKNOD = 1 << 27;
        /// `CAP_LEASE`
        const LEASE = 1 << 28;
        /// `CAP_AUDIT_WRITE`
        const AUDIT_WRITE = 1 << 29;
        /// `CAP_AUDIT_CONTROL`
        const AUDIT_CONTROL = 1 << 30;
        /// `CAP_SETFCAP`
        const SETFCAP = 1 << 31;
        /// `CAP_MAC_OVERRIDE`
        const MAC_OVERRIDE = 1 << 32;
        /// `CAP_MAC_ADMIN`
        const MAC_ADMIN = 1 << 33;
        /// `CAP_SYSLOG`
        const SYSLOG = 1 << 34;
        /// `CAP_WAKE_ALARM`
        const WAKE_ALARM = 1 << 35;
        /// `CAP_BLOCK_SUSPEND`
        const BLOCK_SUSPEND = 1 << 36;
        /// `CAP_AUDIT_READ`
        const AUDIT_READ = 1 << 37;
        /// `CAP_PERFMON` (Linux 5.8)
        const PERFMON = 1 << 38;
        /// `CAP_BPF` (Linux 5.8)
        const BPF = 1 << 39;
        /// `CAP_CHECKPOINT_RESTORE` (Linux 5.9)
        const CHECKPOINT_RESTORE = 1 << 40;
    }
}

impl Capabilities {
    /// The set holding only capability number `cap` (0 for `CAP_CHOWN`, ...); `None` above 63.
    pub const fn from_number(cap: u32) -> Option<Capabilities> {
        if cap < 64 {
            Some(Capabilities::from_bits_retain(1 << cap))
        } else {
            None
        }
    }

    /// The capability numbers in the set, ascending.
    pub fn numbers(self) -> impl Iterator<Item = u32> {
        (0..64).filter(move |n| self.bits() & (1 << n) != 0)
    }
}

impl fmt::Display for Capabilities {
    /// Names as `capsh` prints them (`cap_net_admin,cap_sys_admin`), or `none`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("none");
        }
        for (i, n) in self.numbers().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            match Capabilities::from_number(n).and_then(|c| c.iter_names().next()) {
                Some((name, _)) => write!(f, "cap_{}", name.to_ascii_lowercase())?,
                None => write!(f, "cap_{n}")?,
            }
        }
        Ok(())
    }
}

impl FromStr for Capabilities {
    type Err = Error;

    /// Parses comma-separated names, with or without `cap_` and in any case
    /// (`cap_net_admin,SYS_ADMIN`), numbers (`cap_12`, `12`), or `none`.
    fn from_str(s: &str) -> Result<Self, Error> {
        if s == "none" {
            return Ok(Capabilities::empty());
        }
        s.split(',')
            .map(|word| {
                let name = word.trim();
                let bare = name
                    .strip_prefix("cap_")
                    .or_else(|| name.strip_prefix("CAP_"))
                    .unwrap_or(name);
                if let Ok(n) = bare.parse::<u32>() {
                    return Capabilities::from_number(n);
                }
                Capabilities::from_name(&bare.to_ascii_uppercase())
            })
            .try_fold(Capabilities::empty(), |set, one| Some(set | one?))
            .ok_or_else(|| {
                Error::invalid("capabilities", format!("{s:?} is not a capability list"))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_the_kernels() {
        // capability.h: CAP_NET_ADMIN 12, CAP_SYS_ADMIN 21, CAP_CHECKPOINT_RESTORE 40; and
        // rustix's numbering agrees.
        assert_eq!(Capabilities::NET_ADMIN.bits(), 1 << 12);
        assert_eq!(Capabilities::SYS_ADMIN.bits(), 1 << 21);
        assert_eq!(Capabilities::CHECKPOINT_RESTORE.bits(), 1 << 40);
        use rustix::thread::CapabilitySet as R;
        for (ours, theirs) in [
            (Capabilities::CHOWN, R::CHOWN),
            (Capabilities::SETPCAP, R::SETPCAP),
            (Capabilities::NET_RAW, R::NET_RAW),
            (Capabilities::SYS_ADMIN, R::SYS_ADMIN),
            (Capabilities::SETFCAP, R::SETFCAP),
            (Capabilities::MAC_OVERRIDE, R::MAC_OVERRIDE),
            (Capabilities::CHECKPOINT_RESTORE, R::CHECKPOINT_RESTORE),
        ] {
            assert_eq!(ours.bits(), theirs.bits(), "{ours}");
        }
        assert_eq!(Capabilities::all().bits().count_ones(), 41);
    }

    #[test]
    fn names_round_trip() {
        let set = Capabilities::NET_ADMIN | Capabilities::SYS_ADMIN;
        assert_eq!(set.to_string(), "cap_net_admin,cap_sys_admin");
        assert_eq!(set.to_string().parse::<Capabilities>().unwrap(), set);
        assert_eq!(
            "CAP_KILL,12".parse::<Capabilities>().unwrap(),
            Capabilities::KILL | Capabilities::NET_ADMIN
        );
        assert_eq!(
            "none".parse::<Capabilities>().unwrap(),
            Capabilities::empty()
        );
        assert!("cap_nonsense".parse::<Capabilities>().is_err());
    }
}
