#!/bin/bash
# Run one test with a /tmp of its own: a new mount namespace with an empty
# tmpfs on /tmp, gone when the test ends. pam_wrapper copies the service
# files of every process into /tmp/pam.<one character>, picked by lstat
# then mkdir, and removes the directories of pids that have exited: two
# suites sharing /tmp take each other's directories, however their
# services are named. With a /tmp each, `meson test` runs them side by side.
#
# Needs root, and / a mount point (unshare makes every mount private to
# the new namespace; in a bare chroot it cannot). Otherwise the test runs
# with the shared /tmp, and tests/meson.build (which asks
# `private-tmp.sh --check` at setup) marks the suites that use pam_wrapper
# as not parallel: meson runs them one at a time.
#
#   private-tmp.sh --check        exit 0 when a private /tmp can be made
#   private-tmp.sh CMD [ARG...]   run CMD with one (or without, see above)
set -euo pipefail

can_unshare() {
	[ "$(id -u)" = 0 ] && unshare -m --propagation private true 2>/dev/null
}

if [ "${1:-}" = --check ]; then
	can_unshare
	exit
fi
# Already inside one (a test that runs tests): nothing to do.
if [ -n "${SESAME_PRIVATE_TMP:-}" ] || ! can_unshare; then
	exec "$@"
fi
export SESAME_PRIVATE_TMP=1
exec unshare -m --propagation private \
	bash -c 'mount -t tmpfs -o mode=1777 tmpfs /tmp && exec "$@"' private-tmp "$@"
