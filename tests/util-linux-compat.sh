#!/usr/bin/env bash
# Runs util-linux's own test cases for lsns, nsenter and unshare (tests/ts/{lsns,nsenter,unshare}/*)
# against this crate's example tools, and checks that every case that passes for util-linux's
# own tools on this machine also passes for the examples.
#
# Usage: tests/util-linux-compat.sh UL_SRC [CASE...]
#
#   UL_SRC  a util-linux source tree (2.43-devel or later) in which the tools and the test
#           helpers the cases use are already built: lsns lsfd nsenter unshare mount umount
#           test_mkfds test_sysinfo test_sigreceive test_strerror (build them as util-linux's
#           own documentation describes; this script builds nothing of util-linux).
#   CASE    cases to run, as <tool>/<name> (default: every case of the three tools).
#
# Run it as root: most cases need root and are skipped by util-linux's harness otherwise (a
# skipped case counts as not passed here, for util-linux and for the examples alike).
# The cases are util-linux's (GPL) and stay in its tree; this repository keeps tests of its own
# for each of them (tests/lsns.rs, tests/nsenter.rs, tests/unshare.rs), which CI runs.
#
# Exit status: 0 when every case that passes for util-linux passes for the examples, 1 when one
# does not, 2 on a usage or setup error.
set -euo pipefail

if [ $# -lt 1 ] || [ "$1" = "-h" ] || [ "$1" = "--help" ]; then
  sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
  exit 2
fi
ul=$(cd "$1" && pwd)
shift
repo=$(cd "$(dirname "$0")/.." && pwd)

missing=()
for f in tests/run.sh lsns lsfd nsenter unshare mount umount \
  test_mkfds test_sysinfo test_sigreceive test_strerror; do
  [ -e "$ul/$f" ] || missing+=("$f")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "util-linux-compat: not built in $ul: ${missing[*]}" >&2
  exit 2
fi

if [ $# -gt 0 ]; then
  cases=("$@")
else
  cases=()
  for tool in lsns nsenter unshare; do
    for f in "$ul"/tests/ts/"$tool"/*; do
      [ -f "$f" ] && cases+=("$tool/${f##*/}")
    done
  done
fi

echo "== building the examples (release, all features)"
(cd "$repo" && cargo build --quiet --release --examples --all-features)
examples="$repo/target/release/examples"

# One case through util-linux's harness; prints its status line and returns 0 if it passed.
# A case with sub-tests passes when the case line says "OK" (all its sub-tests passed).
run_case() {
  local out status
  out=$(cd "$ul" && "$@" tests/run.sh --noskip-commands --parallel=1 --parsable --show-diff "$case" 2>&1) || true
  status=$(printf '%s\n' "$out" | grep -E '^ +[a-z]+: .*\.\.\. ' | tail -n 1 | sed 's/^ *//')
  printf '%s\n' "$status"
  if printf '%s\n' "$status" | grep -qE '\.\.\. OK( |$)'; then
    return 0
  fi
  printf '%s\n' "$out" | sed -n '/diff-{{{/,/}}}-diff/p' | sed 's/^/      /'
  return 1
}

failed=()
both=0
ul_only_fail=0
for case in "${cases[@]}"; do
  echo "== $case"
  printf '  util-linux: '
  if run_case env; then ul_ok=1; else ul_ok=0; fi
  printf '  examples:   '
  if run_case env TS_CMD_LSNS="$examples/lsns" TS_CMD_NSENTER="$examples/nsenter" \
    TS_CMD_UNSHARE="$examples/unshare"; then ex_ok=1; else ex_ok=0; fi
  if [ "$ul_ok" = 1 ] && [ "$ex_ok" = 1 ]; then
    both=$((both + 1))
  elif [ "$ul_ok" = 1 ]; then
    failed+=("$case")
  else
    ul_only_fail=$((ul_only_fail + 1))
  fi
done

echo
echo "cases: ${#cases[@]}; passed by util-linux and the examples: $both;" \
  "not passed by util-linux itself: $ul_only_fail"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "passed by util-linux but not by the examples: ${failed[*]}"
  exit 1
fi
echo "every case util-linux passes, the examples pass"
