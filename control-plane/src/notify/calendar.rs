//! When a held notification may go: business days (Monday to Friday, not a listed holiday) from
//! 09:00 to 18:00 in the operator's time zone (JST by default). Pure.

use std::collections::BTreeSet;

use chrono::{
    DateTime, Datelike, Duration, FixedOffset, NaiveDate, NaiveTime, TimeZone, Timelike, Utc,
    Weekday,
};

/// Business hours, local time.
const OPENS: u32 = 9;
const CLOSES: u32 = 18;

/// The operator's business calendar.
#[derive(Clone, Debug)]
pub struct BusinessDays {
    pub zone: FixedOffset,
    pub holidays: BTreeSet<NaiveDate>,
}

impl BusinessDays {
    /// A calendar `hours` east of UTC (9 for Japan); `None` if that is not a time zone.
    pub fn new(hours: i32, holidays: BTreeSet<NaiveDate>) -> Option<Self> {
        let zone = FixedOffset::east_opt(hours.checked_mul(3600)?)?;
        Some(Self { zone, holidays })
    }

    pub fn is_business_day(&self, day: NaiveDate) -> bool {
        !matches!(day.weekday(), Weekday::Sat | Weekday::Sun) && !self.holidays.contains(&day)
    }

    /// `now` if it is within business hours, else the next opening time.
    pub fn next_open(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let local = now.with_timezone(&self.zone);
        let mut day = local.date_naive();
        let hour = local.hour();
        if self.is_business_day(day) && (OPENS..CLOSES).contains(&hour) {
            return now;
        }
        if hour >= OPENS {
            day += Duration::days(1);
        }
        // A year of holidays back to back is not a calendar; stop looking after one.
        for _ in 0..366 {
            if self.is_business_day(day) {
                break;
            }
            day += Duration::days(1);
        }
        let opens = day.and_time(NaiveTime::from_hms_opt(OPENS, 0, 0).unwrap_or_default());
        self.zone
            .from_local_datetime(&opens)
            .single()
            .map_or(now, |t| t.with_timezone(&Utc))
    }
}

/// Holidays from a file: one date per line, `YYYY-MM-DD` or `YYYY/M/D`, anything after the
/// first comma or space ignored, `#` comments. The Cabinet Office's `syukujitsu.csv` (Shift_JIS)
/// works as it is: only the ASCII date at the start of each line is read.
pub fn parse_holidays(bytes: &[u8]) -> Result<BTreeSet<NaiveDate>, String> {
    let mut out = BTreeSet::new();
    for (n, line) in bytes.split(|b| *b == b'\n').enumerate() {
        let end = line
            .iter()
            .position(|b| matches!(b, b',' | b' ' | b'\t' | b'\r' | b'#'))
            .unwrap_or(line.len());
        let Ok(field) = std::str::from_utf8(&line[..end]) else {
            return Err(format!("line {}: the date is not ASCII", n + 1));
        };
        if field.is_empty() {
            continue;
        }
        let date = NaiveDate::parse_from_str(field, "%Y-%m-%d")
            .or_else(|_| NaiveDate::parse_from_str(field, "%Y/%m/%d"));
        match date {
            Ok(d) => {
                out.insert(d);
            }
            // The CSV's header line (国民の祝日・休日月日) is not a date: skip non-numeric lines.
            Err(_) if !field.as_bytes()[0].is_ascii_digit() => {}
            Err(_) => return Err(format!("line {}: {field:?} is not a date", n + 1)),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("a time")
            .with_timezone(&Utc)
    }

    fn cal() -> BusinessDays {
        let holidays = parse_holidays(b"2026-11-23\n").expect("holidays");
        BusinessDays::new(9, holidays).expect("UTC+9")
    }

    #[test]
    fn within_business_hours_sends_now() {
        // Tuesday 2026-11-24 10:00 JST.
        let now = utc("2026-11-24T01:00:00Z");
        assert_eq!(cal().next_open(now), now);
    }

    #[test]
    fn weekend_and_holiday_wait_for_the_next_business_morning() {
        // Saturday 2026-11-21 12:00 JST → Tuesday 24th 09:00 JST (Monday 23rd is a holiday).
        let next = cal().next_open(utc("2026-11-21T03:00:00Z"));
        assert_eq!(next, utc("2026-11-24T00:00:00Z"));
    }

    #[test]
    fn evenings_wait_for_the_next_morning_and_early_mornings_for_nine() {
        // Tuesday 19:00 JST → Wednesday 09:00 JST.
        assert_eq!(
            cal().next_open(utc("2026-11-24T10:00:00Z")),
            utc("2026-11-25T00:00:00Z")
        );
        // Wednesday 07:00 JST → Wednesday 09:00 JST.
        assert_eq!(
            cal().next_open(utc("2026-11-24T22:00:00Z")),
            utc("2026-11-25T00:00:00Z")
        );
    }

    #[test]
    fn reads_the_cabinet_office_csv_shape() {
        let mut csv = "国民の祝日・休日月日,国民の祝日・休日名称\r\n"
            .as_bytes()
            .to_vec();
        csv.extend_from_slice(b"2026/1/1,\x8c\xb3\x93\xfa\r\n2026/11/23,x\r\n# note\n\n");
        let days = parse_holidays(&csv).expect("parsed");
        let want: BTreeSet<NaiveDate> = ["2026-01-01", "2026-11-23"]
            .iter()
            .map(|d| d.parse().expect("date"))
            .collect();
        assert_eq!(days, want);
        assert!(parse_holidays(b"2026-13-01\n").is_err());
    }
}
