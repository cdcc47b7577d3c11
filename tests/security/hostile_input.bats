#!/usr/bin/env bats
# Hostile input through the real module: pam_sesame.so under pam_wrapper +
# nss_wrapper, driven by tests/pam/driver.c for exact return codes (see
# tests/bats/pam_helpers.bash). Every test is named by the property it
# proves. The login service has `debug` on, and after every test the log
# is searched for secrets: no line may hold a token minted in the test,
# the key (hex), a password or a shadow hash.

load ../bats/pam_helpers

setup() {
	pam_test_setup
	: >"$T/minted"
}

teardown() {
	pam_test_teardown
	no_secret_in_log
}

# mint, remembering the token for the log check.
minted() {
	local out
	out=$(mint "$@") || return 1
	printf '%s\n' "$out" >>"$T/minted"
	printf '%s' "$out"
}

# Every secret of this test: tokens (the 56 characters after the prefix,
# and each half), key material (each line's hex, and its 16-character
# pieces), shadow hashes (and their salts), passwords.
secrets() {
	local tok hex hash i
	while read -r tok; do
		tok=${tok##*=}
		[ ${#tok} -ge 60 ] || continue
		printf '%s\n' "${tok:4}" "${tok:4:28}" "${tok:32}"
	done <"$T/minted"
	for hex in $(awk '!/^#/ && NF == 2 { print $2 }' "$T/key" 2>/dev/null); do
		for ((i = 0; i + 16 <= ${#hex}; i += 16)); do
			printf '%s\n' "${hex:i:16}"
		done
	done
	while IFS=: read -r _ hash _; do
		[ ${#hash} -gt 8 ] || continue
		printf '%s\n' "$hash" "$(cut -d'$' -f4 <<<"$hash")"
	done <"$T/shadow"
	cut -d: -f2 "$T/passdb"
}

no_secret_in_log() {
	local s
	[ -n "${T:-}" ] && [ -e "$T/minted" ] || return 0
	while read -r s; do
		[ ${#s} -ge 8 ] || continue
		for f in "$LOG" "$T/mint.log"; do
			if [ -e "$f" ] && grep -a -q -F -e "$s" "$f"; then
				echo "a secret ('${s:0:6}...') is in $f:" >&2
				grep -a -n -F -e "$s" "$f" | head -n 3 >&2
				return 1
			fi
		done
	done < <(secrets)
}

# refused INPUT...: each input is refused as malformed, without a crash.
refused_malformed() {
	local input
	for input in "$@"; do
		pam_auth login alice "$input"
		expect_rc "$PAM_AUTH_ERR"
		expect_result 'result=refused reason="malformed"'
	done
}

# The same through stdin, for bytes argv cannot carry (NUL).
refused_stdin() {
	PAM_OUT=$(printf '%b' "$1" | pam_wrapped "$SESAME_PAM_DRIVER" login alice - 2>>"$LOG") || true
	PAM_RC=$(sed -n 's/^rc=\([0-9]*\) .*/\1/p' <<<"$PAM_OUT")
	expect_rc "$PAM_AUTH_ERR"
}

@test "the log check finds a token planted in the log (control)" {
	tok=$(minted alice)
	echo "sesame: planted ${tok:4}" >>"$LOG"
	run no_secret_in_log
	[ "$status" -ne 0 ]
	: >"$LOG"
	echo "sesame: planted $(awk '!/^#/ && NF == 2 { print substr($2, 17, 16) }' "$T/key")" >>"$LOG"
	run no_secret_in_log
	[ "$status" -ne 0 ]
	: >"$LOG"
}

@test "empty input is refused" {
	refused_malformed ""
}

@test "whitespace-only input is refused" {
	refused_malformed " " "    " $'\t' $'\n' $'\r\n\r\n' $' \t\v\f\r\n ' "$(printf '%*s' 400 '')"
}

@test "inputs of 511, 512, 513 and more bytes are refused" {
	for n in 511 512 513 1024 4096 65536; do
		refused_malformed "$(head -c "$n" /dev/zero | tr '\0' 'A')"
		refused_malformed "SSM1$(head -c "$((n - 4))" /dev/zero | tr '\0' '0')"
	done
}

@test "a reply of 512 bytes or more is refused unread, even around a valid token" {
	tok=$(minted -n 0 alice)
	pad=$(printf '%*s' 451 '')
	pam_auth login alice "$tok$pad" # 511 bytes: read, and valid
	expect_rc "$PAM_SUCCESS"
	refused_malformed "$tok$pad " "$tok$pad$pad"
	pam_auth login alice "$tok"
	expect_rc "$PAM_SUCCESS"
}

@test "a NUL inside a token is refused" {
	tok=$(minted alice)
	refused_stdin "${tok:0:30}\\0${tok:30}"
	refused_stdin "\\0$tok"
	refused_stdin "${tok:0:59}\\0${tok:59}"
	# Nothing was used up.
	pam_auth login alice "$tok"
	expect_rc "$PAM_SUCCESS"
}

@test "invalid UTF-8 is refused" {
	tok=$(minted alice)
	refused_malformed $'\xff\xfe' $'\xc3\x28' $'\xa0\xa1' $'\xe2\x28\xa1' $'\xf0\x28\x8c\x28' \
		$'\xc0\xaf' $'\xed\xa0\x80' $'\xf8\x88\x80\x80\x80' \
		"${tok:0:20}"$'\xff'"${tok:20}" "${tok:0:20}"$'\xc3\xa9'"${tok:21}" \
		$'\xef\xbb\xbf'"${tok:0:59}" "https://x/?sesame=${tok:0:40}"$'\x80'"${tok:40}"
	pam_auth login alice "$tok"
	expect_rc "$PAM_SUCCESS"
}

@test "control characters are refused" {
	tok=$(minted alice)
	refused_malformed $'\x01' $'\x1b[31m' $'\x7f' $'\x08\x08\x08' \
		"${tok:0:30}"$'\x1b'"${tok:30}" "${tok:0:30}"$'\x08'"${tok:30}" \
		"${tok:0:59}"$'\x7f' $'\x07'"$tok" "${tok:0:10}"$'\x00'
	pam_auth login alice "$tok"
	expect_rc "$PAM_SUCCESS"
}

@test "a newline-separated header-like string is refused" {
	tok=$(minted alice)
	refused_malformed $'Subject: login\r\nX-Sesame: '"$tok" \
		"$tok"$'\r\nX-Injected: 1' \
		$'sesame: '"$tok" \
		$'sesame='"$tok"$'\nsesame='"$tok" \
		$'GET /?sesame='"$tok"$' HTTP/1.1\r\nHost: x.example\r\n' \
		$'Set-Cookie: sesame='"$tok"$'\r\n\r\n'
	pam_auth login alice "$tok"
	expect_rc "$PAM_SUCCESS"
}

@test "a percent-encoded NUL is refused" {
	tok=$(minted alice)
	refused_malformed "%00" "https://x.example/?sesame=%00" \
		"https://x.example/?sesame=${tok:0:30}%00${tok:30}" \
		"https://x.example/?sesame=${tok}%00" "https://x.example/#sesame=%00${tok}" \
		"https://x.example/?sesame=%0${tok}"
	pam_auth login alice "$tok"
	expect_rc "$PAM_SUCCESS"
}

@test "a link nested in a link is refused" {
	tok=$(minted alice)
	inner="https%3A%2F%2Fy.example%2F%3Fsesame%3D$tok"
	refused_malformed "https://x.example/?sesame=$inner" \
		"https://x.example/?sesame=https://y.example/?sesame=$tok" \
		"https://x.example/#sesame=https://y.example/%23sesame=$tok" \
		"https://x.example/?sesame=%2553%2553M1${tok:4}"
	pam_auth login alice "$tok"
	expect_rc "$PAM_SUCCESS"
}

@test "two token parameters are refused" {
	tok=$(minted -n 2 alice)
	tok2=$(minted alice)
	refused_malformed "https://x.example/?sesame=$tok&sesame=$tok" \
		"https://x.example/?sesame=$tok#sesame=$tok" \
		"https://x.example/?sesame=$tok;sesame=$tok2" \
		"https://x.example/?a=1&sesame=$tok2&b=2&sesame=$tok" \
		"https://x.example/#sesame=$tok&sesame="
	pam_auth login alice "$tok"
	expect_rc "$PAM_SUCCESS"
}

@test "a token of another format that looks close is refused" {
	tok=$(minted alice)
	refused_malformed "SSM2${tok:4}" "SSM0${tok:4}" "SSM${tok:4}" "SSM1${tok:5}" "${tok}Z" \
		"SSM1$(printf 'U%.0s' {1..56})" \
		"AAAAARchl18CIQUlImmbV9q7PZk:89AEU34b0JLSrkT8Ty2RPISio5" \
		"https://x.example/?url_auth_token=AAAAARchl18CIQUlImmbV9q7PZk%3A89AEU34b0JLSrkT8Ty2RPISio5" \
		"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl" \
		"123456" "8c1f0a4e-7d2b-4e0f-9a51-3c6b2d1e0f42" \
		"$(printf '%s' "$tok" | base64 -w0)" \
		"$(printf '%s' "$tok" | od -An -tx1 | tr -d ' \n')"
	pam_auth login alice "$tok"
	expect_rc "$PAM_SUCCESS"
}

@test "a token of the same format from another host (another key) is refused" {
	tok=$(minted alice)
	mv "$T/key" "$T/key.ours"
	other=$(minted alice 2>/dev/null || true)
	[ -z "$other" ] # no key: no token
	mint --keygen >/dev/null
	other=$(minted alice)
	mv "$T/key.ours" "$T/key"
	pam_auth login alice "$other"
	expect_rc "$PAM_AUTH_ERR"
	expect_result 'reason="bad signature"'
	pam_auth login alice "$tok"
	expect_rc "$PAM_SUCCESS"
}

# change_char TOKEN I: the token with character I replaced by another digit.
change_char() {
	local token=$1 i=$2 alphabet=0123456789ABCDEFGHJKMNPQRSTVWXYZ new
	new=${alphabet#*"${token:i:1}"}
	new=${new:0:1}
	[ -n "$new" ] || new=0
	printf '%s%s%s' "${token:0:i}" "$new" "${token:i+1}"
}

@test "tampered tokens are refused by the module (substitution, deletion, truncation)" {
	tok=$(minted alice)
	for i in 0 3 4 10 20 30 40 50 58 59; do
		pam_auth login alice "$(change_char "$tok" "$i")"
		expect_rc "$PAM_AUTH_ERR"
		pam_auth login alice "${tok:0:i}${tok:i+1}"
		expect_rc "$PAM_AUTH_ERR"
		pam_auth login alice "${tok:0:i}"
		expect_rc "$PAM_AUTH_ERR"
	done
	pam_auth login alice "$tok"
	expect_rc "$PAM_SUCCESS"
}

@test "store and key faults through the module fail closed with the reason" {
	tok=$(minted alice)
	chmod 0640 "$T/key"
	pam_auth login alice "$tok"
	expect_rc "$PAM_AUTHINFO_UNAVAIL"
	expect_result 'reason="key unavailable" detail="key file'
	chmod 0600 "$T/key"
	ln -s "$T/key" "$T/key.link"
	pam_service keylink "auth required $PAM_SESAME conf=$CONF key_file=$T/key.link debug"
	pam_auth keylink alice "$tok"
	expect_rc "$PAM_AUTHINFO_UNAVAIL"
	expect_result 'is a symbolic link'
	mkdir -p "$T/state/uses"
	chmod 0700 "$T/state/uses"
	mv "$T/state" "$T/state.real"
	ln -s "$T/state.real" "$T/state"
	pam_auth login alice "$tok"
	expect_rc "$PAM_AUTHINFO_UNAVAIL"
	expect_result 'reason="store unavailable" detail="state directory'
	rm "$T/state"
	mv "$T/state.real" "$T/state"
	chmod 0750 "$T/state"
	pam_auth login alice "$tok"
	expect_rc "$PAM_AUTHINFO_UNAVAIL"
	expect_result 'gives group or other any access'
	chmod 0700 "$T/state"
	pam_auth login alice "$tok"
	expect_rc "$PAM_SUCCESS"
}

@test "with debug on, no log line holds a token, a password, a key or a shadow hash" {
	pam_service console \
		"auth sufficient $SESAME_PAM_STANDIN passdb=$T/passdb" \
		"auth sufficient $PAM_SESAME conf=$CONF debug try_first_pass" \
		"auth requisite pam_deny.so"
	pam_service kiosk "auth required $PAM_SESAME conf=$CONF user_from_token debug"
	tok=$(minted -n 5 alice)
	link=$(minted -n 0 --url 'https://login.example.org/s#' bob)
	pam_auth console alice alice-password
	pam_auth console alice "$tok"
	pam_auth console alice bob-password "$tok"
	pam_auth console alice "$(change_char "$tok" 33)" "$tok"
	pam_auth login alice "$link"
	pam_auth login bob "$link"
	pam_auth login bob "$tok"
	pam_auth kiosk - "$link"
	pam_auth kiosk - "${tok:0:40}"
	pam_auth login alice "https://x/?sesame=$tok&sesame=$tok"
	pam_auth login alice "$tok"$'\x1b'
	chmod 0644 "$T/key"
	pam_auth login alice "$tok"
	chmod 0600 "$T/key"
	sed -i 's/^alice:[^:]*:/alice:$y$j9T$othersalt$otherhashotherhashotherhash:/' "$T/shadow"
	pam_auth login alice "$tok"
	# The log did record these attempts, by token id only.
	[ "$(grep -a -c 'sesame: user=' "$LOG")" -ge 12 ]
	grep -a -q 'sesame: token id=' "$LOG"
	grep -a -q 'reason="password changed"\|reason="bad signature"' "$LOG"
	no_secret_in_log
}
