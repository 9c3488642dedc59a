//! How hard a queue presses against its HWM: the deepest it has been since
//! someone last looked, how long it has spent full, and when it crosses a
//! high mark and falls back under a low one (with hysteresis between the
//! two, so a queue hovering at one mark raises no storm of alerts).
//!
//! Sans-IO, kept under the queue's own lock: a push or a take costs a
//! compare or two; the clock is read only when the queue is found full and
//! when room frees after that.

use std::time::{Duration, Instant};

use crate::options::{Hwm, QueueAlert};
use crate::pattern::fq::DepthWatch;

/// A high and a low mark, in messages and in octets, worked out from the
/// HWM once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Marks {
    high: (usize, usize),
    low: (usize, usize),
}

impl Marks {
    /// The marks `alert` sets on a queue of `hwm`. The high mark is at
    /// least one message, so that it can be reached.
    pub(crate) fn new(hwm: Hwm, alert: QueueAlert) -> Marks {
        let share = |of: usize, percent: u8| {
            let share = of as u128 * u128::from(percent) / 100;
            usize::try_from(share).unwrap_or(usize::MAX)
        };
        let (high, low) = (alert.high_percent(), alert.low_percent());
        Marks {
            high: (
                share(hwm.messages(), high).max(1),
                share(hwm.bytes(), high).max(1),
            ),
            low: (share(hwm.messages(), low), share(hwm.bytes(), low)),
        }
    }

    fn above_high(&self, messages: usize, bytes: usize) -> bool {
        messages >= self.high.0 || bytes >= self.high.1
    }

    fn under_low(&self, messages: usize, bytes: usize) -> bool {
        messages <= self.low.0 && bytes <= self.low.1
    }
}

/// A crossing of a mark, to be reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Crossing {
    /// The queue reached the high mark.
    High,
    /// The queue fell back under the low mark.
    Low,
}

/// A queue's pressure.
#[derive(Debug, Default)]
pub(crate) struct Pressure {
    marks: Option<Marks>,
    /// Above the high mark, and not yet back under the low one.
    high: bool,
    /// The deepest the queue has been (messages) since each [`Reader`]
    /// last asked ([`Stats`], [`PeerStats`], a metrics exporter).
    ///
    /// [`Stats`]: crate::Stats
    /// [`PeerStats`]: crate::PeerStats
    peak: [usize; 3],
    /// The largest of them: a push below it (the common case) costs one
    /// compare.
    peak_any: usize,
    /// Since when a sender has found the queue full, until room frees.
    full_since: Option<Instant>,
    /// Time spent full before that.
    full_before: Duration,
}

/// Where a crossing of a queue's alert marks is reported, with the depth
/// then in messages and octets.
pub(crate) type Report = Box<dyn Fn(Crossing, usize, usize) + Send + Sync>;

/// Alerts on a queue: its marks, and where crossings are reported.
pub(crate) struct Watch {
    pub(crate) marks: Marks,
    pub(crate) report: Report,
}

/// A queue's pressure, and where its crossings go: what a queue keeps
/// under its lock and tells of each change of its depth.
#[derive(Default)]
pub(crate) struct Watched {
    pressure: Pressure,
    report: Option<Report>,
}

impl Watched {
    /// Pressure with `watch`'s alerts, if any.
    pub(crate) fn new(watch: Option<Watch>) -> Watched {
        match watch {
            Some(w) => Watched {
                pressure: Pressure::new(Some(w.marks)),
                report: Some(w.report),
            },
            None => Watched::default(),
        }
    }

    fn report(&self, crossing: Crossing, messages: usize, bytes: usize) {
        if let Some(report) = &self.report {
            report(crossing, messages, bytes);
        }
    }

    /// [`Pressure::take_peak`].
    pub(crate) fn take_peak(&mut self, reader: Reader, now_messages: usize) -> usize {
        self.pressure.take_peak(reader, now_messages)
    }

    /// [`Pressure::time_full`].
    pub(crate) fn time_full(&self) -> Duration {
        self.pressure.time_full()
    }

