//! Delivery statistics over time buckets: the window a caller may ask for,
//! how it is cut into buckets, and latency percentiles read from a
//! histogram. The database counts attempts per (time bucket, latency bin);
//! everything here turns those counts into what the console shows. SQLite
//! has no percentile function, so both engines count into the same fixed
//! bins and the percentiles are read from the bins, identically.

use std::time::Duration;

/// Largest window: a week of attempts is what the console charts.
pub const MAX_WINDOW: Duration = Duration::from_secs(7 * 24 * 3600);
/// Window when the caller gives none.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(3600);
/// Narrowest bucket: a live view of the last minutes, second by second.
pub const MIN_BUCKET: Duration = Duration::from_secs(1);
/// Most buckets in one answer (a chart's worth; bounds the rows counted).
pub const MAX_BUCKETS: u64 = 1_000;
/// Buckets in a window when the caller gives no width.
const DEFAULT_BUCKETS: u64 = 60;

const MICROS_PER_SECOND: u64 = 1_000_000;

/// A validated request for statistics: how far back, and how wide a bucket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatsWindow {
    window_micros: u64,
    bucket_micros: u64,
}

/// Which of the two durations is wrong, and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct StatsWindowError {
    /// `window` or `bucket`, as the request names them.
    pub field: &'static str,
    pub reason: String,
}

impl StatsWindow {
    /// `None` takes the default: an hour, and a sixtieth of the window
    /// (rounded up to a whole second).
    pub fn parse(
        window: Option<Duration>,
        bucket: Option<Duration>,
    ) -> Result<Self, StatsWindowError> {
        let error = |field, reason: String| StatsWindowError { field, reason };
        let window = window.unwrap_or(DEFAULT_WINDOW);
        if !(MIN_BUCKET..=MAX_WINDOW).contains(&window) {
            return Err(error(
                "window",
                format!(
                    "must be between {}s and {}s (7 days), got {window:?}",
                    MIN_BUCKET.as_secs(),
                    MAX_WINDOW.as_secs()
                ),
            ));
        }
        let window_micros = window.as_micros() as u64;
        let bucket = bucket.unwrap_or_else(|| {
            let sixtieth = window_micros.div_ceil(DEFAULT_BUCKETS);
            Duration::from_secs(sixtieth.div_ceil(MICROS_PER_SECOND))
        });
        let bucket_micros = u64::try_from(bucket.as_micros()).unwrap_or(u64::MAX);
        if bucket < MIN_BUCKET {
            return Err(error(
                "bucket",
                format!("must be at least {}s, got {bucket:?}", MIN_BUCKET.as_secs()),
            ));
        }
        if bucket_micros > window_micros {
            return Err(error(
                "bucket",
                format!("must be at most the window ({window:?}), got {bucket:?}"),
            ));
        }
        let count = window_micros.div_ceil(bucket_micros);
        if count > MAX_BUCKETS {
            return Err(error(
                "bucket",
                format!(
                    "{bucket:?} cuts the {window:?} window into {count} buckets; at most \
                     {MAX_BUCKETS} are allowed, so use at least {:?}",
                    Duration::from_micros(window_micros.div_ceil(MAX_BUCKETS))
                ),
            ));
        }
        Ok(Self {
            window_micros,
            bucket_micros,
        })
    }

    /// The buckets as of `now` (microseconds since the epoch): aligned to
    /// multiples of the width, the last one holding `now`.
    pub fn buckets_at(&self, now: i64) -> TimeBuckets {
        // Both fit in an i64 by far: at most 7 days, in microseconds.
        let width = self.bucket_micros as i64;
        let count = self.window_micros.div_ceil(self.bucket_micros) as i64;
        let last = now.div_euclid(width) * width;
        TimeBuckets {
            start: last - (count - 1) * width,
            width,
            count: count as usize,
        }
    }
}

/// `count` consecutive buckets of `width` microseconds from `start`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeBuckets {
    pub start: i64,
    pub width: i64,
    pub count: usize,
}

impl TimeBuckets {
    /// Where the last bucket ends (exclusive).
    pub fn end(&self) -> i64 {
        self.start + self.width * self.count as i64
    }
}

/// Upper bounds (exclusive, microseconds) of the latency bins: 1, 1.5, 2,
/// 3, 5 and 7 per decade from 0.1 ms to 100 s, each under 5/3 of the one
/// before. One more bin holds everything from 100 s on (a timeout may be
/// up to 120 s). The store counts into exactly these bins.
pub const LATENCY_BOUNDS_MICROS: [i64; 37] = latency_bounds();

const fn latency_bounds() -> [i64; 37] {
    const STEPS: [i64; 6] = [10, 15, 20, 30, 50, 70];
    let mut bounds = [0; 37];
    let mut decade = 10; // 10 * 10 µs = 0.1 ms
    let mut i = 0;
    while i < 36 {
        bounds[i] = STEPS[i % 6] * decade;
        i += 1;
        if i % 6 == 0 {
            decade *= 10;
        }
    }
    bounds[36] = 100_000_000;
    bounds
}

