//! PostgreSQL over TLS: a cluster of the test's own with `ssl=on` and a server
//! certificate from a CA the test makes. With `sslmode=verify-full` and the right CA
//! (`sslrootcert`) the consumer migrates and stores; with another CA or a host name the
//! certificate does not name it refuses, says why in its log, and is not ready. The
//! password comes from `LEADPIPE_DATABASE_PASSWORD_FILE`.

use std::time::Duration;

use leadpipe_testkit::{
    kafka, shared, unique_name, wait_for, PgCluster, TestCa, TestDatabase, TLS_CLUSTER_PASSWORD,
};

use crate::support::{consumer_env, start_consumer};
use leadpipe_testkit::leads::{lead_records, produce_all};

struct Secured {
    ca: TestCa,
    cluster: PgCluster,
    db: TestDatabase,
    password_file: tempfile::NamedTempFile,
}

impl Secured {
    async fn start() -> Self {
        let ca = TestCa::new("leadpipe test database CA").unwrap();
        let cluster = PgCluster::start_with_tls(&ca, &["localhost"]).unwrap();
        let db = TestDatabase::create_empty_on(&cluster.server_url()).await;
        let password_file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(password_file.path(), format!("{TLS_CLUSTER_PASSWORD}\n")).unwrap();
        Self {
            ca,
            cluster,
            db,
            password_file,
        }
    }

    /// The database's URL without a password, with TLS parameters.
    fn url(&self, host: &str, sslmode: &str, ca: &TestCa) -> String {
        format!(
            "postgres://postgres@{host}:{}/{}?sslmode={sslmode}&sslrootcert={}",
            self.cluster.port(),
            self.db.name,
            ca.cert_path().display()
        )
    }

    fn password_file(&self) -> String {
        self.password_file.path().display().to_string()
    }

    /// Connections the server sees as TLS from the consumer.
    async fn tls_connections(&self) -> i64 {
        self.db
            .scalar(
                "SELECT count(*) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) \
                 WHERE ssl AND application_name = 'leadpipe-consumer'",
            )
            .await
            .unwrap_or(0)
    }
}

#[tokio::test]
async fn with_verify_full_and_the_right_ca_the_consumer_migrates_and_stores_over_tls() {
    let secured = Secured::start().await;
    let url = secured.url("localhost", "verify-full", &secured.ca);
    let password_file = secured.password_file();
    secured
        .db
        .migrate(&url, &[("LEADPIPE_DATABASE_PASSWORD_FILE", &password_file)])
        .expect("migrate over TLS with the password from a file");

    let brokers = shared::brokers();
    let topic = unique_name("leads");
    kafka::create_topic(&brokers, &topic, 2).await.unwrap();
    let mut env = consumer_env(&brokers, &topic, &unique_name("leadpipe-tls"), &url);
    env.push(("LEADPIPE_DATABASE_PASSWORD_FILE", password_file.clone()));
    let mut consumer = start_consumer(&env);
    consumer.wait_ready(Duration::from_secs(30)).await;
    produce_all(&brokers, &topic, &lead_records(0..120)).await;
    wait_for(
        "120 leads stored over TLS",
        Duration::from_secs(30),
        || async { (secured.db.count().await == 120).then_some(()) },
    )
    .await;
    assert!(
        secured.tls_connections().await > 0,
        "the server sees the consumer's connection as TLS"
    );
    assert_eq!(
        consumer.stop(Duration::from_secs(30)).await.code(),
        Some(0),
        "{}",
        consumer.log_tail()
    );
}

#[tokio::test]
async fn a_wrong_ca_a_wrong_host_name_or_a_wrong_password_is_refused_named_and_not_ready() {
    let secured = Secured::start().await;
    let good = secured.url("localhost", "verify-full", &secured.ca);
    let password_file = secured.password_file();
    secured
        .db
        .migrate(
            &good,
            &[("LEADPIPE_DATABASE_PASSWORD_FILE", &password_file)],
        )
        .unwrap();
    let stranger = TestCa::new("some other CA").unwrap();
    let wrong_password = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(wrong_password.path(), "not-the-password").unwrap();
    let wrong_password = wrong_password.path().display().to_string();

    let cases = [
        (
            "a CA that did not sign the server's certificate",
            secured.url("localhost", "verify-full", &stranger),
            password_file.clone(),
            "UnknownIssuer",
        ),
        (
            "a host name the certificate does not name",
            secured.url("127.0.0.1", "verify-full", &secured.ca),
            password_file.clone(),
            "certificate not valid for name",
        ),
        (
            "a wrong password",
            good.clone(),
            wrong_password,
            "password authentication failed",
        ),
    ];
    let brokers = shared::brokers();
    for (what, url, password, reason) in cases {
        let migrate = secured
            .db
            .migrate(&url, &[("LEADPIPE_DATABASE_PASSWORD_FILE", &password)])
            .expect_err(what);
        assert!(migrate.contains(reason), "migrate with {what}: {migrate}");
        assert!(
            !migrate.contains(TLS_CLUSTER_PASSWORD),
            "no password in the error: {migrate}"
        );

        let topic = unique_name("leads");
        kafka::create_topic(&brokers, &topic, 1).await.unwrap();
        let mut env = consumer_env(&brokers, &topic, &unique_name("leadpipe-tls"), &url);
        env.push(("LEADPIPE_DATABASE_PASSWORD_FILE", password));
        let consumer = start_consumer(&env);
        produce_all(&brokers, &topic, &lead_records(0..10)).await;
        wait_for(
            &format!("the consumer to name the reason ({what})"),
            Duration::from_secs(30),
            || async { consumer.logs().contains(reason).then_some(()) },
        )
        .await;
        for _ in 0..10 {
            assert_eq!(
                consumer.readiness().await,
                Some(503),
                "not ready with {what}\n{}",
                consumer.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert!(
            !consumer.logs().contains(TLS_CLUSTER_PASSWORD),
            "no password in the log"
        );
        assert_eq!(secured.db.count().await, 0, "nothing stored with {what}");
    }
}
