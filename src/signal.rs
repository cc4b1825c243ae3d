//! [`Signal`]: a signal number, standard or real-time, checked once.

use std::fmt;
use std::str::FromStr;

use crate::error::Error;

/// A signal: one of the standard ones (`SIGTERM`, ...) or a real-time one (`SIGRTMIN+n`), as
/// `kill(2)`, `pidfd_send_signal(2)` and the signal masks take them. Always a valid number
/// (1 to `SIGRTMAX`), so sending it cannot fail for a bad number.
///
/// # References
///  - [signal(7)](https://man7.org/linux/man-pages/man7/signal.7.html)
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Signal(i32);

/// Other names for standard signals (accepted when parsing, never printed), as kill(1) knows them.
const ALIASES: [(&str, i32); 3] = [
    ("IOT", libc::SIGABRT),
    ("CLD", libc::SIGCHLD),
    ("POLL", libc::SIGIO),
];

/// The standard signals by name, in number order.
const NAMES: [(&str, i32); 31] = [
    ("HUP", libc::SIGHUP),
    ("INT", libc::SIGINT),
    ("QUIT", libc::SIGQUIT),
    ("ILL", libc::SIGILL),
    ("TRAP", libc::SIGTRAP),
    ("ABRT", libc::SIGABRT),
    ("BUS", libc::SIGBUS),
    ("FPE", libc::SIGFPE),
    ("KILL", libc::SIGKILL),
    ("USR1", libc::SIGUSR1),
    ("SEGV", libc::SIGSEGV),
    ("USR2", libc::SIGUSR2),
    ("PIPE", libc::SIGPIPE),
    ("ALRM", libc::SIGALRM),
    ("TERM", libc::SIGTERM),
    ("STKFLT", libc::SIGSTKFLT),
    ("CHLD", libc::SIGCHLD),
    ("CONT", libc::SIGCONT),
    ("STOP", libc::SIGSTOP),
    ("TSTP", libc::SIGTSTP),
    ("TTIN", libc::SIGTTIN),
    ("TTOU", libc::SIGTTOU),
    ("URG", libc::SIGURG),
    ("XCPU", libc::SIGXCPU),
    ("XFSZ", libc::SIGXFSZ),
    ("VTALRM", libc::SIGVTALRM),
    ("PROF", libc::SIGPROF),
    ("WINCH", libc::SIGWINCH),
    ("IO", libc::SIGIO),
    ("PWR", libc::SIGPWR),
    ("SYS", libc::SIGSYS),
];

impl Signal {
    /// `SIGHUP`
    pub const HUP: Signal = Signal(libc::SIGHUP);
    /// `SIGINT`
    pub const INT: Signal = Signal(libc::SIGINT);
    /// `SIGQUIT`
    pub const QUIT: Signal = Signal(libc::SIGQUIT);
    /// `SIGABRT`
    pub const ABRT: Signal = Signal(libc::SIGABRT);
    /// `SIGKILL`
    pub const KILL: Signal = Signal(libc::SIGKILL);
    /// `SIGUSR1`
    pub const USR1: Signal = Signal(libc::SIGUSR1);
    /// `SIGSEGV`
    pub const SEGV: Signal = Signal(libc::SIGSEGV);
    /// `SIGUSR2`
    pub const USR2: Signal = Signal(libc::SIGUSR2);
    /// `SIGPIPE`
    pub const PIPE: Signal = Signal(libc::SIGPIPE);
    /// `SIGALRM`
    pub const ALRM: Signal = Signal(libc::SIGALRM);
    /// `SIGTERM`
    pub const TERM: Signal = Signal(libc::SIGTERM);
    /// `SIGCHLD`
    pub const CHLD: Signal = Signal(libc::SIGCHLD);
    /// `SIGCONT`
    pub const CONT: Signal = Signal(libc::SIGCONT);
    /// `SIGSTOP`
    pub const STOP: Signal = Signal(libc::SIGSTOP);
    /// `SIGTSTP`
    pub const TSTP: Signal = Signal(libc::SIGTSTP);
    /// `SIGTTIN`
    pub const TTIN: Signal = Signal(libc::SIGTTIN);
    /// `SIGTTOU`
    pub const TTOU: Signal = Signal(libc::SIGTTOU);
    /// `SIGWINCH`
    pub const WINCH: Signal = Signal(libc::SIGWINCH);

