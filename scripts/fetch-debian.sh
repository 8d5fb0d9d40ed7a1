#!/usr/bin/env bash
# Fetch arch-independent Debian packages from a suite the host does not list
# (trixie-backports), without touching the system's apt configuration: a private
# apt state under $CACHE/apt whose archive URI is read from the host's own sources.
# Usage: fetch-debian.sh CACHE SUITE PKG=VERSION DESTDIR
set -euo pipefail
cache=$1 suite=$2 pkgver=$3 dest=$4

. "$(dirname "$0")/env.sh"
uri=$(ssnat_debian_uri)
[ -n "$uri" ] || { echo "fetch-debian: no Debian archive URI in the host's apt sources" >&2; exit 1; }

aptdir=$cache/apt-$suite
mkdir -p "$aptdir/lists/partial" "$aptdir/archives/partial" "$dest"
printf 'Types: deb\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
	"$uri" "$suite" >"$aptdir/suite.sources"
aptopts=(-o "Dir::Etc::SourceList=/dev/null" -o "Dir::Etc::SourceParts=$aptdir/srcparts"
	-o "Dir::State::Lists=$aptdir/lists" -o "Dir::Cache::Archives=$aptdir/archives"
	-o "Dir::Cache::pkgcache=" -o "Dir::Cache::srcpkgcache=" -o "APT::Architecture=amd64")
mkdir -p "$aptdir/srcparts"
cp "$aptdir/suite.sources" "$aptdir/srcparts/suite.sources"

stamp=$aptdir/lists/.updated
if [ ! -f "$stamp" ] || [ -n "$(find "$stamp" -mmin +720)" ]; then
	apt-get -q "${aptopts[@]}" update >&2 || {
		echo "fetch-debian: cannot reach the Debian archive for $suite (network?)" >&2; exit 1; }
	touch "$stamp"
fi
cd "$aptdir/archives"
pkg=${pkgver%%=*}
ls "${pkg}"_*.deb >/dev/null 2>&1 || apt-get -q "${aptopts[@]}" download "$pkgver" >&2 || {
	echo "fetch-debian: $pkgver is not available in $suite" >&2; exit 1; }
deb=$(ls "${pkg}"_*.deb | head -1)
dpkg-deb -x "$deb" "$dest"
