#!/bin/bash
# Install what sesame needs to build and test, on Debian 12 (as root).
set -euo pipefail

packages=(
	# build
	meson ninja-build pkg-config gcc clang libclang-rt-14-dev
	libssl-dev libpam0g-dev libqrencode-dev libpng-dev libjson-c-dev
	# tests: PAM and NSS sandboxes, drivers, decoders
	bats pamtester libpam-wrapper libnss-wrapper libpamtest0-dev libpam-modules
	zbar-tools python3 mandoc valgrind
	# end-to-end: real sshd and ssh, a console stack, a QR decoder, SMTP
	openssh-server openssh-client sshpass expect librsvg2-bin msmtp
	python3-aiosmtpd libpam-modules-bin openssl
	# the landing page in a real browser (playwright-core comes from npm)
	chromium
	# packages: Debian (dpkg-buildpackage, lintian) and the RPM spec check
	dpkg-dev build-essential debhelper lintian rpm
)
# Node.js ships with this machine image; Debian's is the fallback.
command -v npm >/dev/null || packages+=(nodejs npm)

if [ "$(id -u)" -ne 0 ]; then
	echo "scripts/deps.sh: run as root (apt-get install)" >&2
	exit 2
fi
export DEBIAN_FRONTEND=noninteractive
# Installing openssh-server must not start a daemon on this machine: the
# tests run their own sshd on 127.0.0.1.
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
	chmod 755 /usr/sbin/policy-rc.d
	trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
# The machine's own node/npm may come first on PATH; either will do.
npm ci --prefix tests/www --no-audit --no-fund --loglevel=error >/dev/null
