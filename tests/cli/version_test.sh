#!/usr/bin/env bash
# `kamwatch version` prints the version and names the allocator; with $2 (the jemalloc builds:
# the options kamwatch compiles in) the allocator line must contain it, i.e. those options are
# the ones in effect, and MALLOC_CONF in the environment overrides them.
set -uo pipefail
K="$1"
expected="${2:-}"
fail=0
out=$("$K" version) || { echo "FAIL: kamwatch version exited $?"; exit 1; }
grep -q "^kamwatch [0-9]" <<<"$out" || { echo "FAIL: no version line in: $out"; fail=1; }
alloc=$(sed -n 's/^allocator: //p' <<<"$out")
if [ -z "$alloc" ]; then
  echo "FAIL: kamwatch version prints no allocator line: $out"; fail=1
elif [ -n "$expected" ]; then
  grep -qF -- "$expected" <<<"$alloc" ||
    { echo "FAIL: 'allocator: $alloc' does not contain '$expected'"; fail=1; }
  over=$(MALLOC_CONF=thp:always "$K" version | sed -n 's/^allocator: //p')
  grep -qF "transparent huge pages always" <<<"$over" ||
    { echo "FAIL: MALLOC_CONF=thp:always did not apply: 'allocator: $over'"; fail=1; }
fi
[ $fail -eq 0 ] && echo "version_test: allocator: $alloc"
exit $fail
