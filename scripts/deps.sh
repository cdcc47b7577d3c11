#!/bin/bash
# Install what sesame needs to build and test, on Debian 12 (as root).
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
	# build
	meson ninja-build pkg-config gcc clang libclang-rt-14-dev
	libssl-dev libpam0g-dev libqrencode-dev libpng-dev
	libjson-c-dev libcurl4-openssl-dev libsystemd-dev etcd-server etcd-client
	# tests: PAM and NSS sandboxes, drivers, decoders
	bats pamtester libpam-wrapper libnss-wrapper libpamtest0-dev libpam-modules
	zbar-tools python3 mandoc valgrind
	# end-to-end: real sshd and ssh, a console stack, a QR decoder, SMTP
	openssh-server openssh-client sshpass expect librsvg2-bin msmtp
	python3-aiosmtpd libpam-modules-bin openssl
	# the fleet suites: a put through etcd's gateway that sesame's client cannot make
	curl
	# the landing page in a real browser (playwright-core comes from npm)
	chromium
	# packages: Debian (dpkg-buildpackage, lintian) and the RPM spec check
	dpkg-dev build-essential debhelper lintian rpm
)
# The landing page's browser test needs node and npm: Debian's own (Node
# 18, which the playwright-core version tests/www pins supports) unless
# the machine already has both.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	packages+=(nodejs npm)
fi

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
# Only what is missing: with everything installed this needs no network.
missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q ' installed$' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The browser driver, at the version package.json pins (npm ci: exactly the
# lock file), unless that version is already there.
pinned=$(node -p 'require("./tests/www/package.json").devDependencies["playwright-core"]')
have=$(node -p 'require("./tests/www/node_modules/playwright-core/package.json").version' \
	2>/dev/null || true)
if [ "$have" != "$pinned" ]; then
	npm ci --prefix tests/www --no-audit --no-fund --loglevel=error >/dev/null
fi
