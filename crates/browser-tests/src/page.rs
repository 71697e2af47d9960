//! The event page as a visitor meets it: fill in, submit, read what it says. Reading
//! goes through the DOM the visitor sees (texts, `aria-*`, focus); the form's
//! `data-state` and its `leadpipe:*` events tell the test when to look.

use std::time::{Duration, Instant};

use fantoccini::actions::MOUSE_BUTTON_LEFT;
use fantoccini::actions::{InputSource, KeyAction, KeyActions, MouseActions, PointerAction};
use fantoccini::key::Key;
use fantoccini::{Client, Locator};
use serde_json::Value;

use crate::browser::WINDOW;

const FORM: &str = "form[data-leadpipe]";

/// What a visitor types in.
#[derive(Clone, Debug)]
pub struct Visitor {
    pub name: &'static str,
    pub email: &'static str,
    pub country_code: &'static str,
    pub phone_number: &'static str,
    pub consent: bool,
}

impl Visitor {
    /// 홍길동 from Seoul, with a valid mobile number, consenting.
    pub fn korean() -> Self {
        Self {
            name: "홍길동",
            email: "gildong@example.com",
            country_code: "+82",
            phone_number: "010-1234-5678",
            consent: true,
        }
    }
}

/// A `leadpipe:*` event the page dispatched, with when (`performance.now()`, ms).
#[derive(Clone, Debug)]
pub struct PageEvent {
    pub kind: String,
    pub at_ms: f64,
    pub status: Option<u64>,
    pub attempt: Option<u64>,
    pub delay_ms: Option<f64>,
    /// The `Retry-After` of a `response`, in seconds.
    pub retry_after: Option<u64>,
    /// The `Idempotency-Key` of an `attempt`.
    pub key: Option<String>,
}

/// The focused element.
#[derive(Clone, Debug, PartialEq)]
pub struct Focus {
    /// `tag#id` or `tag[name=…]`, e.g. `input#email`.
    pub element: String,
    /// Whether the focus indicator shows (an outline of some width).
    pub visible: bool,
}

pub struct EventPage<'a> {
    client: &'a Client,
}

