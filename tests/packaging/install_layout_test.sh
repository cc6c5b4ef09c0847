#!/usr/bin/env bash
# `cmake --install` of a build tree lays out what docs/install.md says, and the installed
# program, rules and configuration work:
#   1. --prefix TMP: TMP/bin/kamwatch, TMP/etc/kamwatch/kamwatch.yaml (rules.dir pointing into
#      TMP), TMP/lib/systemd/system/kamwatch.service (ExecStart = TMP/bin/kamwatch), the rule
#      packs, the deploy kit and the docs; `version`, `rules check` and `config check` pass.
#   2. --prefix /usr with DESTDIR: the configuration in /etc, the unit in /lib/systemd/system.
# Usage: install_layout_test.sh BUILD_DIR SOURCE_DIR VERSION
set -euo pipefail
build=$1 src=$2 version=$3
tmp=$(mktemp -d "${TMPDIR:-/tmp}/kamwatch-install-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
need_file() { [ -f "$1" ] || fail "missing $1"; }
need_dir() { [ -d "$1" ] || fail "missing directory $1"; }
need_line() {  # FILE REGEX
  grep -Eq -- "$2" "$1" || fail "$1: no line matching '$2'"
}

# 1. A prefix install.
p=$tmp/prefix
cmake --install "$build" --prefix "$p" >"$tmp/install.log" || { cat "$tmp/install.log"; exit 1; }
echo "installed to $p:"
(cd "$p" && find . -path ./share/doc -prune -o -type f -print | sort | sed 's/^/  /')

[ -x "$p/bin/kamwatch" ] || fail "missing executable $p/bin/kamwatch"
conf=$p/etc/kamwatch/kamwatch.yaml
unit=$p/lib/systemd/system/kamwatch.service
need_file "$conf"
need_file "$unit"
for f in "$src"/rules/*.yaml; do need_file "$p/share/kamwatch/rules/$(basename "$f")"; done
[ ! -e "$p/share/kamwatch/rules/tests" ] || fail "rules/tests/ must not be installed"
[ -z "$(find "$p/share/kamwatch/rules" -type f ! -name '*.yaml')" ] ||
  fail "share/kamwatch/rules holds files other than *.yaml"
for f in "$src"/deploy/grafana/dashboards/*.json; do
  need_file "$p/share/kamwatch/deploy/grafana/dashboards/$(basename "$f")"
done
need_dir "$p/share/kamwatch/deploy/grafana/provisioning"
need_file "$p/share/kamwatch/deploy/prometheus/prometheus.yml"
need_file "$p/share/kamwatch/deploy/prometheus/kamwatch-alerts.yml"
need_file "$p/share/kamwatch/deploy/alertmanager/alertmanager.yml"
need_file "$p/share/kamwatch/deploy/README.md"
need_file "$p/share/doc/kamwatch/README.md"
need_file "$p/share/doc/kamwatch/docs/configuration.md"
need_file "$p/share/doc/kamwatch/examples/kamwatch.yaml"

# The generated files name the installed paths, and nothing is left unsubstituted.
need_line "$conf" "^  dir: $p/share/kamwatch/rules( |\$)"
need_line "$conf" "^  data_dir: /var/lib/kamwatch( |\$)"
need_line "$unit" "^ExecStart=$p/bin/kamwatch run --config $conf\$"
need_line "$unit" "^Type=notify\$"
need_line "$unit" "^User=kamwatch\$"
if grep -n '@[A-Z_]*@' "$conf" "$unit"; then fail "unsubstituted @VARIABLE@ above"; fi
[ "$(stat -c %a "$conf")" = 640 ] || fail "$conf: mode $(stat -c %a "$conf"), want 640"

out=$("$p/bin/kamwatch" version) || fail "kamwatch version exited $?"
echo "version: $out"
[[ $out == "kamwatch $version"* ]] || fail "version says '$out', want 'kamwatch $version'"
"$p/bin/kamwatch" rules check "$p/share/kamwatch/rules" || fail "rules check of the installed packs"
"$p/bin/kamwatch" config check "$conf" || fail "config check of the installed configuration"
if command -v systemd-analyze >/dev/null && ! systemd-analyze verify "$unit" >"$tmp/verify.log" 2>&1; then
  # Without a running systemd, verify may complain about the host too: only complaints about
  # the unit's own lines or its ExecStart count.
  if grep -Ei "kamwatch\.service:[0-9]+|ExecStart|executable" "$tmp/verify.log" >&2; then
    fail "systemd-analyze verify $unit"
  fi
fi

# 2. The system layout (prefix /usr), as the Debian package and the Docker image use it.
r=$tmp/root
DESTDIR=$r cmake --install "$build" --prefix /usr >"$tmp/install-usr.log" ||
  { cat "$tmp/install-usr.log"; exit 1; }
[ -x "$r/usr/bin/kamwatch" ] || fail "missing executable $r/usr/bin/kamwatch"
need_file "$r/etc/kamwatch/kamwatch.yaml"
need_file "$r/lib/systemd/system/kamwatch.service"
need_file "$r/usr/share/kamwatch/rules/churn.yaml"
[ ! -e "$r/usr/etc" ] || fail "prefix /usr must install the configuration to /etc, not /usr/etc"
need_line "$r/etc/kamwatch/kamwatch.yaml" "^  dir: /usr/share/kamwatch/rules( |\$)"
need_line "$r/lib/systemd/system/kamwatch.service" \
  "^ExecStart=/usr/bin/kamwatch run --config /etc/kamwatch/kamwatch.yaml\$"

if [ "$fails" -ne 0 ]; then
  echo "$fails problem(s)" >&2
  exit 1
fi
echo "install layout: ok"
