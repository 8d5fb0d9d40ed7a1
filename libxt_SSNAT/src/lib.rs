#![allow(non_snake_case)]
pub mod parse;
pub mod sys;
