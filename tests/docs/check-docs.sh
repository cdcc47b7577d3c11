#!/bin/bash
# Keep the manual pages, the example config and the bash completion in step
# with the code:
#   - every option of `sesame-mint --help` is in sesame-mint(1) and in the
#     completion, and every option sesame-mint(1) documents is accepted;
#   - every key of common/config.c's table config_keys[] is in sesame.conf(5) and in
#     the example config, and every key sesame.conf(5) documents is accepted
#     by the parser (a config file with that key, `sesame-mint -c FILE --gc`);
#   - every module argument of pam/args.c is in pam_sesame(8), and back;
#   - every reason name of common/reason.c is in pam_sesame(8) and
#     sesame-mint(1), and back;
#   - `mandoc -Tlint -Wwarning` is clean (skipped when mandoc is missing).
# Lists come from the code itself, so a new option, key, argument or reason
# fails this test until it is documented.
#
# usage: check-docs.sh SESAME_MINT SOURCE_ROOT
set -u

if [ $# -ne 2 ]; then
	echo "usage: $0 SESAME_MINT SOURCE_ROOT" >&2
	exit 2
fi
mint=$1
src=$2
man=$src/man
example=$src/packaging/sesame.conf.example
completion=$src/packaging/bash-completion/sesame-mint

checks=0
failures=0
fail() {
	echo "FAIL: $*"
	failures=$((failures + 1))
}
check() {
	checks=$((checks + 1))
}

umask 077
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# ---- extractors -------------------------------------------------------

# Options in --help: "-c", "--config", ... wherever they stand.
help_options() {
	"$mint" --help | grep -oE '(^|[][ (|,])--?[A-Za-z][-A-Za-z0-9]*' |
		sed -E 's/^[][ (|,]//' | sort -u
}

# Options a page documents: the argument of every Fl macro ("\-" is "-").
page_options() {
	awk '/^\.\\"/ { next }
	/^\./ {
		for (i = 1; i < NF; i++)
			if ($i == "Fl" || $i == ".Fl") {
				o = $(i + 1)
				gsub(/\\/, "", o)
				if (o ~ /^-?[A-Za-z]/)
					print "-" o
			}
	}' "$1" | sort -u
}

# The words of every ".It Cm WORD ..." or ".It Sy WORDS" line of a page.
page_items() {
	sed -nE "s/^\\.It $2 ([a-z_]+).*/\\1/p" "$1" | sort -u
}
page_reasons() {
	sed -nE 's/^\.It Sy (.*)$/\1/p' "$1" | sort -u
}

# The .name of every row of common/config.c's table config_keys[].
code_config_keys() {
	sed -n '/config_keys\[\] = {/,/};/p' "$src/common/config.c" |
		grep -oE '\.name = "[a-z_]+"' | grep -oE '"[a-z_]+"' | tr -d '"' | sort -u
}

# Arguments pam/args.c knows by name (flags, conf, prompt), plus every
# config key, which it hands to the config parser.
code_module_args() {
	{
		grep -oE 'strcmp\((name|key), "[a-z_]+"\)' "$src/pam/args.c" |
			grep -oE '"[a-z_]+"' | tr -d '"'
		code_config_keys
	} | sort -u
}

code_reasons() {
	grep -oE '\] = "[^"]+"' "$src/common/reason.c" | sed -E 's/^\] = "(.*)"$/\1/' | sort -u
}

# The value the example config shows for a key ("# key = value").
example_value() {
	sed -nE "s/^#[[:space:]]*$1[[:space:]]*=[[:space:]]*(.*)$/\\1/p" "$example" | head -n 1
}

# "in A, not in B" for two sorted lists in files.
missing() {
	comm -23 "$1" "$2"
}

# ---- a sandbox for running sesame-mint --------------------------------
# Nothing outside $tmp: a key made by --keygen, gc of an empty store.
mkdir -m 0700 "$tmp/state"
conf=$tmp/sesame.conf
printf 'key_file = %s\nstate_dir = %s\n' "$tmp/sesame.key" "$tmp/state" >"$conf"
export SESAME_CONF=$conf

run_mint() {
	timeout 20 "$mint" "$@" </dev/null >"$tmp/out" 2>"$tmp/err"
}

# ---- sesame-mint(1) and --help ----------------------------------------
help_options >"$tmp/help.opts"
page_options "$man/sesame-mint.1" >"$tmp/page.opts"
check
if [ ! -s "$tmp/help.opts" ]; then
	fail "no options found in '$mint --help'"
fi
for opt in $(missing "$tmp/help.opts" "$tmp/page.opts"); do
	fail "sesame-mint --help lists $opt, sesame-mint.1 does not (.Fl)"
done
# getopt_long takes abbreviations (--rot for --rotate): ask --help too.
for opt in $(missing "$tmp/page.opts" "$tmp/help.opts"); do
	fail "sesame-mint.1 documents $opt, sesame-mint --help does not list it"
done

check
while IFS= read -r opt; do
	run_mint -c "$conf" "$opt"
	if grep -q 'requires an argument' "$tmp/err"; then
		# "utf8" is a valid --qr value and harmless for every other option.
		run_mint -c "$conf" "$opt" utf8
	fi
	if grep -qE 'unrecognized option|invalid option|bad option' "$tmp/err"; then
		fail "sesame-mint.1 documents $opt, sesame-mint does not accept it: $(head -n 1 "$tmp/err")"
	fi
done <"$tmp/page.opts"

# ---- bash completion ---------------------------------------------------
sed -n '/local opts="/,/"$/p' "$completion" | tr -s ' \t"=' '\n' |
	grep -E '^--?[A-Za-z]' | sort -u >"$tmp/completion.opts"
check
for opt in $(missing "$tmp/help.opts" "$tmp/completion.opts"); do
	fail "sesame-mint --help lists $opt, the bash completion does not"
done
for opt in $(missing "$tmp/completion.opts" "$tmp/help.opts"); do
	fail "the bash completion offers $opt, sesame-mint --help does not list it"
done

# ---- sesame.conf(5), the example config, the parser --------------------
code_config_keys >"$tmp/code.keys"
page_items "$man/sesame.conf.5" Cm >"$tmp/page.keys"
sed -nE 's/^#[[:space:]]*([a-z_]+)[[:space:]]*=.*/\1/p' "$example" | sort -u >"$tmp/example.keys"
check
if [ ! -s "$tmp/code.keys" ]; then
	fail "no config_keys[] found in common/config.c"
fi
for key in $(missing "$tmp/code.keys" "$tmp/page.keys"); do
	fail "config key $key (common/config.c) is not in sesame.conf.5 (.It Cm $key)"
done
for key in $(missing "$tmp/code.keys" "$tmp/example.keys"); do
	fail "config key $key (common/config.c) is not in sesame.conf.example (# $key = ...)"
done
for key in $(missing "$tmp/example.keys" "$tmp/code.keys"); do
	fail "sesame.conf.example shows key $key, which common/config.c does not know"
done

check
while IFS= read -r key; do
	value=$(example_value "$key")
	[ -n "$value" ] || value=x
	mkdir -m 0700 "$tmp/state.$key"
	if [ "$key" = state_dir ]; then
		printf 'state_dir = %s\n' "$tmp/state.$key" >"$tmp/key.conf"
	else
		printf 'state_dir = %s\n%s = %s\n' "$tmp/state.$key" "$key" "$value" >"$tmp/key.conf"
	fi
	if ! run_mint -c "$tmp/key.conf" --gc; then
		fail "sesame.conf.5 documents $key; '$key = $value' is refused: $(head -n 1 "$tmp/err")"
	fi
done <"$tmp/page.keys"

# Every example line uncommented at once is a valid config too.
check
mkdir -m 0700 "$tmp/state.example"
sed -nE 's/^#[[:space:]]*([a-z_]+[[:space:]]*=.*)$/\1/p' "$example" |
	grep -v '^state_dir' >"$tmp/example.conf"
printf 'state_dir = %s\n' "$tmp/state.example" >>"$tmp/example.conf"
if ! run_mint -c "$tmp/example.conf" --gc; then
	fail "sesame.conf.example, uncommented, is refused: $(head -n 1 "$tmp/err")"
fi

# ---- pam_sesame(8) and pam/args.c --------------------------------------
code_module_args >"$tmp/code.args"
page_items "$man/pam_sesame.8" Cm >"$tmp/page.args"
check
# The extraction reads strcmp() calls: if args.c is rewritten another way,
# say so rather than compare against a short list.
for arg in conf prompt debug use_first_pass; do
	grep -qx "$arg" "$tmp/code.args" ||
		fail "cannot find module argument $arg in pam/args.c: update code_module_args"
done
for arg in $(missing "$tmp/code.args" "$tmp/page.args"); do
	fail "module argument $arg (pam/args.c) is not in pam_sesame.8 (.It Cm $arg)"
done
for arg in $(missing "$tmp/page.args" "$tmp/code.args"); do
	fail "pam_sesame.8 documents argument $arg, which pam/args.c does not accept"
done

# ---- reasons ------------------------------------------------------------
code_reasons >"$tmp/code.reasons"
check
if [ ! -s "$tmp/code.reasons" ]; then
	fail "no reason names found in common/reason.c"
fi
for page in sesame-mint.1 pam_sesame.8; do
	page_reasons "$man/$page" >"$tmp/page.reasons"
	missing "$tmp/code.reasons" "$tmp/page.reasons" | while IFS= read -r reason; do
		echo "FAIL: reason \"$reason\" (common/reason.c) is not in $page (.It Sy $reason)"
	done >"$tmp/reason.fail"
	missing "$tmp/page.reasons" "$tmp/code.reasons" | while IFS= read -r reason; do
		echo "FAIL: $page lists reason \"$reason\", which common/reason.c does not have"
	done >>"$tmp/reason.fail"
	if [ -s "$tmp/reason.fail" ]; then
		cat "$tmp/reason.fail"
		failures=$((failures + $(wc -l <"$tmp/reason.fail")))
	fi
done

# ---- every page is installed --------------------------------------------
check
for page in "$man"/*.[1-8]; do
	name=${page##*/}
	grep -q "'$name'" "$man/meson.build" || fail "man/meson.build does not install $name"
done

# ---- mandoc lint ---------------------------------------------------------
check
if command -v mandoc >/dev/null 2>&1; then
	for page in "$man"/*.[1-8]; do
		if ! mandoc -Tlint -Wwarning "$page" >"$tmp/lint" 2>&1 || [ -s "$tmp/lint" ]; then
			fail "mandoc -Tlint -Wwarning ${page##*/}:"
			sed 's/^/    /' "$tmp/lint"
		fi
	done
else
	echo "SKIP: mandoc not installed: pages not linted (apt-get install mandoc)"
fi

echo "docs: $checks checks, $failures failures"
[ "$failures" -eq 0 ]
