//! `leadpipe-consumer lag-exporter`: the group lag of every partition, published on
//! `/metrics` every `lag_interval` by a process that does not consume. Run one beside
//! the consumers so that the lag — and the alert on it — stays visible when no consumer
//! is alive, or when every consumer is stuck. Ready while the broker answers.

use std::future::Future;
use std::net::TcpListener;
use std::sync::Arc;

use leadpipe_platform::KafkaConfig;

use crate::health::{Facts, Health};
use crate::lag::GroupLagProbe;
use crate::metrics::Metrics;
use crate::settings::Settings;
use crate::startup::StartupError;

pub async fn run(
    settings: &Settings,
    kafka: &KafkaConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<(), StartupError> {
    let metrics = Arc::new(Metrics::new());
    let health = Arc::new(Health::new(metrics.ready.clone()));
    let listener = TcpListener::bind(settings.http_addr).map_err(|source| StartupError::Bind {
        addr: settings.http_addr,
        source,
    })?;
    let http = crate::http::serve(listener, health.clone(), metrics.clone()).map_err(|source| {
        StartupError::Bind {
            addr: settings.http_addr,
            source,
        }
    })?;
    let probe = Arc::new(GroupLagProbe::new(
        kafka,
        &settings.group.group_id,
        &settings.common.topic,
    )?);
    let handle = http.handle();
    let server = tokio::spawn(http);
    tracing::info!(group = %settings.group.group_id, topic = %settings.common.topic, "exporting the group lag");
    let mut ticks = tokio::time::interval(settings.lag_interval());
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            _ = ticks.tick() => {}
        }
        let measuring = probe.clone();
        let broker = match tokio::task::spawn_blocking(move || measuring.measure()).await {
            Ok(Ok(lag)) => {
                metrics.publish_lag(probe.topic(), &lag, None);
                true
            }
            Ok(Err(error)) => {
                tracing::warn!(%error, "measuring the group lag failed");
                false
            }
            Err(join) => {
                tracing::error!(error = %join, "the lag measurement panicked");
                false
            }
        };
        health.update(Facts {
            database: true,
            broker,
            stalled: false,
        });
    }
    health.set_stopping();
    handle.stop(true).await;
    let _ = server.await;
    Ok(())
}
