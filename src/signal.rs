//! [`Signal`]: a signal number, standard or real-time, checked once; [`SignalSet`]: a set of
//! them, and the calling thread's signal mask; [`SignalFd`]: signals read from a file
//! descriptor; the parent-death signal; raising a signal with its default action.

use std::fmt;
use std::io;
use std::ops::BitOr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::str::FromStr;

use crate::error::{Error, Operation, Result, Target};
use crate::sys;

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

    /// Ends the calling process with this signal, as if the signal had killed it: sets the
    /// signal's disposition to `SIG_DFL` (`sigaction(2)`; not for `SIGKILL` and `SIGSTOP`,
    /// whose disposition cannot change), unblocks it in the calling thread
    /// (`pthread_sigmask(3)`) and sends it to the calling thread (`raise(3)`). A supervisor
    /// uses it to end the way its child ended, so that its own parent (a shell printing
    /// `Terminated`, a test checking `WTERMSIG`) sees the same death:
    /// [`ExitStatusExt::signal`](std::os::unix::process::ExitStatusExt::signal) of the child,
    /// then `raise_default`.
    ///
    /// Returns only if the signal did not end the process: a signal whose default action is
    /// to ignore it (`SIGCHLD`, `SIGWINCH`, `SIGURG`, `SIGCONT`) or to stop (the process
    /// returns once continued), or a caller that is the init (pid 1) of a pid namespace, to
    /// which the kernel does not deliver a signal with the default disposition. The
    /// disposition stays `SIG_DFL` and the signal unblocked.
    ///
    /// ```no_run
    /// use std::os::unix::process::ExitStatusExt;
    /// use linux_namespaces::{Command, Signal};
    ///
    /// # fn main() -> linux_namespaces::Result<()> {
    /// let status = Command::new("/bin/sleep").arg("100").status()?;
    /// if let Some(sig) = status.signal().and_then(Signal::from_raw) {
    ///     sig.raise_default()?;
    /// }
    /// std::process::exit(status.code().unwrap_or(1));
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::Os`] from `sigaction(2)` (`EINVAL` for the two signals the C library keeps
    /// for itself), `pthread_sigmask(3)` or `raise(3)`.
    ///
    /// # References
    ///  - [sigaction(2)](https://man7.org/linux/man-pages/man2/sigaction.2.html),
    ///    [pthread_sigmask(3)](https://man7.org/linux/man-pages/man3/pthread_sigmask.3.html),
    ///    [raise(3)](https://man7.org/linux/man-pages/man3/raise.3.html),
    ///    [pid_namespaces(7)](https://man7.org/linux/man-pages/man7/pid_namespaces.7.html)
    ///    (signals to init)
    #[doc(alias = "raise", alias = "SIG_DFL")]
    pub fn raise_default(self) -> Result<()> {
        if self != Signal::KILL && self != Signal::STOP {
            sys::signals::set_default_action(self.0)
                .map_err(|e| own_error(Operation::Sigaction, e))?;
        }
        SignalSet::from(self).thread_unblock()?;
        sys::signals::raise(self.0).map_err(|e| own_error(Operation::Signal, e))
    }

    /// Sets this signal's disposition in the calling process to `SIG_DFL`, its default action
    /// (`sigaction(2)`), whatever it was: a handler, or `SIG_IGN` inherited from the parent
    /// (which `execve(2)` keeps). The mask is left as it is. A supervisor that waits for a
    /// child resets [`Signal::CHLD`] first: with `SIGCHLD` ignored the kernel reaps children
    /// itself and a wait fails with `ECHILD`; the programs it forks then inherit the default
    /// too.
    ///
    /// ```
    /// use linux_namespaces::Signal;
    ///
    /// Signal::CHLD.set_default_action()?;
    /// assert!(Signal::KILL.set_default_action().is_err());
    /// # Ok::<(), linux_namespaces::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Os`] from `sigaction(2)`: `EINVAL` for `SIGKILL` and `SIGSTOP` (whose
    /// disposition cannot change) and for the two signals the C library keeps for itself.
    ///
    /// # References
    ///  - [sigaction(2)](https://man7.org/linux/man-pages/man2/sigaction.2.html),
    ///    [signal(7)](https://man7.org/linux/man-pages/man7/signal.7.html) (default actions)
    #[doc(alias = "SIG_DFL", alias = "signal", alias = "sigaction")]
    pub fn set_default_action(self) -> Result<()> {
        sys::signals::set_default_action(self.0).map_err(|e| own_error(Operation::Sigaction, e))
    }
}

