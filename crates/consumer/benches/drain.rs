//! Throughput of the consumer, and of the ways to insert a batch, on this machine.
//!
//! ```text
//! cargo bench -p leadpipe-consumer --bench drain -- [MESSAGES] [PARTITIONS] [memory|sqlite]
//! ```
//!
//! (defaults 500000, 4 and sqlite). It starts a Tansu broker of its own (with in-memory
//! or SQLite storage), creates a database on
//! the shared server (`LEADPIPE_TEST_DATABASE_URL`), and prints:
//! 1. the time to pre-fill the topic with MESSAGES valid lead messages;
//! 2. the time to read them back with a bare consumer (the broker's share);
//! 3. the drain: the consumer (production settings, in-process) from start until every
//!    row is in `leads`;
//! 4. the same rows written straight from memory in batches of 1000, by the production
//!    `UNNEST` insert and by COPY into a staging table followed by `INSERT … SELECT`, then
//!    by the production insert with the erasure check on (a key, 1000 people erased);
//! 5. one `COPY` of all rows into the empty table: the database's ceiling.
//!
//! The last line repeats the rates as one JSON object, for `bench/bench.py`.
//! Benchmarks print numbers; the tests assert behaviour.

use std::time::{Duration, Instant};

use leadpipe_consumer::{Application, LeadStore, Settings};
use leadpipe_domain::{AcceptedLead, ConsentPolicy, LeadMessage, SCHEMA_VERSION};
use leadpipe_platform::{ClientRole, KafkaSettings};
use leadpipe_testkit::{kafka, leads, unique_name, Tansu, TestDatabase};
use rdkafka::consumer::{Consumer, StreamConsumer};
use sqlx::PgPool;

const BATCH: usize = 1000;

/// The rates measured so far, in order, for the final JSON line.
struct Figures(Vec<(String, f64)>);

impl Figures {
    /// Prints `label` with the rate of `rows` in `elapsed` and keeps it.
    fn rate(&mut self, label: &str, rows: usize, elapsed: Duration) {
        let per_s = rows as f64 / elapsed.as_secs_f64();
        println!(
            "{label:<36} {per_s:>9.0} rows/s  ({:.2} s)",
            elapsed.as_secs_f64()
        );
        self.0.push((label.to_owned(), per_s.round()));
    }

