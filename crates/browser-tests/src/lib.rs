//! The event page (`web/`) in a real browser: headless Chromium driven through a
//! chromedriver of the test's own ([`Browser`]), the page served from a local origin of
//! its own and pointed at the test's gateway ([`Site`]), and what a visitor does and
//! sees on it ([`EventPage`]).
//!
//! Nothing here skips a test: a missing Chromium or chromedriver is an error that says
//! what to install.

mod browser;
mod page;
mod site;

pub use browser::Browser;
pub use page::{EventPage, Focus, PageEvent, Visitor};
pub use site::{Site, SiteListener};
