#!/usr/bin/env bats
# `sesame-etcd --serve` (helper/daemon.c, worker.c) and the module's way
# to it (common/etcd_socket.c) on a real cluster (tests/fleet/cluster.sh):
# logins through the daemon, exact one-use counting, the fallback to a
# helper of the module's own, refused sockets and peers, a killed worker
# replaced, a stopped member, a stalled caller, no descriptor left behind.
# Root needed (the daemon serves root only).

load fleet_helpers
load ../bats/pam_helpers

setup_file() {
	[ "$(id -u)" -eq 0 ] || skip "root needed: sesame-etcd --serve serves root only"
	fleet_setup
	# sun_path holds 108 bytes: a short directory of our own.
	SOCKDIR=$(mktemp -d /tmp/sesd.XXXXXX)
	export SOCKDIR SOCK=$SOCKDIR/run/etcd.sock
	start_daemon
}

teardown_file() {
	stop_daemon
	# a sanitizer build's reports from the daemon and its workers
	if grep -a -q -E 'Sanitizer|runtime error:' "$SOCKDIR/daemon.log" 2>/dev/null; then
		grep -a -E -A20 'Sanitizer|runtime error:' "$SOCKDIR/daemon.log" >&2
		rm -rf "$SOCKDIR"
		fleet_teardown
		return 1
	fi
	[ -z "${SOCKDIR:-}" ] || rm -rf "$SOCKDIR"
	fleet_teardown
}

start_daemon() {
	"$SESAME_ETCD_HELPER" --serve --socket "$SOCK" --workers "${1:-4}" "${@:2}" \
		</dev/null >>"$SOCKDIR/daemon.log" 2>&1 &
	echo $! >"$SOCKDIR/daemon.pid"
	local i
	for i in $(seq 100); do
		[ -S "$SOCK" ] && [ "$(workers | wc -l)" -eq "${1:-4}" ] && return 0
		sleep 0.05
	done
	return 1
}

# SIGTERM, then wait (it may be another shell's child: poll) up to 10 s.
stop_daemon() {
	[ -f "${SOCKDIR:-/nonexistent}/daemon.pid" ] || return 0
	local pid i
	pid=$(cat "$SOCKDIR/daemon.pid")
	kill -TERM "$pid" 2>/dev/null || true
	for i in $(seq 200); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	rm -f "$SOCKDIR/daemon.pid"
	! kill -0 "$pid" 2>/dev/null
}

# wait_for FILE: up to 5 s for FILE to appear.
wait_for() {
	local i
	for i in $(seq 100); do
		[ -e "$1" ] && return 0
		sleep 0.05
	done
	[ -e "$1" ]
}

workers() { pgrep -P "$(cat "$SOCKDIR/daemon.pid")" | sort; }

# The sockets the only worker holds: the listening one, and a connection
# to a member per warm session.
worker_sockets() { ls -l "/proc/$(workers)/fd" | grep -c 'socket:'; }

setup() {
	pam_test_setup
	printf 'etcd_helper = %s\nstore = etcd\n' "$SESAME_ETCD_HELPER" >>"$CONF"
	cat "$CLUSTER/issuer.conf" >>"$CONF"
	# The module as a verifying host, through the daemon only: its own
	# helper is a path that does not exist, so a fallback would fail.
	mkdir -m 0700 "$T/vstate"
	sed "s|^state_dir = .*|state_dir = $T/vstate|" "$CONF" |
		grep -v '^etcd_user\|^etcd_password_file\|^etcd_helper' >"$T/verifier.conf"
	grep '^etcd_user\|^etcd_password_file' "$CLUSTER/verifier.conf" >>"$T/verifier.conf"
	printf 'etcd_helper = /nonexistent/sesame-etcd\netcd_helper_socket = %s\n' "$SOCK" \
		>>"$T/verifier.conf"
	chmod 0644 "$T/verifier.conf"
	VCONF=$T/verifier.conf
	pam_service login "auth required $PAM_SESAME conf=$VCONF debug"
	"$SESAME_FLEET_DIR/cluster.sh" root "$CLUSTER" del --prefix /sesame/ >/dev/null
}

