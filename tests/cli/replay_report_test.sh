#!/usr/bin/env bash
# `kamwatch replay --truth --report`: the HTML report's recall/precision/lead-time tables show
# exactly the numbers the command line prints (both come from one BacktestScores), and the page
# is self-contained.
#   tests/cli/replay_report_test.sh KAMWATCH_BINARY [RULES_DIR]
set -euo pipefail
bin=${1:?kamwatch binary}
root=$(cd "$(dirname "$0")/../.." && pwd)
rules=${2:-$root/rules}
work=$(mktemp -d /tmp/kamwatch-replay-report-XXXXXX)
trap 'rm -rf "$work"' EXIT

"$bin" simulate --accounts 40 --days 400 --seed 7 --out "$work/events.jsonl" \
  --truth "$work/truth.jsonl" >/dev/null 2>&1
"$bin" replay --quiet --rules "$rules" --events "$work/events.jsonl" --out "$work/alerts.jsonl" \
  --truth "$work/truth.jsonl" --report "$work/replay.html" >"$work/printed.md"

# Printed Markdown rows -> "a|b|c" (one table: the lines after its header up to a blank line).
printed_rows() {  # $1: first header cell
  awk -v h="| $1 |" 'index($0, h) == 1 {on = 1; getline; next} on && /^$/ {on = 0} on' \
    "$work/printed.md" | sed 's/^| //; s/ |$//; s/ | /|/g'
}
# HTML table rows -> "a|b|c" (cells' text, tags and chips removed).
html_rows() {  # $1: the table's class
  tr -d '\n' <"$work/replay.html" | grep -o "<table class=\"$1\">.*" | sed 's#</table>.*##' |
    sed 's#.*</thead>##; s#<tr>#\n#g' | sed 's#</td><td[^>]*>#|#g; s#<[^>]*>##g' |
    grep -v '^$' |
    sed 's/&amp;/\&/g; s/&lt;/</g; s/&gt;/>/g; s/&quot;/"/g; s/&#39;/'"'"'/g'
}

fail=0
compare() {  # $1: printed header cell, $2: HTML table class
  local p h
  p=$(printed_rows "$1")
  h=$(html_rows "$2")
  if [ -z "$p" ]; then echo "FAIL: no '$1' table in the printed output"; fail=1; return; fi
  if [ "$p" != "$h" ]; then
    echo "FAIL: the '$1' table differs (printed < > HTML):"
    diff <(echo "$p") <(echo "$h") || true
    fail=1
  else
    echo "same '$1' rows in the printed table and the HTML report:"
    echo "$p" | sed 's/^/  /'
  fi
}
compare signal scores
compare scenario scenarios

for bad in '<script' 'http://' 'https://' '<link' 'src='; do
  if grep -qF "$bad" "$work/replay.html"; then echo "FAIL: the report contains $bad"; fail=1; fi
done
for id in replay rules alerts-over-time scores timelines; do
  grep -q "<section id=\"$id\"" "$work/replay.html" || { echo "FAIL: no section $id"; fail=1; }
done
grep -q 'class="chart timeline-chart"' "$work/replay.html" ||
  { echo "FAIL: no account timeline"; fail=1; }
[ $fail -eq 0 ] && echo "replay_report_test: ok ($(wc -c <"$work/replay.html") bytes of HTML)"
exit $fail
