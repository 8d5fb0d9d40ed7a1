# Sourced by the Makefile's scripts: versions and paths, one place.
# Everything heavy lives outside the work tree, in $SSNAT_CACHE, so that a second
# clone (or CI's fresh clone) reuses it.
: "${SSNAT_CACHE:=/var/cache/xt_ssnat}"
KERNEL_SERIES=7.3
KERNEL_DEB_VERSION=7.3.4-1~bpo13+1
KERNEL_SUITE=trixie-backports
BINDGEN_VERSION=0.73.2
VIRTME_NG_VERSION=1.42
CARGO_FUZZ_VERSION=0.13.2
export LIBCLANG_PATH=/usr/lib/llvm-19/lib
# cargo-installed tools (bindgen, cargo-fuzz) and pip-installed ones (vng).
pyscripts=$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))' 2>/dev/null || true)
export PATH="$HOME/.cargo/bin:${pyscripts:+$pyscripts:}$PATH"

# Cargo's build directory is cached too: a fresh clone (CI) reuses the compiled
# dependencies instead of building them again.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$SSNAT_CACHE/cargo-target}"
ssnat_repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ssnat_rustc_version() { rustc --version | awk '{print $2}'; }
# The Debian rust-src package that matches rustc: pinned per rustc release.
ssnat_rust_src_deb() {
	case "$(ssnat_rustc_version)" in
	1.94.1) echo 1.94.1+dfsg1-1~bpo13+1 ;;
	1.95.0) echo 1.95.0+dfsg1-2~bpo13+1 ;;
	*) echo "" ;;
	esac
}
ssnat_rust_lib_src() { echo "$SSNAT_CACHE/rust-src-$(ssnat_rustc_version)/usr/lib/rustlib/src/rust/library"; }
export RUST_LIB_SRC=$(ssnat_rust_lib_src)
# Two kernels: `release` (kernel/ssnat.config, GCC; make bench and most tests) and
# `debug` (plus kernel/ssnat-debug.config: KASAN, UBSAN, lockdep, kmemleak..., built
# with clang: CONFIG_RUST with KASAN needs CC_IS_CLANG). SSNAT_FLAVOR picks the default.
: "${SSNAT_FLAVOR:=release}"
DEBUG_LLVM=-19
# make variables of a kernel flavor (the module must be built with the same compiler).
ssnat_kmake_flags() { [ "${1:-$SSNAT_FLAVOR}" = debug ] && echo "LLVM=$DEBUG_LLVM" || true; }
# Cache key: kernel version + config fragment(s) + rustc (Rust metadata must match the
# rustc that builds the module) + the flavor's compiler.
ssnat_kernel_key() { # [FLAVOR]
	local f=${1:-$SSNAT_FLAVOR} h
	if [ "$f" = debug ]; then
		h=$( { cat "$ssnat_repo/kernel/ssnat.config" "$ssnat_repo/kernel/ssnat-debug.config"; echo "LLVM=$DEBUG_LLVM"; } |
			sha256sum | cut -c1-12)
		echo "linux-$KERNEL_DEB_VERSION-rustc$(ssnat_rustc_version)-debug-$h" | tr '~+' '__'
		return
	fi
	h=$(cat "$ssnat_repo/kernel/ssnat.config" |
		sha256sum | cut -c1-12)
	echo "linux-$KERNEL_DEB_VERSION-rustc$(ssnat_rustc_version)-$h" | tr '~+' '__'
}
ssnat_kdir() { echo "$SSNAT_CACHE/$(ssnat_kernel_key "$@")"; } # [FLAVOR]

# The Debian archive URI of the host's own apt sources (deb822 or one-line style):
# `ssnat_debian_uri` the main archive, `ssnat_debian_uri security` the security one.
# No host name is written down anywhere in the project.
ssnat_debian_uri() {
	local want=${1:-main} u
	u=$( (cat /etc/apt/sources.list.d/*.sources 2>/dev/null || true) | awk -v w="$want" '
		/^URIs:/ { u = $2 }
		/^Suites:/ && ((w == "security") == ($0 ~ /security/)) && (w == "security" || u ~ /debian\/?$/) { print u; exit }')
	[ -n "$u" ] || u=$( (cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true) | awk -v w="$want" '
		$1 == "deb" { i = 2; if ($2 ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
			if ((w == "security") == ($0 ~ /security/) && (w == "security" || $i ~ /debian\/?$/)) { print $i; exit } }')
	echo "${u%/}"
}

# Debian's own kernel (`make debian`, the Debian-kernel test): pinned versions.
# KVER -> the kernel packages' version, and the toolchain that built it (read from its
# CONFIG_RUSTC_VERSION_TEXT, CONFIG_CC_VERSION_TEXT and bindgen's version): Rust
# metadata only works with the very same rustc, and trixie-backports has a newer rustc
# under the same package name, so every version is pinned.
DEBIAN_KVER_DEFAULT=7.3.4+deb13-amd64
DEBIAN_SUITE=trixie
ssnat_debian_pins() { # KVER: "name=version" lines of the trixie tree, or nothing
	case "$1" in
	7.3.4+deb13-amd64)
		cat <<-PINS
			rustc=1.85.1+dfsg1-1+deb13u1
			rust-src=1.85.1+dfsg1-1+deb13u1
			bindgen=0.71.1-6
			libclang-dev=1:19.0-63
			gcc-14=14.2.0-19
			linux-headers-7.3.4+deb13-amd64=7.3.4-1~bpo13+1
			linux-source-7.3=7.3.4-1~bpo13+1
			cargo=1.85.1+dfsg1-1+deb13u1
			iptables=1.8.11-2
			libxtables-dev=1.8.11-2
		PINS
		;;
	esac
}
# The kernel image and modules (booted by the Debian-kernel test), same version.
ssnat_debian_boot_debs() { # KVER
	local v
	v=$(ssnat_debian_pins "$1" | sed -n "s/^linux-headers-$1=//p")
	[ -z "$v" ] || echo "linux-binary-$1=$v linux-modules-$1=$v"
}
# Unpinned packages of the tree: the kernel build's tools, pkg-config for the extension's
# build, and what the guest's tests run.
DEBIAN_TREE_PACKAGES="make bc bison flex libelf-dev libssl-dev dwarves cpio xz-utils python3 kmod
	pkg-config iproute2 nftables iputils-ping procps"
ssnat_debian_dir() { # KVER: the cached tree, keyed by suite, pins and package list
	local h
	h=$( { echo "$DEBIAN_SUITE"; ssnat_debian_pins "$1"; echo $DEBIAN_TREE_PACKAGES; } | sha256sum | cut -c1-12)
	echo "$SSNAT_CACHE/debian-$DEBIAN_SUITE-$1-$h" | tr '~+' '__'
}
die() { echo "error: $*" >&2; exit 1; }

# Why a guest run failed, from what it wrote into its shared directory DIR (rc,
# test.log); nothing if it passed. CONSOLE is named when the guest wrote no status.
ssnat_guest_reason() { # DIR CONSOLE
	if [ ! -f "$1/rc" ]; then
		echo "the guest wrote no status (crash or timeout; see $2)"
	elif [ "$(cat "$1/rc")" != 0 ]; then
		grep -m1 '^FAIL' "$1/test.log" || tail -n 3 "$1/test.log" | tr '\n' ' '
	fi
}
