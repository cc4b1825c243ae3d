//! Capability sets.

use super::{Fail, OrFail, Plan, Step, StepKind};
use crate::sys::raw::{self, Prctl};

pub(super) fn set_capabilities(plan: &Plan) -> Step<()> {
    let mut hdr = raw::CapHeader {
        version: raw::CAP_VERSION_3,
        pid: 0,
    };
    let mut data = [raw::CapData::default(); 2];
    raw::capget(&mut hdr, &mut data).at(StepKind::Capabilities, 0)?;
    let want = plan.inheritable_caps | plan.ambient_caps;
    let have = u64::from(data[0].inheritable) | (u64::from(data[1].inheritable) << 32);
    if have != want {
        data[0].inheritable = want as u32;
        data[1].inheritable = (want >> 32) as u32;
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
