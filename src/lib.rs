//! Linux namespaces as typed, owned handles.
//!
//! * [`Namespace`]: an owned namespace fd with its [`NamespaceKind`] and [`NamespaceId`]:
//!   open one of any process, of the caller, by path or through a pidfd; create new ones with
//!   [`Namespace::unshare`]; enter one with [`Namespace::enter`] or a whole set with
//!   [`Namespaces::enter`] / [`Namespaces::enter_process`]; walk to its parent and owner; keep
//!   it alive on a bind mount with [`Namespace::persist`].
//! * [`inspect`]: which namespaces a process is in, whether two processes share one, and a
//!   system-wide listing like `lsns(8)`.
//!
//! The crate decides no policy: it isolates what the caller asks for and nothing else.
//!
//! # Quick start
//!
//! ```
//! use linux_namespaces::{inspect, Namespace, NamespaceKind};
//!
//! # fn main() -> linux_namespaces::Result<()> {
//! // A handle to the caller's network namespace, and its id as `readlink` shows it.
//! let net = Namespace::current(NamespaceKind::Network)?;
//! println!("we are in {}", net.id()); // e.g. net:[4026531840]
//!
//! // The same namespace, found through /proc for this process.
//! let me = inspect::ProcessNamespaces::of(std::process::id())?;
//! assert_eq!(me.get(NamespaceKind::Network), Some(net.id()));
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
//! Everything here needs Linux 4.11 or newer (`NS_GET_NSTYPE`). Newer kernels are used where
//! they help: `setns(2)` with a pidfd (5.8) makes [`Namespaces::enter_process`] atomic, and the
//! `PIDFD_GET_*_NAMESPACE` ioctls (6.11) open namespaces of a pidfd without `/proc`.

#![deny(unsafe_code)]
#![warn(missing_docs)]

mod error;
mod idmap;
pub mod inspect;
mod kind;
mod mount;
mod namespace;
#[cfg(feature = "net")]
pub mod net;
mod pidfd;
mod spawn;
mod status;
mod sys;
mod timens;

pub use error::{Error, Hint, Operation, Result, Target, errno_name};
pub use idmap::{IdMap, IdRange};
pub use kind::{NamespaceKind, NamespaceSet};
pub use mount::{Mount, Propagation};
pub use namespace::{Namespace, NamespaceId, Namespaces, PersistedNamespace};
pub use pidfd::PidFd;
pub use spawn::{BpfInstruction, Child, Command, Resource, SetGroups, Stdio, Step};
pub use timens::{TimeClock, set_time_offsets};
