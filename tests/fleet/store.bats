#!/usr/bin/env bats
# The etcd store (store = etcd, common/store_etcd*.c) on a real cluster
# (tests/fleet/cluster.sh: three members, TLS, RBAC): the store contract
# with an issuer's credentials, and sesame-mint and the module on one host
# with the fleet's roles: the CLI as the issuer, the module as a verifier.

load fleet_helpers
load ../bats/pam_helpers

setup_file() { fleet_setup; }
teardown_file() { fleet_teardown; }

# The etcd_* lines of a cluster credential (issuer, verifier, ...).
etcd_lines() {
	cat "$CLUSTER/$1.conf"
	# --revoke-user cuts this far ahead of now (an issuer's clock may be)
	printf 'etcd_helper = %s\nstore = etcd\netcd_clock_skew = 5s\n' "$SESAME_ETCD_HELPER"
}

setup() {
	pam_test_setup
	# One host, two credentials: sesame-mint (CONF) as the issuer, the
	# module (VCONF) as a verifying host; the same key file.
	mkdir -m 0700 "$T/vstate"
	# the same host before its move to etcd
	cp "$CONF" "$T/file.conf"
	FCONF=$T/file.conf
	pam_service filelogin "auth required $PAM_SESAME conf=$FCONF debug"
	etcd_lines issuer >>"$CONF"
	sed "s|^state_dir = .*|state_dir = $T/vstate|" "$CONF" | grep -v '^etcd_user\|^etcd_password_file' >"$T/verifier.conf"
	grep '^etcd_user\|^etcd_password_file' "$CLUSTER/verifier.conf" >>"$T/verifier.conf"
	chmod 0644 "$T/verifier.conf"
	VCONF=$T/verifier.conf
	pam_service login "auth required $PAM_SESAME conf=$VCONF debug"
	"$SESAME_FLEET_DIR/cluster.sh" root "$CLUSTER" del --prefix /sesame/ >/dev/null
}

teardown() { pam_test_teardown; }

@test "the store contract, on etcd with an issuer's credentials" {
	run env SESAME_TEST_ETCD_CONF="$CLUSTER/issuer.conf" \
		SESAME_TEST_ETCD_ROOT_CONF="$CLUSTER/root.conf" "$SESAME_STORE_CONTRACT"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"backend etcd"* ]]
}

@test "a 2-use token: minted into the ledger, used twice through the module, then used up" {
	tok=$(mint -n 2 -m 'fleet ticket' alice)
	id=$(mint --inspect "$tok" 2>/dev/null | sed -n 's/^id: *//p' | head -n 1)
	"$SESAME_FLEET_DIR/cluster.sh" root "$CLUSTER" get --prefix /sesame/ledger/ --keys-only | grep -q ledger/
	pam_auth login alice "$tok"
	expect_rc $PAM_SUCCESS
	pam_auth login alice "$tok"
	expect_rc $PAM_SUCCESS
	pam_auth login alice "$tok"
	expect_rc $PAM_AUTH_ERR
	expect_result 'reason="used up"'
	mint --list --all >"$T/list"
	grep -E ' 2/2 ' "$T/list" | grep -q 'used up'
	# the fleet's ledger: not "minted on this host", but tokens minted
	# before it (a host's file store) are not listed either
	absent 'only show tokens minted on this host' "$T/mint.log"
	grep -q "(--list shows the fleet's ledger: .* tokens minted before it (on a host's file store, unless --migrate-store copied them) still work and are not listed)" "$T/mint.log"
	grep -q 'fleet ticket' "$T/list"
	# --history shows every use, not only the last
	mint --history "$tok" >"$T/hist"
	grep -F "use 1:" "$T/hist" | grep -F "on testhost.example, service login"
	grep -F "use 2:" "$T/hist"
	# the module's verifier credentials read the ledger too
	mint -c "$VCONF" --history "$id" >"$T/vhist"
	cmp "$T/hist" "$T/vhist"
}

