#!/usr/bin/env bats
# The module's attempts in the systemd journal, with SESAME_* fields, sent
# through journald's native protocol (pam/journal.c). Without a journald
# (CI), a capture (journal-capture.py) binds the socket on a tmpfs mounted
# over /run/systemd/journal in a mount namespace of the test's own: root
# only. Where a journald runs, `journalctl SESAME_TOKEN_ID=` is asked too.

load pam_helpers

setup() {
	pam_test_setup
	CAPTURE=${BATS_TEST_DIRNAME}/journal-capture.py
	export CAPTURE
	# for the commands run under the capture (bash -c)
	export -f three_attempts pamtester_from pam_wrapped
}

teardown() {
	pam_test_teardown
}

need_namespace() {
	[ "$(id -u)" = 0 ] || skip "needs root: a tmpfs over /run/systemd/journal in a mount namespace"
	command -v unshare >/dev/null || skip "unshare not found"
	command -v python3 >/dev/null || skip "python3 not found"
	[ "${SESAME_JOURNAL:-1}" = 1 ] || skip "built with -Djournal=disabled"
}

# in_journal [--stall] OUT CMD...: CMD with the capture bound at
# /run/systemd/journal/socket (a tmpfs on the deepest of /run/systemd/journal,
# /run/systemd, /run that exists, in a mount namespace of its own); the
# entries land in OUT.
in_journal() {
	local stall=
	if [ "$1" = --stall ]; then
		stall=--stall
		shift
	fi
	local out=$1
	shift
	# shellcheck disable=SC2016 # expanded in the namespace
	unshare -m --propagation private bash -c '
		set -e
		for d in /run/systemd/journal /run/systemd /run; do
			[ -d "$d" ] && break
		done
		mount -t tmpfs -o mode=0755 tmpfs "$d"
		mkdir -p /run/systemd/journal
		exec python3 "$CAPTURE" $0 /run/systemd/journal/socket "$@"' "$stall" "$out" -- "$@"
}

pamtester_from() {
	printf '%s\n' "$3" | pam_wrapped pamtester -v -I rhost=203.0.113.7 -I ruser=bob \
		-I tty=pts/9 "$1" "$2" authenticate >>"$LOG" 2>&1
}

# jq-like checks with Python over the capture: py EXPR (e = the entries).
py() {
	python3 - "$T/journal.json" "$1" <<-'END'
	import json, sys
	d = json.load(open(sys.argv[1], encoding="utf-8"))
	assert not d["errors"], d["errors"]
	e = d["entries"]
	r = eval(sys.argv[2])
	if r is False:
	    sys.exit("false: %s in %d entries, from %s" % (sys.argv[2], len(e), json.dumps(e[:3], indent=1)))
	if r is not True:
	    print(r)
	END
}

# accepted, refused as forged, refused as a replay: one entry each
three_attempts() {
	pamtester_from login alice "$TOK" || return 1
	pamtester_from login alice "$FORGED" && return 1
	pamtester_from login alice "$TOK" && return 1
	return 0
}

@test "journal: accepted, forged and replayed attempts carry their fields, never the token" {
	need_namespace
	TOK=$(mint -n 1 alice)
	FORGED=$(change_char "$TOK" 50) # in the tag: same id, bad signature
	ID=$(mint --inspect "$TOK" | awk '$1 == "id:" { print $2 }')
	[ -n "$ID" ]
	export TOK FORGED
	in_journal "$T/journal.json" bash -c three_attempts
	py 'len(e) == 3'
	py "all(x['SESAME_TOKEN_ID'] == '$ID' for x in e)"
	py "[x['SESAME_RESULT'] for x in e] == ['success', 'refused', 'refused']"
	py "[x['SESAME_REASON'] for x in e] == ['valid', 'bad signature', 'used up']"
	py "[x['PRIORITY'] for x in e] == ['6', '5', '5']"
	py "all(x['SESAME_SERVICE'] == 'login' and x['SESAME_RHOST'] == '203.0.113.7' for x in e)"
	py "all(x['SESAME_USER'] == 'alice' and x['SESAME_RUSER'] == 'bob' for x in e)"
	py "all(x['SESAME_TTY'] == 'pts/9' and x['SESAME_EVENT'] == 'login' for x in e)"
	py "all(x['SYSLOG_IDENTIFIER'] == 'pam_sesame' and x['SYSLOG_FACILITY'] == '10' for x in e)"
	# MESSAGE is the syslog line, word for word
	grep -a -o 'sesame: user=.*' "$LOG" >"$T/lines"
	[ "$(wc -l <"$T/lines")" = 3 ]
	py "[x['MESSAGE'] for x in e] == open('$T/lines').read().splitlines()"
	py "all('SESAME_DETAIL' not in x for x in e)"
	# neither the token nor its tag, nor the forged one, in any field
	absent "${TOK:4}" "$T/journal.json"
	absent "${FORGED:4}" "$T/journal.json"
	absent "${TOK:40}" "$T/journal.json"
}

