//! Linux namespaces as typed, owned handles, and a spawner that puts processes into them.
//!
//! * [`Namespace`]: an owned namespace fd with its [`NamespaceKind`] and [`NamespaceId`]:
//!   open one of any process, of the caller, by path or through a pidfd; create new ones with
//!   [`Namespaces::unshare_calling_thread`]; enter one with [`Namespace::enter`] or a whole set with
//!   [`Namespaces::enter`] / [`Namespaces::enter_process`]; walk to its parent and owner; keep
//!   it alive on a bind mount with [`Namespace::persist`].
//! * [`Command`] and [`Child`]: spawn a program into new or existing namespaces with
//!   `clone3(2)`, with id maps, host name, mount steps ([`Mount`]), time offsets, cgroup
//!   placement, fd passing and the usual process settings; every failing setup step comes
//!   back as [`Error::Spawn`] naming the [`Step`].
//! * [`inspect`]: which namespaces a process is in, whether two processes share one, and a
//!   system-wide listing like `lsns(8)`.
//! * `net` (cargo feature `net`): configure a network namespace by handle over netlink.
//!
//! The crate decides no policy: it isolates what the caller asks for and nothing else.
//!
//! # Quick start
//!
//! ```
//! use linux_namespaces::{inspect, Command, Mount, Namespace, NamespaceKind, NamespaceSet};
//!
//! # fn main() -> linux_namespaces::Result<()> {
//! // A handle to the caller's network namespace, and its id as `readlink` shows it.
//! let net = Namespace::current(NamespaceKind::Network)?;
//! println!("we are in {}", net.id()); // e.g. net:[4026531840]
//!
//! // The same namespace, found through /proc for this process.
//! let me = inspect::NamespaceIds::of(std::process::id())?;
//! assert_eq!(me.get(NamespaceKind::Network), Some(net.id()));
//!
//! // A shell as root of a new user namespace and PID 1 of a new pid namespace, with its own
//! // host name and /proc; no privileges needed.
//! let out = Command::new("/bin/sh")
//!     .args(["-c", "id -u; hostname; echo $$"])
//!     .unshare(NamespaceSet::USER | NamespaceSet::PID | NamespaceSet::MOUNT | NamespaceSet::UTS)
//!     .map_root()
//!     .hostname("box")
//!     .mount(Mount::proc("/proc"))
//!     .output()?;
//! assert_eq!(out.stdout, b"0\nbox\n1\n");
//!
//! // Every network namespace on the system, like `lsns -t net`.
//! for ns in inspect::list(NamespaceKind::Network.into())? {
//!     println!("{} {} processes", ns.id, ns.nprocs());
//! }
//! # Ok(())
//! # }
//! ```
//!
//! # Kernel requirements
//!
//! Handles need Linux 4.11 or newer (`NS_GET_NSTYPE`), the spawner 5.3 (`clone3`). Newer
//! kernels are used where they help: `setns(2)` with a pidfd (5.8) makes
//! [`Namespaces::enter_process`] atomic, `openat2` and the new mount API (5.6) make mount steps
//! symlink-safe, and the `PIDFD_GET_*_NAMESPACE` ioctls (6.11) open namespaces of a pidfd
//! without `/proc`. The README has the full table.
//!
//! # Cargo features
//!
//! * `net`: [`net::Netlink`], network namespace configuration (links, veth pairs, bridges,
//!   addresses, routes) over route netlink, with `netlink-packet-route`.
//! * `tokio`: `Child::wait_async` and `PidFd::wait_async`, awaiting a child's exit through its
//!   pidfd on tokio's reactor.
//!
//! Neither is on by default.
//!
//! # Example tools
//!
//! The repository's `examples/` are small, real tools built on this crate, each a few hundred
//! lines: `sandbox` (a rootless container with a read-only `/usr` and its own `/proc`),
//! `unshare`, `nsenter` and `lsns` (util-linux's tools on top of [`Command`],
//! [`Namespaces::enter_process`] and [`inspect::list`]), `netns` (the `ip netns` workflow, with
//! `net`), and `pool` (a job runner that gives each job fresh namespaces). Run one with
//! `cargo run --example sandbox`.

#![deny(unsafe_code)]
#![warn(missing_docs)]
#![warn(clippy::missing_errors_doc)]
#![warn(clippy::missing_panics_doc)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(not(target_os = "linux"))]
compile_error!(
    "linux-namespaces works only on Linux: namespaces, pidfds and clone3 are Linux kernel interfaces"
);

#[cfg(feature = "tokio")]
mod asyncio;
mod caps;
mod diagnose;
mod error;
mod group;
mod idmap;
pub mod inspect;
mod kernel;
mod kind;

mod mount;
mod namespace;
mod namespaces;
#[cfg(feature = "net")]
#[cfg_attr(docsrs, doc(cfg(feature = "net")))]
pub mod net;
pub mod persist;
mod pidfd;
mod run;
mod signal;
mod spawn;
mod sys;
mod timens;
mod validate;

pub use caps::Capabilities;
pub use diagnose::Hint;
pub use error::{Error, Operation, Result, Target};
pub use group::{GroupSetup, NamespaceGroup};
pub use idmap::{IdMap, IdRange};
pub use kernel::KernelFeature;
pub use kind::{NamespaceKind, NamespaceSet};
pub use mount::{Mount, Propagation};
pub use namespace::{Namespace, NamespaceId};
pub use namespaces::Namespaces;
pub use persist::PersistedNamespace;
pub use pidfd::{PidFd, WaitEvent};
pub use run::ChildValue;
pub use signal::{Signal, SignalFd, SignalInfo, SignalSet, set_parent_death_signal};
pub use spawn::{BpfInstruction, Child, Command, Resource, SetGroups, Stdio, Step, StepKind};
pub use timens::{TimeClock, set_time_offsets};
