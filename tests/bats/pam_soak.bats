#!/usr/bin/env bats
# 100,000 authentications in one process (tests/pam/soak.c): no growth in
# memory or descriptors. Run with `meson test --suite soak`.

load pam_helpers

teardown() {
	pam_test_teardown
}

setup() {
	pam_test_setup
	: "${SESAME_PAM_SOAK:?SESAME_PAM_SOAK must name tests/pam/soak}"
	# One line per round would be 100,000 lines: keep only errors.
	export PAM_WRAPPER_DEBUGLEVEL=0
	pam_service soak "auth required $PAM_SESAME conf=$CONF"
}

@test "100,000 authentications in one process: RSS and fds stay flat" {
	local rounds=${SESAME_SOAK_ROUNDS:-100000}
	# Sanitizer builds cannot judge memory here (see soak.c) and grow by
	# some 30 KiB a round: check descriptors and leaks over fewer rounds.
	[ -z "$SAN_PRELOAD" ] || rounds=${SESAME_SOAK_ROUNDS:-10000}
	mint -n 0 alice >"$T/token"
	before=$(cd "$T/state" && find . -type f -exec sha256sum {} + | sort)
	run pam_wrapped "$SESAME_PAM_SOAK" soak alice "$T/token" "$rounds"
	# The figures, in the TAP output (and meson's test log) even on success.
	sed 's/^/# /' <<<"$output" >&3
	[ "$status" -eq 0 ]
	# The store is not touched by a reusable token.
	[ "$(cd "$T/state" && find . -type f -exec sha256sum {} + | sort)" = "$before" ]
}