teardown() {
	chmod 0600 "$SOCK" 2>/dev/null || true
	chown root:root "$SOCK" 2>/dev/null || true
	chmod 0700 "$SOCKDIR" "$SOCKDIR/run" 2>/dev/null || true
	pam_test_teardown
}

login() { pam_auth login alice "$1"; }

# The verifier's settings with one key changed: set_key KEY VALUE.
set_key() {
	sed -i "/^$1 = /d" "$VCONF"
	echo "$1 = $2" >>"$VCONF"
}

@test "logins through the daemon: a 2-use token twice, then used up; no helper of the module's own" {
	tok=$(mint -n 2 alice)
	login "$tok"
	expect_rc $PAM_SUCCESS
	login "$tok"
	expect_rc $PAM_SUCCESS
	login "$tok"
	expect_rc $PAM_AUTH_ERR
	expect_result 'reason="used up"'
	# the daemon's token, cached in the module's state_dir as the helper does
	[ "$(sed -n 2p "$T/vstate/etcd-token")" = verifier ]
}

@test "32 redeemers at once through the daemon: exactly k succeed (k = 1, 5)" {
	sed '/^etcd_timeout/d' "$CLUSTER/storm.conf" >"$CLUSTER/dstorm.conf"
	printf 'etcd_timeout = 30s\netcd_helper_socket = %s\n' "$SOCK" >>"$CLUSTER/dstorm.conf"
	mkdir -p -m 0700 "$CLUSTER/state-dstorm"
	for k in 1 5; do
		run env SESAME_ETCD_HELPER=/nonexistent/sesame-etcd \
			"$SESAME_STORE_STORM" "$CLUSTER/dstorm.conf" redeem 32 "$k"
		echo "$output"
		[ "$status" -eq 0 ]
		[ "${lines[-1]}" = "ok $k refused $((32 - k)) unavailable 0" ]
	done
}

@test "no daemon (no socket, or a socket nobody listens on): the module starts its own helper" {
	tok=$(mint -n 3 alice)
	set_key etcd_helper "$SESAME_ETCD_HELPER"
	set_key etcd_helper_socket "$T/none/etcd.sock"
	login "$tok"
	expect_rc $PAM_SUCCESS
	# a socket left behind by a daemon that is gone: ECONNREFUSED
	mkdir -m 0700 "$T/stale"
	python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$T/stale/etcd.sock"
	chmod 0600 "$T/stale/etcd.sock"
	set_key etcd_helper_socket "$T/stale/etcd.sock"
	login "$tok"
	expect_rc $PAM_SUCCESS
	set_key etcd_helper_socket none
	login "$tok"
	expect_rc $PAM_SUCCESS
	login "$tok"
	expect_rc $PAM_AUTH_ERR
	expect_result 'reason="used up"'
}

@test "a socket that is not root's alone: store unavailable, never used, no fallback" {
	tok=$(mint -n 5 alice)
	# a fallback would have worked: refusing is the point
	set_key etcd_helper "$SESAME_ETCD_HELPER"
	chmod 0666 "$SOCK"
	login "$tok"
	expect_rc $PAM_AUTHINFO_UNAVAIL
	grep -q "etcd helper socket $SOCK: the socket must be root's and writable by no one else" "$LOG"
	chmod 0600 "$SOCK"
	chown nobody "$SOCK"
	login "$tok"
	expect_rc $PAM_AUTHINFO_UNAVAIL
	chown root "$SOCK"
	chmod 0777 "$SOCKDIR/run"
	login "$tok"
	expect_rc $PAM_AUTHINFO_UNAVAIL
	grep -q "the directory must be root's" "$LOG"
	chmod 0700 "$SOCKDIR/run"
	# nothing was counted while refused
	login "$tok"
	expect_rc $PAM_SUCCESS
	"$SESAME_FLEET_DIR/cluster.sh" root "$CLUSTER" get --prefix /sesame/uses/ --keys-only |
		grep -c . >"$T/keys"
	[ "$(cat "$T/keys")" -eq 2 ] # the counter and one use record
}