@test "revoke through the CLI: the module refuses; a verifier's credentials cannot revoke" {
	tok=$(mint -n 3 alice)
	run mint -c "$VCONF" --revoke "$tok"
	[ "$status" -ne 0 ]
	grep -q 'may not write them (only issuers may' "$T/mint.log"
	grep -qi 'permission denied' "$T/mint.log"
	pam_auth login alice "$tok"
	expect_rc $PAM_SUCCESS
	mint --revoke "$tok"
	pam_auth login alice "$tok"
	expect_rc $PAM_AUTH_ERR
	expect_result 'reason="revoked"'
}

@test "revoke-user: the account's earlier tokens are refused, later ones accepted" {
	old=$(mint alice)
	unlimited=$(mint -n 0 alice)
	bob=$(mint bob)
	mint --revoke-user alice
	# the cutoff is ahead by a second, etcd_clock_skew (5 s) and
	# etcd_timeout (2 s): an issuer's clock may be that far ahead, and may
	# mint until the revocation commits; minting waits it out
	grep -q 'issued until .*: now plus [6-9] s, as an issuer' "$T/mint.log"
	run mint alice
	[ "$status" -eq 1 ]
	grep -q 'refusing to mint for alice: .*possible again in [0-9]* s' "$T/mint.log"
	wait_s=$(sed -n 's/.*possible again in \([0-9]*\) s.*/\1/p' "$T/mint.log" | tail -n 1)
	pam_auth login alice "$old"
	expect_rc $PAM_AUTH_ERR
	expect_result 'reason="revoked"'
	pam_auth login alice "$unlimited"
	expect_rc $PAM_AUTH_ERR
	expect_result 'reason="revoked"'
	pam_auth login bob "$bob"
	expect_rc $PAM_SUCCESS
	sleep "$wait_s"
	new=$(mint alice)
	pam_auth login alice "$new"
	expect_rc $PAM_SUCCESS
}

@test "the NOSPACE alarm raised: a limited-use login is store unavailable and counts nothing" {
	# a login first, so that the lease of this expiry exists: under the
	# alarm the login writes nothing but the use itself
	first=$(mint -n 3 alice)
	tok=$(mint -n 3 alice)
	pam_auth login alice "$first"
	expect_rc $PAM_SUCCESS
	run probe root fill /sesame/fill/ 100 500000
	fill=$output
	pam_auth login alice "$tok"
	rc=$PAM_RC
	line=$(last_result)
	uses=$("$SESAME_FLEET_DIR/cluster.sh" root "$CLUSTER" get --prefix /sesame/uses/ --keys-only | grep -c . || true)
	recover_space
	echo "$fill; $line; $uses use keys"
	[[ $fill == *"database space exceeded"* ]]
	[ "$rc" -eq "$PAM_AUTHINFO_UNAVAIL" ]
	[[ $line == *'reason="store unavailable"'* ]]
	grep -q 'database space exceeded' "$LOG"
	# the first token's counter and use record, nothing of the second
	[ "$uses" -eq 2 ]
	pam_auth login alice "$tok"
	expect_rc $PAM_SUCCESS
	mint --history "$tok" >"$T/hist"
	grep -q "use 1:" "$T/hist"
	! grep -q "use 2:" "$T/hist"
}

# login_by_mail: the verifying host mails alice a link and she logs in
# with it; sets id (the link's token id).
login_by_mail() {
	cat >>"$VCONF" <<-END
	url = https://login.example/sesame/#
	sendmail = $BATS_TEST_DIRNAME/../bats/fake-sendmail $T/mbox
	mail_from = sesame@test.example
	END
	pam_service mail "auth required $PAM_SESAME conf=$VCONF mail mail_to=%u@test.example debug"
	pam_auth mail alice "" "@mail:$T/mbox"
	expect_rc $PAM_SUCCESS
	id=$(sed -n 's/.*sesame: mail user=alice .* id=\([0-9a-f]\{12\}\) result="sent".*/\1/p' "$LOG" | tail -n 1)
	[ -n "$id" ]
}