/// Bins in a histogram: one per bound, and the open-ended last one.
pub const LATENCY_BINS: usize = LATENCY_BOUNDS_MICROS.len() + 1;

/// The bin of a latency, as the store's CASE expression computes it.
pub fn latency_bin(micros: i64) -> usize {
    LATENCY_BOUNDS_MICROS.partition_point(|&bound| bound <= micros)
}

/// What the database counted for one (time bucket, latency bin) pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatsCell {
    /// Index of the time bucket, 0 for the oldest.
    pub bucket: usize,
    /// Index of the latency bin (see [`LATENCY_BOUNDS_MICROS`]).
    pub bin: usize,
    pub attempts: u64,
    pub succeeded: u64,
    /// The largest latency among these attempts.
    pub max_micros: i64,
}

/// Attempts per latency bin, with each bin's largest latency.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Histogram {
    counts: [u64; LATENCY_BINS],
    max_micros: [i64; LATENCY_BINS],
}

impl Default for Histogram {
    fn default() -> Self {
        Self {
            counts: [0; LATENCY_BINS],
            max_micros: [0; LATENCY_BINS],
        }
    }
}

impl Histogram {
    fn add(&mut self, bin: usize, count: u64, max_micros: i64) {
        let bin = bin.min(LATENCY_BINS - 1);
        self.counts[bin] += count;
        self.max_micros[bin] = self.max_micros[bin].max(max_micros);
    }

    /// The nearest-rank percentile `p` (0 < p <= 1): the largest latency in
    /// the bin holding the attempt of that rank. Never below the true
    /// percentile, and no higher than the bin's upper bound.
    fn percentile(&self, p: f64) -> Option<Duration> {
        let total: u64 = self.counts.iter().sum();
        if total == 0 {
            return None;
        }
        let rank = ((p * total as f64).ceil() as u64).clamp(1, total);
        let mut seen = 0;
        for (bin, count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return Some(Duration::from_micros(self.max_micros[bin].max(0) as u64));
            }
        }
        None
    }
}

/// One bucket's (or the window's) figures.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BucketSummary {
    pub start: i64,
    pub attempts: u64,
    pub succeeded: u64,
    pub failed: u64,
    /// p50, p90, p99; `None` when there were no attempts.
    pub latency_p50: Option<Duration>,
    pub latency_p90: Option<Duration>,
    pub latency_p99: Option<Duration>,
}

#[derive(Clone, Debug, Default)]
struct Tally {
    attempts: u64,
    succeeded: u64,
    histogram: Histogram,
}

impl Tally {
    fn add(&mut self, cell: &StatsCell) {
        self.attempts += cell.attempts;
        self.succeeded += cell.succeeded;
        self.histogram.add(cell.bin, cell.attempts, cell.max_micros);
    }

    fn summary(&self, start: i64) -> BucketSummary {
        BucketSummary {
            start,
            attempts: self.attempts,
            succeeded: self.succeeded,
            failed: self.attempts.saturating_sub(self.succeeded),
            latency_p50: self.histogram.percentile(0.50),
            latency_p90: self.histogram.percentile(0.90),
            latency_p99: self.histogram.percentile(0.99),
        }
    }
}

/// Every bucket, oldest first, and the whole window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliveryStats {
    pub buckets: Vec<BucketSummary>,
    pub total: BucketSummary,
}

