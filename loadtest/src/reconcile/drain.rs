//! Waiting for the consumer to catch up before counting rows. Two signals, polled
//! together: the group lag of every partition (`leadpipe_consumer_group_lag`, summed;
//! must be 0; the page read with `prometheus-parse`) from any consumer's or the lag
//! exporter's metrics URL when given, and the run's row count in `leads` (must reach the
//! number of accepted leads, or stop changing). A timeout bounds the wait.

use std::time::Duration;

use prometheus_parse::Value;
use serde::Serialize;
use tokio::time::Instant;
use url::Url;

use super::store::LeadsTable;
use crate::cli::{defaults, duration};

pub const LAG_METRIC: &str = "leadpipe_consumer_group_lag";

/// How long to wait for the consumer, and what to watch: the command line's drain
/// options, each also read from a `LEADPIPE_LOADTEST_*` variable; `default()` gives
/// their defaults.
#[derive(Debug, Clone, clap::Args)]
pub struct DrainOptions {
    /// The consumer's metrics URL (e.g. http://127.0.0.1:9091/metrics): before
    /// reconciling, also wait for the group lag of every partition
    /// (`leadpipe_consumer_group_lag`) to reach 0.
    #[arg(long, env = "LEADPIPE_LOADTEST_CONSUMER_METRICS")]
    pub consumer_metrics: Option<Url>,

    /// Longest wait for the consumer to drain before reconciling.
    #[arg(long = "drain-timeout", env = "LEADPIPE_LOADTEST_DRAIN_TIMEOUT", default_value = "120s", value_parser = duration)]
    pub timeout: Duration,

    /// A stored-row count unchanged this long ends the drain wait early (whatever is
    /// missing will not come).
    #[arg(long, env = "LEADPIPE_LOADTEST_SETTLE", default_value = "10s", value_parser = duration)]
    pub settle: Duration,

    /// How often the lag and the row count are read.
    #[arg(skip = Duration::from_millis(500))]
    pub poll: Duration,
}

impl Default for DrainOptions {
    fn default() -> Self {
        defaults()
    }
}

/// How the wait ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DrainEnd {
    /// Lag 0 (if watched) and at least as many rows as accepted leads.
    CaughtUp,
    /// Lag 0 (if watched) and the row count stopped changing below the accepted count.
    Settled,
    #[default]
    TimedOut,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Drain {
    pub end: DrainEnd,
    pub waited_secs: f64,
    /// Last summed lag seen; `None` if not watched or never read.
    pub last_lag: Option<i64>,
    /// How many partitions that lag covered (every partition of the topic: each
    /// consumer reports the group's lag of all of them).
    pub lag_partitions: Option<usize>,
    pub last_rows: Option<u64>,
    /// The last error reading lag or rows, if the last attempt failed.
    pub last_error: Option<String>,
}

/// Lag of the partitions a consumer reports in a Prometheus text page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lag {
    /// Sum over the reported partitions.
    pub total: i64,
    /// Partitions reported.
    pub partitions: usize,
}

/// Sum of every `leadpipe_consumer_group_lag` sample in a Prometheus text page; `None` when
/// there is none (no partition assigned yet) or the page does not parse.
pub fn total_lag(metrics: &str) -> Option<Lag> {
    let lines = metrics.lines().map(|line| Ok(line.to_owned()));
    let scrape = prometheus_parse::Scrape::parse(lines).ok()?;
    let values: Vec<f64> = (scrape.samples.iter())
        .filter(|sample| sample.metric == LAG_METRIC)
        .filter_map(|sample| match sample.value {
            Value::Gauge(value) | Value::Untyped(value) => Some(value),
            _ => None,
        })
        .collect();
    let total = values.iter().map(|&value| value as i64).sum();
    (!values.is_empty()).then_some(Lag {
        total,
        partitions: values.len(),
    })
}

async fn read_lag(http: &reqwest::Client, url: &Url) -> Result<Option<Lag>, String> {
    let page = async { http.get(url.clone()).send().await?.text().await };
    let text = page
        .await
        .map_err(|e| format!("consumer metrics at {url}: {e}"))?;
    Ok(total_lag(&text))
}

/// Waits until the run's rows have drained into `leads`, or until the timeout counted
/// from `started`. With `require_settled`, reaching the accepted count is not enough: the
/// count must also have stopped changing (used when a first look found ids missing).
pub async fn wait(
    table: &LeadsTable,
    campaigns: &[String],
    accepted: u64,
    options: &DrainOptions,
    started: Instant,
    require_settled: bool,
) -> Drain {
    let deadline = started + options.timeout;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()
        .unwrap_or_default();
    let mut drain = Drain::default();
    let mut unchanged_since = Instant::now();
    loop {
        let lag_ok = match &options.consumer_metrics {
            None => true,
            Some(url) => match read_lag(&http, url).await {
                Ok(lag) => {
                    drain.last_lag = lag.map(|l| l.total);
                    drain.lag_partitions = lag.map(|l| l.partitions);
                    drain.last_lag == Some(0)
                }
                Err(error) => {
                    drain.last_error = Some(error);
                    false
                }
            },
        };
        match table.count(campaigns).await {
            Ok(rows) => {
                if drain.last_rows.replace(rows) != Some(rows) {
                    unchanged_since = Instant::now();
                }
                if lag_ok {
                    drain.last_error = None;
                }
            }
            Err(error) => drain.last_error = Some(format!("counting rows: {error}")),
        }
        let settled = drain.last_rows.is_some() && unchanged_since.elapsed() >= options.settle;
        let caught_up = drain.last_rows.is_some_and(|rows| rows >= accepted);
        drain.end = if lag_ok && caught_up && (!require_settled || settled) {
            DrainEnd::CaughtUp
        } else if lag_ok && settled {
            DrainEnd::Settled
        } else if Instant::now() >= deadline {
            DrainEnd::TimedOut
        } else {
            tokio::time::sleep(options.poll).await;
            continue;
        };
        drain.waited_secs = started.elapsed().as_secs_f64();
        return drain;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_is_summed_over_every_partition_sample() {
        let page = "\
# HELP leadpipe_consumer_group_lag Messages not yet stored.
# TYPE leadpipe_consumer_group_lag gauge
leadpipe_consumer_group_lag{partition=\"0\",topic=\"leads\"} 3
leadpipe_consumer_group_lag{partition=\"1\",topic=\"leads\"} 0
leadpipe_consumer_group_lag{partition=\"2\",topic=\"leads\"} 12
leadpipe_consumer_group_lag_seconds 99
leadpipe_consumer_lag{partition=\"2\",topic=\"leads\"} 12
leadpipe_consumer_rows_inserted_total 100
";
        assert_eq!(
            total_lag(page),
            Some(Lag {
                total: 15,
                partitions: 3
            })
        );
    }

    #[test]
    fn no_lag_sample_is_not_zero_lag() {
        assert_eq!(total_lag("leadpipe_consumer_rows_inserted_total 5\n"), None);
        assert_eq!(
            total_lag("leadpipe_consumer_group_lag{partition=\"0\",topic=\"t\"} 0\n"),
            Some(Lag {
                total: 0,
                partitions: 1
            })
        );
    }
}
