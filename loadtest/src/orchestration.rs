//! The sequence behind `main`: the load run, then (if a database is given) the wait for
//! the consumer and the reconciliation, then the terminal summary and the reports, and
//! the exit code that sums them up.

use std::process::ExitCode;

use crate::cli::Options;
use crate::reconcile;
use crate::report::{self, text, Report};
use crate::runner;

/// Exit code when reconciliation found a gap.
pub const EXIT_GAPS: u8 = 1;
/// Exit code when the run or the reconciliation could not be carried out.
pub const EXIT_ERROR: u8 = 2;

/// Runs the load, reconciles if asked, prints the summary and writes the reports.
pub async fn run(options: Options) -> ExitCode {
    let config = options.load_config();
    eprintln!(
        "leadpipe-loadtest: {} requests/s for {} s to {} (run {}, seed {})",
        config.rate,
        config.duration.as_secs_f64(),
        crate::client::endpoint(&config.target),
        config.run_tag,
        config.seed
    );
    let run = match runner::run(&config).await {
        Ok(run) => run,
        Err(error) => {
            eprintln!("leadpipe-loadtest: {error}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    let mut status = ExitCode::SUCCESS;
    let reconciliation = match &options.verify_db {
        None => None,
        Some(url) => {
            eprintln!(
                "leadpipe-loadtest: sending done; waiting for the consumer to drain (up to {} s), then reconciling",
                options.drain_timeout.as_secs_f64()
            );
            match reconcile::reconcile(url, &run, &options.drain_options()).await {
                Ok(reconciliation) => {
                    if !reconciliation.is_clean() {
                        status = ExitCode::from(EXIT_GAPS);
                    }
                    Some(reconciliation)
                }
                Err(error) => {
                    eprintln!("leadpipe-loadtest: reconciliation failed: {error}");
                    status = ExitCode::from(EXIT_ERROR);
                    None
                }
            }
        }
    };
    let report = Report::new(&run, reconciliation);
    println!("{}", text::summary(&report));
    match report::write(&options.report_dir, &report) {
        Ok(written) => println!(
            "reports: {} and {}",
            written.json.display(),
            written.html.display()
        ),
        Err(error) => {
            eprintln!("leadpipe-loadtest: {error}");
            status = ExitCode::from(EXIT_ERROR);
        }
    }
    status
}
