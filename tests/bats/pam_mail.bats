#!/usr/bin/env bats
# Login by email (the `mail` option): an empty reply at the prompt mails a
# one-use link scoped to this service and host; the link pasted at the
# next prompt of the same conversation logs in. Delivery here is
# `/usr/bin/tee -a MBOX` (sendmail's interface: the message on stdin).

load pam_helpers

teardown() {
	pam_test_teardown
}

setup() {
	pam_test_setup
	MBOX=$T/mbox
	cat >>"$CONF" <<-END
	url = https://login.example/sesame/#
	sendmail = /usr/bin/tee -a $MBOX
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
