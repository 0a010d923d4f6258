//! Sizes and durations as people write them in `infragen.toml`:
//! `"128 MiB"`, `"1GiB"`, `4096` (bytes); `"60s"`, `"250ms"`, `"2m"`, `30` (seconds).

use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};

/// A byte size read from configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteSize(pub u64);

/// A duration read from configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Seconds(pub Duration);

const SIZE_UNITS: &[(&str, u64)] = &[
    ("B", 1),
    ("KiB", 1 << 10),
    ("MiB", 1 << 20),
    ("GiB", 1 << 30),
    ("KB", 1_000),
    ("MB", 1_000_000),
    ("GB", 1_000_000_000),
];

const DURATION_UNITS: &[(&str, u64)] = &[
    ("ms", 1),
    ("s", 1_000),
    ("m", 60_000),
    ("h", 3_600_000),
    ("d", 86_400_000),
];

fn split_number(text: &str) -> Option<(u64, &str)> {
    let text = text.trim();
    let digits_end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '_'))
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(digits_end);
    let number = digits.replace('_', "").parse().ok()?;
    Some((number, unit.trim()))
}

impl ByteSize {
    /// Parses `"<n> <unit>"` with a binary (`KiB`, `MiB`, `GiB`) or decimal
    /// (`KB`, `MB`, `GB`) unit, or `B`.
    pub fn parse(text: &str) -> Result<ByteSize, String> {
        let invalid =
            || format!("invalid size {text:?}: write a number and a unit, e.g. \"128 MiB\"");
        let (number, unit) = split_number(text).ok_or_else(invalid)?;
        let unit = if unit.is_empty() { "B" } else { unit };
        let (_, factor) = SIZE_UNITS
            .iter()
            .find(|(name, _)| *name == unit)
            .ok_or_else(|| {
                format!(
                    "invalid size {text:?}: unknown unit {unit:?} (use B, KiB, MiB, GiB, KB, MB or GB)"
                )
            })?;
        number
            .checked_mul(*factor)
            .map(ByteSize)
            .ok_or_else(|| format!("invalid size {text:?}: too large"))
    }
}

impl Seconds {
    /// Parses `"<n><unit>"` with unit `ms`, `s`, `m`, `h` or `d`.
    pub fn parse(text: &str) -> Result<Seconds, String> {
        let invalid =
            || format!("invalid duration {text:?}: write a number and a unit, e.g. \"60s\"");
        let (number, unit) = split_number(text).ok_or_else(invalid)?;
        if unit.is_empty() {
            return Err(format!(
                "invalid duration {text:?}: add a unit, e.g. \"{number}s\" (ms, s, m, h or d)"
            ));
        }
        let (_, millis) = DURATION_UNITS
            .iter()
            .find(|(name, _)| *name == unit)
            .ok_or_else(|| {
                format!("invalid duration {text:?}: unknown unit {unit:?} (use ms, s, m, h or d)")
            })?;
        number
            .checked_mul(*millis)
            .map(|ms| Seconds(Duration::from_millis(ms)))
            .ok_or_else(|| format!("invalid duration {text:?}: too large"))
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, factor) in [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
            if self.0 >= factor && self.0.is_multiple_of(factor) {
                return write!(f, "{} {name}", self.0 / factor);
            }
        }
        write!(f, "{} B", self.0)
    }
}

struct ByteSizeVisitor;

impl Visitor<'_> for ByteSizeVisitor {
    type Value = ByteSize;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a size such as \"128 MiB\" or a number of bytes")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<ByteSize, E> {
        u64::try_from(v)
            .map(ByteSize)
            .map_err(|_| E::custom(format!("invalid size {v}: must not be negative")))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<ByteSize, E> {
        Ok(ByteSize(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<ByteSize, E> {
        ByteSize::parse(v).map_err(E::custom)
    }
}

impl<'de> serde::Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ByteSizeVisitor)
    }
}

struct SecondsVisitor;

impl Visitor<'_> for SecondsVisitor {
    type Value = Seconds;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a duration such as \"60s\" or a number of seconds")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Seconds, E> {
        u64::try_from(v)
            .map(|s| Seconds(Duration::from_secs(s)))
            .map_err(|_| E::custom(format!("invalid duration {v}: must not be negative")))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Seconds, E> {
        Ok(Seconds(Duration::from_secs(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Seconds, E> {
        Seconds::parse(v).map_err(E::custom)
    }
}

impl<'de> serde::Deserialize<'de> for Seconds {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(SecondsVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_accept_binary_and_decimal_units_with_or_without_space() {
        assert_eq!(ByteSize::parse("128 MiB"), Ok(ByteSize(128 << 20)));
        assert_eq!(ByteSize::parse("1GiB"), Ok(ByteSize(1 << 30)));
        assert_eq!(ByteSize::parse("64 KB"), Ok(ByteSize(64_000)));
        assert_eq!(ByteSize::parse("4_096"), Ok(ByteSize(4096)));
    }

    #[test]
    fn sizes_with_unknown_units_say_which_units_exist() {
        assert_eq!(
            ByteSize::parse("12 mb"),
            Err(
                "invalid size \"12 mb\": unknown unit \"mb\" (use B, KiB, MiB, GiB, KB, MB or GB)"
                    .into()
            )
        );
        assert!(ByteSize::parse("lots").is_err());
    }

    #[test]
    fn durations_accept_milliseconds_to_hours() {
        assert_eq!(
            Seconds::parse("250ms"),
            Ok(Seconds(Duration::from_millis(250)))
        );
        assert_eq!(Seconds::parse("60s"), Ok(Seconds(Duration::from_secs(60))));
        assert_eq!(Seconds::parse("2m"), Ok(Seconds(Duration::from_secs(120))));
        assert_eq!(Seconds::parse("1h"), Ok(Seconds(Duration::from_secs(3600))));
        assert!(Seconds::parse("60").is_err(), "a string needs a unit");
    }

    #[test]
    fn sizes_display_in_the_largest_exact_binary_unit() {
        assert_eq!(ByteSize(128 << 20).to_string(), "128 MiB");
        assert_eq!(ByteSize(3 << 10).to_string(), "3 KiB");
        assert_eq!(ByteSize(1536).to_string(), "1536 B");
    }
}