    /// [`Pressure::retire`].
    pub(crate) fn retire(&mut self) -> Duration {
        self.pressure.retire()
    }
}

/// The pressure's changes, and the crossings reported. Under the queue's
/// lock, so that reports from both of its ends reach the monitor in the
/// order of the crossings (crossings are rare, and the monitor's lock takes
/// no other).
impl DepthWatch for Watched {
    #[inline]
    fn grew(&mut self, messages: usize, bytes: usize) {
        if let Some(crossing) = self.pressure.grew(messages, bytes) {
            self.report(crossing, messages, bytes);
        }
    }

    #[inline]
    fn shrank(&mut self, messages: usize, bytes: usize, room: bool) {
        if let Some(crossing) = self.pressure.shrank(messages, bytes, room) {
            self.report(crossing, messages, bytes);
        }
    }

    fn refused(&mut self) {
        self.pressure.refused();
    }
}

/// Who asks for the peak depth: each has its own "since I last asked".
#[derive(Debug, Clone, Copy)]
pub(crate) enum Reader {
    Stats = 0,
    PeerStats = 1,
    /// A metrics exporter, so that its scrapes leave the application's
    /// own "since the last look" alone.
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    Metrics = 2,
}

impl Pressure {
    /// Pressure with alerts at `marks`, if any.
    pub(crate) fn new(marks: Option<Marks>) -> Pressure {
        Pressure {
            marks,
            ..Pressure::default()
        }
    }

    /// After messages went in: the queue holds `messages` of `bytes`.
    #[inline]
    pub(crate) fn grew(&mut self, messages: usize, bytes: usize) -> Option<Crossing> {
        if messages > self.peak_any {
            self.new_peak(messages);
        }
        let marks = self.marks.as_ref()?;
        if !self.high && marks.above_high(messages, bytes) {
            self.high = true;
            return Some(Crossing::High);
        }
        None
    }

    fn new_peak(&mut self, messages: usize) {
        for peak in &mut self.peak {
            *peak = (*peak).max(messages);
        }
        self.peak_any = messages;
    }

    /// After messages left: the queue holds `messages` of `bytes`, and
    /// with `room` it is down to where whoever waits to push is let go
    /// (its low-water mark): the time full ends there, not at the first
    /// message taken, for the refused side is held back until then.
    #[inline]
    pub(crate) fn shrank(&mut self, messages: usize, bytes: usize, room: bool) -> Option<Crossing> {
        if let (true, Some(since)) = (room, self.full_since) {
            self.full_before += since.elapsed();
            self.full_since = None;
        }
        let marks = self.marks.as_ref()?;
        if self.high && marks.under_low(messages, bytes) {
            self.high = false;
            return Some(Crossing::Low);
        }
        None
    }

    /// A sender found the queue full.
    pub(crate) fn refused(&mut self) {
        self.full_since.get_or_insert_with(Instant::now);
    }

    /// The deepest the queue has been since `reader` last asked; the next
    /// answer starts from `now_messages`, the depth now.
    pub(crate) fn take_peak(&mut self, reader: Reader, now_messages: usize) -> usize {
        let peak = std::mem::replace(&mut self.peak[reader as usize], now_messages);
        self.peak_any = self.peak.iter().copied().max().unwrap_or(0);
        peak.max(now_messages)
    }

    /// All the time the queue has spent full (still counting while it is).
    pub(crate) fn time_full(&self) -> Duration {
        self.full_before + self.full_since.map_or(Duration::ZERO, |s| s.elapsed())
    }

