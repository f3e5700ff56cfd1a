//! Daytime (RFC 867): the date and time as a human-readable line.

use std::time::{SystemTime, UNIX_EPOCH};

const WEEKDAYS: [&str; 7] = ["Thursday", "Friday", "Saturday", "Sunday", "Monday", "Tuesday", "Wednesday"];
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// `time` in RFC 867's suggested form, in UTC: `Weekday, Month Day, Year HH:MM:SS-UTC`
/// followed by CR LF.
pub fn daytime_string(time: SystemTime) -> String {
    let secs = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let days = secs / 86_400;
    let (year, month, day) = civil_from_days(days);
    let rem = secs % 86_400;
    format!(
        "{}, {} {}, {} {:02}:{:02}:{:02}-UTC\r\n",
        WEEKDAYS[(days % 7) as usize],
        MONTHS[(month - 1) as usize],
        day,
        year,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month 1–12, day 1–31) in the proleptic Gregorian
/// calendar (the "civil from days" algorithm, counting 400-year eras from March 1).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn known_dates() {
        assert_eq!(daytime_string(UNIX_EPOCH), "Thursday, January 1, 1970 00:00:00-UTC\r\n");
        let t = UNIX_EPOCH + Duration::from_secs(1_795_316_415);
        assert_eq!(daytime_string(t), "Sunday, November 22, 2026 03:00:15-UTC\r\n");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(daytime_string(leap), "Tuesday, February 29, 2000 00:00:00-UTC\r\n");
    }
}
