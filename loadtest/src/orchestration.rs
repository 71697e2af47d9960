//! The sequence behind `main`: the load run, then (if a database is given) the wait for
//! the consumer and the reconciliation, then the terminal summary and the reports, and
//! the exit code that sums them up.

use std::process::ExitCode;

use crate::cli::Options;
use crate::reconcile;
use crate::report::{self, text, Report};
use crate::runner::{self, LoadConfig};

/// Exit code when reconciliation found a gap.
pub const EXIT_GAPS: u8 = 1;
/// Exit code when the run or the reconciliation could not be carried out.
pub const EXIT_ERROR: u8 = 2;

/// Runs the load, reconciles if asked, prints the summary and writes the reports.
pub async fn run(options: Options) -> ExitCode {
    // Requests are recorded when the run is reconciled.
    let keep_records = options.verify_db.is_some();
    let config = LoadConfig {
        keep_records,
        ..options.run.clone()
    };
    let (rate, seconds, seed) = (config.rate, config.duration.as_secs_f64(), config.seed);
    let (endpoint, tag) = (crate::client::endpoint(&config.target), &config.run_tag);
    eprintln!("leadpipe-loadtest: {rate} requests/s for {seconds} s to {endpoint} (run {tag}, seed {seed})");
    let run = match runner::run(&config).await {
        Ok(run) => run,
        Err(error) => {
            eprintln!("leadpipe-loadtest: {error}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    let mut status = ExitCode::SUCCESS;
    let mut reconciliation = None;
    if let Some(url) = &options.verify_db {
        eprintln!(
            "leadpipe-loadtest: sending done; waiting for the consumer to drain (up to {} s), then reconciling",
            options.drain.timeout.as_secs_f64()
        );
        match reconcile::reconcile(url, &run, &options.drain).await {
            Ok(done) if !done.is_clean() => {
                (status, reconciliation) = (EXIT_GAPS.into(), Some(done))
            }
            Ok(done) => reconciliation = Some(done),
            Err(error) => {
                eprintln!("leadpipe-loadtest: reconciliation failed: {error}");
                status = ExitCode::from(EXIT_ERROR);
            }
        }
    }
    let report = Report::new(&run, reconciliation);
    println!("{}", text::summary(&report));
    match report::write(&options.report_dir, &report) {
        Ok([json, html]) => println!("reports: {} and {}", json.display(), html.display()),
        Err(error) => {
            eprintln!("leadpipe-loadtest: {error}");
            status = ExitCode::from(EXIT_ERROR);
        }
    }
    status
}