/// An error of an operation on the calling process (or thread).
fn own_error(op: Operation, e: io::Error) -> Error {
    Error::os(
        op,
        Target::Process {
            pid: std::process::id(),
            kind: None,
        },
        e,
    )
}

/// Sets the signal the calling thread gets when its parent thread exits, or none
/// (`prctl(PR_SET_PDEATHSIG)`). Any [`Signal`], real-time ones included. The kernel ties it to
/// the parent *thread* that created the caller, keeps it across `execve(2)` (except a
/// set-user-ID or file-capability one) and clears it in children the caller forks. A parent
/// that exited before the call never sends it: compare the parent's pidfd (or `getppid(2)`)
/// after setting it. [`Command::parent_death_signal`](crate::Command::parent_death_signal) does
/// this for a spawned child.
///
/// # Errors
/// [`Error::Os`] from `prctl(2)`.
///
/// # References
///  - [prctl(2)](https://man7.org/linux/man-pages/man2/prctl.2.html) (`PR_SET_PDEATHSIG`),
///    [PR_SET_PDEATHSIG(2const)](https://man7.org/linux/man-pages/man2/PR_SET_PDEATHSIG.2const.html)
#[doc(alias = "PR_SET_PDEATHSIG", alias = "prctl")]
pub fn set_parent_death_signal(signal: Option<Signal>) -> Result<()> {
    let sig = signal.map_or(0, |s| s.0 as usize);
    sys::raw::prctl(sys::raw::Prctl::SetPdeathsig, sig)
        .map(drop)
        .map_err(|errno| {
            own_error(
                Operation::ParentDeathSignal,
                io::Error::from_raw_os_error(errno),
            )
        })
}

/// A set of [`Signal`]s, as `sigset_t` holds them: for the calling thread's signal mask
/// ([`thread_block`](Self::thread_block) and friends) and for [`SignalFd`].
///
/// ```
/// use linux_namespaces::{Signal, SignalSet};
///
/// let set = Signal::INT | Signal::TERM;
/// assert!(set.contains(Signal::TERM) && !set.contains(Signal::HUP));
/// assert_eq!(set.iter().collect::<Vec<_>>(), [Signal::INT, Signal::TERM]);
/// assert_eq!(format!("{set:?}"), "{SIGINT, SIGTERM}");
/// ```
///
/// # References
///  - [sigsetops(3)](https://man7.org/linux/man-pages/man3/sigsetops.3.html),
///    [signal(7)](https://man7.org/linux/man-pages/man7/signal.7.html)
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
#[doc(alias = "sigset_t")]
pub struct SignalSet(u64);

impl SignalSet {
    /// The empty set.
    pub const fn empty() -> SignalSet {
        SignalSet(0)
    }

    /// Whether the set holds no signal.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether `signal` is in the set.
    pub const fn contains(self, signal: Signal) -> bool {
        self.0 & bit(signal) != 0
    }

    /// Adds `signal`; returns whether it was not in the set before.
    pub fn insert(&mut self, signal: Signal) -> bool {
        let new = !self.contains(signal);
        self.0 |= bit(signal);
        new
    }

    /// Takes `signal` out; returns whether it was in the set.
    pub fn remove(&mut self, signal: Signal) -> bool {
        let had = self.contains(signal);
        self.0 &= !bit(signal);
        had
    }

    /// The signals in the set, in number order.
    pub fn iter(self) -> impl Iterator<Item = Signal> {
        (1..=64)
            .filter_map(Signal::from_raw)
            .filter(move |&s| self.contains(s))
    }

    /// The calling thread's signal mask: the signals blocked in it.
    ///
    /// # Errors
    /// [`Error::Os`] from `pthread_sigmask(3)`.
    ///
    /// # References
    ///  - [pthread_sigmask(3)](https://man7.org/linux/man-pages/man3/pthread_sigmask.3.html)
    #[doc(alias = "pthread_sigmask", alias = "sigprocmask")]
    pub fn thread_mask() -> Result<SignalSet> {
        sys::signals::thread_mask()
            .map(SignalSet)
            .map_err(|e| own_error(Operation::SignalMask, e))
    }

