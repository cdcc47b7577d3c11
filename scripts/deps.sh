#!/bin/bash
# Install what sesame needs to build and test, on Debian 12 (as root).
set -euo pipefail

packages=(
	# build
	meson ninja-build pkg-config gcc clang libclang-rt-14-dev
	libssl-dev libpam0g-dev libqrencode-dev libpng-dev
	# tests: PAM and NSS sandboxes, drivers, decoders
	bats pamtester libpam-wrapper libnss-wrapper libpamtest0-dev libpam-modules
	zbar-tools python3 mandoc
	# the landing page in a real browser (playwright-core comes from npm)
	chromium
)
# Node.js ships with this machine image; Debian's is the fallback.
command -v npm >/dev/null || packages+=(nodejs npm)

if [ "$(id -u)" -ne 0 ]; then
	echo "scripts/deps.sh: run as root (apt-get install)" >&2
	exit 2
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
# The machine's own node/npm may come first on PATH; either will do.
npm ci --prefix tests/www --no-audit --no-fund --loglevel=error >/dev/null
