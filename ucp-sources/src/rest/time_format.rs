//! How a definition writes query-window times (`queryTimeFormat`) and reads record times.
//!
//! CCF accepts `UnixTimestamp`, `UnixTimestampInMills`, or a .NET custom date format such as
//! `yyyy-MM-ddTHH:mm:ssZ`; without one, ISO 8601 in UTC. A .NET pattern is translated once,
//! at load time, into a chrono format; the window's boundaries are cut to the format's
//! resolution, so consecutive windows meet exactly and no event falls between two.

use std::fmt::Write as _;

use chrono::{DateTime, NaiveDateTime, SecondsFormat, TimeZone, Utc};

/// A time format of a definition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TimeFormat {
    /// ISO 8601 / RFC 3339 in UTC with milliseconds, `2026-03-02T09:00:00.000Z`.
    Iso,
    /// Epoch seconds.
    UnixSeconds,
    /// Epoch milliseconds.
    UnixMillis,
    /// A .NET custom format, translated to chrono's.
    Pattern {
        /// The pattern as written.
        dotnet: String,
        /// chrono's `strftime` equivalent.
        chrono: String,
        /// The smallest unit it writes, in milliseconds (1000 without fractions).
        resolution_ms: i64,
    },
}

impl TimeFormat {
    /// The format named in a definition.
    pub fn parse(text: &str) -> Result<TimeFormat, String> {
        match text.trim() {
            t if t.eq_ignore_ascii_case("unixtimestamp") => Ok(TimeFormat::UnixSeconds),
            t if t.eq_ignore_ascii_case("unixtimestampinmills")
                || t.eq_ignore_ascii_case("unixtimestampinmillis") =>
            {
                Ok(TimeFormat::UnixMillis)
            }
            t if t.eq_ignore_ascii_case("iso8601") || t.is_empty() => Ok(TimeFormat::Iso),
            pattern => translate(pattern),
        }
    }

    /// The smallest unit the format writes, in milliseconds.
    pub fn resolution_ms(&self) -> i64 {
        match self {
            TimeFormat::Iso | TimeFormat::UnixMillis => 1,
            TimeFormat::UnixSeconds => 1000,
            TimeFormat::Pattern { resolution_ms, .. } => *resolution_ms,
        }
    }

    /// `time` cut down to the format's resolution.
    pub fn truncate(&self, time: DateTime<Utc>) -> DateTime<Utc> {
        let unit = self.resolution_ms().max(1);
        let ms = time.timestamp_millis();
        DateTime::from_timestamp_millis(ms - ms.rem_euclid(unit)).unwrap_or(time)
    }

    /// `time` written in this format.
    pub fn format(&self, time: DateTime<Utc>) -> String {
        match self {
            TimeFormat::Iso => time.to_rfc3339_opts(SecondsFormat::Millis, true),
            TimeFormat::UnixSeconds => time.timestamp().to_string(),
            TimeFormat::UnixMillis => time.timestamp_millis().to_string(),
            TimeFormat::Pattern { chrono, .. } => {
                // chrono reports an unusable format through `fmt::Error`; checked at load.
                let mut out = String::new();
                match write!(out, "{}", time.format(chrono)) {
                    Ok(()) => out,
                    Err(_) => time.to_rfc3339_opts(SecondsFormat::Millis, true),
                }
            }
        }
    }

    /// Read a time written in this format (record times); ISO 8601 and epoch numbers are
    /// always understood as well.
    pub fn read(&self, text: &str) -> Option<DateTime<Utc>> {
        let text = text.trim();
        if let TimeFormat::Pattern { chrono, .. } = self {
            if let Ok(t) = DateTime::parse_from_str(text, chrono) {
                return Some(t.to_utc());
            }
            if let Ok(t) = NaiveDateTime::parse_from_str(text, chrono) {
                return Some(Utc.from_utc_datetime(&t));
            }
        }
        read_any(text, matches!(self, TimeFormat::UnixMillis))
    }
}

/// ISO 8601 / RFC 3339, RFC 2822, or an epoch number (seconds, or milliseconds when `millis`
/// or when the number is too large to be seconds).
pub fn read_any(text: &str, millis: bool) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.to_utc());
    }
    if let Ok(t) = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f") {
        return Some(Utc.from_utc_datetime(&t));
    }
    if let Ok(t) = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f") {
        return Some(Utc.from_utc_datetime(&t));
    }
    if let Ok(t) = DateTime::parse_from_rfc2822(text) {
        return Some(t.to_utc());
    }
    let number: f64 = text.parse().ok().filter(|n: &f64| n.is_finite())?;
    // Past 10^11 seconds (year 5138) a number is milliseconds.
    let ms = if millis || number.abs() >= 1e11 {
        number
    } else {
        number * 1000.0
    };
    if ms.abs() > 8.64e15 {
        return None;
    }
    DateTime::from_timestamp_millis(ms as i64)
}

