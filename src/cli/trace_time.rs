//! The time a trace line is stamped with: virtual under `tunstack script` and
//! the simulator (the script's own time, `0.400000s`, as its lines are written),
//! the wall clock (RFC 3339, UTC) otherwise. See `tunstack::script::virtual_time`.

use std::fmt;

use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tunstack::script::virtual_time;

/// A `tracing_subscriber` timer: virtual time when the thread keeps one.
#[derive(Clone, Copy, Debug, Default)]
pub struct TraceTime;

impl FormatTime for TraceTime {
    fn format_time(&self, w: &mut Writer<'_>) -> fmt::Result {
        match virtual_time::now() {
            Some(t) => write!(w, "{}", seconds(t)),
            None => SystemTime.format_time(w),
        }
    }
}

/// `0.400000s`: seconds with every microsecond, as scripts and `Instant` print.
pub fn seconds(t: std::time::Duration) -> String {
    format!("{}.{:06}s", t.as_secs(), t.subsec_micros())
}
