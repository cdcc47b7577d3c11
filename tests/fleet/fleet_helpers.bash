# Shared by the fleet's Bats files: one cluster per file, started in
# setup_file and stopped in teardown_file (and by the EXIT trap of
# cluster.sh's callers if a test run is cut short).
probe() { "$SESAME_ETCD_PROBE" "$CLUSTER/$1.conf" "$CLUSTER/state-$1" "${@:2}"; }

fleet_setup() {
	command -v etcd >/dev/null && command -v etcdctl >/dev/null || skip "etcd-server and etcd-client are not installed"
	export CLUSTER="$BATS_FILE_TMPDIR/cluster"
	"$SESAME_FLEET_DIR/cluster.sh" start "$CLUSTER" "$$" >&3 2>&1
}

fleet_teardown() {
	[ -n "${CLUSTER:-}" ] && "$SESAME_FLEET_DIR/cluster.sh" stop "$CLUSTER" || true
}

# Recovery from the NOSPACE alarm as docs/fleet.md gives it (after a test
# filled /sesame/fill/): free the space, compact, defragment, disarm.
recover_space() {
	local rev
	"$SESAME_FLEET_DIR/cluster.sh" root "$CLUSTER" del --prefix /sesame/fill/ >/dev/null
	rev=$("$SESAME_FLEET_DIR/cluster.sh" root "$CLUSTER" endpoint status -w json |
		python3 -c 'import json,sys; print(max(s["Status"]["header"]["revision"] for s in json.load(sys.stdin)))')
	"$SESAME_FLEET_DIR/cluster.sh" root "$CLUSTER" compact "$rev" >/dev/null
	"$SESAME_FLEET_DIR/cluster.sh" root "$CLUSTER" defrag >/dev/null
	"$SESAME_FLEET_DIR/cluster.sh" root "$CLUSTER" alarm disarm >/dev/null
}

# gateway_put CRED KEY VALUE: a put through etcd's JSON gateway with curl,
# as the etcd user of CLUSTER/CRED.conf, of any bytes: KEY and VALUE are
# printf formats (\\0 for a NUL byte, which sesame's client cannot name).
gateway_put() {
	local conf=$CLUSTER/$1.conf ep setting token tls
	setting() { sed -n "s/^$1 = //p" "$conf"; }
	ep=$(setting etcd_endpoints)
	ep=${ep%%,*}
	tls=(--cacert "$(setting etcd_cacert)" --cert "$(setting etcd_cert)" --key "$(setting etcd_key)")
	token=$(python3 -c 'import json,sys; print(json.dumps({"name": sys.argv[1], "password": open(sys.argv[2]).read().strip()}))' \
		"$(setting etcd_user)" "$(setting etcd_password_file)" |
		curl -sS --fail "${tls[@]}" -X POST "$ep/v3/auth/authenticate" --data-binary @- |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])') || return 1
	python3 -c 'import base64,json,sys; b=lambda s: base64.b64encode(s.encode().decode("unicode_escape").encode("latin-1")).decode(); print(json.dumps({"key": b(sys.argv[1]), "value": b(sys.argv[2])}))' "$2" "$3" |
		curl -sS --fail "${tls[@]}" -H "Authorization: $token" -X POST "$ep/v3/kv/put" --data-binary @-
}

# ms_since START_NS
ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }

member_pid() { cat "$CLUSTER/$1.pid"; }

# Wait until every running member reports healthy (after a restart).
# retry_probe N ARGS...: `run probe ARGS` until it succeeds, at most N times
# 0.2 s apart (a call made during a leader election is refused, not lost).
retry_probe() {
	local tries=$1 i
	shift
	for i in $(seq "$tries"); do
		run probe "$@"
		[ "$status" -ne 0 ] || return 0
		sleep 0.2
	done
	return 0
}

wait_cluster() {
	local i
	for i in $(seq 100); do
		probe root status >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	return 1
}
