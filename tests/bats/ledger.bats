#!/usr/bin/env bats
# The ledger: every token handed out is recorded before it leaves, and
# --list, --history and --revoke ID read it; uses through the module carry
# where they came from (pamtester -I rhost/ruser/tty). JSON is parsed by
# Python's json module, with quotes, backslashes and UTF-8 in names and
# notes. Ledger write failures (read-only store, a write cut short as on a
# full disk, real on a tmpfs as root, and as a write cut short by
# RLIMIT_FSIZE) refuse to mint and leave the store as it was.

load pam_helpers

setup() {
	pam_test_setup
	# an account whose name has UTF-8 in it
	echo 'zoë:x:1510:1510:Zoë:/home/zoe:/bin/sh' >>"$T/passwd"
	echo 'zoë:x:1510:' >>"$T/group"
	# shellcheck disable=SC2016 # a made-up hash
	echo 'zoë:$y$j9T$zoesalt$zoehashzoehashzoehashzoehashzoeh:19000:0:99999:7:::' >>"$T/shadow"
	printf 'url = https://login.example.org/sesame/\n' >>"$CONF"
}

teardown() {
	pam_test_teardown
}

# py EXPR FILE: evaluate EXPR over d = the JSON in FILE (one line).
py() {
	python3 - "$2" "$1" <<-'END'
	import json, sys
	text = open(sys.argv[1], encoding="utf-8").read()
	assert text.count("\n") == 1 and text.endswith("\n"), "not one line: %r" % text
	d = json.loads(text)
	r = eval(sys.argv[2])
	if r is False:
	    sys.exit("false: %s in %s" % (sys.argv[2], text))
	if r is not True:
	    print(r)
	END
}

# mint_json ARGS: mint with --json into $T/m.json; sets TOK and ID.
mint_json() {
	mint --json "$@" >"$T/m.json"
	TOK=$(py 'd["token"]' "$T/m.json")
	ID=$(py 'd["id"]' "$T/m.json")
}

# Who the ledger should name as the issuer: the audit login uid when set,
# else the real uid, by name when the (fake) passwd has it.
issuer() {
	local uid name
	uid=$(cat /proc/self/loginuid 2>/dev/null || echo 4294967295)
	[ "$uid" != 4294967295 ] || uid=$(id -u)
	name=$(awk -F: -v u="$uid" '$3 == u { print $1; exit }' "$T/passwd")
	if [ -n "$name" ]; then echo "uid $uid ($name)"; else echo "uid $uid"; fi
}

pamtester_from() {
	printf '%s\n' "$3" | pam_wrapped pamtester -v -I rhost=203.0.113.7 -I ruser=bob \
		-I tty=pts/9 "$1" "$2" authenticate >>"$LOG" 2>&1
}

@test "ledger: list, history and revoke by id, with the uses' rhost, ruser and tty" {
	mint_json -n 2 -m 'ticket 42' alice
	mint --list >"$T/list"
	grep -E "^$ID +alice +in .+ +0/2 +any +" "$T/list" | grep -F "$(issuer)" | grep -q "ticket 42$"
	pamtester_from login alice "$TOK"
	expect_result 'result=success'
	mint --list >"$T/list"
	grep -E "^$ID +alice .* 1/2 " "$T/list"
	mint --history "$ID" >"$T/hist"
	grep -F "use 1:" "$T/hist" | grep -F "on testhost.example, service login, rhost 203.0.113.7, ruser bob, tty pts/9"
	grep -F "note:     ticket 42" "$T/hist"
	grep -F " by $(issuer), printed" "$T/hist"
	# the same story by token and on stdin
	mint --history "$TOK" >"$T/hist2"
	cmp "$T/hist" "$T/hist2"
	printf '%s\n' "$ID" | mint --history - >"$T/hist3"
	cmp "$T/hist" "$T/hist3"

	mint --revoke "$ID"
	mint --list >"$T/list"
	absent "$ID" "$T/list"
	mint --list --all >"$T/list"
	grep -E "^$ID +alice .* 1/2 .* revoked +ticket 42$" "$T/list"
	mint --history "$ID" | grep -F "revoked:"
	pamtester_from login alice "$TOK" && false
	expect_result 'reason="revoked"'
}

