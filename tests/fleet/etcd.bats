#!/usr/bin/env bats
# The etcd client (common/etcd*.c, helper/) against a real cluster:
# three members, TLS both ways, RBAC, JWT auth tokens (tests/fleet/cluster.sh).

load fleet_helpers

setup_file() { fleet_setup; }
teardown_file() { fleet_teardown; }

@test "put, get, put-if-absent, range and delete through the helper" {
	run probe issuer put /sesame/ledger/a1 minted
	[ "$status" -eq 0 ]
	run probe verifier get /sesame/ledger/a1
	[ "$status" -eq 0 ]
	[[ "$output" == "/sesame/ledger/a1 version 1 lease 0 value minted" ]]
	run probe issuer put-if-absent /sesame/ledger/a1 again
	[ "$status" -eq 1 ]
	[ "$output" = "exists" ]
	run probe issuer put-if-absent /sesame/ledger/a2 first
	[ "$status" -eq 0 ]
	run probe verifier range /sesame/ledger/
	[[ "$output" == *"/sesame/ledger/a1"*"/sesame/ledger/a2"*"count 2"* ]]
	run probe issuer delete /sesame/ledger/a2
	[ "$output" = "deleted 1" ]
}

@test "a caller with stdin, stdout and stderr closed still reaches etcd" {
	probe verifier put /sesame/uses/closed-stdio x
	run bash -c '"$0" "$1" "$2" get /sesame/uses/closed-stdio <&- >&- 2>&-' \
		"$SESAME_ETCD_PROBE" "$CLUSTER/verifier.conf" "$CLUSTER/state-verifier"
	[ "$status" -eq 0 ]
}

@test "compare-and-increment counts k uses, then refuses" {
	for i in 1 2 3; do
		run probe verifier count /sesame/uses/k3 3
		[ "$status" -eq 0 ]
		[ "$output" = "counted $i" ]
	done
	run probe verifier count /sesame/uses/k3 3
	[ "$status" -eq 1 ]
	[ "$output" = "refused 3 blocked-by -1" ]
}

@test "a revocation blocks the count in the same transaction" {
	probe issuer put /sesame/revoked/r1 revoked
	run probe verifier count /sesame/uses/r1 5 /sesame/revoked-users/nobody /sesame/revoked/r1
	[ "$status" -eq 1 ]
	[ "$output" = "refused 0 blocked-by 1" ]
	run probe verifier get /sesame/uses/r1
	[ "$output" = "absent" ]
}

@test "64 concurrent clients: exactly k counted, for k = 1 and k = 5" {
	for k in 1 5; do
		start=$(date +%s%N)
		run probe storm storm /sesame/uses/storm-$k $k 64
		echo "$output in $(ms_since "$start") ms" >&3
		[ "$status" -eq 0 ]
		[ "$output" = "counted $k unavailable 0" ]
		run probe verifier get /sesame/uses/storm-$k
		[[ "$output" == *" version $k "* ]]
	done
}

@test "a lease expires the key" {
	run probe verifier put /sesame/uses/leased x 2
	[ "$status" -eq 0 ]
	run probe verifier get /sesame/uses/leased
	[[ "$output" != "absent" && "$output" != *" lease 0 "* ]]
	sleep 4
	run probe verifier get /sesame/uses/leased
	[ "$output" = "absent" ]
}

@test "the auth token is cached root-only in state_dir and reused" {
	rm -f "$CLUSTER/state-verifier/etcd-token"
	probe verifier get /sesame/uses/none
	[ "$(stat -c '%a %u' "$CLUSTER/state-verifier/etcd-token")" = "600 0" ]
	before=$(sha256sum <"$CLUSTER/state-verifier/etcd-token")
	probe verifier get /sesame/uses/none
	[ "$(sha256sum <"$CLUSTER/state-verifier/etcd-token")" = "$before" ]
	# A garbled token: the member says invalid, the client authenticates afresh.
	garbled=eyJhbGciOiJSUzI1NiJ9.eyJleHAiOjk5OTk5OTk5OTl9.AAAA
	sed -i "4s/.*/$garbled/" "$CLUSTER/state-verifier/etcd-token"
	run probe verifier get /sesame/uses/none
	[ "$status" -eq 0 ]
	[ "$(sed -n 4p "$CLUSTER/state-verifier/etcd-token")" != "$garbled" ]
	# A cache others can read is refused, with the reason.
	chmod 644 "$CLUSTER/state-verifier/etcd-token"
	run probe verifier get /sesame/uses/none
	[ "$status" -eq 3 ]
	[[ "$output" == *"etcd token cache"*"mode 0644"* ]]
	rm -f "$CLUSTER/state-verifier/etcd-token"
}