    fn json(&self) -> String {
        let map: serde_json::Map<String, serde_json::Value> = self
            .0
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::json!(v)))
            .collect();
        serde_json::Value::Object(map).to_string()
    }
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1).filter(|a| !a.starts_with("--"));
    let messages: u32 = args
        .next()
        .map(|a| a.parse().expect("MESSAGES is a number"))
        .unwrap_or(500_000);
    let partitions: i32 = args
        .next()
        .map(|a| a.parse().expect("PARTITIONS is a number"))
        .unwrap_or(4);
    let memory = args.next().is_some_and(|a| a == "memory");
    let n = messages as usize;
    println!(
        "drain benchmark: {messages} messages, {partitions} partitions, batches of {BATCH}, {} broker",
        if memory { "in-memory" } else { "SQLite" }
    );
    let mut figures = Figures(Vec::new());

    let broker = if memory {
        Tansu::builder().memory().start().unwrap()
    } else {
        Tansu::start().unwrap()
    };
    let brokers = broker.brokers();
    let topic = unique_name("bench-leads");
    kafka::create_topic(&brokers, &topic, partitions)
        .await
        .unwrap();
    let db = TestDatabase::create().await;
    let pool = db.pool().await.expect("the database answers");
    // The sample leads' month gets its partition, as the consumer creates the current
    // month's ahead of time: the rows go where production rows go.
    sqlx::query("SELECT create_lead_partitions('2026-03-01Z', '2026-03-31Z')")
        .execute(&pool)
        .await
        .unwrap();

    // 1. Pre-fill.
    let records = leads::lead_records(0..messages);
    let started = Instant::now();
    for chunk in records.chunks(50_000) {
        leads::produce_all(&brokers, &topic, chunk).await;
    }
    figures.rate("pre-fill (produce, acks=all)", n, started.elapsed());

    // 2. The broker alone: read everything back, no decoding, no database.
    let read = read_all(&brokers, &topic, n).await;
    figures.rate("broker read (bare consumer)", n, read);

    // 3. The drain.
    let mut settings = Settings::defaults();
    settings.common.kafka.brokers = brokers.parse().unwrap();
    settings.common.topic = topic.clone();
    settings.dlq_topic = format!("{topic}.dlq");
    settings.group.group_id = unique_name("bench-consumer");
    settings.database_url = db.url.clone();
    settings.http_addr = "127.0.0.1:0".parse().unwrap();
    let kafka = settings.common.kafka.validate().unwrap();
    let app = Application::build(&settings, &kafka).await.unwrap();
    let metrics = app.metrics();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let started = Instant::now();
    let running = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    let mut first_row = None;
    while metrics.rows_inserted.get() < n as u64 {
        if first_row.is_none() && metrics.rows_inserted.get() > 0 {
            first_row = Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert!(
            started.elapsed() < Duration::from_secs(1800),
            "drain did not finish"
        );
    }
    let drained = started.elapsed();
    let first_row = first_row.unwrap_or_default();
    stop.send(()).unwrap();
    running.await.unwrap().unwrap();
    assert_eq!(db.count().await, n as i64);
    figures.rate("consumer drain (start to all stored)", n, drained);
    figures.rate("consumer drain after the first row", n, drained - first_row);

    // 4 and 5: the same rows, straight from memory.
    let leads: Vec<AcceptedLead> = records
        .iter()
        .map(|(_, payload)| LeadMessage::decode(payload, ConsentPolicy::default()).unwrap())
        .collect();
    let store = LeadStore::from_pool(pool.clone());
    for round in 1..=2 {
        let elapsed = timed_store(&pool, &store, &leads).await;
        figures.rate(
            &format!("UNNEST insert (batches of {BATCH}), round {round}"),
            n,
            elapsed,
        );

        truncate(&pool).await;
        let started = Instant::now();
        for batch in leads.chunks(BATCH) {
            copy_staging_insert(&pool, batch).await;
        }
        figures.rate(
            &format!("COPY to staging + insert, round {round}"),
            n,
            started.elapsed(),
        );
    }
    assert_eq!(db.count().await, n as i64);

    // 4b. The production insert with the erasure check on: a key, and 1000 people erased
    // (none of them in the batches, so every row is still inserted).
    let key = leadpipe_consumer::erasure::ErasureKey::new(&leadpipe_platform::Secret::new(
        "the key of the drain benchmark, 32",
    ))
    .unwrap();
    for person in 0..1000 {
        let email = format!("erased-{person}@example.com");
        let person = leadpipe_consumer::erasure::Person::email(&email).unwrap();
        leadpipe_consumer::erasure::erase(&pool, &key, &person)
            .await
            .unwrap();
    }
    let checked = LeadStore::from_pool(pool.clone()).with_erasure_key(Some(key));
    for round in 1..=2 {
        let elapsed = timed_store(&pool, &checked, &leads).await;
        figures.rate(
            &format!("UNNEST insert, erasure check, round {round}"),
            n,
            elapsed,
        );
    }
    assert_eq!(db.count().await, n as i64);

    truncate(&pool).await;
    let started = Instant::now();
    let mut conn = pool.acquire().await.unwrap();
    let mut copy = conn
        .copy_in_raw(&format!("COPY leads ({COLUMNS}) FROM STDIN (FORMAT csv)"))
        .await
        .unwrap();
    for chunk in leads.chunks(10_000) {
        copy.send(csv(chunk)).await.unwrap();
    }
    copy.finish().await.unwrap();
    drop(conn);
    figures.rate("plain COPY of all rows", n, started.elapsed());
    assert_eq!(db.count().await, n as i64);

    db.drop_database().await;
    drop(broker);
    println!("{}", figures.json());
}

async fn read_all(brokers: &str, topic: &str, n: usize) -> Duration {
    let group = unique_name("bench-reader");
    let consumer: StreamConsumer = KafkaSettings::plaintext(brokers)
        .validate()
        .unwrap()
        .client(ClientRole::GroupMember { group_id: &group }, "bench-reader")
        .create()
        .unwrap();
    consumer.subscribe(&[topic]).unwrap();
    let started = Instant::now();
    for _ in 0..n {
        tokio::time::timeout(Duration::from_secs(60), consumer.recv())
            .await
            .expect("messages keep coming")
            .unwrap();
    }
    started.elapsed()
}

