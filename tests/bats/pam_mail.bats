#!/usr/bin/env bats
# Login by email (the `mail` option): an empty reply at the prompt mails a
# one-use link scoped to this service and host; the link pasted at the
# next prompt of the same conversation logs in. Delivery here is
# tests/bats/fake-sendmail (sendmail's interface: the message on stdin),
# which also records the ids, arguments and environment it ran with.

load pam_helpers

teardown() {
	pam_test_teardown
}

setup() {
	pam_test_setup
	MBOX=$T/mbox
	cat >>"$CONF" <<-END
	url = https://login.example/sesame/#
	sendmail = $BATS_TEST_DIRNAME/fake-sendmail $MBOX
	mail_from = sesame@test.example
	END
	pam_service login "auth required $PAM_SESAME conf=$CONF mail mail_to=%u@test.example debug"
}

mails_to() {
	grep -c "^To: $1\$" "$MBOX" 2>/dev/null || true
}

@test "Enter at the prompt mails a link; pasting it logs in, in the same conversation" {
	pam_auth login alice "" "@mail:$MBOX"
	expect_rc $PAM_SUCCESS
	[ "$(mails_to alice@test.example)" -eq 1 ]
	grep -q '^From: sesame@test.example$' "$MBOX"
	grep -q '^Subject: .*alice' "$MBOX"
	grep -q '^https://login.example/sesame/#sesame=SSM1' "$MBOX"
	grep -q 'message: If this account has a mail address, a login link is on its way' "$LOG"
	grep -q 'sesame: mail user=alice service=login rhost=- id=[0-9a-f]\{12\} result="sent"' "$LOG"
	expect_result 'result=success reason="valid"'
	# one use only
	pam_auth login alice "@mail:$MBOX"
	expect_rc $PAM_AUTH_ERR
	expect_result 'reason="used up"'
}

@test "the mailed token is scoped to the service and host it was asked from" {
	pam_service other-svc "auth required $PAM_SESAME conf=$CONF"
	pam_auth login alice "" "not-yet"
	expect_rc $PAM_AUTH_ERR
	pam_auth other-svc alice "@mail:$MBOX"
	expect_rc $PAM_AUTH_ERR
	expect_hinted_reason 'wrong service'
	link=$(grep '^https://' "$MBOX" | tail -n 1)
	NSS_WRAPPER_HOSTNAME=elsewhere.example pam_auth login alice "$link"
	expect_rc $PAM_AUTH_ERR
	expect_hinted_reason 'wrong host'
	pam_auth login alice "$link"
	expect_rc $PAM_SUCCESS
}

@test "no address, unknown user, not allowed: nothing is sent and the prompt says the same" {
	printf 'alice alice@test.example\n' >"$T/map"
	chmod 0600 "$T/map"
	pam_service login "auth required $PAM_SESAME conf=$CONF mail mail_to=$T/map"
	pam_auth login bob "" "x"
	expect_rc $PAM_AUTH_ERR
	pam_auth login nosuchuser "" "x"
	pam_auth login root "" "x"
	[ ! -e "$MBOX" ]
	[ "$(grep -c 'message: If this account has a mail address, a login link is on its way' "$LOG")" -eq 3 ]
	grep -q 'sesame: mail user=bob .* result="no address"' "$LOG"
	grep -q 'sesame: mail user=nosuchuser .* result="no address"' "$LOG"
	grep -q 'sesame: mail user=root .* result="no address"' "$LOG"
	printf 'root root@test.example\n' >>"$T/map"
	pam_auth login root "" "x"
	grep -q 'sesame: mail user=root .* result="user not allowed"' "$LOG"
	[ ! -e "$MBOX" ]
	# the map file is checked like the key file
	pam_auth login alice "" "@mail:$MBOX"
	expect_rc $PAM_SUCCESS
	chmod 0644 "$T/map"
	: >"$MBOX"
	pam_auth login alice "" "x"
	expect_rc $PAM_AUTH_ERR
	grep -q 'sesame: mail user=alice .* result="failed" detail="mail map .*group or other' "$LOG"
	[ ! -s "$MBOX" ]
}

