//! Calendar rules of the terms: "one month" (art. 4, 10-4), "30 days after the notice arrives"
//! (art. 12, 10-5), and billing months. All dates are UTC calendar days.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, Days, Months, NaiveDate};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Days between a notice arriving and the earliest day it can take effect (art. 12, 10-5).
pub const NOTICE_DAYS: u64 = 30;

pub use crate::clock::day_of;

/// The same day `n` months later, clamped to the end of a shorter month (Jan 31 + 1 month is
/// Feb 28, or Feb 29 in a leap year).
pub fn add_months(d: NaiveDate, n: u32) -> NaiveDate {
    d.checked_add_months(Months::new(n))
        .unwrap_or(NaiveDate::MAX)
}

/// `d + n` days, saturating at the last representable day.
pub fn add_days(d: NaiveDate, n: u64) -> NaiveDate {
    d.checked_add_days(Days::new(n)).unwrap_or(NaiveDate::MAX)
}

/// The first day after a one-month minimum term that starts on `billing_start` (art. 4): the
/// term is `[billing_start, min_term_end)`.
pub fn min_term_end(billing_start: NaiveDate) -> NaiveDate {
    add_months(billing_start, 1)
}

/// When a notice that arrived on `notice` and names `requested` takes effect: the later of the
/// day 30 days after it arrived and the named day (art. 12, 10-5).
pub fn end_takes_effect(notice: NaiveDate, requested: Option<NaiveDate>) -> NaiveDate {
    let earliest = add_days(notice, NOTICE_DAYS);
    requested.map_or(earliest, |r| r.max(earliest))
}

/// A calendar month, written `YYYY-MM`: the unit of a bill.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct YearMonth {
    first: NaiveDate,
}

impl YearMonth {
    pub fn new(year: i32, month: u32) -> Option<Self> {
        NaiveDate::from_ymd_opt(year, month, 1).map(|first| YearMonth { first })
    }

    /// The month `d` falls in.
    pub fn of(d: NaiveDate) -> Self {
        YearMonth {
            first: d.with_day(1).unwrap_or(d),
        }
    }

    pub fn first_day(self) -> NaiveDate {
        self.first
    }

    /// The first day of the next month (the end of this one, exclusive).
    pub fn end(self) -> NaiveDate {
        add_months(self.first, 1)
    }

    /// 28 to 31.
    pub fn days(self) -> u32 {
        let days = (self.end() - self.first).num_days();
        u32::try_from(days).unwrap_or(31)
    }

    pub fn contains(self, d: NaiveDate) -> bool {
        self.first <= d && d < self.end()
    }
}

impl fmt::Display for YearMonth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.first.year(), self.first.month())
    }
}

impl FromStr for YearMonth {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?} is not a month written YYYY-MM (e.g. 2025-02)");
        let (y, m) = s.split_once('-').ok_or_else(bad)?;
        if y.len() != 4 || m.len() != 2 {
            return Err(bad());
        }
        let year = y.parse::<i32>().map_err(|_| bad())?;
        let month = m.parse::<u32>().map_err(|_| bad())?;
        YearMonth::new(year, month).ok_or_else(bad)
    }
}

impl Serialize for YearMonth {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for YearMonth {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn one_month_is_the_same_day_next_month_clamped_to_its_end() {
        let cases = [
            ("2025-01-15", "2025-02-15"),
            ("2025-01-31", "2025-02-28"),
            ("2024-01-31", "2024-02-29"), // leap year
            ("2024-01-29", "2024-02-29"),
            ("2023-01-29", "2023-02-28"),
            ("2024-02-29", "2024-03-29"),
            ("2025-03-31", "2025-04-30"),
            ("2025-08-31", "2025-09-30"),
            ("2025-12-31", "2026-01-31"),
            ("2025-12-01", "2026-01-01"),
            ("2100-01-31", "2100-02-28"), // not a leap year
            ("2000-01-31", "2000-02-29"), // a leap year
        ];
        for (start, end) in cases {
            assert_eq!(min_term_end(day(start)), day(end), "{start}");
        }
    }

    #[test]
    fn an_end_takes_effect_on_the_later_of_notice_plus_30_days_and_the_named_day() {
        let cases = [
            ("2025-01-01", None, "2025-01-31"),
            ("2025-01-01", Some("2025-01-15"), "2025-01-31"),
            ("2025-01-01", Some("2025-01-31"), "2025-01-31"),
            ("2025-01-01", Some("2025-02-01"), "2025-02-01"),
            ("2025-02-10", None, "2025-03-12"),
            ("2024-02-10", None, "2024-03-11"), // leap February
            ("2025-12-15", None, "2026-01-14"),
        ];
        for (notice, requested, effective) in cases {
            let got = end_takes_effect(day(notice), requested.map(day));
            assert_eq!(got, day(effective), "{notice} {requested:?}");
        }
    }

    #[test]
    fn day_of_is_the_utc_calendar_day() {
        assert_eq!(day_of(0), day("1970-01-01"));
        assert_eq!(day_of(1_709_164_799_999), day("2024-02-28"));
        assert_eq!(day_of(1_709_164_800_000), day("2024-02-29"));
        assert_eq!(day_of(u64::MAX), NaiveDate::MAX);
    }

    #[test]
    fn months_parse_and_know_their_length() {
        let cases = [
            ("2024-02", 29),
            ("2025-02", 28),
            ("2025-04", 30),
            ("2025-12", 31),
        ];
        for (text, days) in cases {
            let m: YearMonth = text.parse().unwrap();
            assert_eq!((m.to_string().as_str(), m.days()), (text, days));
        }
        for bad in [
            "2025-13", "2025-2", "25-02", "2025/02", "", "2025-00", "abcd-ef",
        ] {
            assert!(bad.parse::<YearMonth>().is_err(), "{bad}");
        }
        let feb: YearMonth = "2024-02".parse().unwrap();
        assert!(feb.contains(day("2024-02-29")) && !feb.contains(day("2024-03-01")));
        assert_eq!(YearMonth::of(day("2024-02-17")), feb);
        assert_eq!(feb.end(), day("2024-03-01"));
    }

    #[test]
    fn extreme_days_survive_json() {
        // Saturated ends (`NaiveDate::MAX`) are stored in snapshots and must read back.
        for d in [NaiveDate::MIN, NaiveDate::MAX] {
            let text = serde_json::to_string(&d).unwrap();
            let back: NaiveDate = serde_json::from_str(&text).unwrap();
            assert_eq!(back, d, "{text}");
        }
    }
}
