//! Adyen's dates (`eventDate`, `expiresAt`, `defensePeriodEndsAt`): ISO 8601 with a time zone
//! offset, `2021-07-17T13:42:40+01:00` (or `Z`, fractions of a second allowed), as Unix seconds.

/// Days from 1970-01-01 to a civil date (proleptic Gregorian; Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn number(text: &str, range: core::ops::RangeInclusive<i64>) -> Option<i64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok().filter(|n| range.contains(n))
}

/// Unix seconds of an ISO 8601 date-time with an offset; `None` when it is not one.
pub fn unix_seconds(text: &str) -> Option<i64> {
    let text = text.trim();
    let (date, rest) = text.split_once('T')?;
    let mut parts = date.split('-');
    let year = number(parts.next()?, 1..=9999)?;
    let month = number(parts.next()?, 1..=12)?;
    let day = number(parts.next()?, 1..=31)?;
    if parts.next().is_some() {
        return None;
    }
    let (time, zone) = (rest.get(..8)?, rest.get(8..)?);
    let mut hms = time.split(':');
    let hour = number(hms.next()?, 0..=23)?;
    let minute = number(hms.next()?, 0..=59)?;
    let second = number(hms.next()?, 0..=60)?;
    // Fractions of a second are dropped.
    let zone = match zone.strip_prefix('.') {
        Some(fraction) => fraction.trim_start_matches(|c: char| c.is_ascii_digit()),
        None => zone,
    };
    let offset = match zone {
        "Z" | "z" => 0,
        _ => {
            let sign = match zone.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let (h, m) = zone[1..].split_once(':')?;
            sign * (number(h, 0..=23)? * 3600 + number(m, 0..=59)? * 60)
        }
    };
    let days = days_from_civil(year, month, day);
    Some(days * 86_400 + hour * 3600 + minute * 60 + second - offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_adyen_dates() {
        assert_eq!(
            unix_seconds("2023-11-14T22:13:20+00:00"),
            Some(1_700_000_000)
        );
        assert_eq!(
            unix_seconds("2023-11-14T23:13:20+01:00"),
            Some(1_700_000_000)
        );
        assert_eq!(
            unix_seconds("2023-11-14T21:13:20-01:00"),
            Some(1_700_000_000)
        );
        assert_eq!(unix_seconds("2023-11-14T22:13:20Z"), Some(1_700_000_000));
        assert_eq!(
            unix_seconds("2023-11-14T22:13:20.123Z"),
            Some(1_700_000_000)
        );
        assert_eq!(unix_seconds("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(unix_seconds("2000-02-29T00:00:00Z"), Some(951_782_400));
        assert_eq!(unix_seconds("1969-12-31T23:59:59Z"), Some(-1));
        for bad in [
            "",
            "2023-11-14",
            "2023-11-14T22:13:20",
            "2023-13-14T22:13:20Z",
            "2023-11-14T24:00:00Z",
            "2023-11-14T22:13:20+0100",
            "2023-11-14T22:13:20+01:00x",
            "+2023-11-14T22:13:20Z",
            "2023-11-1é4T22:13:20Z",
            "2023-11-14T22:13:2",
            "2023-11-14T22:13:2é+00:00",
        ] {
            assert_eq!(unix_seconds(bad), None, "{bad}");
        }
    }
}