@test "rate limits: one mail per interval, mail_per_hour per hour, per account, in the store" {
	# interval: repeated Enter within 60 s sends one mail
	pam_auth login alice "" "" "" "x"
	[ "$(mails_to alice@test.example)" -eq 1 ]
	[ "$(grep -c 'sesame: mail user=alice .*result="rate limited"' "$LOG")" -eq 2 ]
	# per hour: with a 1 s interval, the third mail within the hour is refused
	pam_service hourly "auth required $PAM_SESAME conf=$CONF mail mail_to=%u@test.example mail_interval=1s mail_per_hour=2"
	pam_auth hourly bob "" "x"
	sleep 1.1
	pam_auth hourly bob "" "x"
	sleep 1.1
	pam_auth hourly bob "" "x"
	[ "$(mails_to bob@test.example)" -eq 2 ]
	[ "$(grep -c 'sesame: mail user=bob .*result="rate limited"' "$LOG")" -eq 1 ]
}

@test "20 parallel logins pressing Enter send one mail (interval 60s)" {
	for i in $(seq 1 20); do
		# A log each: 20 writers appending to one file can interleave lines.
		pam_wrapped "$SESAME_PAM_DRIVER" -b "$T/go" login alice "" "x" >"$T/out.$i" 2>"$T/err.$i" &
	done
	for _ in $(seq 1 500); do
		[ "$(ls "$T"/go.ready.* 2>/dev/null | wc -l)" -ge 20 ] && break
		sleep 0.01
	done
	touch "$T/go"
	wait
	cat "$T"/err.* >>"$LOG"
	[ "$(mails_to alice@test.example)" -eq 1 ]
	[ "$(cat "$T"/err.* | grep -c 'result="sent"')" -eq 1 ]
	[ "$(cat "$T"/err.* | grep -c 'result="rate limited"')" -eq 19 ]
	[ "$(cat "$T"/out.* | grep -c "^rc=$PAM_AUTH_ERR ")" -eq 20 ]
}

@test "a failing sendmail is logged, not shown; the prompt says the same" {
	sed -i 's|^sendmail = .*|sendmail = /bin/false|' "$CONF"
	pam_auth login alice "" "x"
	expect_rc $PAM_AUTH_ERR
	grep -q 'sesame: mail user=alice .* result="failed" detail=".*/bin/false.*exited with status 1' "$LOG"
	grep -q 'message: If this account has a mail address, a login link is on its way' "$LOG"
	absent 'exited with status' <(grep '^message:' "$LOG")
}

@test "without mail, or without a known user, an empty reply is just refused" {
	pam_service login "auth required $PAM_SESAME conf=$CONF"
	pam_auth login alice ""
	expect_rc $PAM_AUTH_ERR
	expect_result 'reason="malformed"'
	pam_service kiosk "auth required $PAM_SESAME conf=$CONF mail mail_to=%u@test.example user_from_token"
	pam_auth kiosk - ""
	expect_rc $PAM_AUTH_ERR
	[ ! -e "$MBOX" ]
}

