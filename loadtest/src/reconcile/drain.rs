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

pub const LAG_METRIC: &str = "leadpipe_consumer_group_lag";

#[derive(Debug, Clone)]
pub struct DrainOptions {
    /// The consumer's `/metrics` URL; without it only the row count is watched.
    pub consumer_metrics: Option<Url>,
    /// Longest wait for the drain.
    pub timeout: Duration,
    /// A row count unchanged this long counts as drained (whatever is missing will not
    /// come).
    pub settle: Duration,
    pub poll: Duration,
}

impl Default for DrainOptions {
    fn default() -> Self {
        Self {
            consumer_metrics: None,
            timeout: Duration::from_secs(120),
            settle: Duration::from_secs(10),
            poll: Duration::from_millis(500),
        }
    }
}

/// How the wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DrainEnd {
    /// Lag 0 (if watched) and at least as many rows as accepted leads.
    CaughtUp,
    /// Lag 0 (if watched) and the row count stopped changing below the accepted count.
    Settled,
    TimedOut,
}

#[derive(Debug, Clone, Serialize)]
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

impl Drain {
    /// The last lag seen, as the reports print it: `0 over 12 partitions`, or `not read`.
    pub fn lag_text(&self) -> String {
        match (self.last_lag, self.lag_partitions) {
            (Some(lag), Some(partitions)) => format!("{lag} over {partitions} partitions"),
            _ => "not read".to_owned(),
        }
    }
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
    scrape
        .samples
        .iter()
        .filter(|sample| sample.metric == LAG_METRIC)
        .filter_map(|sample| match sample.value {
            Value::Gauge(value) | Value::Untyped(value) => Some(value),
            _ => None,
        })
        .fold(None, |lag: Option<Lag>, value| {
            let Lag { total, partitions } = lag.unwrap_or(Lag {
                total: 0,
                partitions: 0,
            });
            Some(Lag {
                total: total + value as i64,
                partitions: partitions + 1,
            })
        })
}

async fn read_lag(http: &reqwest::Client, url: &Url) -> Result<Option<Lag>, String> {
    let response = http
        .get(url.clone())
        .send()
        .await
        .map_err(|e| format!("consumer metrics at {url}: {e}"))?;
    let text = response
        .text()
        .await
        .map_err(|e| format!("consumer metrics at {url}: {e}"))?;
    Ok(total_lag(&text))
}

/// Waits until the run's rows have drained into `leads`, or `deadline`. With
/// `require_settled`, reaching the accepted count is not enough: the count must also
/// have stopped changing (used when a first look found ids still missing).
pub async fn wait(
    table: &LeadsTable,
    campaigns: &[String],
    accepted: u64,
    options: &DrainOptions,
    started: Instant,
    deadline: Instant,
    require_settled: bool,
) -> Drain {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()
        .unwrap_or_default();
    let mut last_lag = None;
    let mut lag_partitions = None;
    let mut last_rows: Option<u64> = None;
    let mut last_error = None;
    let mut unchanged_since = Instant::now();
    loop {
        let lag_ok = match &options.consumer_metrics {
            None => true,
            Some(url) => match read_lag(&http, url).await {
                Ok(lag) => {
                    last_lag = lag.map(|l| l.total);
                    lag_partitions = lag.map(|l| l.partitions);
                    last_lag == Some(0)
                }
                Err(error) => {
                    last_error = Some(error);
                    false
                }
            },
        };
        match table.count(campaigns).await {
            Ok(rows) => {
                if last_rows != Some(rows) {
                    unchanged_since = Instant::now();
                    last_rows = Some(rows);
                }
                if lag_ok {
                    last_error = None;
                }
            }
            Err(error) => last_error = Some(format!("counting rows: {error}")),
        }
        let settled = last_rows.is_some() && unchanged_since.elapsed() >= options.settle;
        let caught_up = last_rows.is_some_and(|rows| rows >= accepted);
        let end = if lag_ok && caught_up && (!require_settled || settled) {
            Some(DrainEnd::CaughtUp)
        } else if lag_ok && settled {
            Some(DrainEnd::Settled)
        } else if Instant::now() >= deadline {
            Some(DrainEnd::TimedOut)
        } else {
            None
        };
        if let Some(end) = end {
            return Drain {
                end,
                waited_secs: started.elapsed().as_secs_f64(),
                last_lag,
                lag_partitions,
                last_rows,
                last_error,
            };
        }
        tokio::time::sleep(options.poll).await;
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