    /// Blocks these signals in the calling thread (adds them to its mask,
    /// `pthread_sigmask(SIG_BLOCK)`); returns the mask before, for
    /// [`thread_set_mask`](Self::thread_set_mask) to restore. The mask is per thread: other
    /// threads of the process still receive them, and a process-directed signal goes to a
    /// thread that does not block it. `SIGKILL` and `SIGSTOP` cannot be blocked (the kernel
    /// leaves them out), nor can the C library's reserved signals (glibc's 32 and 33).
    ///
    /// # Errors
    /// [`Error::Os`] from `pthread_sigmask(3)`.
    ///
    /// # References
    ///  - [pthread_sigmask(3)](https://man7.org/linux/man-pages/man3/pthread_sigmask.3.html),
    ///    [sigprocmask(2)](https://man7.org/linux/man-pages/man2/sigprocmask.2.html)
    #[doc(alias = "pthread_sigmask", alias = "sigprocmask", alias = "SIG_BLOCK")]
    pub fn thread_block(self) -> Result<SignalSet> {
        self.thread_sigmask(libc::SIG_BLOCK)
    }

    /// Unblocks these signals in the calling thread (`pthread_sigmask(SIG_UNBLOCK)`); returns
    /// the mask before. A signal pending for the thread or the process is delivered before
    /// this returns.
    ///
    /// # Errors
    /// [`Error::Os`] from `pthread_sigmask(3)`.
    ///
    /// # References
    ///  - [pthread_sigmask(3)](https://man7.org/linux/man-pages/man3/pthread_sigmask.3.html)
    #[doc(
        alias = "pthread_sigmask",
        alias = "sigprocmask",
        alias = "SIG_UNBLOCK"
    )]
    pub fn thread_unblock(self) -> Result<SignalSet> {
        self.thread_sigmask(libc::SIG_UNBLOCK)
    }

    /// Makes this set the calling thread's signal mask (`pthread_sigmask(SIG_SETMASK)`);
    /// returns the mask before.
    ///
    /// # Errors
    /// [`Error::Os`] from `pthread_sigmask(3)`.
    ///
    /// # References
    ///  - [pthread_sigmask(3)](https://man7.org/linux/man-pages/man3/pthread_sigmask.3.html)
    #[doc(
        alias = "pthread_sigmask",
        alias = "sigprocmask",
        alias = "SIG_SETMASK"
    )]
    pub fn thread_set_mask(self) -> Result<SignalSet> {
        self.thread_sigmask(libc::SIG_SETMASK)
    }

    fn thread_sigmask(self, how: i32) -> Result<SignalSet> {
        sys::signals::thread_sigmask(how, self.0)
            .map(SignalSet)
            .map_err(|e| own_error(Operation::SignalMask, e))
    }
}

/// Bit `n - 1` for signal `n` (1 to 64), as the kernel's sigset.
const fn bit(signal: Signal) -> u64 {
    1u64 << (signal.0 - 1)
}

impl fmt::Debug for SignalSet {
    /// `{SIGINT, SIGTERM}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set()
            .entries(self.iter().map(DisplayAsDebug))
            .finish()
    }
}

struct DisplayAsDebug(Signal);

impl fmt::Debug for DisplayAsDebug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl From<Signal> for SignalSet {
    fn from(signal: Signal) -> SignalSet {
        SignalSet(bit(signal))
    }
}

impl<const N: usize> From<[Signal; N]> for SignalSet {
    fn from(signals: [Signal; N]) -> SignalSet {
        signals.into_iter().collect()
    }
}

impl FromIterator<Signal> for SignalSet {
    fn from_iter<I: IntoIterator<Item = Signal>>(iter: I) -> SignalSet {
        let mut set = SignalSet::empty();
        set.extend(iter);
        set
    }
}

impl Extend<Signal> for SignalSet {
    fn extend<I: IntoIterator<Item = Signal>>(&mut self, iter: I) {
        for s in iter {
            self.insert(s);
        }
    }
}

impl BitOr for SignalSet {
    type Output = SignalSet;
    fn bitor(self, rhs: SignalSet) -> SignalSet {
        SignalSet(self.0 | rhs.0)
    }
}

impl BitOr<Signal> for SignalSet {
    type Output = SignalSet;
    fn bitor(self, rhs: Signal) -> SignalSet {
        SignalSet(self.0 | bit(rhs))
    }
}

impl BitOr for Signal {
    type Output = SignalSet;
    /// The set of both signals.
    fn bitor(self, rhs: Signal) -> SignalSet {
        SignalSet(bit(self) | bit(rhs))
    }
}

