//! The `realtime-lab` binary: the command line of the library, with the built-in strategies.

fn main() -> std::process::ExitCode {
    realtime_lab::cli::main_with(realtime_lab::Lab::builtin())
}
