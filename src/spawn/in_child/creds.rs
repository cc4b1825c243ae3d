//! Capability sets.

use super::{Fail, OrFail, Plan, Step, StepKind};
use crate::sys::raw::{self, Prctl};

/// Drops from the bounding set every capability the plan does not keep.
pub(super) fn drop_bounding(plan: &Plan) -> Step<()> {
    let Some(keep) = plan.bounding_caps else {
        return Ok(());
    };
    for cap in 0..=plan.last_cap.min(63) {
        if keep & (1u64 << cap) == 0 {
            // EINVAL: a capability this kernel does not know.
            match raw::prctl(Prctl::CapbsetDrop, cap as usize) {
                Ok(_) | Err(libc::EINVAL) => {}
                Err(errno) => {
                    return Err(Fail {
                        code: StepKind::Capabilities,
                        index: cap,
                        errno,
                    });
                }
            }
        }
    }
    Ok(())
}

fn split(set: u64) -> (u32, u32) {
    (set as u32, (set >> 32) as u32)
}

fn join(lo: u32, hi: u32) -> u64 {
    u64::from(lo) | (u64::from(hi) << 32)
}

pub(super) fn set_capabilities(plan: &Plan) -> Step<()> {
    let mut hdr = raw::CapHeader {
        version: raw::CAP_VERSION_3,
        pid: 0,
    };
    let mut data = [raw::CapData::default(); 2];
    raw::capget(&mut hdr, &mut data).at(StepKind::Capabilities, 0)?;
    let [lo, hi] = &mut data;
    let want = plan.inheritable_caps | plan.ambient_caps;
    let permitted = plan
        .permitted_caps
        .unwrap_or_else(|| join(lo.permitted, hi.permitted));
    let effective = plan
        .effective_caps
        .unwrap_or_else(|| join(lo.effective, hi.effective) & permitted);
    let changed = join(lo.inheritable, hi.inheritable) != want
        || join(lo.permitted, hi.permitted) != permitted
        || join(lo.effective, hi.effective) != effective;
    if changed {
        (lo.inheritable, hi.inheritable) = split(want);
        (lo.permitted, hi.permitted) = split(permitted);
        (lo.effective, hi.effective) = split(effective);
        raw::capset(&mut hdr, &data).at(StepKind::Capabilities, 0)?;
    }
    // Ambient capabilities: cleared unless asked for. The kernel keeps every ambient
    // capability permitted and inheritable (capabilities(7)), so with no inheritable ones
    // there is none to clear, and the clearing prctl (which commits new credentials) is
    // skipped in that, the usual, case.
    if want == 0 {
        return Ok(());
    }
    // EINVAL: a kernel before 4.3 has no ambient capabilities.
    match raw::prctl(Prctl::AmbientClearAll, 0) {
        Ok(_) | Err(libc::EINVAL) => {}
        Err(errno) => {
            return Err(Fail {
                code: StepKind::Capabilities,
                index: 0,
                errno,
            });
        }
    }
    let mut bits = plan.ambient_caps;
    while bits != 0 {
        let cap = bits.trailing_zeros();
        raw::prctl(Prctl::AmbientRaise, cap as usize).at(StepKind::Capabilities, cap)?;
        // Clears the lowest set bit (bits is not 0 here).
        bits &= bits.wrapping_sub(1);
    }
    Ok(())
}
