//! Dates: zones, the start of a day, `format` patterns and `deadline`.

use super::error::EvalError;
use chrono::{
    DateTime, Datelike, Duration, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone, Timelike,
};
use chrono_tz::Tz;

/// The end of the working day: what a deadline without a time means.
const END_OF_DAY: (u32, u32) = (18, 0);

/// `instant` as seen in `tz`, or unchanged without a zone.
pub fn in_zone(instant: DateTime<FixedOffset>, tz: Option<Tz>) -> DateTime<FixedOffset> {
    match tz {
        Some(tz) => {
            let local = instant.with_timezone(&tz);
            local.with_timezone(&local.offset().fix())
        }
        None => instant,
    }
}

/// A wall-clock date-time in the zone of `reference` (or `tz`), as an instant with its offset.
fn localize(naive: NaiveDateTime, reference: DateTime<FixedOffset>, tz: Option<Tz>) -> Option<DateTime<FixedOffset>> {
    match tz {
        Some(tz) => {
            let local = tz.from_local_datetime(&naive).earliest()?;
            Some(local.with_timezone(&local.offset().fix()))
        }
        None => reference.offset().from_local_datetime(&naive).single(),
    }
}

/// The wall-clock date-time of `date` in its own offset; `None` at the very ends of the range,
/// where chrono's `naive_local` (and so `year()`, `date_naive()`, …) would panic.
pub fn local_time(date: &DateTime<FixedOffset>) -> Option<NaiveDateTime> {
    date.naive_utc().checked_add_offset(*date.offset())
}

pub fn start_of_day(now: DateTime<FixedOffset>, tz: Option<Tz>) -> DateTime<FixedOffset> {
    local_time(&now)
        .and_then(|local| localize(local.date().and_time(NaiveTime::MIN), now, tz))
        .unwrap_or(now)
}

/// Moves a date-time by whole days, keeping its wall-clock time in the zone.
pub fn add_days(date: DateTime<FixedOffset>, days: i64, tz: Option<Tz>) -> Option<DateTime<FixedOffset>> {
    let naive = local_time(&date)?.checked_add_signed(Duration::try_days(days)?)?;
    localize(naive, date, tz)
}

/// Formats a date-time by a `dd.MM.yyyy HH:mm`-style pattern. Known parts:
/// `yyyy`, `yy`, `MM`, `M`, `dd`, `d`, `HH`, `H`, `mm`, `ss`; anything else is copied.
/// `None` for a date-time whose wall-clock time is out of chrono's range.
pub fn format_date(date: DateTime<FixedOffset>, pattern: &str) -> Option<String> {
    let date = local_time(&date)?;
    const PARTS: [&str; 10] = ["yyyy", "yy", "MM", "M", "dd", "d", "HH", "H", "mm", "ss"];
    let mut out = String::new();
    let mut rest = pattern;
    'outer: while let Some(c) = rest.chars().next() {
        for part in PARTS {
            if let Some(tail) = rest.strip_prefix(part) {
                let text = match part {
                    "yyyy" => format!("{:04}", date.year()),
                    "yy" => format!("{:02}", date.year().rem_euclid(100)),
                    "MM" => format!("{:02}", date.month()),
                    "M" => date.month().to_string(),
                    "dd" => format!("{:02}", date.day()),
                    "d" => date.day().to_string(),
                    "HH" => format!("{:02}", date.hour()),
                    "H" => date.hour().to_string(),
                    "mm" => format!("{:02}", date.minute()),
                    _ => format!("{:02}", date.second()),
                };
                out.push_str(&text);
                rest = tail;
                continue 'outer;
            }
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    Some(out)
}

fn deadline_error(text: &str) -> EvalError {
    EvalError(format!(
        "«{}» is not a deadline: write a date and time like 06.02 14:00, 06.02.21 14:00, \
         06.02.2021 14:00 or 6.2 14:00, a date like 6.2 (meaning 18:00), or a number of days",
        text.trim()
    ))
}

/// Parses a deadline as users type it (expressions.md, `deadline`).
pub fn deadline(text: &str, now: DateTime<FixedOffset>, tz: Option<Tz>) -> Result<DateTime<FixedOffset>, EvalError> {
    let trimmed = text.trim();
    let bad = || deadline_error(text);
    let end_of_day = NaiveTime::from_hms_opt(END_OF_DAY.0, END_OF_DAY.1, 0).expect("18:00");
    let today = local_time(&now).ok_or_else(bad)?.date();
    if !trimmed.is_empty() && trimmed.len() <= 6 && trimmed.chars().all(|c| c.is_ascii_digit()) {
        let days: i64 = trimmed.parse().map_err(|_| bad())?;
        let date = today
            .checked_add_signed(Duration::try_days(days).ok_or_else(bad)?)
            .ok_or_else(bad)?;
        return localize(date.and_time(end_of_day), now, tz).ok_or_else(bad);
    }
    let mut words = trimmed.split_whitespace();
    let date_part = words.next().ok_or_else(bad)?;
    let time_part = words.next();
    if words.next().is_some() {
        return Err(bad());
    }
    let time = match time_part {
        None => end_of_day,
        Some(t) => {
            let (h, m) = t.split_once(':').ok_or_else(bad)?;
            let h: u32 = small_number(h, 2).ok_or_else(bad)?;
            let m: u32 = small_number(m, 2).filter(|_| m.len() == 2).ok_or_else(bad)?;
            NaiveTime::from_hms_opt(h, m, 0).ok_or_else(bad)?
        }
    };
    let (day, month, year) = day_month_year(date_part).ok_or_else(bad)?;
    match year {
        Some(year) => {
            let date = NaiveDate::from_ymd_opt(year, month, day).ok_or_else(bad)?;
            localize(date.and_time(time), now, tz).ok_or_else(bad)
        }
        None => {
            // The next such date whose date-time is not in the past; 29.02 may wait for a leap year.
            if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
                return Err(bad());
            }
            for year in today.year()..today.year().saturating_add(9) {
                if let Some(date) = NaiveDate::from_ymd_opt(year, month, day)
                    && let Some(at) = localize(date.and_time(time), now, tz)
                    && at >= now
                {
                    return Ok(at);
                }
            }
            Err(bad())
        }
    }
}

