#!/bin/bash
# Build with gcc, ASan + UBSan (leak checking on) and run the tests
# again. Run scripts/deps.sh first.
set -euo pipefail
cd "$(dirname "$0")/.."

build=${SESAME_ASAN_BUILD:-build-asan}
rm -rf "$build"
CC=gcc meson setup "$build" -Dwerror=true -Db_sanitize=address,undefined \
	-Db_lundef=false -Dbuildtype=debug >/dev/null
ninja -C "$build"
# The PAM suites preload pam_wrapper and nss_wrapper ahead of the ASan
# runtime; that order is fine here (they only interpose libc calls).
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:verify_asan_link_order=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export LSAN_OPTIONS=report_objects=1
# The etcd soak checks that descriptors, threads and RSS stay flat over
# 10,000 sessions in the plain build; here it looks for leaks and undefined
# behaviour, which 1,000 sessions show as well (each starts a sanitized
# helper: 10,000 took over 15 minutes).
export SESAME_ETCD_SOAK=${SESAME_ETCD_SOAK:-1000}
# Suites run side by side, each with a /tmp of its own (as root; without
# root, the ones that use pam_wrapper run one at a time: tests/meson.build).
meson test -C "$build" --print-errorlogs
