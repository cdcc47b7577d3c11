#!/bin/bash
# The README's first command: install, build, and run a sandboxed demo.
# A fake user "demo" exists only for this script (nss_wrapper), the PAM
# service file lives in a temporary directory (pam_wrapper), and nothing
# in /etc is read or written.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${SESAME_SKIP_DEPS:-0}" != 1 ]; then
	bash scripts/deps.sh
fi
build=${SESAME_BUILD:-build}
[ -d "$build" ] || meson setup "$build" >/dev/null
ninja -C "$build" >/dev/null
build=$(cd "$build" && pwd)
mint=$build/cli/sesame-mint
module=$build/pam/pam_sesame.so
libdir=/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)

sb=$(mktemp -d /tmp/sesame-demo.XXXXXX)
trap 'rm -rf "$sb"' EXIT
chmod 700 "$sb"
mkdir -m 700 "$sb/state" "$sb/pam.d"
echo 'demo:x:4242:4242:Demo User:/nonexistent:/bin/sh' >"$sb/passwd"
echo 'demo:x:4242:' >"$sb/group"
echo 'demo:$y$j9T$demosalt$demohashdemohashdemohashdemohash:20000:0:99999:7:::' >"$sb/shadow"
cat >"$sb/sesame.conf" <<CONF
key_file = $sb/sesame.key
state_dir = $sb/state
url = https://login.example/sesame/#
max_age = 10m
CONF
chmod 600 "$sb/sesame.conf"
printf "auth required pam_deny.so\naccount required pam_deny.so\n" >"$sb/pam.d/other"
cat >"$sb/pam.d/sesame-demo" <<PAM
auth     required  $module conf=$sb/sesame.conf
account  required  pam_permit.so
PAM

export NSS_WRAPPER_PASSWD=$sb/passwd NSS_WRAPPER_GROUP=$sb/group NSS_WRAPPER_SHADOW=$sb/shadow
export PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR=$sb/pam.d
# nss_wrapper answers getspnam() but not getspnam_r(), which sesame calls:
# the test suites' shim bridges the two (tests/e2e/getspnam_r_shim.c).
shadow_shim=$build/tests/e2e_getspnam_r_shim.so
wrapped() { LD_PRELOAD=$libdir/libpam_wrapper.so:$libdir/libnss_wrapper.so:$shadow_shim "$@"; }
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

step sesame-mint --keygen
wrapped "$mint" -c "$sb/sesame.conf" --keygen

step sesame-mint --link --qr utf8 demo
# (Not `tee /dev/stderr`: when stderr is a log file, that reopens and truncates it.)
minted=$(wrapped "$mint" -c "$sb/sesame.conf" --link --qr utf8 demo)
printf '%s\n' "$minted"
link=$(printf '%s\n' "$minted" | tail -n 1)

step sesame-mint --inspect "'$link'"
wrapped "$mint" -c "$sb/sesame.conf" --inspect "$link"

step "pamtester sesame-demo demo authenticate    # pasting the link"
printf '%s\n' "$link" | wrapped pamtester -v sesame-demo demo authenticate

step "pamtester sesame-demo demo authenticate    # the same link again"
if printf '%s\n' "$link" | wrapped pamtester -v sesame-demo demo authenticate; then
	echo "demo: the replay was accepted: this must never happen" >&2
	exit 1
fi
echo "(refused, as it must be: the token was for one use)"

step sesame-mint --inspect "'$link'"
wrapped "$mint" -c "$sb/sesame.conf" --inspect "$link" || true