/// A .NET custom date and time format as a chrono format.
fn translate(pattern: &str) -> Result<TimeFormat, String> {
    let mut out = String::new();
    let mut resolution_ms = 1000;
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let run = chars[i..].iter().take_while(|&&x| x == c).count();
        let (piece, used): (String, usize) = match (c, run) {
            ('y', n) if n >= 4 => ("%Y".into(), n),
            ('y', 2) => ("%y".into(), 2),
            ('M', 2) => ("%m".into(), 2),
            ('M', 3) => ("%b".into(), 3),
            ('M', n) if n >= 4 => ("%B".into(), n),
            ('d', 2) => ("%d".into(), 2),
            ('d', 3) => ("%a".into(), 3),
            ('d', n) if n >= 4 => ("%A".into(), n),
            ('H', 2) => ("%H".into(), 2),
            ('h', 2) => ("%I".into(), 2),
            ('m', 2) => ("%M".into(), 2),
            ('s', 2) => ("%S".into(), 2),
            ('t', 2) => ("%p".into(), 2),
            ('f' | 'F', n @ 1..=9) => {
                resolution_ms = if n >= 3 { 1 } else { 10i64.pow(3 - n as u32) };
                (format!("%{}f", n.min(9)), n)
            }
            ('z', 3) | ('K', 1) => ("%:z".into(), run),
            ('\'', _) | ('"', _) => {
                let quote = c;
                let end = chars[i + 1..]
                    .iter()
                    .position(|&x| x == quote)
                    .ok_or_else(|| format!("time format `{pattern}` has an unclosed quote"))?;
                let text: String = chars[i + 1..i + 1 + end].iter().collect();
                (text.replace('%', "%%"), end + 2)
            }
            ('\\', _) if i + 1 < chars.len() => (chars[i + 1].to_string().replace('%', "%%"), 2),
            (c, _) if c.is_ascii_alphabetic() && !matches!(c, 'T' | 'Z') => {
                return Err(format!(
                    "time format `{pattern}`: `{}` is not a supported .NET specifier (use yyyy, MM, dd, HH, hh, mm, ss, f…fffffffff, tt, zzz, K, quoted text, or UnixTimestamp / UnixTimestampInMills)",
                    chars[i..i + run].iter().collect::<String>()
                ))
            }
            ('%', _) => ("%%".into(), 1),
            (c, _) => (c.to_string(), 1),
        };
        out.push_str(&piece);
        i += used.max(1);
    }
    // A format that cannot write a date is a mistake, not a format.
    if !out.contains("%Y") && !out.contains("%y") {
        return Err(format!(
            "time format `{pattern}` writes no year: use a .NET pattern such as yyyy-MM-ddTHH:mm:ssZ, or UnixTimestamp / UnixTimestampInMills"
        ));
    }
    let mut probe = String::new();
    if write!(probe, "{}", Utc::now().format(&out)).is_err() {
        return Err(format!("time format `{pattern}` cannot be written"));
    }
    Ok(TimeFormat::Pattern {
        dotnet: pattern.to_string(),
        chrono: out,
        resolution_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    #[test]
    fn named_and_dotnet_formats_write_times() {
        let t = at("2026-03-02T09:05:07.123Z");
        assert_eq!(TimeFormat::Iso.format(t), "2026-03-02T09:05:07.123Z");
        assert_eq!(
            TimeFormat::parse("UnixTimestamp").unwrap().format(t),
            "1772442307"
        );
        assert_eq!(
            TimeFormat::parse("UnixTimestampInMills").unwrap().format(t),
            "1772442307123"
        );
        let dotnet = TimeFormat::parse("yyyy-MM-ddTHH:mm:ssZ").unwrap();
        assert_eq!(dotnet.format(t), "2026-03-02T09:05:07Z");
        assert_eq!(dotnet.resolution_ms(), 1000);
        assert_eq!(dotnet.truncate(t), at("2026-03-02T09:05:07Z"));
        let fractions = TimeFormat::parse("yyyy-MM-dd'T'HH:mm:ss.fffK").unwrap();
        assert_eq!(fractions.format(t), "2026-03-02T09:05:07.123+00:00");
        assert_eq!(fractions.resolution_ms(), 1);
        assert_eq!(
            TimeFormat::parse("dd/MM/yyyy HH:mm").unwrap().format(t),
            "02/03/2026 09:05"
        );
    }

    #[test]
    fn bad_formats_say_why() {
        assert!(TimeFormat::parse("yyyy-MM-dd'T")
            .unwrap_err()
            .contains("unclosed quote"));
        assert!(TimeFormat::parse("yyyy-QQ").unwrap_err().contains("QQ"));
        assert!(TimeFormat::parse("HH:mm").unwrap_err().contains("no year"));
    }

    #[test]
    fn record_times_are_read_in_many_shapes() {
        let t = at("2026-03-02T09:05:07Z");
        assert_eq!(read_any("2026-03-02T09:05:07Z", false), Some(t));
        assert_eq!(read_any("2026-03-02 09:05:07", false), Some(t));
        assert_eq!(read_any("1772442307", false), Some(t));
        assert_eq!(read_any("1772442307000", false), Some(t));
        assert_eq!(read_any("1e300", false), None);
        assert_eq!(read_any("soon", false), None);
        let dotnet = TimeFormat::parse("dd/MM/yyyy HH:mm:ss").unwrap();
        assert_eq!(dotnet.read("02/03/2026 09:05:07"), Some(t));
    }
}
