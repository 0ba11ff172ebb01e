//! Durations on the command line: humantime (`90s`, `45m`, `1h 30m`), bounded.

use std::time::Duration;

/// The longest duration any flag takes: anything longer is a typo, and would overflow clocks.
pub const DURATION_MAX: Duration = Duration::from_secs(7 * 24 * 3600);
/// The bounds of the polling flags.
pub const POLL_MIN: Duration = Duration::from_millis(50);
pub const POLL_CEILING: Duration = Duration::from_secs(300);
pub const STOP_GRACE: Duration = Duration::from_secs(150);

/// clap value parser: a humantime duration (`90s`, `45m`, `1h 30m`), at most 7 days.
pub fn duration(text: &str) -> std::result::Result<Duration, String> {
    let d = humantime::parse_duration(text)
        .map_err(|e| format!("{e} (expected e.g. 500ms, 30s, 45m, 2h)"))?;
    if d > DURATION_MAX {
        return Err(format!(
            "{text} is longer than the maximum of {}",
            humantime::format_duration(DURATION_MAX)
        ));
    }
    Ok(d)
}
