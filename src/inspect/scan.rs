//! The first part of [`list_with`](super::list_with): which processes are in which
//! namespace (their `/proc/<pid>/ns` links), and what their open fds hold, shared out over
//! threads when asked.

use std::collections::HashMap;
use std::mem::MaybeUninit;
use std::os::fd::BorrowedFd;

use super::fds::FdScan;
use super::ids::read_links;
use super::{on_threads, parse_pid, threads_for};
use crate::error::{Error, Operation, Result, Target};
use crate::kind::NamespaceSet;
use crate::namespace::NamespaceId;

/// Which processes (ascending pids) are in which namespace.
pub(super) type ByNamespace = HashMap<NamespaceId, Vec<u32>>;

/// Reads every process's links: which namespace has which pids; and with `fds` (whether
/// sockets are looked at), every process's open fds. With `threads` above 1 the pids are
/// shared out over that many threads (the calling one included), pid `i` to share
/// `i % threads`, each with a scan of its own, merged at the end.
pub(super) fn scan(
    proc: BorrowedFd<'_>,
    kinds: NamespaceSet,
    dev: u64,
    fds: Option<bool>,
    threads: usize,
) -> Result<(ByNamespace, Option<FdScan>)> {
    let mut pids = Vec::with_capacity(512);
    let mut buf = vec![MaybeUninit::<u8>::uninit(); 32 * 1024];
    let mut dir = rustix::fs::RawDir::new(proc, &mut buf);
    while let Some(entry) = dir.next() {
        let entry = entry
            .map_err(|e| Error::os(Operation::ReadProc, Target::Path("/proc".into()), e.into()))?;
        if let Some(pid) = parse_pid(entry.file_name().to_bytes()) {
            pids.push(pid);
        }
    }
    scan_shared(
        proc,
        kinds,
        dev,
        fds,
        &pids,
        threads_for(threads, pids.len()),
    )
}

/// The part of [`scan`] after `/proc` is listed: `pids` shared out over `threads` threads.
fn scan_shared(
    proc: BorrowedFd<'_>,
    kinds: NamespaceSet,
    dev: u64,
    fds: Option<bool>,
    pids: &[u32],
    threads: usize,
) -> Result<(ByNamespace, Option<FdScan>)> {
    let mut shares = on_threads(threads, |t| {
        let mut fd_scan = fds.map(|sockets| FdScan::new(dev, sockets));
        let mine = pids.iter().copied().skip(t).step_by(threads);
        scan_pids(proc, kinds, dev, fd_scan.as_mut(), mine).map(|found| (found, fd_scan))
    })
    .into_iter();
    let (mut found, mut fd_scan) = shares.next().expect("share 0")?;
    for share in shares {
        let (more, more_fds) = share?;
        if let (Some(fd_scan), Some(more_fds)) = (fd_scan.as_mut(), more_fds) {
            fd_scan.merge(more_fds);
        }
        for (id, p) in more {
            found.entry(id).or_default().extend(p);
        }
    }
    // /proc lists pids in ascending order, but the shares' lists are merged.
    for pids in found.values_mut() {
        pids.sort_unstable();
        pids.dedup();
    }
    Ok((found, fd_scan))
}

/// The part of [`scan`] for the processes `pids`.
fn scan_pids(
    proc: BorrowedFd<'_>,
    kinds: NamespaceSet,
    dev: u64,
    mut fds: Option<&mut FdScan>,
    pids: impl Iterator<Item = u32>,
) -> Result<HashMap<NamespaceId, Vec<u32>>> {
    let mut found: HashMap<NamespaceId, Vec<u32>> = HashMap::new();
    let mut digits = [0u8; 10];
    for pid in pids {
        let name = decimal(pid, &mut digits);
        let mut ids = [None; 8];
        if read_links(proc, name, kinds, dev, false, &mut ids)?.is_ok() {
            for id in ids.into_iter().flatten() {
                found.entry(id).or_default().push(pid);
            }
            // A process whose links are unreadable (the same ptrace read check guards its
            // fds) or gone has no fds to look at either.
            if let Some(fds) = fds.as_deref_mut() {
                fds.scan_process(proc, name, pid)?;
            }
        }
    }
    Ok(found)
}

/// The decimal digits of `n`, in `buf`.
fn decimal(mut n: u32, buf: &mut [u8; 10]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[i..];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{nsfs_dev, proc_dir};
    use super::*;
    use crate::kind::NamespaceKind;
    use std::os::fd::{AsFd, AsRawFd};

    /// Whichever thread scans a process, what it found (its links, and an nsfs fd it holds)
    /// is in the merged result: this process as the share of thread 0, 1 and 2.
    #[test]
    fn every_thread_share_reaches_the_result() {
        let me = std::process::id();
        let net = crate::Namespace::current(NamespaceKind::Network).expect("our net namespace");
        let dev = nsfs_dev().expect("nsfs device");
        let proc = proc_dir().expect("/proc");
        for (pids, threads) in [(&[me][..], 1), (&[1, me][..], 2), (&[1, 1, me][..], 3)] {
            let (found, fd_scan) = scan_shared(
                proc.as_fd(),
                NamespaceSet::NET,
                dev,
                Some(true),
                pids,
                threads,
            )
            .expect("scan");
            assert!(
                found.get(&net.id()).is_some_and(|p| p.contains(&me)),
                "{threads} threads: our pid not in our net namespace: {found:?}"
            );
            let held = fd_scan.expect("an fd scan").held.remove(&net.id().ino());
            assert!(
                held.is_some_and(|h| h.holders.contains(&(me, net.as_raw_fd()))),
                "{threads} threads: our fd {} not found",
                net.as_raw_fd()
            );
        }
    }
}
