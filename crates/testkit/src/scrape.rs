//! Reading a process's `/metrics` page in tests, with the `prometheus-parse` crate.

use std::collections::BTreeMap;

use prometheus_parse::{Sample, Value};

/// One scrape of a Prometheus text page.
pub struct Scrape(prometheus_parse::Scrape);

impl Scrape {
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let lines = text.lines().map(|l| Ok(l.to_owned()));
        Ok(Self(prometheus_parse::Scrape::parse(lines)?))
    }

    /// Fetches `url` (a `/metrics` page) and parses it; `None` while it does not answer.
    pub async fn fetch(url: &str) -> Option<Self> {
        let response = reqwest::Client::new()
            .get(url)
            .timeout(std::time::Duration::from_secs(3))
            .send()
            .await
            .ok()?;
        Self::parse(&response.text().await.ok()?).ok()
    }

    fn samples<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Sample> + 'a {
        self.0.samples.iter().filter(move |s| s.metric == name)
    }

    /// The value of the series `name` whose labels include `labels` (the first one, if
    /// several match).
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.samples(name)
            .find(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
            .and_then(|s| scalar(&s.value))
    }

    /// Every series of `name`, keyed by the value of `label`.
    pub fn by_label(&self, name: &str, label: &str) -> BTreeMap<String, f64> {
        self.samples(name)
            .filter_map(|s| Some((s.labels.get(label)?.to_owned(), scalar(&s.value)?)))
            .collect()
    }

    /// Every series of `name` matching `labels`, keyed by `partition`, as integers: the
    /// shape of the lag gauges.
    pub fn per_partition(&self, name: &str, labels: &[(&str, &str)]) -> BTreeMap<i32, i64> {
        self.samples(name)
            .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
            .filter_map(|s| {
                Some((
                    s.labels.get("partition")?.parse().ok()?,
                    scalar(&s.value)? as i64,
                ))
            })
            .collect()
    }
}

fn scalar(value: &Value) -> Option<f64> {
    match value {
        Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => Some(*v),
        Value::Histogram(_) | Value::Summary(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_found_by_name_and_labels() {
        let page = "# HELP x_total Things.\n# TYPE x_total counter\nx_total{kind=\"a\"} 3\nx_total{kind=\"b\"} 4\n\
                    # TYPE lag gauge\nlag{partition=\"0\",topic=\"t\"} 5\nlag{partition=\"1\",topic=\"t\"} 6\n\
                    # TYPE up gauge\nup 1\n";
        let scrape = Scrape::parse(page).unwrap();
        assert_eq!(scrape.value("x_total", &[("kind", "b")]), Some(4.0));
        assert_eq!(scrape.value("up", &[]), Some(1.0));
        assert_eq!(scrape.value("missing", &[]), None);
        assert_eq!(scrape.by_label("x_total", "kind").len(), 2);
        assert_eq!(
            scrape.per_partition("lag", &[("topic", "t")]),
            BTreeMap::from([(0, 5), (1, 6)])
        );
    }
}
