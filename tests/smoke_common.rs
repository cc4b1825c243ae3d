mod common;
use common::*;

#[test]
#[ignore = "needs root"]
fn holder_sits_in_its_own_net_namespace() {
    assert_root("holder_sits_in_its_own_net_namespace");
    let h = Holder::new(NamespaceSet::NET);
    let theirs = Namespace::open(h.pid, NamespaceKind::Network).unwrap();
    let ours = Namespace::current(NamespaceKind::Network).unwrap();
    assert_ne!(theirs.id(), ours.id());
}

#[test]
fn rootless_holder_with_user_and_pid() {
    let h = Holder::rootless(NamespaceSet::USER | NamespaceSet::PID | NamespaceSet::NET);
    let theirs = Namespace::open(h.pid, NamespaceKind::Pid);
    assert!(theirs.is_ok(), "{theirs:?}");
    rootless(|| {
        ensure!(!is_root(), "still root");
        Ok(())
    })
    .unwrap();
}
