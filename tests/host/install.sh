#!/usr/bin/env bash
# make install / make uninstall on the host, into temporary DESTDIRs: every file in its
# place (module under lib/modules/<release>/updates, the extension in xtables' xtlibdir,
# ssnatctl, man pages, completions), both man pages render with `man -l`, uninstall
# leaves no file behind; with DEPMOD=1 and PREFIX=/usr the files depmod made go too;
# KO= installs a module built for another kernel under that kernel's release.
# Prints one PASS/FAIL line per check.
set -uo pipefail
. "$(dirname "$0")/../../scripts/env.sh"
kdir=${KDIR:-$(ssnat_kdir)}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
result() { echo "$1 install-$2"; }
mk() { make -s -C "$ssnat_repo" KDIR="$kdir" "$@"; }
xtlibdir=$(pkg-config --variable=xtlibdir xtables)
rel=$(cat "$kdir/include/config/kernel.release")
files() { (cd "$1" && find . -type f | sort); }

# 1. The default layout.
r=$tmp/r
if ! mk install DESTDIR="$r" >"$tmp/log" 2>&1; then
	result FAIL "layout: make install DESTDIR=$r: $(tail -n 3 "$tmp/log" | tr '\n' ' ')"
else
	want="./lib/modules/$rel/updates/xt_SSNAT.ko
.$xtlibdir/libxt_SSNAT.so
./usr/local/sbin/ssnatctl
./usr/local/share/man/man8/ssnatctl.8
./usr/local/share/man/man8/xt_SSNAT.8
./usr/local/share/bash-completion/completions/ssnatctl
./usr/local/share/zsh/site-functions/_ssnatctl
./usr/local/share/fish/vendor_completions.d/ssnatctl.fish
./usr/local/share/xt_SSNAT/install-manifest"
	missing=$(comm -23 <(echo "$want" | sort) <(files "$r"))
	extra=$(comm -13 <(echo "$want" | sort) <(files "$r"))
	if [ -z "$missing$extra" ] && [ -x "$r/usr/local/sbin/ssnatctl" ] && grep -q 'depmod skipped' "$tmp/log"; then
		result PASS "layout: make install DESTDIR=<dir> put $(files "$r" | wc -l) files in place (release $rel, xtlibdir $xtlibdir); depmod skipped"
	else
		result FAIL "layout: missing: $(echo $missing) extra: $(echo $extra)"
	fi
	# 2. Man pages.
	for page in xt_SSNAT ssnatctl; do
		f=$r/usr/local/share/man/man8/$page.8
		if MANWIDTH=80 man -l "$f" >"$tmp/$page.txt" 2>"$tmp/$page.err" && [ ! -s "$tmp/$page.err" ] &&
			grep -q "^NAME" "$tmp/$page.txt" && [ "$(wc -l <"$tmp/$page.txt")" -gt 40 ]; then
			result PASS "man-$page: man -l renders $(wc -l <"$tmp/$page.txt") lines, no warning"
		else
			result FAIL "man-$page: man -l: $(head -c 300 "$tmp/$page.err")"
		fi
	done
	grep -q -- '--to-source' "$tmp/xt_SSNAT.txt" && grep -q 'NOTRACK' "$tmp/xt_SSNAT.txt" &&
		grep -q '/proc/net/xt_SSNAT' "$tmp/xt_SSNAT.txt" ||
		result FAIL "man-xt_SSNAT: page lacks --to-source, NOTRACK or /proc/net/xt_SSNAT"
	# The options the page documents are the extension's (iptables -j SSNAT -h).
	XTABLES_LIBDIR=$r$xtlibdir:$xtlibdir iptables -j SSNAT -h 2>/dev/null |
		sed -n '/^SSNAT target options:/,$ s/^ \(--[a-z-]*\).*/\1/p' | sort -u >"$tmp/opts"
	undoc=$(while read -r o; do grep -q -- "$o" "$tmp/xt_SSNAT.txt" || echo "$o"; done <"$tmp/opts")
	if [ -s "$tmp/opts" ] && [ -z "$undoc" ]; then
		result PASS "man-options: every option of 'iptables -j SSNAT -h' ($(echo $(cat "$tmp/opts"))) is in xt_SSNAT(8)"
	else
		result FAIL "man-options: options not in xt_SSNAT(8): '$undoc' (help gave: $(echo $(cat "$tmp/opts")))"
	fi
	# 3. Uninstall.
	if mk uninstall DESTDIR="$r" >"$tmp/log" 2>&1 && [ -z "$(find "$r" -type f)" ]; then
		result PASS "uninstall: make uninstall DESTDIR=<dir> left no file ($(find "$r" -mindepth 1 | wc -l) folders)"
	else
		result FAIL "uninstall: left $(find "$r" -type f | head -5 | tr '\n' ' ') $(tail -n 2 "$tmp/log")"
	fi
