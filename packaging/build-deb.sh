#!/bin/bash
# Build the Debian binary packages from a copy of the tree: copy the
# sources, put packaging/debian at the top as debian/, and run
# `dpkg-buildpackage -us -uc -b` there. The tree itself is not touched.
#
# usage: packaging/build-deb.sh [OUTDIR]     (default: ./dist-deb)
# Needs: dpkg-dev, debhelper, build-essential and the Build-Depends of
# packaging/debian/control (`apt-get build-dep ./packaging/debian` does not
# work on a bare debian/ dir; see packaging/README.md for the list).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out=$(realpath -m "${1:-$root/dist-deb}")
version=$(dpkg-parsechangelog -l "$root/packaging/debian/changelog" -S Version)
work=$(mktemp -d /tmp/sesame-deb.XXXXXX)
trap 'rm -rf "$work"' EXIT
src=$work/sesame-${version%-*}
mkdir "$src"

# In a git checkout, the files git knows about (tracked, or new and not
# ignored: no build directories, no node_modules); else everything but .git.
if git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	(cd "$root" && git ls-files -z --cached --others --exclude-standard |
		while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
		tar --null -T - -cf -) | tar -C "$src" -xf -
else
	tar -C "$root" --exclude=.git --exclude='./build*' -cf - . | tar -C "$src" -xf -
fi
rm -rf "$src/debian"
cp -r "$src/packaging/debian" "$src/debian"

(cd "$src" && dpkg-buildpackage -us -uc -b)

mkdir -p "$out"
cp "$work"/*.deb "$work"/*.changes "$work"/*.buildinfo "$out"/
echo "build-deb: packages in $out:"
ls -1 "$out"
