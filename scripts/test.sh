#!/bin/bash
# Install, build with -Werror, and run every test suite. The README's
# test command and what CI runs.
#   SESAME_SKIP_DEPS=1  skip apt-get (dependencies already there)
#   SESAME_BUILD=DIR    build directory (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${SESAME_SKIP_DEPS:-0}" != 1 ]; then
	bash scripts/deps.sh
fi
build=${SESAME_BUILD:-build}
if [ -d "$build" ]; then
	meson setup --reconfigure "$build" -Dwerror=true >/dev/null
else
	meson setup "$build" -Dwerror=true >/dev/null
fi
ninja -C "$build"
# Suites run side by side, each with a /tmp of its own (as root; without
# root, the ones that use pam_wrapper run one at a time: tests/meson.build).
meson test -C "$build" --print-errorlogs
