#!/usr/bin/env bats
# pam_sesame.so under pam_wrapper + nss_wrapper (see pam_helpers.bash).
# Return codes are checked exactly through tests/pam/driver.c; pamtester
# is used where a stock PAM application matters.

load pam_helpers

teardown() {
	pam_test_teardown
}

setup() {
	pam_test_setup
}

@test "a valid token logs in once and its replay is refused" {
	tok=$(mint alice)
	pam_auth login alice "$tok"
	expect_rc $PAM_SUCCESS
	[ "$PAM_USER_OUT" = alice ]
	expect_result 'user=alice service=login rhost=- id='
	expect_result 'result=success reason="valid"'
	pam_auth login alice "$tok"
	expect_rc $PAM_AUTH_ERR
	expect_result 'result=refused reason="used up"'
}

@test "pamtester: token on stdin logs in, the replay fails" {
	tok=$(mint alice)
	pamtester_auth login alice "$tok"
	run pamtester_auth login alice "$tok"
	[ "$status" -ne 0 ]
	expect_result 'reason="used up"'
}

@test "a 3-use token allows exactly 3 logins" {
	tok=$(mint -n 3 alice)
	for i in 1 2 3; do
		pam_auth login alice "$tok"
		expect_rc $PAM_SUCCESS
	done
	pam_auth login alice "$tok"
	expect_rc $PAM_AUTH_ERR
	expect_result 'reason="used up"'
}

@test "32 concurrent redemptions of one token: exactly one succeeds" {
	tok=$(mint alice)
	for i in $(seq 1 32); do
		# A log each: 32 writers appending to one file can interleave lines.
		pam_wrapped "$SESAME_PAM_DRIVER" -b "$T/go" login alice "$tok" >"$T/out.$i" 2>"$T/err.$i" &
	done
	# Let all 32 reach the start line (past pam_start), then release them.
	for ((i = 0; i < 200; i++)); do
		[ "$(find "$T" -maxdepth 1 -name 'go.ready.*' | wc -l)" -lt 32 ] || break
		sleep 0.05
	done
	touch "$T/go"
	wait
	cat "$T"/err.* >>"$LOG"
	[ "$(find "$T" -maxdepth 1 -name 'go.ready.*' | wc -l)" -eq 32 ]
	ok=$(cat "$T"/out.* | grep -c '^rc=0 ' || true)
	refused=$(cat "$T"/out.* | grep -c "^rc=$PAM_AUTH_ERR " || true)
	echo "successes=$ok refusals=$refused" >&2
	[ "$ok" -eq 1 ]
	[ "$refused" -eq 31 ]
	[ "$(cat "$T"/err.* | grep -c 'reason="used up"')" -eq 31 ]
}

