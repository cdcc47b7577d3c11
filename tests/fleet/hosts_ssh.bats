#!/usr/bin/env bats
# Real OpenSSH on two simulated hosts sharing one etcd cluster: each
# sshd runs in a UTS namespace of its own with its host name (fleet-b,
# fleet-c), its own accounts (alice's password hash differs), PAM service
# and sesame config (store = etcd, the verifier's etcd credentials), on a
# port of 127.0.0.1; tests/e2e's sshd set-up starts them. A third host,
# fleet-a, is the issuer. The real ssh client types the token at the
# prompt (tests/e2e/ssh_prompt.exp under expect).

load ../bats/pam_helpers
load ../e2e/e2e_helpers
load hosts_helpers

# start_sshd_on DIR: sshd as host DIR (its namespace, accounts, config).
start_sshd_on() {
	local h=$FLEET/$1
	E=$h CONF=$h/sesame.conf
	export NSS_WRAPPER_PASSWD=$h/passwd NSS_WRAPPER_GROUP=$h/group NSS_WRAPPER_SHADOW=$h/shadow
	export PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR=$h/pam.d
	export PAM_WRAPPER_DEBUGLEVEL=2 PAM_WRAPPER_DISABLE_DEEPBIND=1
	mkdir -p "$h/sbin"
	fleet_ns "$1"
	SSHD_LAUNCH=("${FLEET_NS[@]}")
	e2e_start_sshd || return 1
	echo "$SSHD_PID" >"$FLEET/$1.sshd.pid"
	echo "$SSHD_PORT" >"$FLEET/$1.sshd.port"
}

setup_file() {
	fleet_start
	e2e_sshd_prerequisites || skip "$SSHD_SKIP"
	command -v expect >/dev/null || skip "expect not installed"
	fleet_accounts a
	fleet_host a fleet-a web auto issuer
	mint_on a --keygen --group web
	local h
	for h in b c; do
		mkdir -p "$FLEET/$h"
		E=$FLEET/$h e2e_write_accounts
		fleet_host "$h" "fleet-$h" web auto verifier
		give_key a "$h" web.group.key
		start_sshd_on "$h"
	done
}

teardown_file() {
	local r=0 h
	for h in b c; do
		if grep -a -q -E 'Sanitizer|runtime error:' "${FLEET:-/nonexistent}/$h/sshd.log" 2>/dev/null; then
			grep -a -E -A20 'Sanitizer|runtime error:' "$FLEET/$h/sshd.log" >&2
			r=1
		fi
	done
	fleet_stop
	return "$r"
}

setup() { fleet_test_setup; }

teardown() {
	fleet_test_teardown
	if [ -z "${BATS_TEST_COMPLETED:-}" ]; then
		for h in b c; do
			echo "--- last lines of $h/sshd.log" >&2
			tail -n 15 "$FLEET/$h/sshd.log" >&2
		done
	fi
}

# ssh_to DIR USER ANSWER: the real ssh client, on a terminal (expect),
# typing ANSWER at sesame's prompt on host DIR's sshd.
ssh_to() {
	SESAME_ANSWER=$3 timeout "$FLEET_CLIENT_TIMEOUT" expect -f "$E2E_DIR/ssh_prompt.exp" \
		"$(cat "$FLEET/$1.sshd.port")" "$2"
}

@test "sshd on two hosts: one token, one login; the second host refuses it" {
	mint_json_on a -H group:web alice
	run ssh_to b alice "$TOK"
	printf '%s\n' "$output"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "prompt: (alice@127.0.0.1) Sesame token or link: " ]
	[ "${lines[1]}" = "output: sesame-ok" ]
	run ssh_to c alice "$TOK"
	printf '%s\n' "$output"
	[ "$status" -ne 0 ]
	[ "${lines[1]}" = "Permission denied" ]
	grep -q 'Accepted keyboard-interactive/pam for alice from 127.0.0.1' "$FLEET/b/sshd.log"
	grep -q 'Failed keyboard-interactive/pam for alice from 127.0.0.1' "$FLEET/c/sshd.log"
	# (the module's own log lines do not reach sshd.log: sshd's children
	# log through their parent, not on stderr.) C sees the token used up,
	# and the fleet's record of its one use: on fleet-b, through sshd.
	run on c "$SESAME_MINT" -c "$FLEET/c/sesame.conf" --inspect "$TOK"
	[[ $output == *"status:   invalid: used up"* ]]
	history_on a "$ID" |
		json_eval "d['used'] == 1 and [(u['host'], u['service'], u['rhost']) for u in d['use_records']] == [('fleet-b', '$SSHD_SERVICE', '127.0.0.1')]"
	# C lets alice in with a token of its own: its refusal was the use on B
	mint_json_on a -H group:web alice
	run ssh_to c alice "$TOK"
	[ "$status" -eq 0 ]
	[ "${lines[1]}" = "output: sesame-ok" ]
}
