//! Dates as Adyen writes them (`eventDate`, `expiresAt`): ISO 8601 with an offset,
//! `2021-01-01T01:00:00+01:00`. The emulator writes UTC, `+00:00`.

/// ISO 8601 for a Unix time, in UTC.
pub fn iso8601(unix_secs: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(unix_secs)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}+00:00",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats_utc() {
        assert_eq!(super::iso8601(1_700_000_000), "2023-11-14T22:13:20+00:00");
    }
}