@test "every single-character change of a token is refused" {
	tok=$(mint -n 0 alice)
	[ "${#tok}" -eq 60 ]
	for ((i = 0; i < ${#tok}; i++)); do
		bad=$(change_char "$tok" "$i")
		[ "$bad" != "$tok" ]
		pam_auth login alice "$bad"
		expect_rc $PAM_AUTH_ERR
	done
	# None of them used the token up.
	pam_auth login alice "$tok"
	expect_rc $PAM_SUCCESS
}

@test "a token for another user is refused and stays usable" {
	tok=$(mint alice)
	pam_auth login bob "$tok"
	expect_rc $PAM_AUTH_ERR
	expect_result 'user=bob'
	expect_result 'reason="wrong user"'
	pam_auth login alice "$tok"
	expect_rc $PAM_SUCCESS
}

@test "a user unknown to the system: PAM_USER_UNKNOWN" {
	tok=$(mint alice)
	pam_auth login nosuchuser "$tok"
	expect_rc $PAM_USER_UNKNOWN
}

@test "an expired token is refused" {
	tok=$(mint -t 2s alice)
	sleep 3
	pam_auth login alice "$tok"
	expect_rc $PAM_AUTH_ERR
	expect_result 'reason="expired"'
}

@test "a lifetime above max_age_limit is refused" {
	tok=$(mint -t 2m alice)
	pam_service limited "auth required $PAM_SESAME conf=$CONF max_age_limit=1m"
	pam_auth limited alice "$tok"
	expect_rc $PAM_AUTH_ERR
	expect_result 'reason="lifetime above limit"'
	pam_auth login alice "$tok"
	expect_rc $PAM_SUCCESS
}

@test "a password change invalidates the token" {
	tok=$(mint alice)
	sed -i 's/^alice:[^:]*:/alice:$y$j9T$newsalt$newhashnewhashnewhashnewhash:/' "$T/shadow"
	pam_auth login alice "$tok"
	expect_rc $PAM_AUTH_ERR
	expect_hinted_reason 'password changed'
}

@test "locking the account (usermod -L) suspends the token: account locked, until unlocked" {
	tok=$(mint alice)
	cp "$T/shadow" "$T/shadow.unlocked"
	sed -i 's/^alice:/alice:!/' "$T/shadow"
	pam_auth login alice "$tok"
	expect_rc $PAM_AUTH_ERR
	expect_result 'reason="account locked"'
	# Red Hat's passwd -l puts two
	sed -i 's/^alice:/alice:!/' "$T/shadow"
	pam_auth login alice "$tok"
	expect_result 'reason="account locked"'
	# --inspect says what a lock means for the token
	run mint --inspect "$tok"
	[ "$status" -eq 1 ]
	[[ $output == *"status:   invalid: account locked"* ]]
	[[ $output == *"suspended"*"usermod -U"*"--revoke-user ends it for good"* ]]
	# nothing was used: usermod -U brings the token back
	cp "$T/shadow.unlocked" "$T/shadow"
	pam_auth login alice "$tok"
	expect_rc $PAM_SUCCESS
}

@test "a locked account: --revoke-user ends its tokens for good" {
	tok=$(mint alice)
	cp "$T/shadow" "$T/shadow.unlocked"
	sed -i 's/^alice:/alice:!/' "$T/shadow"
	mint --revoke-user alice
	cp "$T/shadow.unlocked" "$T/shadow"
	pam_auth login alice "$tok"
	expect_rc $PAM_AUTH_ERR
	expect_result 'reason="revoked"'
}

@test "an expired account (usermod -e 1) refuses its tokens: account expired" {
	tok=$(mint alice)
	sed -i 's/^\(alice:[^:]*:19000:0:99999:7::\):/\11:/' "$T/shadow"
	grep -q '^alice:.*:1:$' "$T/shadow"
	pam_auth login alice "$tok"
	expect_rc $PAM_AUTH_ERR
	expect_result 'reason="account expired"'
	run mint alice
	[ "$status" -eq 1 ]
	grep -q 'refusing to mint for alice: account expired' "$T/mint.log"
}

@test "password-less accounts (bare '!', '!!', '*', '!*', 'x', empty) log in by token" {
	for field in '!' '!!' '*' '!*' 'x' ''; do
		sed -i "s/^alice:[^:]*:/alice:$field:/" "$T/shadow"
		tok=$(mint alice)
		pam_auth login alice "$tok"
		expect_rc $PAM_SUCCESS
	done
}

@test "a locked account cannot be minted for" {
	sed -i 's/^alice:/alice:!/' "$T/shadow"
	run mint alice
	[ "$status" -eq 1 ]
	grep -q 'refusing to mint for alice: account locked' "$T/mint.log"
}

@test "after key rotation tokens of the old and the new key work" {
	old=$(mint alice)
	mint --keygen --rotate >/dev/null
	new=$(mint alice)
	pam_auth login alice "$old"
	expect_rc $PAM_SUCCESS
	pam_auth login alice "$new"
	expect_rc $PAM_SUCCESS
}

@test "dropping a key refuses its tokens; the key file stays 0600" {
	old=$(mint alice)
	mint --keygen --rotate >/dev/null
	new=$(mint alice)
	sed -i '/^1 /d' "$T/key"
	[ "$(stat -c %a "$T/key")" = 600 ]
	pam_auth login alice "$old"
	expect_rc $PAM_AUTH_ERR
	expect_result 'reason="unknown key"'
	pam_auth login alice "$new"
	expect_rc $PAM_SUCCESS
}

@test "service scope: valid for its service only" {
	pam_service sshd "auth required $PAM_SESAME conf=$CONF"
	tok=$(mint -n 2 -s login alice)
	pam_auth sshd alice "$tok"
	expect_rc $PAM_AUTH_ERR
	expect_result 'service=sshd'
	expect_hinted_reason 'wrong service'
	pam_auth login alice "$tok"
	expect_rc $PAM_SUCCESS
}

@test "host scope: valid on its host only" {
	here=$(mint -H testhost.example alice)
	there=$(mint -H elsewhere.example alice)
	pam_auth login alice "$there"
	expect_rc $PAM_AUTH_ERR
	expect_hinted_reason 'wrong host'
	pam_auth login alice "$here"
	expect_rc $PAM_SUCCESS
}

@test "root: refused by default, allowed with allow_root=yes" {
	# Only a config with allow_root lets the CLI mint for root.
	cp "$CONF" "$T/root.conf"
	echo 'allow_root = yes' >>"$T/root.conf"
	tok=$(CONF=$T/root.conf mint -n 2 root)
	pam_auth login root "$tok"
	expect_rc $PAM_AUTH_ERR
	expect_result 'reason="user not allowed"'
	pam_service rootok "auth required $PAM_SESAME conf=$CONF allow_root=yes"
	pam_auth rootok root "$tok"
	expect_rc $PAM_SUCCESS
}

@test "group=: members get in, others are refused" {
	pam_service staff "auth required $PAM_SESAME conf=$CONF group=staff"
	a=$(mint alice)
	b=$(mint bob)
	pam_auth staff bob "$b"
	expect_rc $PAM_AUTH_ERR
	expect_result 'reason="user not allowed"'
	pam_auth staff alice "$a"
	expect_rc $PAM_SUCCESS
}

@test "a revoked token is refused" {
	tok=$(mint -n 0 alice)
	mint --revoke "$tok"
	pam_auth login alice "$tok"
	expect_rc $PAM_AUTH_ERR
	expect_result 'reason="revoked"'
}

@test "revoking a user refuses every earlier token of theirs" {
	a1=$(mint alice)
	a2=$(mint -n 0 alice)
	b=$(mint bob)
	mint --revoke-user alice
	pam_auth login alice "$a1"
	expect_rc $PAM_AUTH_ERR
	expect_result 'reason="revoked"'
	pam_auth login alice "$a2"
	expect_rc $PAM_AUTH_ERR
	pam_auth login bob "$b"
	expect_rc $PAM_SUCCESS
	sleep 1
	a3=$(mint alice)
	pam_auth login alice "$a3"
	expect_rc $PAM_SUCCESS
}

# The console stack: pam_unix (here its stand-in) asks "Password:", then
# pam_sesame takes a token typed there from PAM_AUTHTOK.
unix_stack() {
	pam_service "$1" \
		"auth sufficient $SESAME_PAM_STANDIN passdb=$T/passdb" \
		"auth sufficient $PAM_SESAME conf=$CONF debug $2" \
		"auth requisite pam_deny.so"
}

@test "pam_unix + use_first_pass: the real password works" {
	unix_stack console use_first_pass
	pam_auth console alice alice-password
	expect_rc $PAM_SUCCESS
	[ "$(grep -c '^prompt: ' "$LOG")" -eq 1 ]
}

@test "pam_unix + use_first_pass: a token typed at Password: works once" {
	unix_stack console use_first_pass
	tok=$(mint alice)
	pam_auth console alice "$tok"
	expect_rc $PAM_SUCCESS
	[ "$(grep -c '^prompt: ' "$LOG")" -eq 1 ]
	grep -q '^prompt: Password: $' "$LOG"
	grep -q 'sesame: input from PAM_AUTHTOK' "$LOG"
	pam_auth console alice "$tok"
	expect_rc $PAM_AUTH_ERR
	expect_result 'reason="used up"'
}

@test "pam_unix + use_first_pass: garbage fails and is not logged" {
	unix_stack console use_first_pass
	pam_auth console alice 'Wr0ng-but-secret password'
	expect_rc $PAM_AUTH_ERR
	expect_result 'result=refused reason="authtok is not a sesame token"'
	absent 'Wr0ng-but-secret' "$LOG"
	# A link-looking password is no token either.
	pam_auth console alice 'http://x/?sesame=hunter2'
	expect_rc $PAM_AUTH_ERR
	absent 'hunter2' "$LOG"
}

@test "try_first_pass prompts when the authtok is a password" {
	unix_stack console try_first_pass
	tok=$(mint alice)
	pam_auth console alice wrong-password "$tok"
	expect_rc $PAM_SUCCESS
	grep -q '^prompt: Password: $' "$LOG"
	grep -q '^prompt: Sesame token or link: $' "$LOG"
	grep -q 'authtok is not a sesame token: prompting' "$LOG"
	absent 'wrong-password' "$LOG"
}

@test "try_first_pass uses a token already typed at Password:" {
	unix_stack console try_first_pass
	tok=$(mint alice)
	pam_auth console alice "$tok"
	expect_rc $PAM_SUCCESS
	[ "$(grep -c '^prompt: ' "$LOG")" -eq 1 ]
}

@test "use_first_pass alone, with no authtok: refused without prompting" {
	pam_service first "auth required $PAM_SESAME conf=$CONF use_first_pass"
	tok=$(mint alice)
	pam_auth first alice "$tok"
	expect_rc $PAM_AUTH_ERR
	absent_re '^prompt: ' "$LOG"
}

@test "the token is not handed on as PAM_AUTHTOK" {
	items=$(dirname "$PAM_WRAPPER_LIB")/pam_wrapper/pam_get_items.so
	[ -e "$items" ] || skip "pam_get_items.so not found"
	pam_service items "auth required $PAM_SESAME conf=$CONF" "auth required $items"
	tok=$(mint alice)
	pam_auth -e items alice "$tok"
	expect_rc $PAM_SUCCESS
	grep -qx 'authtok=unset' <<<"$PAM_OUT"
}

@test "a token taken from PAM_AUTHTOK is removed from it" {
	items=$(dirname "$PAM_WRAPPER_LIB")/pam_wrapper/pam_get_items.so
	[ -e "$items" ] || skip "pam_get_items.so not found"
	pam_service chain "auth optional $SESAME_PAM_STANDIN passdb=$T/passdb" \
		"auth required $PAM_SESAME conf=$CONF use_first_pass" \
		"auth required $items"
	tok=$(mint alice)
	pam_auth -e chain alice "$tok"
	expect_rc $PAM_SUCCESS
	grep -qx 'authtok=unset' <<<"$PAM_OUT"
	# A password stays for the modules after it (refused here, but kept).
	pam_auth -e chain alice alice-password
	expect_rc $PAM_AUTH_ERR
	grep -qx 'authtok=set' <<<"$PAM_OUT"
}

@test "pam_setcred succeeds after a token login" {
	tok=$(mint alice)
	pam_auth -s login alice "$tok"
	expect_rc $PAM_SUCCESS
	grep -qx 'setcred=0' <<<"$PAM_OUT"
}

@test "user_from_token: a kiosk with no user gets PAM_USER from the token" {
	pam_service kiosk "auth required $PAM_SESAME conf=$CONF user_from_token debug"
	tok=$(mint bob)
	pam_auth kiosk - "$tok"
	expect_rc $PAM_SUCCESS
	[ "$PAM_USER_OUT" = bob ]
	expect_result 'user=bob'
	# Refused tokens leave PAM_USER unset.
	pam_auth kiosk - "$tok"
	expect_rc $PAM_AUTH_ERR
	[ "$PAM_USER_OUT" = - ]
}

@test "user_from_token: PAM_USER already set to another account is refused" {
	pam_service kiosk "auth required $PAM_SESAME conf=$CONF user_from_token"
	tok=$(mint bob)
	pam_auth kiosk alice "$tok"
	expect_rc $PAM_AUTH_ERR
	[ "$PAM_USER_OUT" = alice ]
	expect_result 'reason="wrong user"'
	pam_auth kiosk bob "$tok"
	expect_rc $PAM_SUCCESS
}

@test "user_from_token: a token for a vanished account is refused as PAM_AUTH_ERR (no uid oracle)" {
	pam_service kiosk "auth required $PAM_SESAME conf=$CONF user_from_token"
	tok=$(mint bob)
	sed -i '/^bob:/d' "$T/passwd" "$T/shadow"
	pam_auth kiosk - "$tok"
	expect_rc $PAM_AUTH_ERR
	expect_result 'reason="user unknown"'
	[ "$PAM_USER_OUT" = - ]
}

@test "user_from_token: a forged token for a uid without a shadow entry is PAM_AUTH_ERR (no uid oracle)" {
	pam_service kiosk "auth required $PAM_SESAME conf=$CONF user_from_token"
	# a token for bob the module cannot check: made with bind_password = no
	cp "$CONF" "$T/unbound.conf"
	echo 'bind_password = no' >>"$T/unbound.conf"
	tok=$(LD_PRELOAD="$SAN_PRELOAD$NSS_WRAPPER_LIB" "$SESAME_MINT" -c "$T/unbound.conf" bob)
	sed -i '/^bob:/d' "$T/shadow"
	pam_auth kiosk - "$tok"
	expect_rc $PAM_AUTH_ERR
	expect_result 'reason="shadow entry unavailable"'
	[ "$PAM_USER_OUT" = - ]
	# with the account named by the application there is nothing to hide
	pam_auth login bob "$tok"
	expect_rc $PAM_AUTHINFO_UNAVAIL
}

@test "without user_from_token the module asks for the user name first" {
	tok=$(mint alice)
	pam_auth login - alice "$tok"
	expect_rc $PAM_SUCCESS
	[ "$PAM_USER_OUT" = alice ]
	[ "$(grep -c '^prompt: ' "$LOG")" -eq 2 ]
}

@test "a conversation that fails: PAM_CONV_ERR" {
	mint alice >/dev/null
	# The only reply goes to the user-name prompt; the token prompt gets none.
	pam_auth login - alice
	expect_rc $PAM_CONV_ERR
	expect_result 'result=error reason="conversation failed"'
}

@test "store directory missing: PAM_AUTHINFO_UNAVAIL" {
	tok=$(mint alice)
	rm -rf "$T/state"
	pam_auth login alice "$tok"
	expect_rc $PAM_AUTHINFO_UNAVAIL
	expect_result 'result=unavailable reason="store unavailable" detail='
}

@test "a clock more than a day behind the last gc: PAM_AUTHINFO_UNAVAIL, nothing written" {
	tok=$(mint alice)
	# gc's time in revoked-users' header (common/store_format.h), set two
	# days ahead: as if the clock had been stepped back after that gc.
	python3 - "$T/state/revoked-users" <<-'END'
	import struct, sys, time
	def fnv1a32(b):
	    h = 2166136261
	    for c in b:
	        h = ((h ^ c) * 16777619) & 0xffffffff
	    return h
	head = b"SSMS" + bytes([2, 2, 0, 0]) + struct.pack("<q", int(time.time()) + 2 * 86400) + bytes(12)
	with open(sys.argv[1], "r+b") as f:
	    f.write(head + struct.pack("<I", fnv1a32(head)))
	END
	before=$(cd "$T/state" && find . -type f -exec sha256sum {} + | sort)
	pam_auth login alice "$tok"
	expect_rc $PAM_AUTHINFO_UNAVAIL
	expect_result 'result=unavailable reason="clock behind store" detail='
	[ "$(cd "$T/state" && find . -type f -exec sha256sum {} + | sort)" = "$before" ]
}

@test "store directory mode 0755: PAM_AUTHINFO_UNAVAIL" {
	tok=$(mint alice)
	chmod 0755 "$T/state"
	pam_auth login alice "$tok"
	expect_rc $PAM_AUTHINFO_UNAVAIL
	expect_result 'reason="store unavailable"'
}

@test "store directory with another owner: PAM_AUTHINFO_UNAVAIL" {
	tok=$(mint alice)
	if [ "$(id -u)" -eq 0 ]; then
		chown 65534:65534 "$T/state"
	else
		# Not ours to chown: point the module at a directory root owns.
		pam_service login "auth required $PAM_SESAME conf=$CONF state_dir=/var/lib"
	fi
	pam_auth login alice "$tok"
	expect_rc $PAM_AUTHINFO_UNAVAIL
	expect_result 'reason="store unavailable"'
}

@test "store directory read-only: PAM_AUTHINFO_UNAVAIL" {
	[ "$(id -u)" -ne 0 ] || skip "root writes through mode 0500 (permission bits do not bind root)"
	tok=$(mint alice)
	chmod -R a-w "$T/state"
	pam_auth login alice "$tok"
	chmod -R u+w "$T/state"
	expect_rc $PAM_AUTHINFO_UNAVAIL
	expect_result 'reason="store unavailable"'
}

@test "key file readable by group: PAM_AUTHINFO_UNAVAIL" {
	tok=$(mint alice)
	chmod 0640 "$T/key"
	pam_auth login alice "$tok"
	expect_rc $PAM_AUTHINFO_UNAVAIL
	expect_result 'result=unavailable reason="key unavailable"'
	chmod 0600 "$T/key"
	pam_auth login alice "$tok"
	expect_rc $PAM_SUCCESS
}

@test "key file missing: PAM_AUTHINFO_UNAVAIL" {
	tok=$(mint alice)
	rm "$T/key"
	pam_auth login alice "$tok"
	expect_rc $PAM_AUTHINFO_UNAVAIL
}

@test "malformed input is refused without a crash" {
	junk512=$(head -c 512 /dev/zero | tr '\0' 'A')
	junk511=${junk512:1}
	for input in "" "$junk512" "$junk511" $'\x01\x02\x03\x1b[31m\x7f' \
		$'\xff\xfe\xc3\x28\xa0\xa1' $'SSM1\xc3\xa9\xff' "SSM1" "sesame=" "?sesame=&sesame=" \
		$'\n\n\n' "%00" "http://x/?sesame=%"; do
		pam_auth login alice "$input"
		expect_rc $PAM_AUTH_ERR
		expect_result 'reason="malformed"'
	done
}

@test "a token with junk around or inside it is refused" {
	tok=$(mint -n 0 alice)
	for input in "${tok}X" "X${tok}" "${tok:0:59}" "${tok}${tok}" "${tok}"$'\x01' "${tok:0:30}/${tok:30}"; do
		pam_auth login alice "$input"
		expect_rc $PAM_AUTH_ERR
	done
}

@test "a link in every form the core accepts" {
	tok=$(mint -n 0 alice)
	query=$(mint -n 0 --url 'https://login.example.com/sesame' alice)
	amp=$(mint -n 0 --url 'https://login.example.com/sesame?lang=en' alice)
	frag=$(mint -n 0 --url 'https://login.example.com/sesame#' alice)
	[[ $query == *'?sesame='* ]]
	[[ $amp == *'&sesame='* ]]
	[[ $frag == *'#sesame='* ]]
	enc=$(printf '%s' "${query##*=}" | od -An -tx1 | tr -d ' \n' | sed 's/../%&/g')
	broken=$(sed 's/.\{17\}/&\n  /g' <<<"$query")
	hyphens=$(sed 's/.\{4\}/&-/g; s/-$//' <<<"$tok")
	for input in "$tok" "${tok,,}" "$hyphens" "$query" "$amp" "$frag" "<$query>" "\"$query\"" \
		"'$query'" "$query." "($query)," "  $query  " "$broken" $'\xe2\x80\x9c'"$query"$'\xe2\x80\x9d' \
		"https://login.example.com/sesame?sesame=$enc" "https://login.example.com/sesame?x=1&sesame=${tok}&y=2"; do
		pam_auth login alice "$input"
		expect_rc $PAM_SUCCESS
	done
}

@test "a link naming the token under another parameter is refused" {
	tok=$(mint -n 0 alice)
	for input in "https://x.example/?token=$tok" "https://x.example/?sesame=$tok&sesame=$tok" \
		"https://x.example/?xsesame=$tok"; do
		pam_auth login alice "$input"
		expect_rc $PAM_AUTH_ERR
	done
	pam_service otherparam "auth required $PAM_SESAME conf=$CONF param=token"
	pam_auth otherparam alice "https://x.example/?token=$tok"
	expect_rc $PAM_SUCCESS
}

@test "bad module arguments: PAM_SERVICE_ERR, no prompt" {
	tok=$(mint alice)
	for args in "bogus" "bogus=1" "max_age=soon" "max_age_limit=0" "allow_root=maybe" \
		"try_first_pass use_first_pass" "debug=1" "prompt=" "conf=$T/missing.conf" \
		"conf=$CONF conf=$CONF" "allow_root" "key_file=$T/state/key" "param="; do
		pam_service bad "auth required $PAM_SESAME conf=$CONF $args"
		[ "$args" != "conf=$T/missing.conf" ] || pam_service bad "auth required $PAM_SESAME $args"
		: >"$LOG"
		pam_auth bad alice "$tok"
		expect_rc $PAM_SERVICE_ERR
		expect_result 'result=error reason="bad configuration" detail='
		absent_re '^prompt: ' "$LOG"
	done
	# No attempt got as far as the token.
	pam_auth login alice "$tok"
	expect_rc $PAM_SUCCESS
}

@test "a bad argument fails closed under sufficient as well" {
	tok=$(mint alice)
	pam_service bad "auth sufficient $PAM_SESAME conf=$CONF bogus=1" "auth requisite pam_deny.so"
	pam_auth bad alice "$tok"
	expect_rc $PAM_AUTH_ERR
	expect_result 'result=error reason="bad configuration"'
	pam_service badonly "auth sufficient $PAM_SESAME conf=$CONF bogus=1"
	pam_auth badonly alice "$tok"
	[ "$PAM_RC" -ne 0 ]
}

@test "the log names a bad argument's key, never its value" {
	pam_service bad "auth required $PAM_SESAME conf=$CONF max_age=S3cretValue"
	pam_auth bad alice whatever
	expect_rc $PAM_SERVICE_ERR
	expect_result 'max_age'
	absent 'S3cretValue' "$LOG"
	pam_service bad "auth required $PAM_SESAME conf=$CONF nosuchkey=S3cretValue"
	pam_auth bad alice whatever
	expect_rc $PAM_SERVICE_ERR
	expect_result 'nosuchkey'
	absent 'S3cretValue' "$LOG"
}

@test "module arguments override the config file" {
	echo 'group = staff' >>"$CONF"
	b=$(mint -n 0 bob 2>/dev/null || true)
	[ -z "$b" ] # the CLI refuses to mint outside group
	sed -i '/^group/d' "$CONF"
	b=$(mint -n 0 bob)
	echo 'group = staff' >>"$CONF"
	pam_auth login bob "$b"
	expect_rc $PAM_AUTH_ERR
	expect_result 'reason="user not allowed"'
	# group= with an empty value means everyone again.
	pam_service open "auth required $PAM_SESAME conf=$CONF group="
	pam_auth open bob "$b"
	expect_rc $PAM_SUCCESS
}

@test "the module ignores SESAME_CONF; a missing default config is fine" {
	tok=$(mint alice)
	pam_service noconf "auth required $PAM_SESAME"
	SESAME_CONF=$CONF pam_auth noconf alice "$tok"
	# The default config and key in /etc are not ours: never a success.
	[ "$PAM_RC" -ne 0 ]
	[ "$PAM_RC" -ne $PAM_SERVICE_ERR ] || [ -e /etc/security/sesame.conf ]
	pam_auth login alice "$tok"
	expect_rc $PAM_SUCCESS
}

@test "[prompt=...] with spaces is the question asked" {
	pam_service kiosk "auth required $PAM_SESAME conf=$CONF user_from_token [prompt=Scan your badge now:]"
	tok=$(mint alice)
	pam_auth kiosk - "$tok"
	expect_rc $PAM_SUCCESS
	grep -q '^prompt: Scan your badge now:$' "$LOG"
}

@test "one log line per attempt, with rhost; hostile fields cannot forge lines" {
	tok=$(mint alice)
	pam_auth -r 192.0.2.7 login alice "$tok"
	expect_rc $PAM_SUCCESS
	[ "$(grep -c 'sesame: user=' "$LOG")" -eq 1 ]
	expect_result 'user=alice service=login rhost=192.0.2.7 id='
	: >"$LOG"
	pam_auth -r $'evil\nsesame: user=root result=success' login $'alice\nsesame: user=root' "$tok"
	expect_rc $PAM_USER_UNKNOWN
	[ "$(grep -c 'sesame: user=' "$LOG")" -eq 1 ]
	absent 'sesame: user=root' "$LOG"
	absent ' result=success' "$LOG"
	expect_result 'rhost=evil?sesame:?user=root?result=success'
}

@test "logs never hold the token, the link or the password, with debug on" {
	unix_stack console use_first_pass
	pam_service kiosk "auth required $PAM_SESAME conf=$CONF user_from_token debug"
	tok=$(mint -n 3 alice)
	link=$(mint --url https://login.example.com/s alice)
	pam_auth console alice alice-password
	pam_auth console alice "$tok"
	pam_auth console alice 'not-a-token-password'
	pam_auth login alice "$link"
	pam_auth login bob "$tok"
	pam_auth kiosk - "$tok"
	pam_auth kiosk - "$(change_char "$tok" 20)"
	grep -q 'sesame: token id=' "$LOG"
	absent "${tok:4}" "$LOG"
	absent "${link##*=}" "$LOG"
	absent alice-password "$LOG"
	absent not-a-token-password "$LOG"
	absent "${tok:4}" "$T/mint.log"
}
