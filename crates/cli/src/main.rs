//! The `coffer` binary: arguments -> validated settings -> one command.
//! Exit codes (docs/EXIT-CODES.md): 0 ok, 1 error, 2 usage, 3 incomplete
//! (some files could not be read or restored), 10 no repository,
//! 11 locked, 12 wrong password.

mod args;
mod profile;
mod commands;
mod cold;
mod hooks;
mod metrics;
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
    // glibc gives each thread that allocates an arena of its own (up to 8
    // per core); freed chunk and pack buffers stay in them. Four arenas
    // took the 3 GiB benchmark's initial backup from 148-175 MiB to
    // 136-140 MiB at the same speed (one or two slowed the listers).
    //
    // A fixed trim threshold also stops glibc from raising its mmap
    // threshold to the size of the largest block freed (32 MiB, a pack):
    // without it, pack-sized buffers came from the heap and their pages
    // stayed with the process. A million-file initial backup peaked at
    // 219 MiB before, 168 MiB with it, in the same time.
    #[cfg(target_env = "gnu")]
    // SAFETY: called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 4);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 20);
    }
    coffer_core::raise_open_files_limit();
    // A profile's settings become arguments first; clap then parses them
    // with the command line (which beats them) and the environment.
    let applied = match profile::inject::apply(std::env::args_os().collect()) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("coffer: error: {e}");
            std::process::exit(e.exit_code());
        }
    };
    let cli = args::Cli::parse_from(&applied.argv);
    let _ = profile::APPLIED.set(applied);
    let started = std::time::Instant::now();
    let metrics_name = cli.command.metrics_name();
    let code = match commands::run(cli.command, &cli.global) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("coffer: error: {e}");
            e.exit_code()
        }
    };
    if let (Some(path), Some(command)) = (&cli.global.metrics_file, metrics_name) {
        let profile = profile::APPLIED
            .get()
            .and_then(|a| a.profile.name.clone())
            .unwrap_or_default();
        let seconds = started.elapsed().as_secs_f64();
        if let Err(e) = metrics::write(path, &profile, command, code, seconds) {
            // Monitoring that cannot be written must be seen, but the
            // backup itself is what the exit code reports.
            eprintln!("coffer: warning: {e}");
        }
    }
    std::process::exit(code);
}