@test "a peer that is not root: the daemon refuses it" {
	chmod 0755 "$SOCKDIR" "$SOCKDIR/run"
	chmod 0666 "$SOCK"
	run setpriv --reuid=65534 --regid=65534 --clear-groups /usr/bin/python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(10)
s.connect(sys.argv[1])
# the frame may come in more than one read: read until the daemon closes
print(b"".join(iter(lambda: s.recv(4096), b"")).decode())' "$SOCK"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"store unavailable: the etcd helper serves root only"* ]]
	grep -q "refused a connection from uid 65534" "$SOCKDIR/daemon.log"
}

@test "a killed worker is replaced, and logins go on" {
	before=$(workers)
	[ "$(wc -l <<<"$before")" -eq 4 ]
	victim=$(head -n 1 <<<"$before")
	kill -KILL "$victim"
	for i in $(seq 60); do
		now=$(workers)
		[ "$(wc -l <<<"$now")" -eq 4 ] && ! grep -qx "$victim" <<<"$now" && break
		sleep 0.1
	done
	[ "$(wc -l <<<"$now")" -eq 4 ]
	if grep -qx "$victim" <<<"$now"; then false; fi
	grep -q "worker $victim killed by signal 9; starting another" "$SOCKDIR/daemon.log"
	tok=$(mint -n 8 alice)
	for i in 1 2 3 4 5 6; do
		login "$tok"
		expect_rc $PAM_SUCCESS
	done
}

@test "forks that fail at start: the empty worker slots are filled within seconds, and logins go on" {
	stop_daemon
	# The shim fails the first 5 forks: no worker at first (a socket that
	# accepts with no worker would hold every login until its deadline).
	LD_PRELOAD=$SESAME_FAIL_FORK_SHIM SESAME_TEST_FAIL_FORKS=5 \
		ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0 \
		"$SESAME_ETCD_HELPER" --serve --socket "$SOCK" --workers 2 \
		</dev/null >>"$SOCKDIR/daemon.log" 2>&1 &
	echo $! >"$SOCKDIR/daemon.pid"
	for i in $(seq 80); do
		[ "$(workers | wc -l)" -eq 2 ] && break
		sleep 0.1
	done
	[ "$(workers | wc -l)" -eq 2 ]
	grep -q "fork: Resource temporarily unavailable; trying again" "$SOCKDIR/daemon.log"
	tok=$(mint alice)
	login "$tok"
	expect_rc $PAM_SUCCESS
	stop_daemon
	start_daemon
}

@test "workers that die at once are restarted without the parent sleeping: SIGTERM is handled at once" {
	# Each killed twice within a second of its start: the restarts wait
	# RESTART_PAUSE_MS, which must not be a sleep of the parent's.
	for round in 1 2; do
		before=$(workers)
		kill -KILL $before
		for i in $(seq 40); do
			now=$(workers)
			[ "$(wc -l <<<"$now")" -eq 4 ] && [ -z "$(comm -12 <(echo "$before") <(echo "$now"))" ] && break
			sleep 0.05
		done
	done
	kill -KILL $(workers)
	sleep 0.1
	pid=$(cat "$SOCKDIR/daemon.pid")
	start=$(date +%s%N)
	kill -TERM "$pid"
	# the socket is removed once the workers are stopped (the process
	# itself, not our child, may stay a zombie a while)
	for i in $(seq 200); do
		[ -S "$SOCK" ] || break
		sleep 0.02
	done
	elapsed=$(ms_since "$start")
	echo "stopped ${elapsed} ms after SIGTERM"
	stop_daemon
	# a parent that slept per restart took 3-4 s
	[ "$elapsed" -lt 2000 ]
	start_daemon
}