/// `DD.MM`, `DD.MM.` or `DD.MM.YY(YY)` as day, month and year (`YY` in the 2000s).
fn day_month_year(text: &str) -> Option<(u32, u32, Option<i32>)> {
    let fields: Vec<&str> = text.split('.').collect();
    match fields.as_slice() {
        [d, m] | [d, m, ""] => Some((small_number(d, 2)?, small_number(m, 2)?, None)),
        [d, m, y] if y.len() == 2 || y.len() == 4 => {
            let y = small_number(y, 4)? as i32;
            Some((
                small_number(d, 2)?,
                small_number(m, 2)?,
                Some(if y < 100 { 2000 + y } else { y }),
            ))
        }
        _ => None,
    }
}

fn small_number(s: &str, max_len: usize) -> Option<u32> {
    if s.is_empty() || s.len() > max_len || !s.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Parses a date as an `input` of `type = "date"` reads it (bot-format.md): a form `deadline`
/// reads, without a time (`06.02`, `06.02.21`, `06.02.2021`, `6.2`, or a number of days from
/// today); a date without a year is the next such date not before today. The value is the
/// start of that day in the zone.
pub fn date(text: &str, now: DateTime<FixedOffset>, tz: Option<Tz>) -> Result<DateTime<FixedOffset>, EvalError> {
    let trimmed = text.trim();
    let bad = || {
        EvalError(format!(
            "«{trimmed}» is not a date: write it like 06.02, 06.02.21, 06.02.2021 or 6.2, or a number of days"
        ))
    };
    let now = in_zone(now, tz);
    let today = local_time(&now).ok_or_else(bad)?.date();
    let day_start = |date: NaiveDate| localize(date.and_time(NaiveTime::MIN), now, tz).ok_or_else(bad);
    if trimmed.is_empty() || trimmed.contains(char::is_whitespace) {
        return Err(bad());
    }
    if trimmed.len() <= 6 && trimmed.chars().all(|c| c.is_ascii_digit()) {
        let days: i64 = trimmed.parse().map_err(|_| bad())?;
        let date = today
            .checked_add_signed(Duration::try_days(days).ok_or_else(bad)?)
            .ok_or_else(bad)?;
        return day_start(date);
    }
    let (day, month, year) = day_month_year(trimmed).ok_or_else(bad)?;
    match year {
        Some(year) => day_start(NaiveDate::from_ymd_opt(year, month, day).ok_or_else(bad)?),
        None => {
            // 29.02 may wait for a leap year.
            for year in today.year()..today.year().saturating_add(9) {
                if let Some(date) = NaiveDate::from_ymd_opt(year, month, day)
                    && date >= today
                {
                    return day_start(date);
                }
            }
            Err(bad())
        }
    }
}
