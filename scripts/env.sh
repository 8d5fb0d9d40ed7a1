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
# Cache key: kernel version + config fragment + rustc (Rust metadata must match the
# rustc that builds the module).
ssnat_kernel_key() {
	local h
	h=$(cat "$ssnat_repo/kernel/ssnat.config" |
		sha256sum | cut -c1-12)
	echo "linux-$KERNEL_DEB_VERSION-rustc$(ssnat_rustc_version)-$h" | tr '~+' '__'
}
ssnat_kdir() { echo "$SSNAT_CACHE/$(ssnat_kernel_key)"; }
die() { echo "error: $*" >&2; exit 1; }
