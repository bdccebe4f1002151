//! The `coffer` binary: arguments -> validated settings -> one command.
//! Exit codes (docs/EXIT-CODES.md): 0 ok, 1 error, 2 usage, 3 incomplete
//! (some files could not be read or restored), 10 no repository,
//! 11 locked, 12 wrong password.

mod args;
mod commands;
mod output;
mod progress;
mod settings;

use clap::Parser;

fn main() {
    // Like other Unix tools, stop quietly when the reader of our output goes
    // away (`coffer ls latest | head`) instead of failing to print.
    // SAFETY: called first, before any other thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = args::Cli::parse();
    let code = match commands::run(cli.command, &cli.global) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("coffer: error: {e}");
            e.exit_code()
        }
    };
    std::process::exit(code);
}