@test "ledger: --history of a token with any number of uses points at the journal and the auth log" {
	mint_json -n 0 alice
	pamtester_from login alice "$TOK"
	mint --history "$ID" >"$T/hist"
	grep -F "uses:     any number (uses are not recorded: see the log)" "$T/hist"
	grep -Fx "log:      journalctl SESAME_TOKEN_ID=$ID, or the auth log's \"sesame: ... id=$ID\" lines" "$T/hist"
	grep -F "sesame: user=alice service=login rhost=203.0.113.7 id=$ID result=success" "$LOG"
}

@test "ledger: an id the ledger does not hold is refused by --revoke and --history, with the reason" {
	run mint --revoke 0123456789ab
	[ "$status" = 1 ]
	grep -F "not in this host's ledger" "$T/mint.log"
	run mint --history 0123456789ab
	[ "$status" = 1 ]
	run mint --history not-an-id
	[ "$status" = 2 ]
}

@test "ledger: --list USER shows that account's tokens; used-up and expired ones only with --all" {
	mint_json alice
	a=$ID
	mint_json -n 1 bob
	b=$ID
	pamtester_from login bob "$TOK"
	expect_result 'result=success'
	mint --list alice >"$T/list"
	grep -q "^$a " "$T/list"
	absent "$b" "$T/list"
	mint --list bob >"$T/list"
	absent "$b" "$T/list"
	mint --list --all bob >"$T/list"
	grep -E "^$b .* 1/1 .* used up" "$T/list"
	grep -F "can only show tokens minted on this host" "$T/mint.log"
}

@test "ledger: -m refuses a second line, control characters and more than 200 bytes (exit 2)" {
	run mint -m $'two\nlines' alice
	[ "$status" = 2 ]
	run mint -m $'tab\there' alice
	[ "$status" = 2 ]
	run mint -m "$(printf 'x%.0s' $(seq 201))" alice
	[ "$status" = 2 ]
	mint -m "$(printf 'x%.0s' $(seq 200))" alice >/dev/null
}

@test "ledger JSON: every output parses, with quotes, backslashes and UTF-8 in names and notes" {
	note='say "hi" \ back\slash — café ✓'
	mint_json --link -n 2 -m "$note" zoë
	py 'd["user"] == "zoë"' "$T/m.json"
	py 'd["link"].startswith("https://login.example.org/sesame/?sesame=SSM1")' "$T/m.json"
	grep -qF '"link":"https://login.example.org/sesame/?sesame=' "$T/m.json" # "/" as it is
	mint --inspect "$TOK" --json >"$T/i.json"
	py 'd["user"] == "zoë" and d["valid"] is True and d["used"] == 0' "$T/i.json"
	mint --list --json >"$T/l.json"
	py "d[0][\"note\"] == '''$note''' and d[0][\"user\"] == \"zoë\" and d[0][\"uses\"] == 2" "$T/l.json"
	py "d[0][\"issued_by\"] == \"$(issuer)\" and d[0][\"channel\"] == \"link\"" "$T/l.json"
	SUDO_USER='mallory "x"' mint --json alice >"$T/m2.json"
	mint --list --all --json >"$T/l.json"
	py 'len(d) == 2 and d[0]["claimed_by"] == "mallory \"x\""' "$T/l.json"
	mint --history "$ID" --json >"$T/h.json"
	py "d[\"note\"] == '''$note''' and d[\"used\"] == 0 and d[\"use_records\"] == []" "$T/h.json"
	mint --history 0123456789ab --json >"$T/h.json" || true
	py 'd["in_ledger"] is False' "$T/h.json"
}

@test "ledger: 32 parallel mints give 32 intact records" {
	for i in $(seq 32); do
		mint -m "n$i" alice >"$T/tok.$i" &
	done
	wait
	mint --list --json >"$T/l.json"
	py 'len(d) == 32 and len({x["id"] for x in d}) == 32' "$T/l.json"
	py 'sorted(x["note"] for x in d) == sorted("n%d" % i for i in range(1, 33))' "$T/l.json"
	for i in $(seq 32); do
		[ "$(wc -l <"$T/tok.$i")" = 1 ]
	done
}

# A checksum of every file in the store, names and contents.
store_sum() {
	(cd "$T/state" && find . -type f -print0 | sort -z | xargs -0 sha256sum)
}

