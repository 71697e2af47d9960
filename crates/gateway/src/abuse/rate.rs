//! What a rate limit is: a rate as operators write it, `N/period`, e.g. `30/1m`, `5/1h`,
//! `1/2s` (units `s`, `m`, `h`, `d`; the number before the unit is optional: `5/h`;
//! empty means off), the three limits of a submission and the keys they count by, and
//! the refusal a submission over one gets. The local tables (`limits`) and the Redis
//! store (`redis_store`) both speak this.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Requests allowed in one period (also the burst: all of them may come at once).
    pub count: u32,
    pub period: Duration,
}

impl Rate {
    /// `None` for an empty setting (the limit is off).
    pub fn parse_setting(text: &str) -> Result<Option<Self>, String> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        let invalid = || format!("{text:?} is not a rate: expected N/period such as 30/1m or 5/1h");
        let (count, period) = text.split_once('/').ok_or_else(invalid)?;
        let count: u32 = count.trim().parse().map_err(|_| invalid())?;
        let period = period.trim();
        let unit_at = period.len().checked_sub(1).ok_or_else(invalid)?;
        let (number, unit) = period.split_at(unit_at);
        let number: u64 = if number.is_empty() {
            1
        } else {
            number.parse().map_err(|_| invalid())?
        };
        let seconds = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3_600,
            "d" => 86_400,
            _ => return Err(invalid()),
        };
        if count == 0 || number == 0 || number > 366 * 86_400 {
            return Err(format!(
                "{text:?}: count and period must be positive (period at most a year)"
            ));
        }
        let period = Duration::from_secs(number * seconds);
        if u128::from(count) > period.as_millis() {
            return Err(format!(
                "{text:?}: at most one request per millisecond per key (the limits count in milliseconds)"
            ));
        }
        Ok(Some(Self { count, period }))
    }

    /// Milliseconds between two requests at the sustained rate (the GCRA emission
    /// interval); at least 1.
    pub fn interval_ms(&self) -> u64 {
        (self.period.as_millis() as u64 / u64::from(self.count)).max(1)
    }

    pub fn period_ms(&self) -> u64 {
        self.period.as_millis() as u64
    }
}

/// A limit as configured: a rate, or off (an empty setting). Parsed with the command
/// line, so a malformed rate stops the gateway before it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateSetting(pub Option<Rate>);

impl std::str::FromStr for RateSetting {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Rate::parse_setting(text).map(Self)
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}s", self.count, self.period.as_secs())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitName {
    Ip,
    Email,
    Phone,
}

impl LimitName {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ip => "ip",
            Self::Email => "email",
            Self::Phone => "phone",
        }
    }
}

/// What identifies a submitter, per limit. Never logged.
pub struct Keys<'a> {
    pub ip: IpAddr,
    pub email: &'a str,
    pub phone_e164: &'a str,
}

/// A submission over a limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    pub limit: LimitName,
    pub rate: Rate,
    pub retry_after_ms: u64,
}

impl Refusal {
    /// Whole seconds to wait, rounded up (a `Retry-After` of 0 would invite a retry
    /// that is refused again).
    pub fn retry_after_secs(&self) -> u64 {
        self.retry_after_ms.div_ceil(1000).max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_read_as_operators_write_them() {
        let rate = |t| Rate::parse_setting(t).unwrap().unwrap();
        assert_eq!(rate("30/1m").period, Duration::from_secs(60));
        assert_eq!(
            rate("5/h"),
            Rate {
                count: 5,
                period: Duration::from_secs(3600)
            }
        );
        assert_eq!(rate(" 1/2s ").interval_ms(), 2000);
        assert_eq!(rate("10/1d").period_ms(), 86_400_000);
        assert_eq!(Rate::parse_setting("").unwrap(), None);
        for bad in [
            "30", "0/1m", "30/0m", "30/1w", "x/1m", "30/", "-1/1m", "30/1.5m",
        ] {
            assert!(Rate::parse_setting(bad).is_err(), "{bad}");
        }
    }
}