@test "a link being mailed holds no worker: with one worker, a login goes through while the relay takes 4 s" {
	stop_daemon
	start_daemon 1
	cat >"$T/slow-sendmail" <<-END
	#!/bin/sh
	touch "$T/mailing"
	sleep 4
	cat >>"$T/mbox"
	END
	chmod 0755 "$T/slow-sendmail"
	# the issuer's settings, through the daemon only
	sed '/^etcd_helper/d' "$CONF" >"$T/mail.conf"
	# A worker held for the mail would be held for the whole relay (4 s),
	# not cut at a 2 s etcd_timeout: far from the limit below either way.
	sed -i '/^etcd_timeout/d' "$T/mail.conf"
	printf 'etcd_helper = /nonexistent/sesame-etcd\netcd_helper_socket = %s\netcd_timeout = 10s\n' \
		"$SOCK" >>"$T/mail.conf"
	printf 'url = https://login.example/sesame/#\nsendmail = %s\nmail_from = sesame@test.example\n' \
		"$T/slow-sendmail" >>"$T/mail.conf"
	chmod 0644 "$T/mail.conf"
	pam_service mailsvc "auth required $PAM_SESAME conf=$T/mail.conf mail mail_to=%u@test.example debug"
	tok=$(mint alice)
	(pam_auth mailsvc alice "" "x") &
	mailer=$!
	wait_for "$T/mailing"
	start=$(date +%s%N)
	login "$tok"
	elapsed=$(ms_since "$start")
	wait "$mailer"
	echo "login took ${elapsed} ms while the relay ran"
	expect_rc $PAM_SUCCESS
	[ "$elapsed" -lt 2500 ]
	grep -q '^To: alice@test.example$' "$T/mbox"
	stop_daemon
	start_daemon
}

@test "a session unused for --session-idle is dropped (its connection and token), and reopened on use" {
	stop_daemon
	start_daemon 1 --session-idle 1
	tok=$(mint -n 2 alice)
	login "$tok"
	expect_rc $PAM_SUCCESS
	# the listening socket and the connection to a member
	[ "$(worker_sockets)" -ge 2 ]
	sleep 2.5
	[ "$(worker_sockets)" -eq 1 ]
	login "$tok"
	expect_rc $PAM_SUCCESS
	stop_daemon
	start_daemon
}

@test "settings that do not open evict no warm session: a worker's 8 sessions stay connected" {
	stop_daemon
	start_daemon 1
	tok=$(mint -n 9 alice)
	for t in 2 3 4 5 6 7 8 9; do
		set_key etcd_timeout "${t}s"
		login "$tok"
		expect_rc $PAM_SUCCESS
	done
	warm=$(worker_sockets)
	[ "$warm" -ge 9 ]
	set_key etcd_cacert /nonexistent/ca.crt
	login "$tok"
	expect_rc $PAM_AUTHINFO_UNAVAIL
	[ "$(worker_sockets)" -eq "$warm" ]
	stop_daemon
	start_daemon
}

@test "the first endpoint's member stopped: logins through warm connections go on within etcd_timeout" {
	# A follower, first in the verifier's endpoints: a stopped leader
	# means an election inside the budget (etcd.bats tests that case).
	leader=$(cd / && "$SESAME_FLEET_DIR/cluster.sh" leader "$CLUSTER")
	member=m1
	[ "$leader" != m1 ] || member=m2
	first="https://127.0.0.1:$(cat "$CLUSTER/$member.port")"
	set_key etcd_endpoints "$first,$(tr ',' '\n' <"$CLUSTER/endpoints" | grep -vx "$first" | paste -sd,)"
	tok=$(mint -n 20 alice)
	# warm every worker's connection (to the first endpoint)
	for i in 1 2 3 4 5 6; do
		login "$tok"
		expect_rc $PAM_SUCCESS
	done
	kill -STOP "$(member_pid "$member")"
	worst=0
	for i in 1 2 3 4 5 6; do
		start=$(date +%s%N)
		login "$tok"
		rc=$PAM_RC
		took=$(ms_since "$start")
		[ "$took" -le "$worst" ] || worst=$took
		[ "$rc" -eq "$PAM_SUCCESS" ] || break
	done
	kill -CONT "$(member_pid "$member")"
	echo "member $member stopped: slowest login ${worst} ms" >&3
	[ "$rc" -eq "$PAM_SUCCESS" ]
	[ "$worst" -lt 2000 ]
}

