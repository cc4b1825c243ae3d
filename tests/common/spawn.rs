//! Helpers for the spawner's tests: commands in new namespaces (rootless with a user
//! namespace mapping the caller to root), their output, and scratch directories.

use linux_namespaces::{BpfInstruction, Command, NamespaceSet};

/// A command in the namespaces of `set`; rootless, a user namespace mapping us to root is
/// added, since creating the others needs it.
pub fn isolated(root: bool, program: &str, set: NamespaceSet) -> Command {
    let mut c = Command::new(program);
    c.unshare(set);
    if !root {
        c.map_root();
    }
    c
}

pub fn sh(root: bool, script: &str, set: NamespaceSet) -> Command {
    let mut c = isolated(root, "/bin/sh", set);
    c.args(["-c", script]);
    c
}

/// Runs to completion; the stdout on success, the whole story otherwise.
pub fn stdout_of(cmd: &mut Command) -> Result<String, String> {
    let o = cmd.output().map_err(|e| format!("spawn: {e}"))?;
    if !o.status.success() {
        return Err(format!(
            "{}: stdout {:?} stderr {:?}",
            o.status,
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&o.stdout).into_owned())
}

pub fn lines(s: &str) -> Vec<&str> {
    s.lines().collect()
}

pub struct TempDir(std::path::PathBuf);
impl TempDir {
    pub fn path(&self) -> &std::path::Path {
        &self.0
    }
}
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn tempdir() -> Result<TempDir, String> {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let p = std::env::temp_dir().join(format!(
        "lns-spawn-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir(&p).map_err(|e| format!("mkdir {}: {e}", p.display()))?;
    // Rootless children run as 65534 and must be able to use it.
    std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o777))
        .map_err(|e| e.to_string())?;
    Ok(TempDir(p))
}

/// A filter that makes `uname(2)` fail with EPERM and allows everything else.
pub fn deny_uname() -> Vec<BpfInstruction> {
    const LD_W_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
    const JEQ_K: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
    const RET_K: u16 = (libc::BPF_RET | libc::BPF_K) as u16;
    vec![
        BpfInstruction {
            code: LD_W_ABS,
            jt: 0,
            jf: 0,
            k: 0,
        },
        BpfInstruction {
            code: JEQ_K,
            jt: 0,
            jf: 1,
            k: libc::SYS_uname as u32,
        },
        BpfInstruction {
            code: RET_K,
            jt: 0,
            jf: 0,
            k: libc::SECCOMP_RET_ERRNO | libc::EPERM as u32,
        },
        BpfInstruction {
            code: RET_K,
            jt: 0,
            jf: 0,
            k: libc::SECCOMP_RET_ALLOW,
        },
    ]
}
