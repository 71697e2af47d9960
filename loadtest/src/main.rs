use clap::Parser;
use leadpipe_loadtest::cli::{self, Options};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    cli::run(Options::parse()).await
}
