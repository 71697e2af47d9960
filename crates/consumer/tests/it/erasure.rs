//! Erasure that survives a replay: `leadpipe-consumer erase` deletes a person's rows and
//! records their keyed hash; the insert skips them from then on, whatever the topic or
//! the dead-letter topic still holds.

use std::process::{Command, Output};
use std::time::Duration;

use leadpipe_consumer::erasure::{self, ErasureError, ErasureKey, Person};
use leadpipe_consumer::store::StoreError;
use leadpipe_consumer::LeadStore;
use leadpipe_domain::{AcceptedLead, ConsentPolicy, LeadMessage};
use leadpipe_platform::Secret;
use leadpipe_testkit::leads::{lead_message, lead_records, produce_all};
use leadpipe_testkit::{create_topics, kafka, shared, unique_name, wait_for, TestDatabase};
use sqlx::PgPool;

use crate::support::{consumer_env, start_consumer};

const KEY: &str = "the erasure key of the tests, 32 bytes";

fn key() -> ErasureKey {
    ErasureKey::new(&Secret::new(KEY)).unwrap()
}

fn accepted(n: u32) -> AcceptedLead {
    LeadMessage::decode(&lead_message(n).to_json(), ConsentPolicy::default()).unwrap()
}

async fn count(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

#[sqlx::test(migrations = "../../migrations")]
async fn an_erased_person_is_never_stored_again(pool: PgPool) {
    let store = LeadStore::from_pool(pool.clone()).with_erasure_key(Some(key()));
    let leads: Vec<AcceptedLead> = (0..3).map(accepted).collect();
    assert_eq!(store.insert_batch(&leads).await.unwrap().inserted, 3);

    // lead 1 by its email, in another case; lead 2 by its phone, in another format.
    let email = Person::email(&leads[1].lead.email.as_str().to_uppercase()).unwrap();
    assert_eq!(erasure::erase(&pool, &key(), &email).await.unwrap(), 1);
    let e164 = leads[2].lead.phone.e164();
    let spaced = format!("+82 {} {}", &e164[3..5], &e164[5..]);
    let phone = Person::phone(None, &spaced).unwrap();
    assert_eq!(erasure::erase(&pool, &key(), &phone).await.unwrap(), 1);
    assert_eq!(count(&pool, "SELECT count(*) FROM leads").await, 1);

    // The very same leads again (a replay): only the one not erased is there.
    let again = store.insert_batch(&leads).await.unwrap();
    assert_eq!((again.inserted, again.erased, again.duplicates), (0, 2, 1));
    assert_eq!(count(&pool, "SELECT count(*) FROM leads").await, 1);
    assert_eq!(count(&pool, "SELECT count(*) FROM erasures").await, 2);
    let log: Vec<i32> = sqlx::query_scalar("SELECT rows_removed FROM erasure_log ORDER BY id")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(log, vec![1, 1]);
    // What is recorded identifies nobody without the key.
    let recorded: String =
        sqlx::query_scalar("SELECT string_agg(encode(hash, 'escape'), ' ') FROM erasures")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(
        !recorded.contains("example.com") && !recorded.contains(e164),
        "{recorded}"
    );

    // Erasing nobody removes nothing, and is recorded as such.
    let nobody = Person::email("nobody@example.com").unwrap();
    assert_eq!(erasure::erase(&pool, &key(), &nobody).await.unwrap(), 0);
}

#[sqlx::test(migrations = "../../migrations")]
async fn an_erasure_during_a_batch_insert_leaves_nothing_of_the_person(pool: PgPool) {
    let store = LeadStore::from_pool(pool.clone()).with_erasure_key(Some(key()));
    for round in 0..5u32 {
        let base = round * 2000;
        let leads: Vec<AcceptedLead> = (base..base + 2000).map(accepted).collect();
        let person = Person::email(leads[1000 + round as usize * 100].lead.email.as_str()).unwrap();
        let key = key();
        let (inserted, erased) = tokio::join!(
            store.insert_batch(&leads),
            erasure::erase(&pool, &key, &person)
        );
        inserted.unwrap();
        erased.unwrap();
        let Person::Email(email) = &person else {
            unreachable!()
        };
        let left: i64 =
            sqlx::query_scalar("SELECT count(*) FROM leads WHERE lower(email) = lower($1)")
                .bind(email.as_str())
                .fetch_one(&pool)
                .await
                .unwrap();
        assert_eq!(left, 0, "round {round}: the erased person is not stored");
    }
}

#[sqlx::test(migrations = "../../migrations")]
async fn without_the_recorded_key_nothing_is_stored_or_erased(pool: PgPool) {
    let person = Person::email(lead_message(1).email.as_ref()).unwrap();
    erasure::erase(&pool, &key(), &person).await.unwrap();
    let before = count(&pool, "SELECT count(*) FROM erasures").await;

    let other = ErasureKey::new(&Secret::new("another key, also 32 bytes long")).unwrap();
    let error = erasure::erase(&pool, &other, &Person::email("x@example.com").unwrap())
        .await
        .unwrap_err();
    assert!(matches!(error, ErasureError::WrongKey), "{error}");
    assert_eq!(count(&pool, "SELECT count(*) FROM erasures").await, before);

    for store in [
        LeadStore::from_pool(pool.clone()),
        LeadStore::from_pool(pool.clone()).with_erasure_key(Some(other)),
    ] {
        let error = store.insert_batch(&[accepted(7)]).await.unwrap_err();
        assert!(matches!(error, StoreError::ErasureKey), "{error}");
        assert!(
            error.to_string().contains("LEADPIPE_ERASURE_KEY_FILE"),
            "{error}"
        );
    }
    assert_eq!(count(&pool, "SELECT count(*) FROM leads").await, 0);
}

fn consumer_command(args: &[&str], env: &[(&'static str, String)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_leadpipe-consumer"))
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .unwrap()
}

/// The whole loop through Kafka: a stored lead is erased with the command, then the very
/// same record (its bytes) is produced again; the running consumer skips it, counts it,
/// and commits its offset.
#[tokio::test]
async fn erase_then_replay_the_same_record_and_the_person_stays_erased() {
    let brokers = shared::brokers();
    let topic = unique_name("leads");
    create_topics(&brokers, &topic, 1).await;
    let db = TestDatabase::create().await;
    let group = unique_name("leadpipe-erase");
    let mut env = consumer_env(&brokers, &topic, &group, &db.url);
    env.push(("LEADPIPE_ERASURE_KEY", KEY.to_owned()));
    let records = lead_records(0..3);
    produce_all(&brokers, &topic, &records).await;
    let mut consumer = start_consumer(&env);
    wait_for("3 stored", Duration::from_secs(30), || async {
        (db.count().await == 3).then_some(())
    })
    .await;

    let email = lead_message(1).email.into_owned();
    let output = consumer_command(&["erase", "--email", &email], &env);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{output:?}");
    assert!(stdout.contains("1 row(s) removed"), "{stdout}");
    assert!(stdout.contains("retention"), "{stdout}");
    assert!(
        !stdout.contains(&email),
        "the address is not echoed: {stdout}"
    );
    assert_eq!(db.count().await, 2);

    produce_all(&brokers, &topic, &records[1..2]).await;
    wait_for(
        "the replayed record consumed",
        Duration::from_secs(30),
        || async {
            let skipped = consumer
                .metrics()
                .await?
                .value("leadpipe_consumer_erased_skipped_total", &[])?;
            (skipped >= 1.0 && kafka::group_caught_up(&brokers, &topic, &group).ok()?).then_some(())
        },
    )
    .await;
    assert_eq!(db.count().await, 2, "the erased person is not stored again");

    // Erasing nobody: nothing removed, exit 0.
    let nobody = consumer_command(&["erase", "--phone", "+82 10-9999-0000"], &env);
    assert!(nobody.status.success(), "{nobody:?}");
    assert!(String::from_utf8_lossy(&nobody.stdout).contains("0 row(s) removed"));
    assert_eq!(consumer.stop(Duration::from_secs(30)).await.code(), Some(0));
    db.drop_database().await;
}

#[tokio::test]
async fn a_missing_or_wrong_key_is_a_clear_error_and_changes_nothing() {
    let db = TestDatabase::create().await;
    let pool = db.pool().await.unwrap();
    let env = vec![("LEADPIPE_DATABASE_URL", db.url.clone())];
    LeadStore::from_pool(pool.clone())
        .insert_batch(&[accepted(1)])
        .await
        .unwrap();
    let stored = lead_message(1).email.into_owned();

    let missing = consumer_command(&["erase", "--email", &stored], &env);
    assert_eq!(missing.status.code(), Some(2), "{missing:?}");
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(stderr.contains("LEADPIPE_ERASURE_KEY_FILE"), "{stderr}");

    let mut keyed = env.clone();
    keyed.push(("LEADPIPE_ERASURE_KEY", KEY.to_owned()));
    let first = consumer_command(&["erase", "--email", "someone@example.com"], &keyed);
    assert!(first.status.success(), "{first:?}");
    let mut wrong = env.clone();
    wrong.push((
        "LEADPIPE_ERASURE_KEY",
        "a different key, 32 bytes long..".to_owned(),
    ));
    let refused = consumer_command(&["erase", "--email", &stored], &wrong);
    assert_eq!(refused.status.code(), Some(2), "{refused:?}");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("not the one earlier erasures were recorded with"),
        "{stderr}"
    );
    assert_eq!(db.count().await, 1, "nothing deleted");
    assert_eq!(count(&pool, "SELECT count(*) FROM erasures").await, 1);
    db.drop_database().await;
}

/// A dead letter of an erased person is never republished by `dlq replay`.
#[tokio::test]
async fn a_dead_letter_of_an_erased_person_is_not_replayed() {
    let brokers = shared::brokers();
    let topic = unique_name("leads");
    create_topics(&brokers, &topic, 1).await;
    let db = TestDatabase::create().await;
    let group = unique_name("leadpipe-erase-dlq");
    let mut env = consumer_env(&brokers, &topic, &group, &db.url);
    env.push(("LEADPIPE_ERASURE_KEY", KEY.to_owned()));
    // Without consent: dead-lettered while consent is required.
    let mut message = lead_message(5);
    message.privacy_consent = false;
    message.consented_at = None;
    produce_all(
        &brokers,
        &topic,
        &[(message.id.to_string(), message.to_json())],
    )
    .await;
    let mut consumer = start_consumer(&env);
    wait_for("dead-lettered", Duration::from_secs(30), || async {
        let page = consumer.metrics().await?;
        (page.value(
            "leadpipe_consumer_dlq_messages_total",
            &[("reason", "invalid")],
        )? >= 1.0)
            .then_some(())
    })
    .await;
    assert_eq!(consumer.stop(Duration::from_secs(30)).await.code(), Some(0));

    let erased = consumer_command(&["erase", "--email", message.email.as_ref()], &env);
    assert!(erased.status.success(), "{erased:?}");
    let mut lenient = env.clone();
    lenient.push(("LEADPIPE_REQUIRE_CONSENT", "false".to_owned()));
    let replay = consumer_command(&["dlq", "replay"], &lenient);
    let stdout = String::from_utf8_lossy(&replay.stdout);
    assert!(replay.status.success(), "{replay:?}");
    assert!(
        stdout.contains("1 of erased people (never republished)")
            && stdout.contains("republished 0"),
        "{stdout}"
    );
    db.drop_database().await;
}
