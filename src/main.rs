//! The `guichet` binary: everything is in the library; see `cli.rs`.

fn main() -> std::process::ExitCode {
    guichet::cli::main()
}
