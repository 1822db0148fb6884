//! The `guichet` binary: everything is in the library; see `cli/mod.rs`.

fn main() -> std::process::ExitCode {
    guichet::cli::main()
}
