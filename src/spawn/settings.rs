//! The value types [`Command`](super::Command)'s setters take: [`SetGroups`],
//! [`BpfInstruction`], [`Resource`].

/// What `/proc/<pid>/setgroups` of a new user namespace is set to.
///
/// # References
///  - [user_namespaces(7)](https://man7.org/linux/man-pages/man7/user_namespaces.7.html),
///    "The /proc/pid/setgroups file"
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetGroups {
    /// `allow`: processes in the namespace may call `setgroups(2)` (the kernel's default).
    Allow,
    /// `deny`: they may not; required before an unprivileged `gid_map` write.
    Deny,
}

/// One classic BPF instruction of a seccomp filter (`struct sock_filter`).
///
/// # References
///  - [seccomp(2)](https://man7.org/linux/man-pages/man2/seccomp.2.html)
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BpfInstruction {
    /// Opcode.
    pub code: u16,
    /// Jump offset if true.
    pub jt: u8,
    /// Jump offset if false.
    pub jf: u8,
    /// Operand.
    pub k: u32,
}

static_assertions::assert_eq_size!(BpfInstruction, libc::sock_filter);

/// A resource limit (`RLIMIT_*`).
///
/// # References
///  - [getrlimit(2)](https://man7.org/linux/man-pages/man2/getrlimit.2.html)
#[allow(missing_docs)]
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resource {
    AddressSpace,
    Core,
    Cpu,
    Data,
    FileSize,
    Locks,
    MemLock,
    MsgQueue,
    Nice,
    NoFile,
    NProc,
    Rss,
    RtPrio,
    RtTime,
    SigPending,
    Stack,
}

impl Resource {
    #[allow(clippy::unnecessary_cast)] // c_int on musl, c_uint on glibc
    pub(crate) fn raw(self) -> u32 {
        (match self {
            Resource::AddressSpace => libc::RLIMIT_AS,
            Resource::Core => libc::RLIMIT_CORE,
            Resource::Cpu => libc::RLIMIT_CPU,
            Resource::Data => libc::RLIMIT_DATA,
            Resource::FileSize => libc::RLIMIT_FSIZE,
            Resource::Locks => libc::RLIMIT_LOCKS,
            Resource::MemLock => libc::RLIMIT_MEMLOCK,
            Resource::MsgQueue => libc::RLIMIT_MSGQUEUE,
            Resource::Nice => libc::RLIMIT_NICE,
            Resource::NoFile => libc::RLIMIT_NOFILE,
            Resource::NProc => libc::RLIMIT_NPROC,
            Resource::Rss => libc::RLIMIT_RSS,
            Resource::RtPrio => libc::RLIMIT_RTPRIO,
            Resource::RtTime => libc::RLIMIT_RTTIME,
            Resource::SigPending => libc::RLIMIT_SIGPENDING,
            Resource::Stack => libc::RLIMIT_STACK,
        }) as u32
    }
}
