// SPDX-License-Identifier: GPL-2.0
//! `ssnatctl`: parses the command line, runs it, and turns the outcome into an exit code
//! (see the library's docs or `ssnatctl --help` for the codes).

use std::io::{self, Write};
use std::process::ExitCode;

use clap::Parser;
use ssnatctl::cli::Cli;
use ssnatctl::env::Env;

fn main() -> ExitCode {
    // Usage errors: clap prints them and exits with 2; --help and --version exit with 0.
    let cli = Cli::parse();
    let env = Env::from_process();
    let result = ssnatctl::run(
        &cli,
        &env,
        &mut io::stdout().lock(),
        &mut io::stderr().lock(),
    );
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // `ssnatctl status | head -1`: the reader has what it wanted.
        Err(e) if e.is_broken_pipe() => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(io::stderr(), "ssnatctl: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
