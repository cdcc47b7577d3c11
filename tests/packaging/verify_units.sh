#!/bin/sh
# verify_units.sh BUILD_PACKAGING_DIR HELPER: `systemd-analyze verify` on
# the generated sesame-etcd units (with ExecStart pointed at the built
# helper, since the installed path need not exist yet). Skipped (77)
# without systemd-analyze.
set -eu
dir=$1
helper=$2
command -v systemd-analyze >/dev/null 2>&1 || { echo "skip: no systemd-analyze"; exit 77; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$dir/sesame-etcd.socket" "$work/"
sed "s|^ExecStart=[^ ]*|ExecStart=$helper|" "$dir/sesame-etcd.service" >"$work/sesame-etcd.service"
# the grant the unit documents: reading other owners' etcd files
grep -qx 'CapabilityBoundingSet=CAP_DAC_READ_SEARCH' "$work/sesame-etcd.service"
out=$(cd "$work" && SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --man=no \
	./sesame-etcd.socket ./sesame-etcd.service 2>&1) || { echo "$out"; exit 1; }
# verify warns rather than fails on unknown or misplaced settings
if printf '%s\n' "$out" | grep -i -E 'unknown|ignoring|invalid|failed' | grep -i 'sesame-etcd'; then
	exit 1
fi
echo "ok: sesame-etcd.socket and sesame-etcd.service verify"
