//! Raw bindings to `<xtables.h>` (and the few `<stdio.h>` functions we call), generated
//! by bindgen in `build.rs` from the installed headers. Nothing here is written by hand.
#![allow(
    non_camel_case_types,
    non_upper_case_globals,
    non_snake_case,
    dead_code
)]
#![allow(
    missing_docs,
    unsafe_op_in_unsafe_fn,
    clippy::all,
    clippy::undocumented_unsafe_blocks
)]

include!(concat!(env!("OUT_DIR"), "/xtables.rs"));