impl<'a> EventPage<'a> {
    /// Loads `url` and waits until the page's module has wired the form.
    pub async fn open(client: &'a Client, url: &str) -> Self {
        client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("loading {url}: {e}"));
        let page = Self { client };
        page.wait_until("the form is wired", Duration::from_secs(15), |state| {
            !state.is_empty()
        })
        .await;
        page.record_events().await;
        page
    }

    async fn script(&self, source: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(source, args)
            .await
            .unwrap_or_else(|e| panic!("running a script in the page: {e}\n{source}"))
    }

    async fn find(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no element {css}: {e}"))
    }

    /// Fills the form as a mouse-and-keyboard visitor does.
    pub async fn fill(&self, visitor: &Visitor) {
        for (id, value) in [
            ("name", visitor.name),
            ("email", visitor.email),
            ("phone_number", visitor.phone_number),
        ] {
            let input = self.find(&format!("#{id}")).await;
            input.clear().await.expect("clearing an input");
            input.send_keys(value).await.expect("typing");
        }
        self.find("#country_code")
            .await
            .select_by_value(visitor.country_code)
            .await
            .expect("choosing the calling code");
        let consent = self.find("#privacy_consent").await;
        if consent.is_selected().await.expect("checkbox state") != visitor.consent {
            consent
                .click()
                .await
                .expect("clicking the consent checkbox");
        }
    }

    /// Clicks the submit button.
    pub async fn submit(&self) {
        self.find(&format!("{FORM} [type=submit]"))
            .await
            .click()
            .await
            .expect("clicking submit");
    }

    /// Sets a `data-*` option on the form, as an embedding page may (`clientChecks`,
    /// `maxAttempts`); it applies from the next submission on.
    pub async fn configure(&self, option: &str, value: &str) {
        self.script(
            "document.querySelector(arguments[0]).dataset[arguments[1]] = arguments[2];",
            vec![FORM.into(), option.into(), value.into()],
        )
        .await;
    }

    /// Whether the retry button offered after the last attempt shows.
    pub async fn offers_retry(&self) -> bool {
        self.script(
            "const box = document.querySelector('[data-leadpipe-retry]');
             return !!box && !box.hidden && !!box.querySelector('button');",
            vec![],
        )
        .await
        .as_bool()
        .unwrap_or(false)
    }

    /// Clicks the retry button offered after the last attempt.
    pub async fn retry_by_hand(&self) {
        self.find("[data-leadpipe-retry] button")
            .await
            .click()
            .await
            .expect("clicking the retry button");
    }

    /// Double-clicks the submit button with a real pointer (two clicks, one gesture).
    pub async fn double_click_submit(&self) {
        let button = self.find(&format!("{FORM} [type=submit]")).await;
        let mouse = MouseActions::new("mouse".to_owned())
            .then(PointerAction::MoveToElement {
                element: button,
                duration: None,
                x: 0.0,
                y: 0.0,
            })
            .then(PointerAction::Down {
                button: MOUSE_BUTTON_LEFT,
            })
            .then(PointerAction::Up {
                button: MOUSE_BUTTON_LEFT,
            })
            .then(PointerAction::Down {
                button: MOUSE_BUTTON_LEFT,
            })
            .then(PointerAction::Up {
                button: MOUSE_BUTTON_LEFT,
            });
        self.client
            .perform_actions(mouse)
            .await
            .expect("double-clicking submit");
    }

    /// Presses `keys` together on the keyboard (no element targeted: whatever has the
    /// focus gets them), e.g. `&[Key::Control.into(), 'a']`.
    pub async fn press(&self, keys: &[char]) {
        let mut actions = KeyActions::new("keyboard".to_owned());
        for key in keys {
            actions = actions.then(KeyAction::Down { value: *key });
        }
        for key in keys.iter().rev() {
            actions = actions.then(KeyAction::Up { value: *key });
        }
        self.client
            .perform_actions(actions)
            .await
            .expect("pressing keys");
    }

    /// Presses one key, e.g. `Key::Tab`.
    pub async fn key(&self, key: Key) {
        self.press(&[key.into()]).await;
    }

    /// Types `text` on the keyboard into the focused element.
    pub async fn type_text(&self, text: &str) {
        let mut actions = KeyActions::new("keyboard".to_owned());
        for c in text.chars() {
            actions = actions
                .then(KeyAction::Down { value: c })
                .then(KeyAction::Up { value: c });
        }
        self.client.perform_actions(actions).await.expect("typing");
    }

    /// The focused element and whether its focus indicator shows.
    pub async fn focus(&self) -> Focus {
        let value = self
            .script(
                "const el = document.activeElement;
                 const style = getComputedStyle(el);
                 const tag = el.tagName.toLowerCase();
                 const name = el.id ? `${tag}#${el.id}` : el.getAttribute('name')
                   ? `${tag}[name=${el.getAttribute('name')}]` : tag;
                 return { element: name,
                          visible: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0 };",
                vec![],
            )
            .await;
        Focus {
            element: value["element"].as_str().unwrap_or_default().to_owned(),
            visible: value["visible"].as_bool().unwrap_or(false),
        }
    }

    /// The form's state: `idle`, `sending`, `retrying`, `failed`, `invalid` or `done`
    /// (`""` before the module ran).
    pub async fn state(&self) -> String {
        let value = self
            .script(
                "const form = document.querySelector(arguments[0]);
                 return form && form.dataset.state || '';",
                vec![FORM.into()],
            )
            .await;
        value.as_str().unwrap_or_default().to_owned()
    }

    /// Waits until the state satisfies `done`; returns it. Panics naming `what`, with
    /// what the page shows, when `timeout` passes.
    pub async fn wait_until(
        &self,
        what: &str,
        timeout: Duration,
        done: impl Fn(&str) -> bool,
    ) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let state = self.state().await;
            if done(&state) {
                return state;
            }
            if Instant::now() > deadline {
                panic!(
                    "timed out after {timeout:?} waiting until {what}: state {state:?}, status {:?}, events {:?}",
                    self.status_text().await,
                    self.events().await
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the submission ends: `done` (accepted) or `failed` (the page gave
    /// up); returns which.
    pub async fn wait_for_outcome(&self, timeout: Duration) -> String {
        self.wait_until(
            "the lead is accepted or the page gives up",
            timeout,
            |state| state == "done" || state == "failed",
        )
        .await
    }

    /// Waits for state `wanted`.
    pub async fn wait_for_state(&self, wanted: &str, timeout: Duration) {
        self.wait_until(&format!("the form is {wanted}"), timeout, |state| {
            state == wanted
        })
        .await;
    }

    /// The text of the `role="status"` region.
    pub async fn status_text(&self) -> String {
        self.text("[data-leadpipe-status][role=status]").await
    }

    async fn text(&self, css: &str) -> String {
        let value = self
            .script(
                "const el = document.querySelector(arguments[0]);
                 return el ? el.textContent.trim() : null;",
                vec![css.into()],
            )
            .await;
        value.as_str().unwrap_or_default().to_owned()
    }

    /// The consent text next to the checkbox, and the version it declares
    /// (`data-consent-version`).
    pub async fn consent_text(&self) -> (String, String) {
        let text = self.text("[data-consent-version]").await;
        let version = self
            .script(
                "const el = document.querySelector('[data-consent-version]');
                 return el ? el.dataset.consentVersion : null;",
                vec![],
            )
            .await;
        (text, version.as_str().unwrap_or_default().to_owned())
    }

    /// The lead reference shown after success, if any.
    pub async fn reference(&self) -> Option<String> {
        let id = self.text("[role=status] code[data-lead-id]").await;
        (!id.is_empty()).then_some(id)
    }

    /// The error shown next to `field` (`""` when none).
    pub async fn field_error(&self, field: &str) -> String {
        self.text(&format!("[data-error-for={field}]")).await
    }

    /// Whether the input named `field` is marked `aria-invalid` and describes itself
    /// with its error (what a screen reader reads with it).
    pub async fn announces_error(&self, field: &str) -> bool {
        self.script(
            "const input = document.querySelector(`[name=${arguments[0]}]`);
             const slot = document.querySelector(`[data-error-for=${arguments[0]}]`);
             const described = (input.getAttribute('aria-describedby') || '').split(/\\s+/);
             return input.getAttribute('aria-invalid') === 'true' && !!slot
               && described.includes(slot.id) && slot.textContent.trim() !== '';",
            vec![field.into()],
        )
        .await
        .as_bool()
        .unwrap_or(false)
    }

    /// The items of the error summary, in order (empty when it is hidden).
    pub async fn summary(&self) -> Vec<String> {
        let value = self
            .script(
                "const summary = document.querySelector('[data-leadpipe-summary]');
                 if (!summary || summary.hidden) return [];
                 return [...summary.querySelectorAll('li')].map((li) => li.textContent.trim());",
                vec![],
            )
            .await;
        value
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The `lang` of the document.
    pub async fn lang(&self) -> String {
        let value = self
            .script("return document.documentElement.lang;", vec![])
            .await;
        value.as_str().unwrap_or_default().to_owned()
    }

    /// Clicks the language toggle.
    pub async fn toggle_language(&self) {
        self.find("[data-lang-toggle]")
            .await
            .click()
            .await
            .expect("clicking the language toggle");
    }

    async fn record_events(&self) {
        self.script(
            "window.leadpipeEvents = [];
             const form = document.querySelector(arguments[0]);
             for (const kind of ['attempt', 'response', 'retry', 'success', 'invalid', 'failed']) {
               form.addEventListener(`leadpipe:${kind}`, (event) => {
                 const { status, attempt, delayMs, key, retryAfter } = event.detail || {};
                 window.leadpipeEvents.push({ kind, at: performance.now(), status, attempt, delayMs, key, retryAfter });
               });
             }",
            vec![FORM.into()],
        )
        .await;
    }

    /// The `leadpipe:*` events dispatched since the page was opened.
    pub async fn events(&self) -> Vec<PageEvent> {
        let value = self
            .script("return window.leadpipeEvents || [];", vec![])
            .await;
        value
            .as_array()
            .map(|events| {
                events
                    .iter()
                    .map(|e| PageEvent {
                        kind: e["kind"].as_str().unwrap_or_default().to_owned(),
                        at_ms: e["at"].as_f64().unwrap_or_default(),
                        status: e["status"].as_u64(),
                        attempt: e["attempt"].as_u64(),
                        delay_ms: e["delayMs"].as_f64(),
                        retry_after: e["retryAfter"].as_u64(),
                        key: e["key"].as_str().map(str::to_owned),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The requests the browser made to `POST /v1/leads` (Resource Timing): start and
    /// end, in ms since the page loaded.
    pub async fn lead_requests(&self) -> Vec<(f64, f64)> {
        let value = self
            .script(
                "return performance.getEntriesByType('resource')
                   .filter((e) => new URL(e.name).pathname === '/v1/leads')
                   .map((e) => [e.startTime, e.responseEnd]);",
                vec![],
            )
            .await;
        value
            .as_array()
            .map(|entries| {
                entries
                    .iter()
                    .map(|e| (e[0].as_f64().unwrap_or(0.0), e[1].as_f64().unwrap_or(0.0)))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Saves a screenshot as `<name>.png` in `LEADPIPE_SCREENSHOT_DIR` when it is set
    /// (how the pictures in docs/ are made); does nothing otherwise.
    pub async fn screenshot(&self, name: &str) {
        let Some(dir) = std::env::var_os("LEADPIPE_SCREENSHOT_DIR") else {
            return;
        };
        // The whole page, not only what the window shows.
        let (width, height) = WINDOW;
        self.client
            .set_window_size(width, 4000)
            .await
            .expect("resizing the window");
        let full = self
            .script(
                "window.scrollTo(0, 0); return Math.ceil(document.body.getBoundingClientRect().height);",
                vec![],
            )
            .await
            .as_u64()
            .unwrap_or(u64::from(height));
        // The window is taller than its viewport by the browser's own frame.
        let full = u32::try_from(full).unwrap_or(height).saturating_add(160);
        self.client
            .set_window_size(width, full)
            .await
            .expect("resizing the window");
        let png = self.client.screenshot().await.expect("a screenshot");
        self.client
            .set_window_size(width, height)
            .await
            .expect("resizing the window back");
        let path = std::path::Path::new(&dir).join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    }
}
