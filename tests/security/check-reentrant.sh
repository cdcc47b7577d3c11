#!/bin/sh
# The module runs inside multi-threaded PAM applications (display
# managers, sshd's monitor, sssd's helpers): it must call no libc function
# that keeps its result or its position in static storage. Fails naming
# any such call pam_sesame.so imports. Usage: check-reentrant.sh MODULE.so
set -eu
module=$1
# name -> the reentrant call to use instead
forbidden='getspnam getspent getpwnam getpwuid getpwent getgrnam getgrgid getgrent
strtok gmtime localtime ctime asctime rand random drand48 lrand48 setlocale
ttyname getlogin crypt ecvt fcvt'
imports=$(nm -D --undefined-only "$module" | awk '{ print $NF }' | sed 's/@.*//')
found=
for name in $forbidden; do
	if printf '%s\n' "$imports" | grep -qx "$name"; then
		found="$found $name"
	fi
done
if [ -n "$found" ]; then
	echo "FAIL: $module calls non-reentrant:$found (use the *_r call)" >&2
	exit 1
fi
echo "ok: $module imports none of:" $forbidden ""
