use clap::Parser;
use leadpipe_loadtest::cli::Options;
use leadpipe_loadtest::orchestration;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    orchestration::run(Options::parse()).await
}
