# Simulated hosts sharing one etcd cluster, for hosts*.bats: each host
# is a directory with its own sesame.conf (store = etcd, its own etcd
# credentials), key file, key_dir holding only its groups' keys, state_dir,
# passwd, group and shadow files (nss_wrapper) and PAM service files
# (pam_wrapper). A command runs "on" a host in a UTS namespace of its own,
# with the host's name set there (so the module's gethostname() is real),
# and in a mount namespace with a /tmp of its own: pam_wrapper gives
# every process a /tmp/pam.X directory, X one character (40 processes
# at once in one /tmp: 8 failed to start), and the storms run 64 PAM
# applications at once. That is why the fleet lives under
# /var/tmp and not under Bats' directories in /tmp.
#
# A .bats file loads ../bats/pam_helpers and ../e2e/e2e_helpers first
# (wrappers, sanitizer preloads, the sshd set-up), then this file.
#
# meson passes what those need and SESAME_ETCD_HELPER, SESAME_ETCD_PROBE
# and SESAME_FLEET_DIR (tests/fleet, for cluster.sh).
#
# shellcheck disable=SC2034 # PAM_RC, PAM_OUT, TOOK_MS, TOK, ID: for the .bats files

# shellcheck source-path=SCRIPTDIR source=fleet_helpers.bash
source "${BASH_SOURCE[0]%/*}/fleet_helpers.bash"

: "${SESAME_ETCD_HELPER:?SESAME_ETCD_HELPER must name the built sesame-etcd}"

# Every client command (a login, a mint) is bounded by this many seconds.
FLEET_CLIENT_TIMEOUT=60
# The hosts' etcd_timeout: the budget of one store operation.
FLEET_ETCD_TIMEOUT_S=2
# The hosts' etcd_clock_skew: the simulated hosts share one clock, and
# --revoke-user cuts this far ahead of now (an issuer's clock may be that
# far ahead), so a test mints for a revoked account again after it.
FLEET_ETCD_CLOCK_SKEW_S=10

# fleet_start: skip unless root with unshare and etcd; the wrappers; a
# fleet directory; the cluster (tests/fleet/cluster.sh) in it.
fleet_start() {
	[ "$(id -u)" = 0 ] || skip "needs root: unshare --uts and --mount for the simulated hosts"
	unshare --uts --mount -- true 2>/dev/null || skip "unshare --uts --mount not permitted here"
	if ! command -v etcd >/dev/null || ! command -v etcdctl >/dev/null; then
		skip "etcd-server and etcd-client are not installed"
	fi
	pam_suite_setup
	SAN_PRELOAD=$(e2e_sanitizer_preload)
	FLEET=$(mktemp -d /var/tmp/sesame-fleet.XXXXXX)
	# The fake users reach their homes (sshd) through it.
	chmod 0711 "$FLEET"
	export FLEET SAN_PRELOAD
	export CLUSTER=$FLEET/cluster
	"$SESAME_FLEET_DIR/cluster.sh" start "$CLUSTER" "$$" >>"$FLEET/setup.log" 2>&1 || {
		cat "$FLEET/setup.log" >&3
		return 1
	}
}