# mint_read_only ARGS: sesame-mint with the store on a read-only bind
# mount, in a mount namespace of its own (root only).
mint_read_only() {
	unshare -m --propagation private sh -c \
		'mount --bind "$1" "$1" && mount -o remount,ro,bind "$1" && shift && exec "$@"' \
		_ "$T/state" env LD_PRELOAD="$SAN_PRELOAD$NSS_WRAPPER_LIB" "$SESAME_MINT" \
		-c "$CONF" "$@" 2>>"$T/mint.log"
}

@test "ledger: a read-only store refuses to mint (exit 2, nothing printed) and is left as it was" {
	mint alice >/dev/null # the store is made and prepared
	store_sum >"$T/before"
	if [ "$(id -u)" = 0 ]; then
		# a read-only bind mount in a mount namespace of its own
		command -v unshare >/dev/null || skip "unshare not found"
		run mint_read_only -m readonly alice
	else
		chmod -R a-w "$T/state"
		run mint -m readonly alice
		chmod -R u+w "$T/state"
	fi
	[ "$status" = 2 ]
	[ -z "$output" ]
	grep -F "nothing handed out" "$T/mint.log"
	store_sum >"$T/after"
	cmp "$T/before" "$T/after"
}

@test "ledger: a write cut short (full disk) refuses to mint (exit 2, nothing printed); the store is as it was" {
	mint alice >/dev/null
	store_sum >"$T/before"
	# RLIMIT_FSIZE makes the append come up short, as ENOSPC does; the
	# output goes through a pipe, which the limit does not cover.
	bash -c 'trap "" XFSZ; ulimit -f 0; "$@" 2>&1; echo "exit=$?"' _ \
		env LD_PRELOAD="$SAN_PRELOAD$NSS_WRAPPER_LIB" "$SESAME_MINT" -c "$CONF" -m full alice |
		cat >"$T/full.log"
	grep -qx "exit=2" "$T/full.log"
	grep -F "nothing handed out" "$T/full.log"
	absent SSM1 "$T/full.log"
	store_sum >"$T/after"
	cmp "$T/before" "$T/after"
}

# on_full_disk SCRIPT: SCRIPT (bash) in a mount namespace of its own where
# $T/disk is a 1 MiB tmpfs holding state_dir $T/disk/state ($T/full.conf)
# and a file that fills it to ENOSPC. $FULL_MINT runs sesame-mint on it.
on_full_disk() {
	mkdir -p "$T/disk"
	printf 'key_file = %s\nstate_dir = %s\n' "$T/key" "$T/disk/state" >"$T/full.conf"
	FULL_MINT="env LD_PRELOAD=$SAN_PRELOAD$NSS_WRAPPER_LIB $SESAME_MINT -c $T/full.conf"
	export FULL_MINT
	# shellcheck disable=SC2016 # expanded in the namespace
	unshare -m --propagation private bash -c '
		set -e
		mount -t tmpfs -o size=1m,mode=0700 tmpfs "$T/disk"
		mkdir -m 0700 "$T/disk/state"
		dd if=/dev/zero of="$T/disk/filler" bs=4k 2>/dev/null || true
		[ "$(df --output=avail "$T/disk" | tail -n 1)" -eq 0 ]
		eval "$1"' _ "$1"
}

@test "ledger: a full disk (a tmpfs at ENOSPC) refuses a mint whose record needs a block (exit 2, nothing printed)" {
	[ "$(id -u)" = 0 ] || skip "needs root: a tmpfs in a mount namespace of its own"
	command -v unshare >/dev/null || skip "unshare not found"
	# A new store on a full disk: its preparation (a page per bucket file,
	# best effort) and the record both need blocks. (In a prepared store a
	# record fits in its bucket's block until that block is full: there a
	# full disk refuses nothing, and the record is durable.)
	# shellcheck disable=SC2016 # expanded in the namespace
	on_full_disk '
		for i in 1 2; do
			set +e
			$FULL_MINT -m full alice >"$T/full.out.$i" 2>"$T/full.log.$i"
			echo "exit=$?" >"$T/full.status.$i"
			set -e
			(cd "$T/disk/state" && find . -type f -print0 | sort -z | xargs -0 -r sha256sum) \
				>"$T/after.$i"
		done'
	for i in 1 2; do
		grep -qx "exit=2" "$T/full.status.$i"
		[ ! -s "$T/full.out.$i" ]
		grep -F "No space left on device: nothing handed out" "$T/full.log.$i"
		absent SSM1 "$T/full.log.$i"
		[ ! -s "$T/after.$i" ] # no record, no half-written file: as it was
	done
}