@test "a caller that connects and says nothing holds a worker for a second at most" {
	stop_daemon
	start_daemon 1
	tok=$(mint alice)
	/usr/bin/python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
open(sys.argv[2], "w").close()
time.sleep(8)' "$SOCK" "$T/connected" &
	staller=$!
	wait_for "$T/connected"
	start=$(date +%s%N)
	login "$tok"
	took=$(ms_since "$start")
	kill "$staller" 2>/dev/null || true
	stop_daemon
	start_daemon
	echo "login behind a stalled caller: ${took} ms" >&3
	expect_rc $PAM_SUCCESS
	# it waited for the one worker, which gave up on the staller after 1 s
	[ "$took" -ge 500 ]
	[ "$took" -lt 2500 ]
}

@test "edited settings take effect: an endpoint nobody serves is store unavailable at once" {
	tok=$(mint -n 2 alice)
	login "$tok"
	expect_rc $PAM_SUCCESS
	set_key etcd_endpoints https://127.0.0.1:1
	login "$tok"
	expect_rc $PAM_AUTHINFO_UNAVAIL
	grep -q 'store unavailable: https://127.0.0.1:1' "$LOG"
}

@test "SIGTERM: the daemon and its workers exit, the socket is gone; logins fall back" {
	kids=$(workers)
	stop_daemon
	grep -q "serving on $SOCK with 4 workers" "$SOCKDIR/daemon.log"
	for k in $kids; do
		if kill -0 "$k" 2>/dev/null; then false; fi
	done
	[ ! -e "$SOCK" ]
	tok=$(mint alice)
	set_key etcd_helper "$SESAME_ETCD_HELPER"
	login "$tok"
	expect_rc $PAM_SUCCESS
	start_daemon
}

@test "socket activation (LISTEN_FDS, as sesame-etcd.socket passes it): logins go through" {
	command -v systemd-socket-activate >/dev/null || skip "systemd-socket-activate is not installed"
	mkdir -m 0700 "$SOCKDIR/act"
	systemd-socket-activate -l "$SOCKDIR/act/etcd.sock" \
		"$SESAME_ETCD_HELPER" --serve --workers 2 </dev/null >>"$SOCKDIR/act.log" 2>&1 &
	act=$!
	for i in $(seq 100); do
		[ -S "$SOCKDIR/act/etcd.sock" ] && break
		sleep 0.05
	done
	set_key etcd_helper_socket "$SOCKDIR/act/etcd.sock"
	tok=$(mint -n 2 alice)
	login "$tok"
	rc1=$PAM_RC
	login "$tok"
	rc2=$PAM_RC
	kill -TERM "$act"
	wait "$act" || true
	cat "$SOCKDIR/act.log"
	[ "$rc1" -eq "$PAM_SUCCESS" ]
	[ "$rc2" -eq "$PAM_SUCCESS" ]
	grep -q "serving on the socket systemd passed with 2 workers" "$SOCKDIR/act.log"
}

@test "500 logins in one process through the daemon: no descriptor, thread or child left" {
	: "${SESAME_PAM_SOAK:?SESAME_PAM_SOAK must name tests/pam/soak}"
	rounds=500
	for i in 1 2; do echo "$(mint -t 2h -n 250 alice) 250"; done >"$T/tokens"
	export PAM_WRAPPER_DEBUGLEVEL=0
	pam_service soak "auth required $PAM_SESAME conf=$VCONF"
	run pam_wrapped "$SESAME_PAM_SOAK" soak alice "$T/tokens" "$rounds"
	sed 's/^/# /' <<<"$output" >&3
	[ "$status" -eq 0 ]
}
