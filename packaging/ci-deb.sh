#!/bin/bash
# CI: build the Debian packages from a copy of the tree (build-deb.sh) and
# run lintian on them. Fails on any lintian error; the warnings that stay
# are listed, with the reason, in packaging/README.md.
#
# usage: packaging/ci-deb.sh [OUTDIR]        (default: ./dist-deb)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out=$(realpath -m "${1:-$root/dist-deb}")
rm -rf "$out"
bash "$root/packaging/build-deb.sh" "$out"

version=$(dpkg-parsechangelog -l "$root/packaging/debian/changelog" -S Version)
changes=$out/sesame_${version}_$(dpkg --print-architecture).changes
echo "== lintian $changes"
lintian --info --display-info --fail-on error "$changes"
echo "ci-deb: packages built, lintian reports no error"
