#!/usr/bin/env bash
# Every command listed by `kamwatch --help` (and every subcommand) answers --help with a usage
# line and an example, and exits 0.
set -uo pipefail
K="$1"
fail=0
cmds=$("$K" --help | awk '/^Commands:/{on=1; next} on && /^  [a-z]/{print $1} on && /^$/{on=0}')
[ -n "$cmds" ] || { echo "no commands found in kamwatch --help"; exit 1; }
for c in $cmds "state show" "state list" "state offsets" "rules check" "rules test" \
         "config check" "config reference"; do
  out=$($K $c --help 2>&1); rc=$?
  if [ $rc -ne 0 ]; then echo "FAIL: kamwatch $c --help exited $rc"; fail=1; continue; fi
  grep -q "^Usage: kamwatch" <<<"$out" || { echo "FAIL: kamwatch $c --help has no Usage line"; fail=1; }
  grep -qi "^Examples\?:" <<<"$out" || { echo "FAIL: kamwatch $c --help has no example"; fail=1; }
done
[ $fail -eq 0 ] && echo "help_test: $(wc -w <<<"$cmds") commands and their subcommands document themselves"
exit $fail