fleet_stop() {
	local pid
	for pid in "${FLEET:-/nonexistent}"/*.sshd.pid; do
		[ -f "$pid" ] && e2e_stop "$(cat "$pid")"
	done
	fleet_teardown
	if [ -n "${FLEET:-}" ] && [ -d "$FLEET" ]; then
		rm -rf "$FLEET"
	fi
}

# fleet_host DIR HOSTNAME GROUPS BIND ETCD_USER: a host in $FLEET/DIR. Its
# accounts are the caller's to write (fleet_accounts, e2e_write_accounts).
fleet_host() {
	local h=$FLEET/$1 name=$2 groups=$3 bind=$4 user=$5
	mkdir -p "$h/pam.d" "$h/etcd"
	mkdir -m 0700 "$h/state" "$h/keys.d"
	echo "$name" >"$h/hostname"
	# A host's own copies of its etcd credentials, as config management
	# would install them.
	install -m 0644 "$CLUSTER/ca.crt" "$h/etcd/ca.crt"
	install -m 0644 "$CLUSTER/client.crt" "$h/etcd/client.crt"
	install -m 0600 "$CLUSTER/client.key" "$h/etcd/client.key"
	install -m 0600 "$CLUSTER/$user.password" "$h/etcd/password"
	cat >"$h/sesame.conf" <<-END
	store = etcd
	key_file = $h/host.key
	key_dir = $h/keys.d
	state_dir = $h/state
	host_groups = $groups
	bind_password = $bind
	etcd_endpoints = $(cat "$CLUSTER/endpoints")
	etcd_cacert = $h/etcd/ca.crt
	etcd_cert = $h/etcd/client.crt
	etcd_key = $h/etcd/client.key
	etcd_user = $user
	etcd_password_file = $h/etcd/password
	etcd_timeout = ${FLEET_ETCD_TIMEOUT_S}s
	etcd_clock_skew = ${FLEET_ETCD_CLOCK_SKEW_S}s
	etcd_helper = $SESAME_ETCD_HELPER
	etcd_helper_socket = none
	END
	chmod 0644 "$h/sesame.conf"
	printf 'auth required %s conf=%s debug\n' "$PAM_SESAME" "$h/sesame.conf" >"$h/pam.d/login"
	echo 'auth required pam_deny.so' >"$h/pam.d/other"
	mint_on "$1" --keygen
}

# fleet_accounts DIR: root, alice (1501) and bob (1502) with a real hash
# of their own on this host (another salt on every host: the password is
# "PASSWORD-on-DIR"), and dirk (1600), a directory account: a passwd
# entry and no shadow entry, as SSSD gives.
fleet_accounts() {
	local h=$FLEET/$1 u
	mkdir -p "$h"
	fake_accounts "$h"
	for u in alice bob; do
		sed -i "s|^$u:[^:]*:|$u:$(openssl passwd -6 "$u-on-$1"):|" "$h/shadow"
	done
	echo 'dirk:x:1600:1600:Dirk from LDAP:/home/dirk:/bin/sh' >>"$h/passwd"
	echo 'dirk:x:1600:' >>"$h/group"
}

# fleet_variant DIR NAME KEY VALUE...: DIR/NAME.conf, the host's config
# with each KEY set to VALUE, and a PAM service NAME that uses it. A
# variant whose etcd credentials differ gets its own state_dir (else the
# host's cached etcd token would stand in for them).
fleet_variant() {
	local h=$FLEET/$1 name=$2 key
	shift 2
	cp "$h/sesame.conf" "$h/$name.conf"
	mkdir -m 0700 "$h/state-$name"
	sed -i "s|^state_dir = .*|state_dir = $h/state-$name|" "$h/$name.conf"
	while [ $# -ge 2 ]; do
		key=$1
		sed -i "/^$key = /d" "$h/$name.conf"
		echo "$key = $2" >>"$h/$name.conf"
		shift 2
	done
	printf 'auth required %s conf=%s debug\n' "$PAM_SESAME" "$h/$name.conf" >"$h/pam.d/$name"
}

# give_key FROM TO FILE: copy a key file from one host's key_dir to
# another's, as config management would.
give_key() {
	install -m 0600 "$FLEET/$1/keys.d/$3" "$FLEET/$2/keys.d/$3"
}

# fleet_ns DIR: FLEET_NS, the command that runs its arguments as host DIR:
# in new UTS and mount namespaces, with DIR's host name and a /tmp of its
# own, and LD_PRELOAD=$FLEET_PRELOAD (after unshare and sh, which must
# not get it).
fleet_ns() {
	# shellcheck disable=SC2016 # expanded by that sh
	FLEET_NS=(unshare --uts --mount --propagation private -- sh -c
		'hostname "$0" && mount -t tmpfs -o mode=1777 tmpfs /tmp &&
			LD_PRELOAD=${FLEET_PRELOAD:-} exec "$@"' "$(cat "$FLEET/$1/hostname")")
}

# on DIR COMMAND...: run COMMAND as host DIR would (fleet_ns): its host
# name, its accounts, its PAM services, a /tmp of its own; nss_wrapper
# preloaded (and pam_wrapper for PAM applications). Bounded by
# FLEET_CLIENT_TIMEOUT.
on() {
	local h=$FLEET/$1 preload="$SAN_PRELOAD$NSS_WRAPPER_LIB"
	fleet_ns "$1"
	shift
	case ${1##*/} in
	pamtester | pam-driver) preload="$SAN_PRELOAD$PAM_WRAPPER_LIB:$NSS_WRAPPER_LIB" ;;
	esac
	NSS_WRAPPER_PASSWD=$h/passwd NSS_WRAPPER_GROUP=$h/group NSS_WRAPPER_SHADOW=$h/shadow \
		PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR=$h/pam.d PAM_WRAPPER_DEBUGLEVEL=2 \
		PAM_WRAPPER_DISABLE_DEEPBIND=1 FLEET_PRELOAD=$preload \
		timeout "$FLEET_CLIENT_TIMEOUT" "${FLEET_NS[@]}" "$@"
}

# Where a test's mint and login output goes: the test's directory, or
# the fleet's set-up log outside a test.
fleet_log_dir() {
	if [ -n "${BATS_TEST_TMPDIR:-}" ]; then echo "$BATS_TEST_TMPDIR"; else echo "$FLEET"; fi
}

# mint_on DIR ARGS...: sesame-mint on host DIR with its config; stderr
# (the mint's summary, errors) goes to mint.log.
mint_on() {
	local host=$1
	shift
	on "$host" "$SESAME_MINT" -c "$FLEET/$host/sesame.conf" "$@" 2>>"$(fleet_log_dir)/mint.log"
}