/// How long `store` takes to write `leads` in batches of [`BATCH`] into an empty table.
async fn timed_store(pool: &PgPool, store: &LeadStore, leads: &[AcceptedLead]) -> Duration {
    truncate(pool).await;
    let started = Instant::now();
    for batch in leads.chunks(BATCH) {
        store.insert_batch(batch).await.unwrap();
    }
    started.elapsed()
}

async fn truncate(pool: &PgPool) {
    sqlx::query("TRUNCATE leads, lead_ids")
        .execute(pool)
        .await
        .unwrap();
    sqlx::query("VACUUM ANALYZE leads, lead_ids")
        .execute(pool)
        .await
        .unwrap();
}

const COLUMNS: &str = "id, campaign, name, email, country_code, phone_e164, privacy_consent, consented_at, \
     received_at, utm_source, utm_medium, utm_campaign, utm_term, utm_content, page_url, schema_version";

/// The alternative to the production insert: COPY into a temporary staging table, then
/// the ids claimed in `lead_ids` and `INSERT … SELECT` of the claimed ones, in one
/// transaction.
async fn copy_staging_insert(pool: &PgPool, batch: &[AcceptedLead]) {
    let unique = leadpipe_consumer::store::unique_by_id(batch);
    let unique: Vec<AcceptedLead> = unique.into_iter().cloned().collect();
    let mut tx = pool.begin().await.unwrap();
    sqlx::query(
        "CREATE TEMP TABLE IF NOT EXISTS leads_staging (LIKE leads INCLUDING DEFAULTS) ON COMMIT DELETE ROWS",
    )
    .execute(&mut *tx)
    .await
    .unwrap();
    let mut copy = tx
        .copy_in_raw(&format!(
            "COPY leads_staging ({COLUMNS}) FROM STDIN (FORMAT csv)"
        ))
        .await
        .unwrap();
    copy.send(csv(&unique)).await.unwrap();
    copy.finish().await.unwrap();
    sqlx::query(&format!(
        "WITH claimed AS (INSERT INTO lead_ids (id, received_at) SELECT id, received_at FROM leads_staging \
         ON CONFLICT (id) DO NOTHING RETURNING id) \
         INSERT INTO leads ({COLUMNS}) SELECT {COLUMNS} FROM leads_staging WHERE id IN (SELECT id FROM claimed)"
    ))
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

/// CSV rows in `COLUMNS` order: text quoted, `NULL` as an unquoted empty field.
fn csv(leads: &[AcceptedLead]) -> Vec<u8> {
    fn text(out: &mut String, value: &str) {
        out.push('"');
        out.push_str(&value.replace('"', "\"\""));
        out.push_str("\",");
    }
    fn optional(out: &mut String, value: Option<&str>) {
        match value {
            Some(v) => text(out, v),
            None => out.push(','),
        }
    }
    let mut out = String::with_capacity(leads.len() * 300);
    for accepted in leads {
        let lead = &accepted.lead;
        out.push_str(&format!("{},", accepted.id));
        text(&mut out, lead.campaign.as_str());
        text(&mut out, lead.name.as_str());
        text(&mut out, lead.email.as_str());
        text(&mut out, &lead.phone.calling_code().to_string());
        text(&mut out, lead.phone.e164());
        out.push_str(if lead.privacy_consent { "t," } else { "f," });
        optional(
            &mut out,
            accepted.consented_at.map(|t| t.to_rfc3339()).as_deref(),
        );
        out.push_str(&format!("{},", accepted.received_at.to_rfc3339()));
        for label in [
            &lead.utm.source,
            &lead.utm.medium,
            &lead.utm.campaign,
            &lead.utm.term,
            &lead.utm.content,
        ] {
            optional(&mut out, label.as_ref().map(|l| l.as_str()));
        }
        optional(&mut out, lead.page_url.as_ref().map(|u| u.as_str()));
        out.push_str(&format!("{SCHEMA_VERSION}\n"));
    }
    out.into_bytes()
}