    /// The queue takes nothing more (its peer has gone): the clock stops
    /// for good, and all the time it spent full is handed over (and no
    /// longer counted here).
    pub(crate) fn retire(&mut self) -> Duration {
        let spent = self.time_full();
        self.full_since = None;
        self.full_before = Duration::ZERO;
        spent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marks(messages: usize, bytes: usize, high: u8, low: u8) -> Marks {
        let alert = QueueAlert::new(high, low).unwrap();
        Marks::new(Hwm::new(messages, bytes).unwrap(), alert)
    }

    #[test]
    fn crossings_come_once_each_way_with_hysteresis_between() {
        let mut p = Pressure::new(Some(marks(10, 1 << 20, 80, 50)));
        let mut seen = Vec::new();
        // Up to 9, down to 6, up to 10, down to 5, up to 8 again.
        let depths = (1..=9)
            .chain((6..9).rev())
            .chain(7..=10)
            .chain((5..10).rev())
            .chain(6..=8);
        let mut last = 0;
        for d in depths {
            let crossing = if d > last {
                p.grew(d, d)
            } else {
                p.shrank(d, d, false)
            };
            seen.extend(crossing.map(|c| (d, c)));
            last = d;
        }
        assert_eq!(
            seen,
            [(8, Crossing::High), (5, Crossing::Low), (8, Crossing::High)]
        );
    }

    #[test]
    fn octets_reach_the_high_mark_too_and_both_must_fall() {
        let mut p = Pressure::new(Some(marks(1000, 1000, 80, 50)));
        assert_eq!(p.grew(2, 700), None);
        assert_eq!(p.grew(3, 800), Some(Crossing::High));
        // Few messages, still many octets: not under the low mark.
        assert_eq!(p.shrank(1, 600, false), None);
        assert_eq!(p.shrank(1, 500, false), Some(Crossing::Low));
    }

    #[test]
    fn without_marks_nothing_is_reported_but_peaks_are_kept() {
        let mut p = Pressure::new(None);
        for d in [3, 7, 2] {
            assert_eq!(p.grew(d, d), None);
        }
        assert_eq!(p.take_peak(Reader::Stats, 2), 7);
        // Each reader has its own peak; the next starts from now.
        assert_eq!(p.take_peak(Reader::Stats, 2), 2);
        assert_eq!(p.take_peak(Reader::PeerStats, 2), 7);
    }

    #[test]
    fn time_full_counts_from_the_refusal_to_the_room() {
        let mut p = Pressure::default();
        assert_eq!(p.time_full(), Duration::ZERO);
        p.refused();
        std::thread::sleep(Duration::from_millis(20));
        p.refused(); // still the same spell
        // A message taken, but not yet down to where the refused side is
        // let go: still full, as that side sees it.
        p.shrank(9, 9, false);
        std::thread::sleep(Duration::from_millis(10));
        assert!(p.time_full() >= Duration::from_millis(30));
        p.shrank(5, 5, true);
        let spent = p.time_full();
        std::thread::sleep(Duration::from_millis(10));
        assert_eq!(p.time_full(), spent, "not full any more: the clock stopped");
    }

    #[test]
    fn a_retired_queue_hands_over_its_time_full_once() {
        let mut p = Pressure::default();
        p.refused();
        std::thread::sleep(Duration::from_millis(20));
        let spent = p.retire();
        assert!(spent >= Duration::from_millis(20));
        assert_eq!(p.time_full(), Duration::ZERO, "handed over, not kept");
        assert_eq!(p.retire(), Duration::ZERO);
    }

    #[test]
    fn a_watched_queue_reports_each_crossing_with_its_depth() {
        use std::sync::{Arc, Mutex};
        let seen = Arc::new(Mutex::new(Vec::new()));
        let report: Report = Box::new({
            let seen = seen.clone();
            move |c, m, b| seen.lock().unwrap().push((c, m, b))
        });
        let mut w = Watched::new(Some(Watch {
            marks: marks(10, 1000, 80, 50),
            report,
        }));
        for d in [3, 8, 9] {
            w.grew(d, d * 10);
        }
        for d in [7, 5, 4] {
            w.shrank(d, d * 10, false);
        }
        assert_eq!(
            *seen.lock().unwrap(),
            [(Crossing::High, 8, 80), (Crossing::Low, 5, 50)]
        );
        assert_eq!(w.take_peak(Reader::Stats, 4), 9);
    }
}
