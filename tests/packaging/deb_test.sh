#!/usr/bin/env bash
# `cpack -G DEB` builds a kamwatch .deb with the files where docs/install.md says, the
# configuration as a conffile, maintainer scripts and runtime dependencies. Inspects the
# package only (dpkg-deb); it never installs it.
# Usage: deb_test.sh BUILD_DIR VERSION      (exit 77 = skipped: no dpkg-deb or cpack)
set -euo pipefail
build=$1 version=$2
command -v dpkg-deb >/dev/null && command -v cpack >/dev/null || { echo "skip: no dpkg-deb/cpack"; exit 77; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/kamwatch-deb-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

cpack -G DEB --config "$build/CPackConfig.cmake" -B "$tmp/out" >"$tmp/cpack.log" 2>&1 ||
  { cat "$tmp/cpack.log"; exit 1; }
debs=("$tmp"/out/kamwatch_*.deb)
[ ${#debs[@]} -eq 1 ] && [ -f "${debs[0]}" ] || { cat "$tmp/cpack.log"; echo "FAIL: want one kamwatch_*.deb in $tmp/out" >&2; exit 1; }
deb=${debs[0]}
echo "built $(basename "$deb") ($(du -h "$deb" | cut -f1))"
dpkg-deb -I "$deb"

dpkg-deb -c "$deb" | awk '{print $NF}' | sed 's#^\./#/#' >"$tmp/contents"
for path in /usr/bin/kamwatch /etc/kamwatch/kamwatch.yaml /usr/share/kamwatch/rules/churn.yaml \
            /lib/systemd/system/kamwatch.service /usr/share/kamwatch/deploy/prometheus/prometheus.yml \
            /usr/share/doc/kamwatch/README.md; do
  grep -qx -- "$path" "$tmp/contents" || fail "package lacks $path"
done
! grep -q '^/usr/share/kamwatch/rules/tests' "$tmp/contents" || fail "package holds rules/tests/"
! grep -q '^/usr/etc' "$tmp/contents" || fail "package holds /usr/etc"

[ "$(dpkg-deb -f "$deb" Package)" = kamwatch ] || fail "Package is not kamwatch"
[ "$(dpkg-deb -f "$deb" Version)" = "$version" ] || fail "Version $(dpkg-deb -f "$deb" Version), want $version"
[ -n "$(dpkg-deb -f "$deb" Maintainer)" ] || fail "no Maintainer"
depends=$(dpkg-deb -f "$deb" Depends)
[ -n "$depends" ] || fail "Depends is empty"
for lib in librdkafka1 librocksdb libyaml-cpp libprotobuf libsystemd0; do
  [[ $depends == *"$lib"* ]] || fail "Depends lacks $lib: $depends"
done

dpkg-deb -e "$deb" "$tmp/control"
grep -qx /etc/kamwatch/kamwatch.yaml "$tmp/control/conffiles" || fail "conffiles lacks /etc/kamwatch/kamwatch.yaml"
for s in postinst prerm postrm; do
  [ -x "$tmp/control/$s" ] || { fail "no executable $s"; continue; }
  sh -n "$tmp/control/$s" || fail "$s: syntax error"
done
grep -q 'useradd' "$tmp/control/postinst" || fail "postinst creates no user"
grep -q '/run/systemd/system' "$tmp/control/postinst" || fail "postinst: systemctl not guarded"

# The packaged files name the packaged paths, and the program runs.
dpkg-deb -x "$deb" "$tmp/root"
grep -Eq '^  dir: /usr/share/kamwatch/rules( |$)' "$tmp/root/etc/kamwatch/kamwatch.yaml" ||
  fail "packaged config: rules.dir is not /usr/share/kamwatch/rules"
grep -qx 'ExecStart=/usr/bin/kamwatch run --config /etc/kamwatch/kamwatch.yaml' \
  "$tmp/root/lib/systemd/system/kamwatch.service" || fail "packaged unit: wrong ExecStart"
"$tmp/root/usr/bin/kamwatch" version | grep -q "^kamwatch $version" || fail "packaged binary: version"

if [ "$fails" -ne 0 ]; then
  echo "$fails problem(s)" >&2
  exit 1
fi
echo "deb: ok"
