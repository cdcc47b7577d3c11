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
