//! Id maps: `--map-users`/`--map-groups`/`--map-auto` ranges, subordinate ids, and user and
//! group lookups.

use super::*;

/// One range of `--map-users`/`--map-groups`/`--map-auto`: `inner` is `None` for a
/// subordinate range mapped from 0 (`auto`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct MapRange {
    pub(crate) inner: Option<u32>,
    pub(crate) outer: u32,
    pub(crate) count: u32,
}
/// The helper's work for the id maps of process `pid` (which has unshared by now).
pub(crate) fn map_ids(
    pid: u32,
    root: bool,
    user: Option<&IdMap>,
    group: Option<&IdMap>,
) -> Result<(), Fatal> {
    if let Some(m) = user {
        if root {
            m.write_uid_map(Some(pid))
        } else {
            m.newuidmap(pid)
        }
        .map_err(|e| Fatal::new(e.to_string()))?;
    }
    if let Some(m) = group {
        if root {
            m.write_gid_map(Some(pid))
        } else {
            m.newgidmap(pid)
        }
        .map_err(|e| Fatal::new(e.to_string()))?;
    }
    Ok(())
}

/// The map that `--map-users`/`--map-groups`/`--map-auto` ranges ask for, with the caller's
/// own id (`outer`) mapped to `single` (from `--map-user` and friends) on top: the ranges lose
/// the ids that would overlap it. `None` without ranges.
pub(crate) fn ranges_map(
    ranges: &[MapRange],
    outer: u32,
    single: Option<u32>,
    what: &str,
) -> Result<Option<IdMap>, Fatal> {
    if ranges.is_empty() {
        return Ok(None);
    }
    let mut out = Vec::new();
    if let Some(inner) = single {
        out.push(IdRange::new(inner, outer, 1));
    }
    for r in ranges {
        let inner = r.inner.unwrap_or(0);
        let mut count = r.count;
        // As util-linux: where the single map's outside or inside id falls in (or right
        // after) the range, the range gives up one id, and its remaining inside ids are paired
        // in order with its remaining outside ids, both skipping the single map's ids.
        let (mut hole_out, mut hole_in) = (None, None);
        if let Some(single_inner) = single {
            let within = |id: u32, first: u32, n: u32| id >= first && id - first <= n;
            if within(outer, r.outer, count) || within(single_inner, inner, count) {
                count -= 1;
            }
            hole_out = within(outer, r.outer, count).then(|| outer - r.outer);
            hole_in = within(single_inner, inner, count).then(|| single_inner - inner);
        }
        let mut cuts: Vec<u32> = [Some(0), hole_out, hole_in, Some(count)]
            .into_iter()
            .flatten()
            .filter(|&c| c <= count)
            .collect();
        cuts.sort_unstable();
        cuts.dedup();
        for w in cuts.windows(2) {
            let (s, e) = (w[0], w[1]);
            let shift = |hole: Option<u32>| u32::from(hole.is_some_and(|h| s >= h));
            out.push(IdRange::new(
                inner + s + shift(hole_in),
                r.outer + s + shift(hole_out),
                e - s,
            ));
        }
    }
    IdMap::new(out)
        .map(Some)
        .map_err(|e| Fatal::new(format!("invalid {what} mapping: {e}")))
}
/// `inner:outer:count` or `outer,inner,count`.
pub(crate) fn map_range(s: &str) -> Result<MapRange, Fatal> {
    let bad = || Fatal::new(format!("invalid mapping '{s}'"));
    let nums = |sep: char| -> Option<[u32; 3]> {
        let v: Vec<u32> = s
            .split(sep)
            .map(|f| f.parse().ok())
            .collect::<Option<_>>()?;
        v.try_into().ok()
    };
    if let Some([inner, outer, count]) = nums(':') {
        return Ok(MapRange {
            inner: Some(inner),
            outer,
            count,
        });
    }
    if let Some([outer, inner, count]) = nums(',') {
        return Ok(MapRange {
            inner: Some(inner),
            outer,
            count,
        });
    }
    Err(bad())
}

/// The first range `/etc/subuid` or `/etc/subgid` grants `uid` (by user name or number):
/// mapped from 0, or onto itself with `identity`.
pub(crate) fn subid_range(file: &str, uid: u32, identity: bool) -> Result<MapRange, Fatal> {
    let user = passwd::entries(&passwd::read("/etc/passwd"))
        .find(|e| e.id == uid)
        .map(|e| e.name_lossy())
        .ok_or_else(|| Fatal::new(format!("you (user {uid}) don't exist.")))?;
    let text = std::fs::read_to_string(file)
        .map_err(|e| os_fatal(format!("could not open '{file}'"), e))?;
    for line in text.lines() {
        let f: Vec<&str> = line.split(':').collect();
        let [who, start, count] = f.as_slice() else {
            continue;
        };
        if *who != user && who.parse::<u32>().ok() != Some(uid) {
            continue;
        }
        let outer = number(start.trim(), "failed to parse subid map")?;
        let count = number(count.trim(), "failed to parse subid map")?;
        return Ok(MapRange {
            inner: identity.then_some(outer),
            outer,
            count,
        });
    }
    Err(Fatal::new(format!(
        "no line matching user \"{user}\" in {file}"
    )))
}

/// `--map-users=all`: every id of this process's own map, onto itself.
pub(crate) fn kernel_ranges(file: &str) -> Result<Vec<MapRange>, Fatal> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| os_fatal(format!("could not open '{file}'"), e))?;
    Ok(text
        .lines()
        .filter_map(|l| {
            let f: Vec<u32> = l
                .split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect();
            let [start, _, count] = f.as_slice() else {
                return None;
            };
            Some(MapRange {
                inner: Some(*start),
                outer: *start,
                count: *count,
            })
        })
        .collect())
}
/// A user or group: a name in `db` (`/etc/passwd` or `/etc/group`, whose third field is the
/// id), else a number, as util-linux tries them.
pub(crate) fn lookup_id(db: &str, name: &str, what: &str) -> Result<u32, Fatal> {
    if let Some(e) = passwd::entries(&passwd::read(db)).find(|e| e.name == name.as_bytes()) {
        return Ok(e.id);
    }
    match name.parse::<u32>() {
        // (uid_t)-1 means "no change" to the kernel and cannot be mapped.
        Ok(id) if id != u32::MAX => Ok(id),
        _ => Err(Fatal::new(format!("failed to parse {what}: '{name}'"))),
    }
}

/// A decimal `u32` with nothing around it (as `sscanf("%u")` with the rest checked).
pub(crate) fn plain_u32(text: &str) -> Option<u32> {
    (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
}