/// Sums the database's cells into every bucket of `buckets` (zeros where
/// nothing happened) and into the window's total. Cells outside the
/// buckets are ignored.
pub fn summarise(
    buckets: TimeBuckets,
    cells: impl IntoIterator<Item = StatsCell>,
) -> DeliveryStats {
    let mut tallies = vec![Tally::default(); buckets.count];
    let mut total = Tally::default();
    for cell in cells {
        let Some(tally) = tallies.get_mut(cell.bucket) else {
            continue;
        };
        tally.add(&cell);
        total.add(&cell);
    }
    DeliveryStats {
        buckets: tallies
            .iter()
            .enumerate()
            .map(|(i, tally)| tally.summary(buckets.start + buckets.width * i as i64))
            .collect(),
        total: total.summary(buckets.start),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: i64 = 1_000_000;

    fn secs(s: u64) -> Option<Duration> {
        Some(Duration::from_secs(s))
    }

    #[test]
    fn defaults_are_an_hour_in_minutes() {
        let window = StatsWindow::parse(None, None).unwrap();
        let buckets = window.buckets_at(3_600 * SECOND + 30 * SECOND);
        assert_eq!(buckets.width, 60 * SECOND);
        assert_eq!(buckets.count, 60);
        assert_eq!(buckets.end(), 3_660 * SECOND, "the last bucket holds now");
        assert_eq!(buckets.start, 60 * SECOND);
    }

    #[test]
    fn the_default_bucket_is_a_whole_second_at_least() {
        let window = StatsWindow::parse(secs(90), None).unwrap();
        assert_eq!(
            window.bucket_micros, 2_000_000,
            "90 s / 60 rounds up to 2 s"
        );
        let window = StatsWindow::parse(secs(10), None).unwrap();
        assert_eq!(window.bucket_micros, 1_000_000);
    }

    #[test]
    fn buckets_round_the_window_up_to_whole_buckets() {
        let window = StatsWindow::parse(secs(100), secs(30)).unwrap();
        let buckets = window.buckets_at(1_000 * SECOND + 1);
        assert_eq!(buckets.count, 4);
        assert_eq!(buckets.start, 900 * SECOND);
        assert_eq!(buckets.end(), 1_020 * SECOND);
    }

    #[test]
    fn bad_windows_and_buckets_name_their_field() {
        let field = |w, b| StatsWindow::parse(w, b).unwrap_err().field;
        assert_eq!(field(Some(Duration::ZERO), None), "window");
        assert_eq!(field(Some(Duration::from_millis(999)), None), "window");
        assert_eq!(field(secs(8 * 24 * 3600), None), "window");
        assert_eq!(field(secs(60), Some(Duration::from_millis(500))), "bucket");
        assert_eq!(field(secs(60), secs(61)), "bucket");
        assert_eq!(field(secs(1_001), secs(1)), "bucket");
        assert!(StatsWindow::parse(secs(1_000), secs(1)).is_ok());
        assert!(StatsWindow::parse(Some(MAX_WINDOW), None).is_ok());
    }

    #[test]
    fn latency_bins_are_log_scaled() {
        assert_eq!(LATENCY_BOUNDS_MICROS[0], 100);
        assert_eq!(LATENCY_BOUNDS_MICROS[5], 700);
        assert_eq!(LATENCY_BOUNDS_MICROS[6], 1_000);
        assert_eq!(LATENCY_BOUNDS_MICROS[35], 70_000_000);
        assert_eq!(LATENCY_BOUNDS_MICROS[36], 100_000_000);
        for pair in LATENCY_BOUNDS_MICROS.windows(2) {
            assert!(pair[1] * 3 <= pair[0] * 5, "{pair:?} is wider than 5/3");
        }
        assert_eq!(latency_bin(0), 0);
        assert_eq!(latency_bin(99), 0);
        assert_eq!(latency_bin(100), 1);
        assert_eq!(latency_bin(1_499), 7);
        assert_eq!(latency_bin(200_000_000), LATENCY_BINS - 1);
    }

    fn cell(bucket: usize, micros: i64, attempts: u64, succeeded: u64) -> StatsCell {
        StatsCell {
            bucket,
            bin: latency_bin(micros),
            attempts,
            succeeded,
            max_micros: micros,
        }
    }

    #[test]
    fn percentiles_come_from_the_bins() {
        let buckets = TimeBuckets {
            start: 0,
            width: SECOND,
            count: 3,
        };
        // 89 fast attempts, 10 slower, 1 very slow, all in bucket 1.
        let stats = summarise(
            buckets,
            [
                cell(1, 1_200, 89, 89),
                cell(1, 40_000, 10, 5),
                cell(1, 2_500_000, 1, 0),
            ],
        );
        let total = &stats.total;
        assert_eq!(
            (total.attempts, total.succeeded, total.failed),
            (100, 94, 6)
        );
        assert_eq!(total.latency_p50, Some(Duration::from_micros(1_200)));
        assert_eq!(total.latency_p90, Some(Duration::from_millis(40)));
        assert_eq!(total.latency_p99, Some(Duration::from_millis(40)));
        assert_eq!(
            stats.buckets[1],
            BucketSummary {
                start: SECOND,
                ..total.clone()
            }
        );
        for empty in [0, 2] {
            let bucket = &stats.buckets[empty];
            assert_eq!(bucket.attempts, 0);
            assert_eq!(bucket.latency_p50, None);
        }
        assert_eq!(stats.buckets[2].start, 2 * SECOND);
    }

    #[test]
    fn the_total_merges_the_buckets() {
        let buckets = TimeBuckets {
            start: 10,
            width: SECOND,
            count: 2,
        };
        let stats = summarise(
            buckets,
            [cell(0, 500, 1, 1), cell(1, 9_000, 3, 0), cell(7, 1, 5, 5)],
        );
        assert_eq!(stats.total.start, 10);
        assert_eq!(
            stats.total.attempts, 4,
            "a cell outside the buckets is ignored"
        );
        assert_eq!(stats.total.latency_p50, Some(Duration::from_millis(9)));
        assert_eq!(
            stats.buckets[0].latency_p99,
            Some(Duration::from_micros(500))
        );
    }
}