@test "login by email on a verifying host: recorded in mailed/, shown by an issuer's --list; ledger/ stays the issuers'" {
	login_by_mail
	run "$SESAME_FLEET_DIR/cluster.sh" root "$CLUSTER" get --prefix /sesame/ --keys-only
	echo "$output"
	grep -qx "/sesame/mailed/$id" <<<"$output"
	! grep -q '^/sesame/ledger/' <<<"$output"
	# the issuer sees it, with its use, as it sees its own tokens
	mint --list --all >"$T/list"
	cat "$T/list"
	grep "$id" "$T/list" | grep -q 'used up'
	mint --history "$id" >"$T/hist"
	grep -q 'mail to alice@test.example' "$T/hist"
	grep -F "use 1:" "$T/hist" | grep -qF "service mail"
	# the verifier's credentials still cannot write ledger/: minting, or a
	# put of its own
	run mint -c "$VCONF" alice
	[ "$status" -ne 0 ]
	cat "$T/mint.log"
	grep -q 'ledger records: the etcd user of this host may not write them' "$T/mint.log"
	run probe verifier put "/sesame/ledger/$id" '{}'
	echo "$output"
	[ "$status" -eq 3 ]
	[[ "$output" == *"permission denied"* ]]
	# what it can write in mailed/ cannot pass for an issuer's record
	value=$("$SESAME_FLEET_DIR/cluster.sh" root "$CLUSTER" get "/sesame/mailed/$id" --print-value-only)
	run probe verifier put "/sesame/mailed/$id" "${value/\"issuer\":\"mail\"/\"issuer\":\"uid 0 (root)\"}"
	[ "$status" -eq 0 ]
	# skipped, named, not listed; the rest of the ledger still is
	other=$(mint alice)
	run mint --list --all
	[ "$status" -eq 0 ]
	! grep -q "$id" <<<"$output"
	[ "$(grep -c alice <<<"$output")" -eq 1 ]
	grep -q "warning: skipped mailed/$id: a record of a mailed link that names another issuer" "$T/mint.log"
	[ -n "$other" ]
}

