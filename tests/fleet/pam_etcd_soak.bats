#!/usr/bin/env bats
# 10,000 authentications in one process through the real module with
# store = etcd (tests/pam/soak.c under pam_wrapper), against a cluster
# this file starts: each round starts the module's etcd helper, which
# counts a use of a limited token in a quorum-committed transaction and
# writes its use record. The caller's descriptors, threads and resident
# set stay flat, and no helper is left running or unreaped.

load fleet_helpers
load ../bats/pam_helpers

# 255 is the most uses a token can carry (one byte in the token format):
# a run takes ROUNDS / 255 tokens, each used up exactly.
USES=255

setup_file() {
	# Every round adds a revision of a use counter and a use record (no
	# compaction during a run): more than the 4 MiB the other files use to
	# fill the quota on purpose (10,000 rounds: a 4.7 MB database).
	export SESAME_TEST_ETCD_QUOTA=67108864
	fleet_setup
}
teardown_file() { fleet_teardown; }

setup() {
	pam_test_setup
	: "${SESAME_PAM_SOAK:?SESAME_PAM_SOAK must name tests/pam/soak}"
	# sesame-mint as the issuer (it writes the ledger); the module as a
	# verifying host, with its own state_dir for the cached etcd token.
	printf 'etcd_helper = %s\nstore = etcd\n' "$SESAME_ETCD_HELPER" >>"$CONF"
	cat "$CLUSTER/issuer.conf" >>"$CONF"
	mkdir -m 0700 "$T/vstate"
	sed "s|^state_dir = .*|state_dir = $T/vstate|" "$CONF" |
		grep -v '^etcd_user\|^etcd_password_file' >"$T/verifier.conf"
	grep '^etcd_user\|^etcd_password_file' "$CLUSTER/verifier.conf" >>"$T/verifier.conf"
	chmod 0644 "$T/verifier.conf"
	# One line per round would be 10,000 lines: keep only errors.
	export PAM_WRAPPER_DEBUGLEVEL=0
	pam_service soak "auth required $PAM_SESAME conf=$T/verifier.conf"
}

teardown() { pam_test_teardown; }

# Keys under a prefix, as the cluster's root sees them.
etcd_keys() { "$SESAME_FLEET_DIR/cluster.sh" root "$CLUSTER" get --prefix "$1" --keys-only | grep -c .; }

@test "10,000 authentications through the module and etcd: descriptors, threads and RSS flat" {
	local rounds=${SESAME_PAM_ETCD_SOAK:-10000} tokens i
	# Sanitizer builds judge descriptors, threads and leaks only (soak.c),
	# and each round starts a sanitized helper: fewer rounds.
	[ -z "$SAN_PRELOAD" ] || rounds=${SESAME_PAM_ETCD_SOAK:-1000}
	tokens=$(((rounds + USES - 1) / USES))
	for i in $(seq "$tokens"); do
		echo "$(mint -t 2h -n "$USES" alice) $USES"
	done >"$T/tokens"
	[ "$(etcd_keys /sesame/uses/)" -eq 0 ]

	run pam_wrapped "$SESAME_PAM_SOAK" soak alice "$T/tokens" "$rounds"
	# The figures, in the TAP output (and meson's test log) even on success.
	sed 's/^/# /' <<<"$output" >&3
	[ "$status" -eq 0 ]

	# Every round was a use counted in etcd: a counter per token and a use
	# record per round.
	[ "$(etcd_keys /sesame/uses/)" -eq $((tokens + rounds)) ]
	# The helper cached the verifier's auth token in the module's state_dir
	# (line 2 of the cache: the etcd user).
	[ "$(sed -n 2p "$T/vstate/etcd-token")" = verifier ]
	# The cluster's size after the run (DB SIZE, RAFT INDEX), for the log.
	"$SESAME_FLEET_DIR/cluster.sh" root "$CLUSTER" endpoint status -w table | sed 's/^/# /' >&3
}