    /// The real-time signal `SIGRTMIN+n` (as the C library numbers them: glibc keeps the
    /// first two kernel real-time signals for itself); `None` past `SIGRTMAX`.
    pub fn rt(n: u32) -> Option<Signal> {
        let sig = i32::try_from(n).ok()?.checked_add(libc::SIGRTMIN())?;
        (sig <= libc::SIGRTMAX()).then_some(Signal(sig))
    }

    /// The signal with this number, if there is one (1 to `SIGRTMAX`, the kernel's 64).
    pub fn from_raw(sig: i32) -> Option<Signal> {
        (1..=libc::SIGRTMAX()).contains(&sig).then_some(Signal(sig))
    }

    /// The signal's number.
    pub const fn as_raw(self) -> i32 {
        self.0
    }
}

impl fmt::Display for Signal {
    /// `SIGTERM`, `SIGRTMIN+3` for a real-time signal, the number for the two the C library
    /// keeps below `SIGRTMIN` (32 and 33 with glibc).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match NAMES.iter().find(|(_, n)| *n == self.0) {
            Some((name, _)) => write!(f, "SIG{name}"),
            None if self.0 >= libc::SIGRTMIN() => {
                write!(f, "SIGRTMIN+{}", self.0 - libc::SIGRTMIN())
            }
            None => write!(f, "{}", self.0),
        }
    }
}

impl FromStr for Signal {
    type Err = Error;

    /// `TERM`, `SIGTERM`, `sigterm`, `15`, `RTMIN+2`, `SIGRTMAX` ...
    fn from_str(s: &str) -> Result<Self, Error> {
        let bad = || Error::invalid("signal", format!("{s:?} is not a signal"));
        if let Ok(n) = s.parse::<i32>() {
            return Signal::from_raw(n).ok_or_else(bad);
        }
        let upper = s.to_ascii_uppercase();
        let name = upper.strip_prefix("SIG").unwrap_or(&upper);
        if let Some((_, n)) = NAMES.iter().chain(&ALIASES).find(|(n, _)| *n == name) {
            return Ok(Signal(*n));
        }
        let rt = |base: i32, off: &str, sign: i32| -> Option<Signal> {
            let off: i32 = if off.is_empty() { 0 } else { off.parse().ok()? };
            Signal::from_raw(base.checked_add(sign.checked_mul(off)?)?)
                .filter(|s| s.0 >= libc::SIGRTMIN())
        };
        let parsed = if let Some(off) = name.strip_prefix("RTMIN") {
            rt(libc::SIGRTMIN(), off.strip_prefix('+').unwrap_or(off), 1)
        } else if let Some(off) = name.strip_prefix("RTMAX") {
            rt(libc::SIGRTMAX(), off.strip_prefix('-').unwrap_or(off), -1)
        } else {
            None
        };
        parsed.ok_or_else(bad)
    }
}

impl From<Signal> for i32 {
    fn from(s: Signal) -> i32 {
        s.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers_round_trip() {
        for sig in 1..=libc::SIGRTMAX() {
            let Some(s) = Signal::from_raw(sig) else {
                continue;
            };
            let text = s.to_string();
            assert_eq!(text.parse::<Signal>().unwrap(), s, "{text}");
        }
        assert_eq!(Signal::TERM.to_string(), "SIGTERM");
        assert_eq!("term".parse::<Signal>().unwrap(), Signal::TERM);
        assert_eq!("9".parse::<Signal>().unwrap(), Signal::KILL);
        assert_eq!(Signal::rt(1).unwrap().as_raw(), libc::SIGRTMIN() + 1);
        assert_eq!("RTMIN+1".parse::<Signal>().unwrap(), Signal::rt(1).unwrap());
        assert_eq!(
            "SIGRTMAX".parse::<Signal>().unwrap().as_raw(),
            libc::SIGRTMAX()
        );
        assert!(Signal::rt(64).is_none());
        assert!(Signal::from_raw(0).is_none() && Signal::from_raw(65).is_none());
        assert!("SIGNOPE".parse::<Signal>().is_err());
        // kill(1)'s other names parse, but a signal prints by its one name.
        assert_eq!(
            "SIGCLD".parse::<Signal>().unwrap(),
            Signal::from_raw(libc::SIGCHLD).unwrap()
        );
        assert_eq!("iot".parse::<Signal>().unwrap().to_string(), "SIGABRT");
        assert_eq!("POLL".parse::<Signal>().unwrap().as_raw(), libc::SIGIO);
    }
}
