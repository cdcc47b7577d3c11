# Shell functions shared by the benchmark scripts (run.sh, fleet.sh):
# finding libraries and modules, recording samples in $RES (one file per
# figure, one sample per line), their statistics and table rows.

die() {
	echo "${0##*/}: $*" >&2
	exit 1
}

skip() {
	echo "${0##*/}: skipped: $*" >&2
	exit 77
}

find_lib() {
	local file=$1 dir
	for dir in "/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null)" \
		/usr/lib64 /usr/lib /usr/local/lib; do
		[ -e "$dir/$file" ] && echo "$dir/$file" && return 0
	done
	return 1
}

find_module() {
	local file=$1 dir
	for dir in "/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null)/security" \
		"/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null)/security" \
		/lib/security /lib64/security /usr/lib/security; do
		[ -e "$dir/$file" ] && echo "$dir/$file" && return 0
	done
	return 1
}

# check_buildtype: BUILDTYPE of $BUILD; a sanitizer build is refused.
check_buildtype() {
	local sanitize
	read -r BUILDTYPE sanitize < <(meson introspect --buildoptions "$BUILD" | python3 -c '
import json, sys
o = {x["name"]: x["value"] for x in json.load(sys.stdin)}
print(o["buildtype"], o["b_sanitize"])')
	[ "$sanitize" = none ] || die "$BUILD is a sanitizer build ($sanitize): figures would be meaningless"
}

# write_accounts: alice (uid 1501) with a shadow entry, in $W, for
# nss_wrapper (exported NSS_WRAPPER_*).
write_accounts() {
	cat >"$W/passwd" <<-'END'
	root:x:0:0:root:/root:/bin/sh
	alice:x:1501:1501:Alice:/home/alice:/bin/sh
	END
	[ "$(id -u)" = 0 ] ||
		echo "$(id -un):x:$(id -u):$(id -g):bench:/nonexistent:/bin/sh" >>"$W/passwd"
	printf 'root:x:0:\nalice:x:1501:\n' >"$W/group"
	# A yescrypt-shaped hash of the usual length: the tag covers it.
	echo 'alice:$y$j9T$F5Jx5fExrKuPp53xLKQ..1$X3DX6M94c7o7TNtzLxeGZ6XcSbfcmCmA7gq1VwyQ/g/:19000:0:99999:7:::' >"$W/shadow"
	export NSS_WRAPPER_PASSWD=$W/passwd NSS_WRAPPER_GROUP=$W/group
	export NSS_WRAPPER_SHADOW=$W/shadow NSS_WRAPPER_HOSTNAME=bench.example
}

nss() {
	LD_PRELOAD=$NSS_WRAPPER_LIB "$@"
}

now_ns() {
	date +%s%N
}

# record NAME VALUE: one sample of a figure.
record() {
	[[ $2 =~ ^[0-9.eE+-]+$ ]] || die "no figure for $1"
	echo "$2" >>"$RES/$1"
}

# field KEY "k1=v1 k2=v2 ...": the value of KEY.
field() {
	sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$2"
}

# stats NAME: "median min max n" of the samples.
stats() {
	[ -s "$RES/$1" ] || {
		echo "nan nan nan 0"
		return
	}
	sort -g "$RES/$1" | awk '{ v[NR] = $1 }
		END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		      print m, v[1], v[NR], NR }'
}

median() {
	stats "$1" | cut -d' ' -f1
}

# calc EXPR: floating-point arithmetic.
calc() {
	awk "BEGIN { printf \"%.6g\", $1 }"
}

# ratio NAME A B: record A / B.
ratio() {
	record "$1" "$(calc "$2 / $3")"
}

# fmt NAME DIGITS: "median (min–max)".
fmt() {
	stats "$1" | awk -v d="$2" '{
		f = "%." d "f"
		if ($4 == 0) { print "n/a"; exit }
		if ($4 == 1) { printf f "\n", $1; exit }
		printf f " (" f "–" f ")\n", $1, $2, $3 }'
}

# row LABEL UNIT NAME DIGITS
row() {
	printf '| %s | %s | %s |\n' "$1" "$2" "$(fmt "$3" "$4")"
}


# machine_head CORES_NOTE FS_WHAT: the machine table's head, cores, CPU,
# memory, kernel and the file system of $W; machine_tail: the build, the
# load averages ($LOAD_START, $LOAD_END) and the run's date and length.
machine_head() {
	local cpu fs
	cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
	fs=$(findmnt -n -o FSTYPE,SOURCE -T "$W" | tr -s ' ')
	echo "| what | value |"
	echo "|---|---|"
	echo "| cores (nproc) | $(nproc)$1 |"
	echo "| CPU | ${cpu:-unknown} |"
	echo "| memory | $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) |"
	echo "| kernel | $(uname -sr) |"
	echo "| filesystem of $2 | $fs |"
}

machine_tail() {
	echo "| build | meson buildtype $BUILDTYPE, $(cc --version 2>/dev/null | head -n 1) |"
	echo "| load average at start / end | $LOAD_START / $LOAD_END |"
	echo "| date, run time | $(date -u +%Y-%m-%dT%H:%MZ), $RUN_SECONDS s |"
}
