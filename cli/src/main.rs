//! The `weir` command line. See `weir --help`.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
