//! One test's stage: a browser, the page on its own origin, and a pipeline whose gateway
//! lets that origin post.

use std::time::Duration;

use leadpipe_browser_tests::{Browser, EventPage, Site, SiteListener};
use leadpipe_testkit::{shared, wait_for, TestStack, Tuning};
use uuid::Uuid;

pub struct Stage {
    pub browser: Browser,
    pub site: Site,
    pub pipeline: TestStack,
}

impl Stage {
    /// On the shared broker.
    pub async fn start(gateway_env: Vec<(&'static str, String)>) -> Self {
        Self::start_on(&shared::brokers(), gateway_env).await
    }

    /// On `brokers`, with `gateway_env` added to the gateway's settings.
    pub async fn start_on(brokers: &str, gateway_env: Vec<(&'static str, String)>) -> Self {
        let browser = Browser::start().await.unwrap_or_else(|e| panic!("{e:#}"));
        let listener = SiteListener::bind().await.expect("a port for the page");
        let mut env = vec![
            (
                "LEADPIPE_CORS_ALLOWED_ORIGINS",
                listener.origin().to_owned(),
            ),
            // The page's hidden field, as `make up` configures it.
            ("LEADPIPE_HONEYPOT_FIELD", "website".to_owned()),
            // As the local stack runs against Tansu (see the gateway's --help).
            ("LEADPIPE_KAFKA_IDEMPOTENCE", "false".to_owned()),
        ];
        env.extend(gateway_env);
        let pipeline = TestStack::start(
            brokers,
            &shared::database_server_url(),
            Tuning {
                gateway_env: env,
                ..Tuning::default()
            },
        )
        .await;
        let site = listener.serve(&pipeline.target());
        Self {
            browser,
            site,
            pipeline,
        }
    }

    /// Opens the page with `query` (`""` or `?lang=en…`).
    pub async fn open(&self, query: &str) -> EventPage<'_> {
        EventPage::open(&self.browser.client, &self.site.page_url(query)).await
    }

    /// Waits until the lead with `reference` is stored, then lets the consumer catch
    /// up with anything else in flight, and returns every stored id.
    pub async fn stored_ids_once(&self, reference: &str) -> Vec<Uuid> {
        let id: Uuid = reference
            .parse()
            .unwrap_or_else(|e| panic!("the reference {reference:?} is a UUID: {e}"));
        let db = &self.pipeline.db;
        wait_for(
            &format!("lead {id} in PostgreSQL"),
            Duration::from_secs(60),
            || async {
                db.scalar::<i64>(&format!("SELECT count(*) FROM leads WHERE id = '{id}'"))
                    .await
                    .filter(|&n| n > 0)
            },
        )
        .await;
        // Everything the gateway accepted so far (a second request with another key
        // would have been answered by now) is stored once the consumer has caught up.
        self.pipeline
            .wait_until_consumed(Duration::from_secs(60))
            .await;
        db.ids().await
    }

    /// A stored column of lead `id`.
    pub async fn column(&self, id: &Uuid, column: &str) -> Option<String> {
        self.pipeline
            .db
            .scalar(&format!(
                "SELECT {column}::text FROM leads WHERE id = '{id}'"
            ))
            .await
    }

    pub async fn finish(self) {
        let Self {
            browser,
            site,
            pipeline,
        } = self;
        drop(browser);
        drop(site);
        pipeline.db.drop_database().await;
    }
}
