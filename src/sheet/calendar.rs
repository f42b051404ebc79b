//! The programme as an iCalendar file (RFC 5545) for attendees' calendars: one event per
//! segment at its planned time, in the event's time zone, with the zone's own definition so
//! that any calendar places it right.

use chrono::{DateTime, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;

use crate::domain::show::RunOfShow;
use crate::domain::text::{Lang, Localized};
use crate::domain::Millis;

/// Lines are folded at this many octets, as RFC 5545 asks.
const FOLD_AT: usize = 75;

/// The plan as an iCalendar file in `lang`: each segment a VEVENT whose UID stays the same
/// and whose SEQUENCE is the plan's version, so that a calendar that subscribes follows plan
/// edits. `now` stamps it.
pub fn programme_ics(plan: &RunOfShow, plan_version: u64, lang: Lang, now: Millis) -> String {
    let zone: Tz = plan.event.time_zone.parse().unwrap_or(chrono_tz::UTC);
    let pick = |text: &Localized| text.get(lang).to_owned();
    let mut lines = vec![
        "BEGIN:VCALENDAR".to_owned(),
        "VERSION:2.0".to_owned(),
        "PRODID:-//eventhub//programme//EN".to_owned(),
        "CALSCALE:GREGORIAN".to_owned(),
        "METHOD:PUBLISH".to_owned(),
        format!("X-WR-CALNAME:{}", escape(&pick(&plan.event.title))),
        format!("X-WR-TIMEZONE:{}", zone.name()),
    ];
    lines.extend(timezone(zone, plan.event.planned_start));
    let stamp = utc(now);
    for segment in &plan.segments {
        let (start, end) = (segment.planned_start, segment.planned_start + segment.duration_ms);
        let speakers: Vec<String> = segment.speakers.iter().map(|s| pick(&s.name)).collect();
        lines.extend([
            "BEGIN:VEVENT".to_owned(),
            format!("UID:{}-{}@eventhub", plan.event.id, segment.id),
            format!("SEQUENCE:{plan_version}"),
            format!("DTSTAMP:{stamp}"),
            format!("DTSTART;TZID={}:{}", zone.name(), local(zone, start)),
            format!("DTEND;TZID={}:{}", zone.name(), local(zone, end)),
            format!("SUMMARY:{}", escape(&pick(&segment.title))),
            format!("LOCATION:{}", escape(&pick(&plan.event.venue))),
        ]);
        if !speakers.is_empty() {
            lines.push(format!("DESCRIPTION:{}", escape(&speakers.join("\n"))));
        }
        lines.push("END:VEVENT".to_owned());
    }
    lines.push("END:VCALENDAR".to_owned());
    lines.iter().map(|line| fold(line)).collect()
}

fn utc(at: Millis) -> String {
    DateTime::<Utc>::from_timestamp_millis(at).unwrap_or_default().format("%Y%m%dT%H%M%SZ").to_string()
}

fn local(zone: Tz, at: Millis) -> String {
    let at = DateTime::<Utc>::from_timestamp_millis(at).unwrap_or_default();
    at.with_timezone(&zone).format("%Y%m%dT%H%M%S").to_string()
}

/// The zone's VTIMEZONE: its offset changes within a year either side of `around`, each as
/// an observance of its own, or one observance when it has none.
fn timezone(zone: Tz, around: Millis) -> Vec<String> {
    const DAY: i64 = 86_400_000;
    let offset = |at: i64| zone.offset_from_utc_datetime(&utc_naive(at)).fix().local_minus_utc();
    let (from, to) = ((around - 366 * DAY) / 1000 * 1000, around + 366 * DAY);
    let mut changes = Vec::new();
    let mut at = from;
    while at < to {
        let next = at + DAY;
        if offset(at) != offset(next) {
            // The second of the change, by halving the day.
            let (mut before, mut after) = (at, next);
            while after - before > 1000 {
                let middle = before + (after - before) / 2000 * 1000;
                if offset(middle) == offset(before) {
                    before = middle;
                } else {
                    after = middle;
                }
            }
            changes.push((after, offset(before), offset(after)));
        }
        at = next;
    }
    let mut lines = vec!["BEGIN:VTIMEZONE".to_owned(), format!("TZID:{}", zone.name())];
    if changes.is_empty() {
        let now = offset(around);
        lines.extend(observance("STANDARD", "19700101T000000".to_owned(), now, now));
    }
    let standard = changes.iter().map(|(_, _, to)| *to).min().unwrap_or_default();
    for (at, before, after) in changes {
        let kind = if after > standard { "DAYLIGHT" } else { "STANDARD" };
        // DTSTART is the local time of the change, as the clock read before it.
        let start = (utc_naive(at) + chrono::Duration::seconds(i64::from(before))).format("%Y%m%dT%H%M%S").to_string();
        lines.extend(observance(kind, start, before, after));
    }
    lines.push("END:VTIMEZONE".to_owned());
    lines
}

fn observance(kind: &str, start: String, from: i32, to: i32) -> Vec<String> {
    vec![
        format!("BEGIN:{kind}"),
        format!("DTSTART:{start}"),
        format!("TZOFFSETFROM:{}", utc_offset(from)),
        format!("TZOFFSETTO:{}", utc_offset(to)),
        format!("END:{kind}"),
    ]
}

fn utc_naive(at: Millis) -> NaiveDateTime {
    DateTime::<Utc>::from_timestamp_millis(at).unwrap_or_default().naive_utc()
}

/// `+0800`, `-0330`.
fn utc_offset(seconds: i32) -> String {
    let sign = if seconds < 0 { '-' } else { '+' };
    let minutes = seconds.abs() / 60;
    format!("{sign}{:02}{:02}", minutes / 60, minutes % 60)
}

/// A TEXT value: backslashes, semicolons, commas and line breaks escaped.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// One content line, folded at 75 octets without splitting a character, ending in CRLF.
fn fold(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + 8);
    let mut width = 0;
    for c in line.chars() {
        if width + c.len_utf8() > FOLD_AT {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += c.len_utf8();
    }
    out.push_str("\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_fold_at_75_octets_between_characters() {
        let folded = fold(&format!("SUMMARY:{}", "数据跨境流动".repeat(10)));
        for line in folded.split("\r\n").filter(|l| !l.is_empty()) {
            assert!(line.len() <= FOLD_AT, "{line:?}");
        }
        let unfolded: String = folded.trim_end().replace("\r\n ", "");
        assert_eq!(unfolded, format!("SUMMARY:{}", "数据跨境流动".repeat(10)));
    }

    #[test]
    fn a_zone_with_summer_time_has_both_observances_and_one_without_has_one() {
        let march_2026 = 1_774_000_000_000;
        let berlin = timezone(chrono_tz::Europe::Berlin, march_2026).join("\n");
        assert!(berlin.contains("BEGIN:DAYLIGHT\nDTSTART:20260329T020000\nTZOFFSETFROM:+0100\nTZOFFSETTO:+0200"));
        assert!(berlin.contains("BEGIN:STANDARD\nDTSTART:20261025T030000\nTZOFFSETFROM:+0200\nTZOFFSETTO:+0100"));
        let shanghai = timezone(chrono_tz::Asia::Shanghai, march_2026).join("\n");
        assert_eq!(shanghai.matches("BEGIN:STANDARD").count(), 1);
        assert!(shanghai.contains("TZOFFSETTO:+0800"));
        assert_eq!(escape("a,b;c\\d\ne"), "a\\,b\\;c\\\\d\\ne");
    }
}
