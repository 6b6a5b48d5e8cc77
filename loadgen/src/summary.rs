//! Run summaries: counts and HDR-histogram latency percentiles, printed as a table or one JSON object.

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Latencies recorded in microseconds, up to one hour, 3 significant digits.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds")
}

pub fn record(h: &mut Histogram<u64>, d: Duration) {
    let micros = u64::try_from(d.as_micros())
        .unwrap_or(u64::MAX)
        .clamp(1, h.high());
    h.saturating_record(micros);
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Percentiles {
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
}

impl Percentiles {
    pub fn of(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return Self {
                p50: 0.0,
                p95: 0.0,
                p99: 0.0,
                max: 0.0,
            };
        }
        let ms = |micros: u64| (micros as f64 / 1000.0 * 100.0).round() / 100.0;
        Self {
            p50: ms(h.value_at_quantile(0.50)),
            p95: ms(h.value_at_quantile(0.95)),
            p99: ms(h.value_at_quantile(0.99)),
            max: ms(h.max()),
        }
    }
}

/// What a load run measured.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub mode: &'static str,
    pub sent: u64,
    pub completed: u64,
    pub errors: u64,
    /// Requests with no final event, plus expected effects that did not happen.
    pub lost: u64,
    /// Extra final events, plus effects that happened more than once.
    pub duplicated: u64,
    pub duration_s: f64,
    pub throughput_per_s: f64,
    /// Time from send to the final event.
    pub latency_ms: Percentiles,
    /// Time from send to the first reply text (`delta`).
    pub ttft_ms: Percentiles,
    /// Time from send to `accepted` (WebSocket) or publish ack (queue).
    pub accepted_ms: Percentiles,
}

pub struct Recorder {
    pub latency: Histogram<u64>,
    pub ttft: Histogram<u64>,
    pub accepted: Histogram<u64>,
    pub sent: u64,
    pub completed: u64,
    pub errors: u64,
}

impl Default for Recorder {
    fn default() -> Self {
        Self {
            latency: histogram(),
            ttft: histogram(),
            accepted: histogram(),
            sent: 0,
            completed: 0,
            errors: 0,
        }
    }
}

impl Recorder {
    pub fn merge(&mut self, other: &Recorder) {
        let _ = self.latency.add(&other.latency);
        let _ = self.ttft.add(&other.ttft);
        let _ = self.accepted.add(&other.accepted);
        self.sent += other.sent;
        self.completed += other.completed;
        self.errors += other.errors;
    }

    pub fn summary(
        &self,
        mode: &'static str,
        elapsed: Duration,
        lost: u64,
        duplicated: u64,
    ) -> Summary {
        let duration_s = elapsed.as_secs_f64();
        Summary {
            mode,
            sent: self.sent,
            completed: self.completed,
            errors: self.errors,
            lost,
            duplicated,
            duration_s: (duration_s * 1000.0).round() / 1000.0,
            throughput_per_s: if duration_s > 0.0 {
                (self.completed as f64 / duration_s * 10.0).round() / 10.0
            } else {
                0.0
            },
            latency_ms: Percentiles::of(&self.latency),
            ttft_ms: Percentiles::of(&self.ttft),
            accepted_ms: Percentiles::of(&self.accepted),
        }
    }
}

impl Summary {
    pub fn print(&self, json: bool) {
        if json {
            println!("{}", serde_json::to_string(self).unwrap_or_default());
            return;
        }
        println!("mode        {}", self.mode);
        println!("sent        {}", self.sent);
        println!("completed   {}", self.completed);
        println!("errors      {}", self.errors);
        println!("lost        {}", self.lost);
        println!("duplicated  {}", self.duplicated);
        println!("duration    {:.3} s", self.duration_s);
        println!("throughput  {:.1} /s", self.throughput_per_s);
        println!(
            "{:<12}{:>10}{:>10}{:>10}{:>10}",
            "ms", "p50", "p95", "p99", "max"
        );
        for (name, p) in [
            ("latency", self.latency_ms),
            ("ttft", self.ttft_ms),
            ("accepted", self.accepted_ms),
        ] {
            println!(
                "{name:<12}{:>10.2}{:>10.2}{:>10.2}{:>10.2}",
                p.p50, p.p95, p.p99, p.max
            );
        }
    }

    /// Whether the run proved correctness: every request answered once, every effect once.
    pub fn is_correct(&self) -> bool {
        self.lost == 0 && self.duplicated == 0
    }
}

/// `lost` and `duplicated` from requests sent, final events seen, and effects expected vs observed.
pub fn reconcile(
    sent: u64,
    finals: u64,
    extra_finals: u64,
    expected_effects: u64,
    observed_effects: u64,
) -> (u64, u64) {
    let unanswered = sent.saturating_sub(finals);
    let lost = unanswered + expected_effects.saturating_sub(observed_effects);
    let duplicated = extra_finals + observed_effects.saturating_sub(expected_effects);
    (lost, duplicated)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_come_from_the_histogram() {
        let mut r = Recorder::default();
        for ms in 1..=100 {
            record(&mut r.latency, Duration::from_millis(ms));
        }
        r.sent = 100;
        r.completed = 100;
        let s = r.summary("test", Duration::from_secs(2), 0, 0);
        assert!((s.latency_ms.p50 - 50.0).abs() < 0.5, "{:?}", s.latency_ms);
        assert!((s.latency_ms.p99 - 99.0).abs() < 0.5);
        assert!((s.latency_ms.max - 100.0).abs() < 0.5);
        assert_eq!(s.throughput_per_s, 50.0);
        assert_eq!(s.ttft_ms.p50, 0.0, "empty histogram reports zeros");
        assert!(s.is_correct());
    }

    #[test]
    fn merging_adds_counts_and_samples() {
        let mut a = Recorder::default();
        let mut b = Recorder::default();
        record(&mut a.latency, Duration::from_millis(10));
        record(&mut b.latency, Duration::from_millis(30));
        a.sent = 1;
        b.sent = 2;
        a.merge(&b);
        assert_eq!(a.sent, 3);
        assert_eq!(a.latency.len(), 2);
    }

    #[test]
    fn reconcile_counts_lost_and_duplicated() {
        assert_eq!(reconcile(10, 10, 0, 10, 10), (0, 0));
        assert_eq!(
            reconcile(10, 8, 0, 10, 8),
            (4, 0),
            "2 unanswered + 2 missing effects"
        );
        assert_eq!(reconcile(10, 10, 1, 10, 11), (0, 2));
    }

    #[test]
    fn summary_json_has_the_documented_keys() {
        let s = Recorder::default().summary("ws", Duration::from_secs(1), 0, 0);
        let v = serde_json::to_value(&s).expect("json");
        for key in [
            "sent",
            "completed",
            "errors",
            "duration_s",
            "throughput_per_s",
            "latency_ms",
            "ttft_ms",
            "lost",
            "duplicated",
        ] {
            assert!(v.get(key).is_some(), "{key}");
        }
        for key in ["p50", "p95", "p99", "max"] {
            assert!(v["latency_ms"].get(key).is_some(), "{key}");
        }
    }
}
