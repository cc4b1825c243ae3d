//! `mount(2)` flags as `u64` on every target (libc has them as `c_ulong`: 32 bits on 32-bit
//! targets), and the `statfs(2)` `f_flags` bits (`ST_*`, which musl's libc lacks in part).
#![allow(clippy::unnecessary_cast)]

pub(crate) const MS_BIND: u64 = libc::MS_BIND as u64;
pub(crate) const MS_NOATIME: u64 = libc::MS_NOATIME as u64;
pub(crate) const MS_NODEV: u64 = libc::MS_NODEV as u64;
pub(crate) const MS_NODIRATIME: u64 = libc::MS_NODIRATIME as u64;
pub(crate) const MS_NOEXEC: u64 = libc::MS_NOEXEC as u64;
pub(crate) const MS_NOSUID: u64 = libc::MS_NOSUID as u64;
pub(crate) const MS_PRIVATE: u64 = libc::MS_PRIVATE as u64;
pub(crate) const MS_RDONLY: u64 = libc::MS_RDONLY as u64;
pub(crate) const MS_REC: u64 = libc::MS_REC as u64;
pub(crate) const MS_RELATIME: u64 = libc::MS_RELATIME as u64;
pub(crate) const MS_REMOUNT: u64 = libc::MS_REMOUNT as u64;
pub(crate) const MS_SHARED: u64 = libc::MS_SHARED as u64;
pub(crate) const MS_SLAVE: u64 = libc::MS_SLAVE as u64;
pub(crate) const MS_UNBINDABLE: u64 = libc::MS_UNBINDABLE as u64;
pub(crate) const ST_RDONLY: u64 = 0x0001;
pub(crate) const ST_NOSUID: u64 = 0x0002;
pub(crate) const ST_NODEV: u64 = 0x0004;
pub(crate) const ST_NOEXEC: u64 = 0x0008;
pub(crate) const ST_NOATIME: u64 = 0x0400;
pub(crate) const ST_NODIRATIME: u64 = 0x0800;
pub(crate) const ST_RELATIME: u64 = 0x1000;

#[cfg(all(test, target_env = "gnu"))]
#[test]
#[allow(clippy::unnecessary_cast)]
fn statfs_bits_are_glibcs() {
    for (ours, libc) in [
        (ST_RDONLY, libc::ST_RDONLY),
        (ST_NOSUID, libc::ST_NOSUID),
        (ST_NODEV, libc::ST_NODEV),
        (ST_NOEXEC, libc::ST_NOEXEC),
        (ST_NOATIME, libc::ST_NOATIME),
        (ST_NODIRATIME, libc::ST_NODIRATIME),
        (ST_RELATIME, libc::ST_RELATIME),
    ] {
        assert_eq!(ours, libc as u64);
    }
}