@test "the mailed token never reaches the log" {
	pam_auth login alice "" "@mail:$MBOX"
	expect_rc $PAM_SUCCESS
	tok=$(grep -o 'SSM1[0-9A-Z]*' "$MBOX" | head -n 1)
	[ ${#tok} -eq 60 ]
	absent "$tok" "$LOG"
	absent "$tok" "$T/mint.log"
}

# su alice, run by bob (uid 1502): real uid bob, effective uid root, bob's
# groups and environment. sendmail must get none of it: /bin/sh and
# Postfix drop to the real uid, which would make bob the envelope sender.
@test "sendmail runs with root's ids, no groups, and PATH alone, whoever ran su" {
	[ "$(id -u)" -eq 0 ] || skip "needs root (setresuid)"
	# A mailbox bob could write to too, so that a sendmail wrongly running
	# as bob leaves its record rather than just failing.
	W=$(mktemp -d /tmp/sesame-su.XXXXXX)
	chmod 0777 "$W"
	sed -i "s|^sendmail = .*|sendmail = $BATS_TEST_DIRNAME/fake-sendmail $W/mbox|" "$CONF"
	pam_auth -u 1502:1502 -E SESAME_MARKER=bob-was-here -E HOME=/home/bob \
		login alice "" "@mail:$W/mbox"
	cat "$W/mbox.who" >&2
	expect_rc $PAM_SUCCESS
	grep -qx 'ids: ruid=0 euid=0 rgid=0 egid=0 groups=0' "$W/mbox.who"
	absent 'SESAME_MARKER' "$W/mbox.who"
	absent 'HOME=' "$W/mbox.who"
	absent 'LD_PRELOAD' "$W/mbox.who"
	grep -qx 'env: PATH=/usr/sbin:/usr/bin:/sbin:/bin' "$W/mbox.who"
	[ "$(grep '^env: ' "$W/mbox.who" | grep -v -c -e '^env: PATH=' -e '^env: PWD=')" -eq 0 ]
	# the envelope sender is mail_from
	grep -qx 'args: -f sesame@test.example' "$W/mbox.who"
	rm -rf "$W"
}

@test "a locked account (usermod -L) gets no mail; the prompt says the same" {
	sed -i 's/^alice:\$/alice:!$/' "$T/shadow"
	pam_auth login alice "" "x"
	expect_rc $PAM_AUTH_ERR
	[ ! -e "$MBOX" ]
	grep -q 'sesame: mail user=alice .* result="account locked"' "$LOG"
	grep -q 'message: If this account has a mail address, a login link is on its way' "$LOG"
}

@test "an expired account (usermod -e 1) gets no mail" {
	sed -i 's/^\(alice:[^:]*:19000:0:99999:7::\):/\11:/' "$T/shadow"
	grep -q '^alice:.*:1:$' "$T/shadow"
	pam_auth login alice "" "x"
	[ ! -e "$MBOX" ]
	grep -q 'sesame: mail user=alice .* result="account expired"' "$LOG"
}

@test "a token-only account (bare '!' from useradd) gets its mail and logs in" {
	sed -i 's/^alice:[^:]*:/alice:!:/' "$T/shadow"
	pam_auth login alice "" "@mail:$MBOX"
	expect_rc $PAM_SUCCESS
	[ "$(mails_to alice@test.example)" -eq 1 ]
}

@test "six requests from one remote host do not stop a request from another" {
	for _ in 1 2 3 4 5 6; do
		pam_auth -r 192.0.2.1 login alice "" "x"
	done
	[ "$(mails_to alice@test.example)" -eq 1 ]
	pam_auth -r 192.0.2.2 login alice "" "@mail:$MBOX"
	expect_rc $PAM_SUCCESS
	[ "$(mails_to alice@test.example)" -eq 2 ]
	# an IPv6 site is one source, whichever address of its /64 it uses
	pam_auth -r 2001:db8:5:6::1 login alice "" "x"
	pam_auth -r 2001:db8:5:6::abcd login alice "" "x"
	[ "$(mails_to alice@test.example)" -eq 3 ]
	pam_auth -r 2001:db8:5:7::1 login alice "" "x"
	[ "$(mails_to alice@test.example)" -eq 4 ]
}

@test "many sources still cannot flood the mailbox: mail_account_per_hour caps them all" {
	pam_service capped "auth required $PAM_SESAME conf=$CONF mail mail_to=%u@test.example mail_account_per_hour=3"
	for i in 1 2 3 4 5; do
		pam_auth -r "192.0.2.$i" capped alice "" "x"
	done
	[ "$(mails_to alice@test.example)" -eq 3 ]
	[ "$(grep -c 'sesame: mail user=alice .*result="rate limited"' "$LOG")" -eq 2 ]
}

@test "local requests count by the real uid asking (su run by different users)" {
	[ "$(id -u)" -eq 0 ] || skip "needs root (setresuid)"
	pam_auth -u 1502:1502 login alice "" "x"
	pam_auth -u 1502:1502 login alice "" "x"
	[ "$(mails_to alice@test.example)" -eq 1 ]
	pam_auth login alice "" "x"
	[ "$(mails_to alice@test.example)" -eq 2 ]
	# sudo names this host as PAM_RHOST: still local, counted by uid
	pam_auth -r testhost.example -u 1501:1501 login alice "" "x"
	[ "$(mails_to alice@test.example)" -eq 3 ]
	pam_auth -r testhost.example -u 1501:1501 login alice "" "x"
	[ "$(mails_to alice@test.example)" -eq 3 ]
}

@test "ledger: a mailed link is recorded as issued by mail, with the requesting rhost, before it is sent" {
	pam_auth -r 198.51.100.23 login alice "" "@mail:$MBOX"
	expect_rc $PAM_SUCCESS
	id=$(sed -n 's/.*sesame: mail user=alice .* id=\([0-9a-f]\{12\}\) result="sent".*/\1/p' "$LOG")
	[ -n "$id" ]
	mint --list --all --json >"$T/l.json"
	python3 - "$T/l.json" "$id" <<-'END'
	import json, sys
	d = json.load(open(sys.argv[1]))
	assert len(d) == 1, d
	x = d[0]
	assert x["id"] == sys.argv[2], x
	assert x["issued_by"] == "mail" and x["rhost"] == "198.51.100.23", x
	assert x["channel"] == "mail to alice@test.example", x
	assert x["used"] == 1 and x["use_records"][0]["rhost"] == "198.51.100.23", x
	END
}