# mint_json_on DIR ARGS...: mint with --json; sets TOK and ID.
mint_json_on() {
	local out
	out=$(mint_on "$@" --json) || return 1
	TOK=$(json_get token <<<"$out")
	ID=$(json_get id <<<"$out")
	[ -n "$TOK" ] && [ -n "$ID" ]
}

# json_get FIELD: a top-level field of the JSON object on stdin.
json_get() {
	json_eval "d.get('$1') or ''"
}

# json_eval EXPR: EXPR over d, the JSON on stdin. Fails (saying so) when
# EXPR is False; prints any other value but True.
json_eval() {
	python3 -c '
import json, sys
text = sys.stdin.read()
d = json.loads(text)
r = eval(sys.argv[1])
if r is False:
    sys.exit("false: %s in %s" % (sys.argv[1], text))
if r is not True:
    print(r)
' "$1"
}

# history_on DIR ID: the token's story as host DIR's store tells it, JSON.
history_on() {
	mint_on "$1" --history "$2" --json
}

# login_on DIR USER INPUT: pamtester's login service on host DIR, INPUT
# typed at the prompt. Its output and the module's log go to $LOG.
login_on() {
	printf '%s\n' "$3" | on "$1" pamtester -v login "$2" authenticate >>"$LOG" 2>&1
}

# auth_on DIR [driver options] SERVICE USER REPLY...: tests/pam/driver.c
# on host DIR; sets PAM_RC (pam_authenticate's exact code) and TOOK_MS.
auth_on() {
	local host=$1 start out
	shift
	start=$(date +%s%N)
	out=$(on "$host" "$SESAME_PAM_DRIVER" "$@" 2>>"$LOG") || true
	TOOK_MS=$(ms_since "$start")
	PAM_OUT=$out
	PAM_RC=$(sed -n 's/^rc=\([0-9]*\) .*/\1/p' <<<"$out")
	echo "driver on $host: ${out:-<nothing>} in $TOOK_MS ms" >>"$LOG"
}

# storm_start TAG SERVICE USER TOKEN HOST...: 64 drivers, spread over
# the hosts, start pam_authenticate at one moment (driver -b: each waits
# after pam_start until the start file exists; it is under $FLEET, which
# the hosts' namespaces see, unlike /tmp). Outputs in $STORM/out.N and
# err.N. storm_wait waits for them and counts STORM_OK, STORM_USED_UP
# and STORM_OTHER.
storm_start() {
	local tag=$1 service=$2 user=$3 token=$4 i n
	shift 4
	STORM_HOSTS=("$@")
	STORM=$FLEET/storm-$tag
	mkdir -p "$STORM"
	STORM_PIDS=()
	for i in $(seq 0 63); do
		on "${STORM_HOSTS[i % ${#STORM_HOSTS[@]}]}" "$SESAME_PAM_DRIVER" -b "$STORM/go" "$service" "$user" \
			"$token" >"$STORM/out.$i" 2>"$STORM/err.$i" &
		STORM_PIDS+=($!)
	done
	# Bounded: every driver is up within 60 s or the storm starts anyway
	# (and the late ones fail the count below).
	for _ in $(seq 600); do
		n=$(find "$STORM" -name 'go.ready.*' | wc -l)
		[ "$n" -lt 64 ] || break
		sleep 0.1
	done
	echo "storm $tag: $n of 64 drivers ready" >>"$LOG"
	touch "$STORM/go"
}

storm_wait() {
	local pid
	for pid in "${STORM_PIDS[@]}"; do
		wait "$pid" || true
	done
	STORM_OK=$(cat "$STORM"/out.* | grep -c '^rc=0 ' || true)
	STORM_USED_UP=$(cat "$STORM"/err.* | grep -c 'result=refused reason="used up"' || true)
	STORM_OTHER=$((64 - STORM_OK - STORM_USED_UP))
	cat "$STORM"/err.* >>"$LOG"
	echo "storm: $STORM_OK succeeded, $STORM_USED_UP used up, $STORM_OTHER other" >>"$LOG"
}

# A storm's successes per host name, "NAME COUNT" lines, sorted.
storm_successes_by_host() {
	local i
	for i in $(seq 0 63); do
		grep -q '^rc=0 ' "$STORM/out.$i" || continue
		cat "$FLEET/${STORM_HOSTS[i % ${#STORM_HOSTS[@]}]}/hostname"
	done | sort | uniq -c | awk '{ print $2, $1 }'
}

# Each test's own log ($LOG) and mint log, in its directory ($T).
fleet_test_setup() {
	T=$BATS_TEST_TMPDIR
	LOG=$T/log
	: >"$LOG"
	export T LOG
}

# A failed test shows the end of what the programs said.
fleet_test_teardown() {
	local f
	if [ -z "${BATS_TEST_COMPLETED:-}" ]; then
		for f in "$BATS_TEST_TMPDIR/mint.log" "${LOG:-}"; do
			[ -s "$f" ] || continue
			echo "--- last lines of $f" >&2
			tail -n 25 "$f" >&2
		done
	fi
	pam_test_teardown
}
