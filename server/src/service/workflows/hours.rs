//! The date & time step: whether a moment falls within business hours (per weekday, in a time zone) or
//! within a date range.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, TimeZone};
use chrono_tz::Tz;

use crate::model::*;

/// `hh:mm` (00:00 to 23:59), or 24:00 for the end of the day.
pub fn parse_time(s: &str) -> Option<NaiveTime> {
    if s == "24:00" {
        return NaiveTime::from_hms_opt(23, 59, 59);
    }
    NaiveTime::parse_from_str(s, "%H:%M").ok()
}

/// `yyyy-mm-ddThh:mm`, or `yyyy-mm-dd` (its start, or with `end_of_day` its last second).
pub fn parse_moment(s: &str, end_of_day: bool) -> Option<NaiveDateTime> {
    if let Ok(t) = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M") {
        return Some(t);
    }
    let day = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    if end_of_day { day.and_hms_opt(23, 59, 59) } else { day.and_hms_opt(0, 0, 0) }
}

fn weekday(d: chrono::Weekday) -> Weekday {
    match d {
        chrono::Weekday::Mon => Weekday::Mon,
        chrono::Weekday::Tue => Weekday::Tue,
        chrono::Weekday::Wed => Weekday::Wed,
        chrono::Weekday::Thu => Weekday::Thu,
        chrono::Weekday::Fri => Weekday::Fri,
        chrono::Weekday::Sat => Weekday::Sat,
        chrono::Weekday::Sun => Weekday::Sun,
    }
}

/// Whether `now` is within one of the day's spans, in `tz` (a day without spans is closed).
pub fn in_business_hours(hours: &BTreeMap<Weekday, Vec<[String; 2]>>, tz: Tz, now: Timestamp) -> bool {
    let local = now.with_timezone(&tz);
    let time = local.time();
    hours.get(&weekday(local.weekday())).is_some_and(|spans| {
        spans.iter().any(|[from, to]| match (parse_time(from), parse_time(to)) {
            (Some(from), Some(to)) => from <= time && time <= to,
            _ => false,
        })
    })
}

/// Whether `now` is within the range, read in `tz`.
pub fn in_range(range: &DateRange, tz: Tz, now: Timestamp) -> bool {
    let local = |s: &str, end| parse_moment(s, end).and_then(|t| tz.from_local_datetime(&t).earliest());
    match (local(&range.from, false), local(&range.to, true)) {
        (Some(from), Some(to)) => from <= now && now <= to,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;

    fn at(s: &str) -> Timestamp {
        chrono::DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc)).unwrap_or_default()
    }

    #[test]
    fn business_hours_are_read_in_the_steps_time_zone() {
        let hours: BTreeMap<Weekday, Vec<[String; 2]>> =
            [(Weekday::Mon, vec![["09:00".to_owned(), "17:00".to_owned()]])].into();
        let dubai: Tz = "Asia/Dubai".parse().unwrap_or(chrono_tz::UTC);
        let new_york: Tz = "America/New_York".parse().unwrap_or(chrono_tz::UTC);
        // Monday 2026-11-30 06:00 UTC: 10:00 in Dubai (open), 01:00 in New York (closed).
        let monday_morning = at("2026-11-30T06:00:00Z");
        assert!(in_business_hours(&hours, dubai, monday_morning));
        assert!(!in_business_hours(&hours, new_york, monday_morning));
        // Monday 14:30 UTC: 18:30 in Dubai (closed), 09:30 in New York (open).
        let monday_afternoon = at("2026-11-30T14:30:00Z");
        assert!(!in_business_hours(&hours, dubai, monday_afternoon));
        assert!(in_business_hours(&hours, new_york, monday_afternoon));
        // Sunday 2026-11-29 22:00 in New York is Monday 03:00 UTC: still Sunday there, and Sunday is closed.
        assert!(!in_business_hours(&hours, new_york, at("2026-11-30T03:00:00Z")));
    }

    #[test]
    fn a_date_range_covers_whole_days_in_its_time_zone() {
        let range = DateRange { from: "2026-12-24".into(), to: "2026-12-26".into() };
        let dubai: Tz = "Asia/Dubai".parse().unwrap_or(chrono_tz::UTC);
        assert!(in_range(&range, dubai, at("2026-12-26T19:00:00Z")), "23:00 on the 26th in Dubai");
        assert!(!in_range(&range, dubai, at("2026-12-26T20:30:00Z")), "00:30 on the 27th in Dubai");
        assert!(!in_range(&range, dubai, at("2026-12-23T19:59:00Z")), "23:59 on the 23rd in Dubai");
        let timed = DateRange { from: "2026-12-24T09:00".into(), to: "2026-12-24T12:00".into() };
        assert!(in_range(&timed, chrono_tz::UTC, at("2026-12-24T10:00:00Z")));
    }
}
