//! Builds the C floor of `make bench` (c/floor.c) with gcc -O2, as the kernel builds C.
fn main() {
    println!("cargo:rerun-if-changed=c/floor.c");
    cc::Build::new().file("c/floor.c").opt_level(2).warnings(true).compile("ssnat_c_floor");
}