@test "the password file must be private" {
	chmod 640 "$CLUSTER/verifier.password"
	rm -f "$CLUSTER/state-verifier/etcd-token"
	run probe verifier get /sesame/uses/none
	chmod 600 "$CLUSTER/verifier.password"
	[ "$status" -eq 3 ]
	[[ "$output" == *"store unavailable"*"etcd password file"*"mode 0640"*"[local]"* ]]
}

@test "a verifier's credentials cannot delete or write a revocation or the ledger" {
	probe issuer put /sesame/revoked/keep revoked
	run probe verifier delete /sesame/revoked/keep
	[ "$status" -eq 3 ]
	[[ "$output" == *"store unavailable"*"permission denied"*"[denied]"* ]]
	run probe verifier put /sesame/ledger/forged x
	[ "$status" -eq 3 ]
	[[ "$output" == *"permission denied"* ]]
	run probe verifier get /sesame/revoked/keep
	[[ "$output" == "/sesame/revoked/keep version 1 "* ]]
}

@test "wrong CA: store unavailable (tls), never an answer" {
	run probe wrongca count /sesame/uses/tls 5
	[ "$status" -eq 3 ]
	[[ "$output" == *"store unavailable: https://127.0.0.1:"*"[tls]"* ]]
}

@test "expired client certificate: store unavailable (tls)" {
	run probe expired count /sesame/uses/tls 5
	echo "$output"
	[ "$status" -eq 3 ]
	[[ "$output" == *"store unavailable: https://127.0.0.1:"*"bad certificate"*"[tls]"* ]]
	run probe verifier get /sesame/uses/tls
	[ "$output" = "absent" ]
}

@test "wrong etcd password: store unavailable (auth), the password in no message" {
	rm -f "$CLUSTER/state-wrongpw/etcd-token"
	run probe wrongpw count /sesame/uses/pw 5
	[ "$status" -eq 3 ]
	[[ "$output" == *"store unavailable"*"authentication failed"*"[auth]"* ]]
	[[ "$output" != *"wrong password"* ]]
	[ ! -e "$CLUSTER/state-wrongpw/etcd-token" ]
}

@test "the cluster's clock is visible: skew within a second here" {
	run probe verifier status
	[ "$status" -eq 0 ]
	[[ "$output" =~ skew\ (-1|0|1)$ ]]
}

# settings like verifier's with MEMBER's endpoint first: NAME.conf
conf_first() {
	local first="https://127.0.0.1:$(cat "$CLUSTER/$2.port")" rest
	rest=$(tr ',' '\n' <"$CLUSTER/endpoints" | grep -vx "$first" | paste -sd,)
	sed "s|^etcd_endpoints = .*|etcd_endpoints = $first,$rest|" "$CLUSTER/verifier.conf" >"$CLUSTER/$1.conf"
	mkdir -p -m 700 "$CLUSTER/state-$1"
	cp -p "$CLUSTER/state-verifier/etcd-token" "$CLUSTER/state-$1/" 2>/dev/null || true
}

@test "a SIGSTOPped follower, first in etcd_endpoints: calls go on within etcd_timeout" {
	leader=$(cd / && "$SESAME_FLEET_DIR/cluster.sh" leader "$CLUSTER")
	follower=m1
	[ "$leader" != m1 ] || follower=m2
	conf_first stopfirst "$follower"
	kill -STOP "$(member_pid "$follower")"
	start=$(date +%s%N)
	run probe stopfirst count /sesame/uses/stopped 5
	took=$(ms_since "$start")
	kill -CONT "$(member_pid "$follower")"
	echo "$output; ${took} ms (stopped $follower, leader $leader)" >&3
	[ "$status" -eq 0 ]
	[ "$took" -lt 2000 ]
}

