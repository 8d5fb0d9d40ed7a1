#!/usr/bin/env bash
# `make install` / `make uninstall`.
#
# install puts, under $DESTDIR:
#   /lib/modules/REL/updates/xt_SSNAT.ko     REL: KRELEASE, else the vermagic of KO when
#                                           KO is given, else KDIR's kernel.release
#   XTLIBDIR/libxt_SSNAT.so                 `pkg-config --variable=xtlibdir xtables`
#   PREFIX/sbin/ssnatctl
#   PREFIX/share/man/man8/ssnatctl.8, xt_SSNAT.8
#   PREFIX/share/bash-completion/completions/ssnatctl, zsh/site-functions/_ssnatctl,
#   PREFIX/share/fish/vendor_completions.d/ssnatctl.fish
# then runs depmod: `depmod -a REL` without DESTDIR; with DESTDIR `depmod -b DESTDIR REL`
# when DESTDIR already holds a module tree for REL (modules.dep) or DEPMOD=1, else
# none (DEPMOD=0 never). It writes what it created (files, folders, files depmod
# created) into PREFIX/share/xt_SSNAT/install-manifest; uninstall removes exactly
# those, runs depmod again where the module tree was there before, and removes the
# folders install created once empty.
#
# Environment (from the Makefile): DESTDIR, PREFIX (/usr/local), KDIR, KO (default
# ./xt_SSNAT.ko), EXT (the extension; default the one cargo built), KRELEASE,
# XTLIBDIR, DEPMOD (auto), CARGO_TARGET_DIR.
set -euo pipefail
. "$(dirname "$0")/env.sh"
action=${1:?usage: install.sh install|uninstall}
destdir=${DESTDIR:-}
destdir=${destdir%/}
prefix=${PREFIX:-/usr/local}
manifest_rel=$prefix/share/xt_SSNAT/install-manifest
manifest=$destdir$manifest_rel

# --- uninstall -------------------------------------------------------------------
if [ "$action" = uninstall ]; then
	[ -f "$manifest" ] || die "nothing to uninstall: no $manifest (was it installed with this DESTDIR and PREFIX?)"
	redepmod=""
	lines=$(cat "$manifest")
	while read -r kind path; do
		case $kind in
		f | m) [ ! -e "$destdir$path" ] && [ ! -L "$destdir$path" ] || { rm -f "$destdir$path"; echo "removed $destdir$path"; } ;;
		depmod) redepmod=$path ;;
		esac
	done <<<"$lines"
	rm -f "$manifest"
	if [ -n "$redepmod" ]; then
		if [ -n "$destdir" ]; then depmod -b "$destdir" "$redepmod"; else depmod -a "$redepmod"; fi
		echo "depmod $redepmod${destdir:+ (in $destdir)}"
	fi
	# Folders install created, deepest first, if nothing else is in them.
	{ grep '^d ' <<<"$lines" || true; } | tac | while read -r _ path; do
		rmdir "$destdir$path" 2>/dev/null || true
	done
	exit 0
fi
[ "$action" = install ] || die "usage: install.sh install|uninstall"

# --- install ---------------------------------------------------------------------
ko=${KO:-$ssnat_repo/xt_SSNAT.ko}
[ -f "$ko" ] || die "no module at $ko (make module, or give KO=)"
if [ -n "${KRELEASE:-}" ]; then
	rel=$KRELEASE
elif [ -n "${KO:-}" ]; then
	rel=$(modinfo -F vermagic "$ko" | awk '{print $1}')
else
	kdir=${KDIR:-$(ssnat_kdir)}
	[ -f "$kdir/include/config/kernel.release" ] || die "no include/config/kernel.release in KDIR=$kdir"
	rel=$(cat "$kdir/include/config/kernel.release")
fi
[ -n "$rel" ] || die "cannot tell the kernel release of $ko"
magic=$(modinfo -F vermagic "$ko" | awk '{print $1}')
[ "$magic" = "$rel" ] || die "$ko is built for kernel $magic, not $rel"
bindir=${CARGO_TARGET_DIR:?}/release
ext=${EXT:-$bindir/libxt_SSNAT.so}
for f in "$ext" "$bindir/ssnatctl"; do
	[ -f "$f" ] || die "no $f (make userspace)"