@test "records verifying hosts write: a malformed use record is skipped and named; a forged uid in mailed/ does not spare the link from --revoke ID" {
	login_by_mail
	ukey=$("$SESAME_FLEET_DIR/cluster.sh" root "$CLUSTER" get --prefix "/sesame/uses/$id-" --keys-only | grep . | head -n 1)
	uidhex=${ukey##*-}
	[ ${#uidhex} -eq 8 ]
	# a verifier's credentials: a use record that does not parse, and the
	# mailed link's record rewritten to name another account
	run probe verifier put "/sesame/uses/$id-$uidhex/0000-forged" 'not json'
	[ "$status" -eq 0 ]
	value=$("$SESAME_FLEET_DIR/cluster.sh" root "$CLUSTER" get "/sesame/mailed/$id" --print-value-only)
	forged=$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); d["uid"]=4242; d["account"]="bob"; print(json.dumps(d))' "$value")
	run probe verifier put "/sesame/mailed/$id" "$forged"
	[ "$status" -eq 0 ]
	# --history and --list show the rest, and name the key they skipped
	mint --history "$id" >"$T/hist"
	grep -F "use 1:" "$T/hist" | grep -qF "service mail"
	grep -q "record:   a mailed link's, which verifying hosts write: its account is a claim; uses counted under uid $((16#$uidhex))" "$T/hist"
	grep -q "warning: skipped uses/$id-$uidhex/0000-forged: a use record that does not parse" "$T/mint.log"
	: >"$T/mint.log"
	mint --list --all >"$T/list"
	grep -q "$id" "$T/list"
	grep -q "warning: skipped uses/$id-$uidhex/0000-forged" "$T/mint.log"
	# --revoke ID: under the uid the uses name, not only the forged one
	mint --revoke "$id"
	grep -q "revoked token $id for uid $((16#$uidhex)), 4242" "$T/mint.log"
	grep -q "warning: $id is a link a host mailed: .* To be sure, revoke the link itself" "$T/mint.log"
	run "$SESAME_FLEET_DIR/cluster.sh" root "$CLUSTER" get --prefix "/sesame/revoked/$id-" --keys-only
	grep -qx "/sesame/revoked/$id-$uidhex" <<<"$output"
	# a verifier naming more accounts than that earns no revocation each
	for u in $(seq 5001 5016); do
		probe verifier put "/sesame/uses/$id-$(printf %08x "$u")" '{}' >/dev/null
	done
	run mint --revoke "$id"
	[ "$status" -eq 1 ]
	grep -q "id $id is a link a host mailed, and its records (written by verifying hosts) name 18 accounts: nothing revoked" "$T/mint.log"
	# an issuer's own token: its ledger record's uid alone, nothing asked of uses/
	tok=$(mint alice)
	tid=$(mint --inspect "$tok" 2>/dev/null | sed -n 's/^id: *//p' | head -n 1)
	mint --revoke "$tid"
	grep -q "revoked token $tid of alice" "$T/mint.log"
	pam_auth login alice "$tok"
	expect_rc $PAM_AUTH_ERR
	expect_result 'reason="revoked"'
}

# etcd stores a key with a NUL byte, and a verifier's prefix permission on
# uses/ covers it: one put made every --list, --history and --revoke ID
# fail ("an empty key or a key with a NUL byte"), an issuer's own token's
# included. Now the views skip the key, naming it.
@test "a key with a NUL byte put under uses/ with a verifier's credentials: --list, --history and --revoke ID still work, and name it" {
	tok=$(mint -n 2 alice)
	tid=$(mint --inspect "$tok" 2>/dev/null | sed -n 's/^id: *//p' | head -n 1)
	pam_auth login alice "$tok"
	expect_rc $PAM_SUCCESS
	ukey=$("$SESAME_FLEET_DIR/cluster.sh" root "$CLUSTER" get --prefix "/sesame/uses/$tid-" --keys-only | grep . | head -n 1)
	run gateway_put verifier "$ukey/x\\0y" '{}'
	echo "$output"
	[ "$status" -eq 0 ]
	# etcd kept it, in the uses/ range the views read
	"$SESAME_FLEET_DIR/cluster.sh" root "$CLUSTER" get --prefix "/sesame/uses/$tid-" --keys-only >"$T/keys"
	[ "$(grep -ac . "$T/keys")" -eq 3 ]
	: >"$T/mint.log"
	mint --list --all >"$T/list"
	grep "$tid" "$T/list" | grep -qE ' 1/2 '
	grep -q "warning: skipped uses/$tid-[0-9a-f]*/x?y: a key with a NUL byte (verifying hosts write these): skipped" "$T/mint.log"
	mint --history "$tid" >"$T/hist"
	grep -F "use 1:" "$T/hist" | grep -qF "service login"
	mint --revoke "$tid"
	grep -q "revoked token $tid of alice" "$T/mint.log"
	pam_auth login alice "$tok"
	expect_rc $PAM_AUTH_ERR
	expect_result 'reason="revoked"'
}

@test "unlimited tokens are checked, not counted" {
	tok=$(mint -n 0 alice)
	for _ in 1 2 3; do
		pam_auth login alice "$tok"
		expect_rc $PAM_SUCCESS
	done
	run "$SESAME_FLEET_DIR/cluster.sh" root "$CLUSTER" get --prefix /sesame/uses/ --keys-only
	[ -z "$output" ]
}

@test "--gc: nothing to do for etcd, says so, exit 0" {
	run mint --gc
	[ "$status" -eq 0 ]
	grep -q 'store = etcd: records expire through etcd leases' "$T/mint.log"
}

@test "a wrong etcd password: store unavailable (PAM_AUTHINFO_UNAVAIL), the password in no log" {
	tok=$(mint alice)
	sed -i "s|^etcd_password_file = .*|etcd_password_file = $CLUSTER/wrong.password|" "$VCONF"
	pam_auth login alice "$tok"
	expect_rc $PAM_AUTHINFO_UNAVAIL
	expect_result 'reason="store unavailable"'
	absent "wrong password" "$LOG"
	absent "$(cat "$CLUSTER/verifier.password")" "$LOG"
}

@test "the cluster's records carry leases: one per expiry bucket, not one per login" {
	leases() { "$SESAME_FLEET_DIR/cluster.sh" root "$CLUSTER" lease list | grep -c '^[0-9a-f]'; }
	before=$(leases)
	for _ in 1 2 3; do
		tok=$(mint alice)
		pam_auth login alice "$tok"
		expect_rc $PAM_SUCCESS
	done
	run "$SESAME_FLEET_DIR/cluster.sh" root "$CLUSTER" get --prefix /sesame/leases/ --keys-only
	echo "$output"
	[ "$(grep -c leases/uses/ <<<"$output")" -le 2 ]
	[ "$(grep -c leases/issued/ <<<"$output")" -le 2 ]
	# the ledger's and the uses' buckets (an hour boundary may split each)
	after=$(leases)
	[ "$after" -le $((before + 4)) ]
	# every use key and ledger record has one
	run "$SESAME_FLEET_DIR/cluster.sh" root "$CLUSTER" get --prefix /sesame/ -w json
	python3 -c 'import json,sys; kvs=json.load(sys.stdin)["kvs"]; bad=[k for k in kvs if not k.get("lease")]; sys.exit(len(bad))' <<<"$output"
}

@test "a lease key naming a lease that is gone is replaced, not a refusal of every first use" {
	first=$(mint alice)
	pam_auth login alice "$first"
	expect_rc $PAM_SUCCESS
	key=$("$SESAME_FLEET_DIR/cluster.sh" root "$CLUSTER" get --prefix /sesame/leases/uses/ --keys-only | head -n 1)
	[ -n "$key" ]
	# what a broken or hostile host may write there: no such lease
	"$SESAME_FLEET_DIR/cluster.sh" root "$CLUSTER" put "$key" 12345 >/dev/null
	second=$(mint alice)
	pam_auth login alice "$second"
	expect_rc $PAM_SUCCESS
	run "$SESAME_FLEET_DIR/cluster.sh" root "$CLUSTER" get "$key" --print-value-only
	[ -n "$output" ]
	[ "$output" != 12345 ]
}

@test "32 redeemers at once, each its own store and helper: exactly k succeed (k = 1, 5)" {
	for k in 1 5; do
		run "$SESAME_STORE_STORM" "$CLUSTER/storm.conf" redeem 32 "$k"
		echo "$output"
		[ "$status" -eq 0 ]
		[ "${lines[-1]}" = "ok $k refused $((32 - k)) unavailable 0" ]
	done
}

@test "mail limits: 16 requests at once for one account and source, exactly the limit allowed" {
	run "$SESAME_STORE_STORM" "$CLUSTER/storm.conf" mail 16 2
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[-1]}" = "ok 2 refused 14 unavailable 0" ]
}

# sesame-mint's counterpart for the file store's config.
fmint() { mint -c "$FCONF" "$@"; }

@test "--migrate-store: used-up, revoked and user-revoked stay refused, a partly used token keeps its remaining uses" {
	once=$(fmint -n 1 alice)
	partly=$(fmint -n 3 -m 'moved along' alice)
	revoked=$(fmint -n 2 alice)
	bobs=$(fmint bob)
	pam_auth filelogin alice "$once"
	expect_rc $PAM_SUCCESS
	pam_auth filelogin alice "$partly"
	expect_rc $PAM_SUCCESS
	fmint --revoke "$revoked"
	fmint --revoke-user bob

	mint --migrate-store "$T/state"
	grep -q 'migrate: .*: 4 tokens, 1 per-user revocations read' "$T/mint.log"
	grep -q '2 uses added (0 added by an earlier run), 1 revocations and 4 ledger records written' "$T/mint.log"
	# again: nothing more
	mint --migrate-store "$T/state"
	grep -q '0 uses added (2 added by an earlier run), 0 revocations and 0 ledger records written' "$T/mint.log"

	pam_auth login alice "$once"
	expect_rc $PAM_AUTH_ERR
	expect_result 'reason="used up"'
	pam_auth login alice "$revoked"
	expect_rc $PAM_AUTH_ERR
	expect_result 'reason="revoked"'
	pam_auth login bob "$bobs"
	expect_rc $PAM_AUTH_ERR
	expect_result 'reason="revoked"'
	# two uses left of three
	pam_auth login alice "$partly"
	expect_rc $PAM_SUCCESS
	pam_auth login alice "$partly"
	expect_rc $PAM_SUCCESS
	pam_auth login alice "$partly"
	expect_rc $PAM_AUTH_ERR
	expect_result 'reason="used up"'
	# the ledger came along, with the use made under the file store
	mint --history "$partly" >"$T/hist"
	grep -q 'note: *moved along' "$T/hist"
	grep -F "use 1:" "$T/hist" | grep -qF "service filelogin"
	grep -F "use 3:" "$T/hist" | grep -qF "service login"

	# logins counted by etcd since are never taken for the file's
	: >"$T/mint.log"
	mint --migrate-store "$T/state"
	grep -q '0 uses added (2 added by an earlier run)' "$T/mint.log"
	pam_auth login alice "$partly"
	expect_rc $PAM_AUTH_ERR
	expect_result 'reason="used up"'
}

# The procedure of docs/fleet.md: run, switch, run again. Between the
# runs the token is used on both sides: the file store then says 2 and
# etcd says 2, and 3 logins happened. Merging counts as the larger of the
# two let a 4th login in.
@test "--migrate-store twice with logins on both sides between the runs: count = file uses + etcd uses" {
	tok=$(fmint -n 3 alice)
	pam_auth filelogin alice "$tok"
	expect_rc $PAM_SUCCESS
	mint --migrate-store "$T/state"
	# between the runs: one more login under the file store, one through etcd
	pam_auth filelogin alice "$tok"
	expect_rc $PAM_SUCCESS
	pam_auth login alice "$tok"
	expect_rc $PAM_SUCCESS
	mint --migrate-store "$T/state"
	# 3 uses of 3 happened: the 4th is refused
	pam_auth login alice "$tok"
	expect_rc $PAM_AUTH_ERR
	expect_result 'reason="used up"'
	mint --list --all >"$T/list"
	grep -E ' 3/3 ' "$T/list" | grep -q 'used up'
	mint --history "$tok" >"$T/hist"
	[ "$(grep -c 'use [0-9]*:' "$T/hist")" -eq 3 ]
	[ "$(grep 'use [0-9]*:' "$T/hist" | grep -c 'service filelogin')" -eq 2 ]
	# each run added only what was new; a third adds nothing
	grep -q '1 uses added (0 added by an earlier run)' "$T/mint.log"
	grep -q '1 uses added (1 added by an earlier run)' "$T/mint.log"
	: >"$T/mint.log"
	mint --migrate-store "$T/state"
	grep -q '0 uses added (2 added by an earlier run)' "$T/mint.log"
	# the imported uses are records of their own beside etcd's
	"$SESAME_FLEET_DIR/cluster.sh" root "$CLUSTER" get --prefix /sesame/uses/ --keys-only >"$T/keys"
	[ "$(grep -c -- '-import-' "$T/keys")" -eq 2 ]
}

# The import adds to the count without comparing it: logins through etcd
# counting the same token while it runs are serialized with it by etcd,
# and neither loses a use. Logins run in a loop from before the import
# starts until after it ends: at least one is counted through etcd before
# the import begins (so the old merge, max(file, etcd), loses it and fails
# the count below) and one after it ends. How many finished while the
# import ran is printed, not required: on a loaded machine it may be none,
# and this test then proves the before and after cases only.
@test "--migrate-store while logins through etcd count the same token: every use of both counted" {
	tok=$(fmint -n 200 alice)
	for i in 1 2 3 4 5 6; do
		pam_auth filelogin alice "$tok"
		expect_rc $PAM_SUCCESS
	done
	( while [ ! -e "$T/stop" ]; do
		pam_auth login alice "$tok"
		echo "rc=$PAM_RC $(date +%s%N)"
	done ) >"$T/logins" &
	loop=$!
	done_logins() { grep -c "^rc=$PAM_SUCCESS " "$T/logins" || true; }
	until [ "$(done_logins)" -ge 1 ]; do sleep 0.05; done
	start=$(date +%s%N)
	mint --migrate-store "$T/state"
	end=$(date +%s%N)
	after=$(done_logins)
	until [ "$(done_logins)" -gt "$after" ]; do sleep 0.05; done
	touch "$T/stop"
	wait "$loop"
	ok=$(done_logins)
	[ "$(grep -c . "$T/logins")" -eq "$ok" ]
	during=$(awk -v ok="rc=$PAM_SUCCESS" -v s="$start" -v e="$end" '$1 == ok && $2 > s && $2 < e' "$T/logins" | wc -l)
	echo "# $ok logins through etcd, $during of them finished while the import ran" >&3
	[ "$ok" -le 190 ]
	mint --list --all >"$T/list"
	grep -qE " $((6 + ok))/200 " "$T/list"
}

@test "--gc under etcd keeps expiring the file store a migration left in state_dir, and says when it can go" {
	tok=$(fmint -n 2 alice)
	fmint --revoke "$tok"
	mint --migrate-store "$T/state"
	grep -q "migrate: $T/state is left as it was; sesame-mint --gc keeps expiring its records" "$T/mint.log"
	grep -q 'its last token is dead after .*: then remove it (uses/, revoked-users, mail-sent, format)' "$T/mint.log"
	: >"$T/mint.log"
	mint --gc
	grep -q 'nothing to do in etcd' "$T/mint.log"
	# (dropping dead records: tests/unit/test_store.c, which passes the clock in)
	grep -q "gc: $T/state still holds the file store from before store = etcd: removed 0 expired records, kept [1-9]" "$T/mint.log"
	absent 'holds nothing any more' "$T/mint.log"
	# a file store with nothing left: the admin is told to remove it
	mkdir -m 0700 "$T/empty"
	sed "s|^state_dir = .*|state_dir = $T/empty|" "$FCONF" >"$T/empty-file.conf"
	chmod 0644 "$T/empty-file.conf"
	mint -c "$T/empty-file.conf" --gc
	sed "s|^state_dir = .*|state_dir = $T/empty|" "$CONF" >"$T/empty-etcd.conf"
	chmod 0644 "$T/empty-etcd.conf"
	: >"$T/mint.log"
	mint -c "$T/empty-etcd.conf" --gc
	grep -q "gc: the file store in $T/empty holds nothing any more: remove it (uses/, revoked-users, mail-sent, format)" "$T/mint.log"
	# once removed: nothing to do
	rm -r "$T/empty/uses" "$T/empty/revoked-users" "$T/empty/mail-sent" "$T/empty/format"
	: >"$T/mint.log"
	mint -c "$T/empty-etcd.conf" --gc
	grep -q 'nothing to do in etcd' "$T/mint.log"
	absent 'file store' "$T/mint.log"
}

# Uses sesame 0.1 recorded carry no host: their keys in etcd are told
# apart by the store's host, which sesame-mint knows only for its own
# state_dir. A copy of another host's store needs --source.
@test "--migrate-store of a directory other than state_dir needs --source HOST" {
	tok=$(fmint -n 2 alice)
	cp -a "$T/state" "$T/web2"
	run mint --migrate-store "$T/web2"
	[ "$status" -eq 2 ]
	grep -q "migrate-store $T/web2: not this host's state_dir .*: name the host whose store it is with --source HOST" "$T/mint.log"
	run mint --migrate-store "$T/web2" --source ''
	[ "$status" -eq 2 ]
	mint --migrate-store "$T/web2" --source web2
	grep -q 'migrate: .*: 1 tokens, 0 per-user revocations read' "$T/mint.log"
	run mint --list --source web2
	[ "$status" -eq 2 ]
	[ -n "$tok" ]
}

@test "--migrate-store needs store = etcd, and a file store to read" {
	run fmint --migrate-store "$T/state"
	[ "$status" -eq 2 ]
	grep -q 'copies into store = etcd' "$T/mint.log"
	run mint --migrate-store "$T/missing"
	[ "$status" -eq 2 ]
}