@test "a SIGSTOPped leader: an answer or store unavailable within etcd_timeout + 1 s" {
	leader=$(cd / && "$SESAME_FLEET_DIR/cluster.sh" leader "$CLUSTER")
	conf_first stopleader "$leader"
	kill -STOP "$(member_pid "$leader")"
	start=$(date +%s%N)
	run probe stopleader count /sesame/uses/stopped-leader 5
	took=$(ms_since "$start")
	echo "$output; ${took} ms (stopped leader $leader)" >&3
	[ "$took" -lt 3000 ]
	[ "$status" -eq 0 ] || [[ "$status" -eq 3 && "$output" == *"store unavailable"* ]]
	# Once a new leader is elected, calls go on while it stays stopped.
	sleep 3
	run probe stopleader count /sesame/uses/stopped-leader 5
	kill -CONT "$(member_pid "$leader")"
	[ "$status" -eq 0 ]
}

@test "SIGKILL the leader during a 64-client storm: at most k, every success counted" {
	k=5
	leader=$(cd / && "$SESAME_FLEET_DIR/cluster.sh" leader "$CLUSTER")
	probe storm storm /sesame/uses/killed $k 64 >"$BATS_TEST_TMPDIR/storm" &
	storm=$!
	sleep 0.3
	kill -KILL "$(member_pid "$leader")"
	wait "$storm"
	read -r _ counted _ unavailable <"$BATS_TEST_TMPDIR/storm"
	echo "counted $counted unavailable $unavailable (leader $leader killed)"
	# Two members are a quorum: calls go on once they have elected a leader
	# (until then a call may be refused as "leader changed": never success).
	retry_probe 25 verifier count /sesame/uses/after-kill 5
	after_kill=$status
	# The member comes back before anything can fail, so that a failure
	# here does not leave the next tests a cluster of two.
	"$SESAME_FLEET_DIR/cluster.sh" restart "$CLUSTER" "$leader" >&3 2>&1
	wait_cluster
	[ "$after_kill" -eq 0 ]
	[ "$counted" -le "$k" ]
	retry_probe 25 verifier get /sesame/uses/killed
	echo "$output"
	if [ "$counted" -gt 0 ]; then
		[ "$status" -eq 0 ]
		version=$(sed -n 's/.* version \([0-9]*\) .*/\1/p' <<<"$output")
		[ "$version" -ge "$counted" ]
		[ "$version" -le "$k" ]
	fi
}

@test "every member down: store unavailable within etcd_timeout + 1 s" {
	for m in m1 m2 m3; do
		[ -f "$CLUSTER/$m.pid" ] && kill -STOP "$(member_pid $m)" 2>/dev/null || true
	done
	start=$(date +%s%N)
	run probe verifier count /sesame/uses/down 5
	took=$(ms_since "$start")
	for m in m1 m2 m3; do
		[ -f "$CLUSTER/$m.pid" ] && kill -CONT "$(member_pid $m)" 2>/dev/null || true
	done
	echo "$output; ${took} ms" >&3
	[ "$status" -eq 3 ]
	[[ "$output" == *"store unavailable"* ]]
	[ "$took" -lt 3000 ]
}

@test "NOSPACE: the quota alarm makes every write unavailable; documented recovery works" {
	wait_cluster
	# Fill the cluster as root until etcd raises the alarm.
	run probe root fill /sesame/fill/ 100 500000
	echo "$output"
	[[ "$output" == *"filled "* ]]
	[[ "$output" == *"database space exceeded"*"[nospace]"* ]]
	run probe verifier count /sesame/uses/nospace 5
	echo "$output"
	[ "$status" -eq 3 ]
	[[ "$output" == *"store unavailable"*"database space exceeded"*"[nospace]"* ]]
	run probe verifier status
	[ "$status" -eq 3 ]
	[[ "$output" == *"NOSPACE"*"[nospace]"* ]]
	# Recovery as docs/fleet.md gives it: free space, compact, defragment,
	# disarm.
	recover_space
	run probe verifier count /sesame/uses/nospace 5
	[ "$status" -eq 0 ]
}
