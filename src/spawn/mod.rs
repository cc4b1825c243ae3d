//! [`Command`]: spawn a process into new or existing namespaces, shaped like
//! `std::process::Command`; [`Child`]: the running process, held by a pidfd.
//!
//! All validation and allocation happen in the parent before `clone3(2)`: bad input is an error
//! before any process exists. The child only executes the prepared plan (see `in_child/`); a
//! failing step comes back over a `CLOEXEC` pipe as [`Error::Spawn`](crate::Error::Spawn)
//! naming the [`Step`], and `spawn()` returns only once the program runs or the failed child
//! has been reaped.
//!
//! * `command.rs`: the builder.
//! * `settings.rs`, `stdio.rs`: the value types its setters take.
//! * `plan.rs`: validation and preparation of the child's plan; the choice of spawn mode.
//! * `launch.rs`: per-spawn stdio and pipes, the clone, the parent's part, the child's report
//!   (the error pipe, or a slot in the memory a vfork child shares).
//! * `child.rs`: the public [`Child`].
//! * `in_child/`: the code between `clone3` and `execve`.
//! * `report.rs`: the child's failure record and the public [`Step`].

mod child;
mod command;
mod in_child;
mod launch;
mod plan;
mod report;
mod settings;
mod stdio;

pub use child::Child;
pub use command::{BpfInstruction, Command, Resource, SetGroups, Stdio};
pub use report::{Step, StepKind};