/// A signalfd: the signals of a [`SignalSet`] sent to the calling thread (or process) are
/// read from a file descriptor instead of interrupting the program, so that a loop can poll
/// for them next to other fds (a child's pidfd, a socket). The signals must be blocked
/// ([`SignalSet::thread_block`]; in every thread, for process-directed ones), else they are
/// delivered as usual. Close-on-exec; readable (`poll(2)`) while a signal is pending.
///
/// A forked child's signalfd reads the child's signals, not the parent's.
///
/// ```
/// use linux_namespaces::{Namespaces, Signal, SignalFd};
///
/// # fn main() -> linux_namespaces::Result<()> {
/// // In a child process: blocking signals changes the mask of the calling thread only.
/// let sender: u32 = Namespaces::new().run(|| {
///     (Signal::USR1 | Signal::USR2).thread_block().map_err(std::io::Error::from)?;
///     let fd = SignalFd::new(Signal::USR1.into()).map_err(std::io::Error::from)?;
///     rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::USR1)?;
///     let info = fd.read().map_err(std::io::Error::from)?;
///     assert_eq!(info.signal, Signal::USR1);
///     Ok(info.pid)
/// })?;
/// assert_ne!(sender, std::process::id());
/// # Ok(())
/// # }
/// ```
///
/// # References
///  - [signalfd(2)](https://man7.org/linux/man-pages/man2/signalfd.2.html)
#[derive(Debug)]
#[doc(alias = "signalfd")]
pub struct SignalFd {
    fd: OwnedFd,
}

/// What a [`SignalFd`] read: the signal and who sent it (`struct signalfd_siginfo`).
///
/// # References
///  - [signalfd(2)](https://man7.org/linux/man-pages/man2/signalfd.2.html)
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignalInfo {
    /// The signal.
    pub signal: Signal,
    /// The sender's pid (`ssi_pid`), as the reader's pid namespace sees it: 0 for a signal
    /// from the kernel or from outside that pid namespace.
    pub pid: u32,
    /// The sender's real uid (`ssi_uid`), as the reader's user namespace sees it.
    pub uid: u32,
}

/// `sizeof(struct signalfd_siginfo)`, the same on every architecture.
const SIGINFO_SIZE: usize = 128;

impl SignalFd {
    /// A new close-on-exec signalfd for `signals` (`signalfd(2)`, Linux 2.6.27).
    ///
    /// # Errors
    /// [`Error::Os`] from `signalfd(2)`: `EMFILE`/`ENFILE`, `ENOMEM`.
    ///
    /// # References
    ///  - [signalfd(2)](https://man7.org/linux/man-pages/man2/signalfd.2.html)
    pub fn new(signals: SignalSet) -> Result<SignalFd> {
        sys::signals::signalfd(signals.0)
            .map(|fd| SignalFd { fd })
            .map_err(|e| own_error(Operation::Signalfd, e))
    }

    /// Takes the next pending signal: waits for one unless the fd is non-blocking (set with
    /// `fcntl(2)` through [`AsFd`]). Reads one `struct signalfd_siginfo`.
    ///
    /// # Errors
    /// [`Error::Os`] from `read(2)`: `EAGAIN` (kind `WouldBlock`) on a non-blocking fd with
    /// no signal pending; `InvalidData` for a short read or a signal number out of range,
    /// which the kernel does not produce.
    ///
    /// # References
    ///  - [signalfd(2)](https://man7.org/linux/man-pages/man2/signalfd.2.html),
    ///    [read(2)](https://man7.org/linux/man-pages/man2/read.2.html)
    pub fn read(&self) -> Result<SignalInfo> {
        let fail =
            |e: io::Error| Error::os(Operation::Signalfd, Target::Fd(self.fd.as_raw_fd()), e);
        let mut buf = [0u8; SIGINFO_SIZE];
        let n = loop {
            match rustix::io::read(&self.fd, &mut buf) {
                Err(rustix::io::Errno::INTR) => continue,
                r => break r.map_err(|e| fail(e.into()))?,
            }
        };
        let field =
            |at: usize| u32::from_ne_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]]);
        // ssi_signo at 0, ssi_errno at 4, ssi_code at 8, ssi_pid at 12, ssi_uid at 16.
        let signal = i32::try_from(field(0)).ok().and_then(Signal::from_raw);
        match (n, signal) {
            (SIGINFO_SIZE, Some(signal)) => Ok(SignalInfo {
                signal,
                pid: field(12),
                uid: field(16),
            }),
            _ => Err(fail(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("not a signalfd_siginfo ({n} bytes)"),
            ))),
        }
    }
}

impl AsFd for SignalFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for SignalFd {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl From<SignalFd> for OwnedFd {
    fn from(fd: SignalFd) -> OwnedFd {
        fd.fd
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