done
xtlibdir=${XTLIBDIR:-$(pkg-config --variable=xtlibdir xtables 2>/dev/null || true)}
[ -n "$xtlibdir" ] || die "pkg-config does not know xtables' xtlibdir (install libxtables-dev, or give XTLIBDIR=)"
mandir=$prefix/share/man
moddir=/lib/modules/$rel

# An earlier install is taken back first, so that the manifest stays exact.
if [ -f "$manifest" ]; then
	echo "an earlier install is listed in $manifest: uninstalling it first"
	"$0" uninstall >/dev/null
fi
mkdir -p "${destdir:-/}"
tmp=$(mktemp)
dirs=$(mktemp)
trap 'rm -f "$tmp" "$dirs"' EXIT
# mkdirs PATH: create PATH under DESTDIR, recording each folder that was not there.
mkdirs() {
	local p=$1 missing=()
	while [ -n "$p" ] && [ "$p" != / ] && [ ! -d "$destdir$p" ]; do
		missing=("$p" "${missing[@]}")
		p=$(dirname "$p")
	done
	for p in "${missing[@]}"; do
		mkdir "$destdir$p"
		echo "d $p" >>"$dirs"
	done
}
# put MODE SRC DEST, or put MODE - DEST < content
put() {
	local mode=$1 src=$2 dest=$3
	mkdirs "$(dirname "$dest")"
	if [ "$src" = - ]; then
		cat >"$destdir$dest"
		chmod "$mode" "$destdir$dest"
	else
		install -m "$mode" "$src" "$destdir$dest"
	fi
	echo "f $dest" >>"$tmp"
	echo "installed $destdir$dest"
}

# Was there a module tree for REL before (then depmod runs again at uninstall)?
had_tree=no
[ ! -f "$destdir$moddir/modules.dep" ] || had_tree=yes
ctl=$bindir/ssnatctl
put 0644 "$ko" "$moddir/updates/xt_SSNAT.ko"
put 0644 "$ext" "$xtlibdir/libxt_SSNAT.so"
put 0755 "$ctl" "$prefix/sbin/ssnatctl"
"$ctl" manpage | put 0644 - "$mandir/man8/ssnatctl.8"
put 0644 "$ssnat_repo/man/xt_SSNAT.8" "$mandir/man8/xt_SSNAT.8"
"$ctl" completions bash | put 0644 - "$prefix/share/bash-completion/completions/ssnatctl"
"$ctl" completions zsh | put 0644 - "$prefix/share/zsh/site-functions/_ssnatctl"
"$ctl" completions fish | put 0644 - "$prefix/share/fish/vendor_completions.d/ssnatctl.fish"

# depmod, recording what it created.
mode=${DEPMOD:-auto}
if [ "$mode" != 0 ] && { [ -z "$destdir" ] || [ "$mode" = 1 ] || [ $had_tree = yes ]; }; then
	before=$(cd "$destdir$moddir" && find . -maxdepth 1 -type f | sort)
	if [ -n "$destdir" ]; then depmod -b "$destdir" "$rel"; else depmod -a "$rel"; fi
	echo "depmod $rel${destdir:+ (in $destdir)}"
	if [ $had_tree = yes ]; then
		echo "depmod $rel" >>"$tmp"
	else
		comm -13 <(echo "$before") <(cd "$destdir$moddir" && find . -maxdepth 1 -type f | sort) |
			sed "s|^\./|m $moddir/|" >>"$tmp"
	fi
else
	echo "depmod skipped: ${destdir:-/} has no module tree for $rel (run 'depmod $rel' where it is installed, or give DEPMOD=1)"
fi
mkdirs "$(dirname "$manifest_rel")"
cat "$tmp" "$dirs" >"$manifest"
echo "manifest $manifest"
