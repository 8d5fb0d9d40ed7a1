#!/usr/bin/env bash
# Builds xt_SSNAT.ko for a kernel flavor of ours: build-module.sh [release|debug].
#   release: in the tree (./xt_SSNAT.ko), against the release kernel, as `make module`.
#   debug:   out/debug/module/xt_SSNAT.ko, against the debug kernel, with its compiler
#            (LLVM=...): from a copy of the module's sources, since Kbuild builds an
#            external module next to its sources (and MO= needs a clean source tree).
# The kernel of the flavor is built first if it is not cached.
set -euo pipefail
. "$(dirname "$0")/env.sh"
flavor=${1:-$SSNAT_FLAVOR}
"$ssnat_repo/scripts/build-kernel.sh" "$flavor"
kdir=$(ssnat_kdir "$flavor")
kmake=$(ssnat_kmake_flags "$flavor")
clippy=$(command -v clippy-driver >/dev/null && echo CLIPPY=1 || true)
if [ "$flavor" = release ]; then
	# shellcheck disable=SC2086
	exec make -s -C "$kdir" M="$ssnat_repo" $clippy modules
fi
src=$ssnat_repo/out/$flavor/module
mkdir -p "$src"
# The sources Kbuild and xt_SSNAT.rs name, copied only where they changed (so that
# Kbuild rebuilds only what a change touches); removed ones are removed.
files=$(cd "$ssnat_repo" && ls Kbuild Cargo.toml xt_SSNAT.rs module/*.rs module/*.[ch] ssnat-core/src/*.rs)
for f in $files; do
	cmp -s "$ssnat_repo/$f" "$src/$f" || install -D -m 0644 "$ssnat_repo/$f" "$src/$f"
done
for f in $(cd "$src" && ls module/*.rs module/*.[ch] ssnat-core/src/*.rs 2>/dev/null); do
	[ -e "$ssnat_repo/$f" ] || rm -f "$src/$f"
done
# shellcheck disable=SC2086
make -s -C "$kdir" M="$src" $kmake $clippy modules
echo "module: $src/xt_SSNAT.ko ($flavor kernel $(basename "$kdir"))"