@test "journal: a link, an unknown rhost and a detail: fields left out or present as the line has them" {
	need_namespace
	printf 'url = https://login.example.org/s/\n' >>"$CONF"
	LINK=$(mint --link alice)
	export LINK
	pam_service nokey "auth required $PAM_SESAME conf=$T/nokey.conf"
	printf 'key_file = %s\nstate_dir = %s\n' "$T/missing.key" "$T/state" >"$T/nokey.conf"
	# shellcheck disable=SC2016 # expanded by the inner bash
	in_journal "$T/journal.json" bash -c '
		printf "%s\n" "$LINK" | pam_wrapped pamtester login alice authenticate >>"$LOG" 2>&1
		printf "%s\n" "$LINK" | pam_wrapped pamtester nokey alice authenticate >>"$LOG" 2>&1
		printf "not a token\n" | pam_wrapped pamtester login alice authenticate >>"$LOG" 2>&1
		true'
	py 'len(e) == 3'
	py "e[0]['SESAME_RESULT'] == 'success' and 'SESAME_RHOST' not in e[0] and 'SESAME_TTY' not in e[0]"
	py "e[1]['SESAME_RESULT'] == 'unavailable' and 'missing.key' in e[1]['SESAME_DETAIL']"
	py "e[1]['PRIORITY'] == '3' and e[1]['SESAME_TOKEN_ID'] == e[0]['SESAME_TOKEN_ID']"
	py "e[2]['SESAME_RESULT'] == 'refused' and 'SESAME_TOKEN_ID' not in e[2]"
	absent "${LINK##*=}" "$T/journal.json"
}

@test "journal: a journal that does not read never holds a login up" {
	need_namespace
	mint -n 0 alice >"$T/token"
	TOK=$(cat "$T/token")
	export TOK
	# far more datagrams than a socket queues (net.unix.max_dgram_qlen):
	# a blocking send would wait for ever, and timeout would end it
	# shellcheck disable=SC2016 # expanded by the inner bash
	in_journal --stall "$T/journal.json" timeout 120 bash -c '
		for i in $(seq 60); do
			printf "%s\n" "$TOK" | pam_wrapped pamtester login alice authenticate \
				>>"$LOG" 2>&1 || exit 1
		done'
	[ "$(grep -c 'result=success' "$LOG")" = 60 ]
}

@test "journal: 2,000 attempts in one process leave no descriptor behind" {
	need_namespace
	: "${SESAME_PAM_SOAK:?SESAME_PAM_SOAK must name tests/pam/soak}"
	export PAM_WRAPPER_DEBUGLEVEL=0
	pam_service soak "auth required $PAM_SESAME conf=$CONF"
	mint -n 0 alice >"$T/token"
	# soak compares the descriptors after 1,000 rounds with those at the end
	# shellcheck disable=SC2016 # expanded by the inner bash
	run in_journal "$T/journal.json" \
		bash -c 'pam_wrapped "$SESAME_PAM_SOAK" soak alice "$T/token" 2000' 
	sed 's/^/# /' <<<"$output" >&3
	[ "$status" -eq 0 ]
	# a capture that falls behind loses datagrams (sends never wait): some, not all
	py 'len(e) > 0 and all(x["SESAME_RESULT"] == "success" for x in e)'
	echo "# $(py 'len(e)') of 2,000 entries captured" >&3
}

@test "journal: journalctl SESAME_TOKEN_ID= finds every attempt of a token (where journald runs)" {
	command -v journalctl >/dev/null || skip "journalctl not found"
	systemctl is-active --quiet systemd-journald 2>/dev/null ||
		skip "no systemd-journald running here (CI): the capture tests above check the fields"
	[ -S /run/systemd/journal/socket ] || skip "no journal socket"
	TOK=$(mint -n 1 alice)
	ID=$(mint --inspect "$TOK" | awk '$1 == "id:" { print $2 }')
	pamtester_from login alice "$TOK"
	pamtester_from login alice "$TOK" && false
	for _ in $(seq 50); do
		[ "$(journalctl -q SESAME_TOKEN_ID="$ID" -o json | wc -l)" -ge 2 ] && break
		sleep 0.1
	done
	journalctl -q SESAME_TOKEN_ID="$ID" -o json >"$T/jctl"
	python3 - "$T/jctl" "$TOK" <<-'END'
	import json, sys
	e = [json.loads(l) for l in open(sys.argv[1])]
	assert [x["SESAME_RESULT"] for x in e] == ["success", "refused"], e
	assert [x["SESAME_REASON"] for x in e] == ["valid", "used up"], e
	assert all(x["SESAME_RHOST"] == "203.0.113.7" for x in e), e
	assert sys.argv[2][4:] not in open(sys.argv[1]).read()
	END
}
