#!/usr/bin/env bash
# The account report in a real browser: a short demo fills a state directory, `kamwatch report
# account` renders a page, headless Chromium (Debian's `chromium`) loads it without console
# errors, every section and the charts are in the rendered DOM, and a screenshot is taken.
# Usage: report_browser_test.sh KAMWATCH_BINARY SOURCE_DIR
set -uo pipefail
K="$1"; SRC="$2"
command -v chromium >/dev/null || { echo "chromium is not installed (scripts/install-deps.sh installs it)"; exit 1; }
tmp=$(mktemp -d /tmp/kamwatch-report-test-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
cd "$SRC"
"$K" demo --accounts 12 --days 400 --duration 15s --http 127.0.0.1:0 --data "$tmp/data" > "$tmp/demo.out" 2>&1 \
  || { echo "demo failed"; tail -20 "$tmp/demo.out"; exit 1; }
"$K" report account ACME-0002 --data "$tmp/data" --rules "$SRC/rules" --out "$tmp/report.html" || exit 1
chrome=(chromium --headless=new --no-sandbox --disable-gpu --hide-scrollbars --enable-logging=stderr --v=0)
timeout 60 "${chrome[@]}" --dump-dom "file://$tmp/report.html" > "$tmp/dom.html" 2> "$tmp/dom.log" || { echo "chromium failed"; cat "$tmp/dom.log"; exit 1; }
timeout 60 "${chrome[@]}" --window-size=1280,2000 --screenshot="$tmp/report.png" "file://$tmp/report.html" > /dev/null 2> "$tmp/shot.log" || { echo "screenshot failed"; exit 1; }
fail=0
# Console messages from the page (errors, warnings) are logged as CONSOLE(...) lines.
if grep -h "CONSOLE\|Uncaught" "$tmp/dom.log" "$tmp/shot.log"; then echo "FAIL: console messages"; fail=1; fi
for id in account health health-trend health-drivers revenue usage seats support sentiment relationship alerts value next-steps; do
  grep -q "<section id=\"$id\"" "$tmp/dom.html" || { echo "FAIL: section $id not rendered"; fail=1; }
done
charts=$(grep -o '<svg class="chart' "$tmp/dom.html" | wc -l)
[ "$charts" -ge 6 ] || { echo "FAIL: only $charts charts rendered"; fail=1; }
# A real PNG of the requested width.
python3 - "$tmp/report.png" <<'PY' || fail=1
import struct, sys
d = open(sys.argv[1], 'rb').read()
assert d[:8] == b'\x89PNG\r\n\x1a\n', 'not a PNG'
w, h = struct.unpack('>II', d[16:24])
assert w == 1280 and h == 2000, (w, h)
assert len(d) > 20000, 'suspiciously small screenshot: %d bytes' % len(d)
PY
[ $fail -eq 0 ] && echo "report_browser_test: 13 sections, $charts charts, screenshot $(stat -c %s "$tmp/report.png") bytes, no console messages"
exit $fail