fi

# 4. PREFIX=/usr with DEPMOD=1 into an empty DESTDIR: depmod's files belong to install.
r=$tmp/r2
if mk install DESTDIR="$r" PREFIX=/usr DEPMOD=1 >"$tmp/log" 2>&1 &&
	[ -x "$r/usr/sbin/ssnatctl" ] && grep -q 'updates/xt_SSNAT.ko:' "$r/lib/modules/$rel/modules.dep" &&
	grep -q 'alias ipt_SSNAT xt_SSNAT' "$r/lib/modules/$rel/modules.alias" &&
	grep -q "alias net-pf-16-proto-16-family-$(sed -n 's/^pub const FAMILY_NAME: &str = "\(.*\)";/\1/p' "$ssnat_repo/ssnat-core/src/genl.rs") xt_SSNAT" \
		"$r/lib/modules/$rel/modules.alias"; then
	if mk uninstall DESTDIR="$r" PREFIX=/usr >"$tmp/log" 2>&1 && [ -z "$(find "$r" -type f)" ]; then
		result PASS "depmod: PREFIX=/usr DEPMOD=1: modules.dep and the ipt_SSNAT and generic netlink family aliases made, all removed by uninstall"
	else
		result FAIL "depmod: uninstall left $(find "$r" -type f | head -5 | tr '\n' ' ')"
	fi
else
	result FAIL "depmod: make install PREFIX=/usr DEPMOD=1: $(tail -n 3 "$tmp/log" | tr '\n' ' ')"
fi

# 5. A module for another kernel (KO=): the release is the module's.
dko=$ssnat_repo/out/$DEBIAN_KVER_DEFAULT/xt_SSNAT.ko
if [ -f "$dko" ]; then
	r=$tmp/r3
	if mk install DESTDIR="$r" KO="$dko" >"$tmp/log" 2>&1 &&
		[ -f "$r/lib/modules/$DEBIAN_KVER_DEFAULT/updates/xt_SSNAT.ko" ] &&
		mk uninstall DESTDIR="$r" >>"$tmp/log" 2>&1 && [ -z "$(find "$r" -type f)" ]; then
		result PASS "ko: KO=out/$DEBIAN_KVER_DEFAULT/xt_SSNAT.ko installed under lib/modules/$DEBIAN_KVER_DEFAULT/updates and uninstalled"
	else
		result FAIL "ko: $(tail -n 3 "$tmp/log" | tr '\n' ' ')"
	fi
fi
# A second install over the first replaces it; one uninstall still removes everything.
r=$tmp/r4
if mk install DESTDIR="$r" DEPMOD=1 >/dev/null 2>&1 && mk install DESTDIR="$r" DEPMOD=1 >"$tmp/log" 2>&1 &&
	grep -q 'uninstalling it first' "$tmp/log" && mk uninstall DESTDIR="$r" >/dev/null 2>&1 &&
	[ -z "$(find "$r" -type f)" ]; then
	result PASS "twice: a second install replaces the first; uninstall then leaves no file"
else
	result FAIL "twice: $(tail -n 2 "$tmp/log" | tr '\n' ' '); left: $(find "$r" -type f | head -3 | tr '\n' ' ')"
fi
