//! Exemplars of the duration histograms for upstream's Prometheus endpoint
//! (`OTEL_PYTHON_TOMODACHI_PROMETHEUS_EXEMPLARS_ENABLED`), recorded here because the Rust SDK
//! records none.
//!
//! As Python tomodachi 0.29 (`tomodachi.opentelemetry.exemplars`): a measurement made inside a
//! valid, sampled span offers an exemplar (the measured value, the time, the span's trace and
//! span ids) to its bucket of its series (instrument, attribute set). Each scrape shows, per
//! bucket with measurements, the largest value the bucket got since the previous scrape (or the
//! one it kept), carried on to the following buckets that have none (they count it too: the
//! buckets are cumulative), as `# {span_id="…",trace_id="…"} <value> <timestamp>` in
//! OpenMetrics; then each bucket keeps only its latest exemplar.
//!
//! Upstream picks the largest among the bucket's last 30 measurements; here it is the largest
//! since the previous scrape (two slots per bucket instead of 30).
//!
//! Only built when the endpoint is on with exemplars enabled; the instruments then pay one
//! `Option` check per measurement when it is off.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry::trace::{SpanContext, SpanId, TraceId};
use opentelemetry::{KeyValue, Value};

/// At most this many series keep exemplars (the SDK's default cardinality limit): beyond it
/// new attribute sets get none rather than growing the store.
const MAX_SERIES: usize = 2000;

/// One exemplar: a measurement and the span it was made in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Exemplar {
    pub(crate) value: f64,
    pub(crate) time: SystemTime,
    pub(crate) trace_id: TraceId,
    pub(crate) span_id: SpanId,
}

impl Exemplar {
    /// The OpenMetrics text after a bucket's value, as upstream's `prometheus_client` writes it
    /// (labels sorted, the value as Go would print it, the timestamp in seconds):
    /// ` # {span_id="…",trace_id="…"} 0.000701542 1796421985.1223147`.
    pub(crate) fn openmetrics(&self) -> String {
        let seconds = self
            .time
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_nanos() as f64 / 1e9);
        format!(
            " # {{span_id=\"{}\",trace_id=\"{}\"}} {} {}",
            self.span_id,
            self.trace_id,
            float_to_go_string(self.value),
            python_float(seconds)
        )
    }
}

/// A bucket's exemplars: the latest, and the largest since the previous scrape.
#[derive(Debug, Default, Clone, Copy)]
struct Slot {
    latest: Option<Exemplar>,
    largest: Option<Exemplar>,
}

/// A series' buckets (one more than the boundaries).
#[derive(Debug)]
struct Reservoir {
    slots: Vec<Slot>,
}

/// A series: the instrument's name and its attributes, sorted, with their values' types.
type Key = (String, Vec<(String, String)>);

fn key(instrument: &str, attributes: &mut dyn Iterator<Item = &KeyValue>) -> Key {
    let mut attributes: Vec<(String, String)> = attributes
        .map(|kv| (kv.key.as_str().to_owned(), value_key(&kv.value)))
        .collect();
    attributes.sort();
    (instrument.to_owned(), attributes)
}

/// A value with its type (`1` and `"1"` are two attribute sets to the SDK).
fn value_key(v: &Value) -> String {
    match v {
        Value::String(s) => format!("s{}", s.as_str()),
        Value::I64(i) => format!("i{i}"),
        Value::F64(f) => format!("f{f:?}"),
        Value::Bool(b) => format!("b{b}"),
        other => format!("a{other}"),
    }
}

/// The exemplars of the duration histograms (instrument, attribute set, bucket).
#[derive(Debug, Default)]
pub(crate) struct ExemplarStore {
    series: Mutex<HashMap<Key, Reservoir>>,
}

impl ExemplarStore {
    /// A measurement of `value` with `attributes` on the histogram `instrument` (whose bucket
    /// boundaries are `bounds`), made in the span of `span`: kept if that span is valid and
    /// sampled (as upstream).
    pub(crate) fn offer(
        &self,
        instrument: &'static str,
        attributes: &[KeyValue],
        bounds: &[f64],
        value: f64,
        span: &SpanContext,
    ) {
        if !span.is_valid() || !span.is_sampled() {
            return;
        }
        self.offer_at(
            instrument,
            attributes,
            bounds,
            Exemplar {
                value,
                time: SystemTime::now(),
                trace_id: span.trace_id(),
                span_id: span.span_id(),
            },
        );
    }

    fn offer_at(
        &self,
        instrument: &'static str,
        attributes: &[KeyValue],
        bounds: &[f64],
        exemplar: Exemplar,
    ) {
        let key = key(instrument, &mut attributes.iter());
        let bucket = bounds
            .iter()
            .position(|b| exemplar.value <= *b)
            .unwrap_or(bounds.len());
        let mut series = self.series.lock().unwrap_or_else(|p| p.into_inner());
        let full = series.len() >= MAX_SERIES;
        let reservoir = match series.get_mut(&key) {
            Some(r) => r,
            None if full => return,
            None => series.entry(key).or_insert_with(|| Reservoir {
                slots: vec![Slot::default(); bounds.len() + 1],
            }),
        };
        if let Some(slot) = reservoir.slots.get_mut(bucket) {
            slot.latest = Some(exemplar);
            if slot.largest.is_none_or(|l| exemplar.value > l.value) {
                slot.largest = Some(exemplar);
            }
        }
    }

    /// A scrape of the series (`instrument`, `attributes`) whose buckets counted
    /// `bucket_counts` (not cumulative) between `start` and `time`: the exemplar of each bucket,
    /// as upstream picks them. Each bucket then keeps only its latest exemplar.
    pub(crate) fn collect<'a>(
        &self,
        instrument: &str,
        attributes: impl Iterator<Item = &'a KeyValue>,
        bucket_counts: &[u64],
        (start, time): (SystemTime, SystemTime),
    ) -> Vec<Option<Exemplar>> {
        let mut attributes = attributes;
        let key = key(instrument, &mut attributes);
        let mut series = self.series.lock().unwrap_or_else(|p| p.into_inner());
        let Some(reservoir) = series.get_mut(&key) else {
            return vec![None; bucket_counts.len()];
        };
        let mut current = None;
        let picked = bucket_counts
            .iter()
            .enumerate()
            .map(|(i, count)| {
                let largest = reservoir.slots.get(i).and_then(|s| s.largest);
                if *count > 0 {
                    if let Some(e) = largest.filter(|e| e.time >= start && e.time <= time) {
                        current = Some(e);
                    }
                }
                current
            })
            .collect();
        for slot in &mut reservoir.slots {
            slot.largest = slot.latest;
        }
        picked
    }
}

/// Python's `repr` of a float: the shortest digits that read back the same, in positional
/// notation with at least one decimal (`3.0`) from 1e-4 to 1e16, else as `1.5e-05`.
fn python_float(v: f64) -> String {
    if !v.is_finite() {
        return if v.is_nan() {
            "nan".to_owned()
        } else if v > 0.0 {
            "inf".to_owned()
        } else {
            "-inf".to_owned()
        };
    }
    let sci = format!("{v:e}");
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if v == 0.0 || (-4..16).contains(&exponent) {
        let s = v.to_string();
        if s.contains('.') {
            s
        } else {
            format!("{s}.0")
        }
    } else {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exponent.abs())
    }
}

/// `prometheus_client`'s `floatToGoString`: Python's `repr`, switching to an exponent for
/// positive values with more than six integer digits (as Go).
fn float_to_go_string(v: f64) -> String {
    if v == f64::INFINITY {
        return "+Inf".to_owned();
    }
    if v == f64::NEG_INFINITY {
        return "-Inf".to_owned();
    }
    if v.is_nan() {
        return "NaN".to_owned();
    }
    let s = python_float(v);
    match s.find('.') {
        Some(dot) if v > 0.0 && dot > 6 => {
            let digits = format!("{}{}", &s[1..dot], &s[dot + 1..]);
            let mantissa = format!("{}.{digits}", &s[..1]);
            let mantissa = mantissa.trim_end_matches(['0', '.']);
            format!("{mantissa}e+0{}", dot - 1)
        }
        _ => s,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use opentelemetry::trace::{TraceFlags, TraceState};

    use super::*;

    const BOUNDS: [f64; 3] = [0.0, 0.005, 0.01];

    fn span(trace: u128, sampled: bool) -> SpanContext {
        SpanContext::new(
            TraceId::from(trace),
            SpanId::from(u64::try_from(trace).unwrap_or(1)),
            if sampled {
                TraceFlags::SAMPLED
            } else {
                TraceFlags::default()
            },
            true,
            TraceState::default(),
        )
    }

    fn attrs(status: i64) -> Vec<KeyValue> {
        vec![
            KeyValue::new("http.route", "/a"),
            KeyValue::new("http.response.status_code", status),
        ]
    }

    fn window() -> (SystemTime, SystemTime) {
        (
            SystemTime::now() - Duration::from_secs(60),
            SystemTime::now() + Duration::from_secs(60),
        )
    }

    fn traces(picked: &[Option<Exemplar>]) -> Vec<Option<u128>> {
        picked
            .iter()
            .map(|e| e.map(|e| u128::from_be_bytes(e.trace_id.to_bytes())))
            .collect()
    }

    #[test]
    fn buckets_series_sampling_and_the_reset_after_a_scrape() {
        let store = ExemplarStore::default();
        let h = "http.server.duration";
        store.offer(h, &attrs(200), &BOUNDS, 0.002, &span(1, true));
        store.offer(h, &attrs(200), &BOUNDS, 0.004, &span(2, true));
        store.offer(h, &attrs(200), &BOUNDS, 0.003, &span(3, true));
        // not sampled, or no span: no exemplar
        store.offer(h, &attrs(200), &BOUNDS, 0.0045, &span(4, false));
        store.offer(
            h,
            &attrs(200),
            &BOUNDS,
            0.0046,
            &SpanContext::empty_context(),
        );
        // another series, the last bucket
        store.offer(h, &attrs(500), &BOUNDS, 7.0, &span(5, true));
        // the attributes' order does not matter (the SDK sorts them)
        let mut reversed = attrs(200);
        reversed.reverse();

        // bucket 1 (<= 0.005): the largest; carried to `0.01` and `+Inf`; none before
        let picked = store.collect(h, reversed.iter(), &[0, 5, 0, 0], window());
        assert_eq!(traces(&picked), [None, Some(2), Some(2), Some(2)]);
        assert_eq!(picked[1].map(|e| e.value), Some(0.004));
        // the next scrape: only the latest was kept
        let picked = store.collect(h, attrs(200).iter(), &[0, 5, 0, 0], window());
        assert_eq!(traces(&picked), [None, Some(3), Some(3), Some(3)]);
        // a bucket without measurements shows no exemplar of its own
        let picked = store.collect(h, attrs(200).iter(), &[0, 0, 0, 5], window());
        assert_eq!(traces(&picked), [None; 4]);

        let picked = store.collect(h, attrs(500).iter(), &[0, 0, 0, 1], window());
        assert_eq!(traces(&picked), [None, None, None, Some(5)]);
        // another instrument, unknown series
        let picked = store.collect("function.duration", attrs(500).iter(), &[1; 4], window());
        assert_eq!(traces(&picked), [None; 4]);
        // an exemplar newer than the collection is left for the next one
        let (start, _) = window();
        let picked = store.collect(h, attrs(500).iter(), &[0, 0, 0, 1], (start, start));
        assert_eq!(traces(&picked), [None; 4]);
    }

    #[test]
    fn the_number_of_series_is_bounded() {
        let store = ExemplarStore::default();
        for i in 0..(MAX_SERIES as i64 + 5) {
            store.offer("x", &attrs(i), &BOUNDS, 0.001, &span(1, true));
        }
        assert_eq!(store.series.lock().unwrap().len(), MAX_SERIES);
    }

    #[test]
    fn the_openmetrics_text_as_upstream() {
        let e = Exemplar {
            value: 0.000701542,
            time: UNIX_EPOCH + Duration::from_nanos(1_796_421_985_122_314_700),
            trace_id: TraceId::from_hex("2af7651916cd43dd8448eb211c80319c").unwrap(),
            span_id: SpanId::from_hex("78ba327e8e25382b").unwrap(),
        };
        assert_eq!(
            e.openmetrics(),
            " # {span_id=\"78ba327e8e25382b\",trace_id=\"2af7651916cd43dd8448eb211c80319c\"} 0.000701542 1796421985.1223147"
        );
        for (v, python) in [
            (3.0, "3.0"),
            (0.0, "0.0"),
            (0.0001, "0.0001"),
            (0.00005, "5e-05"),
            (1.5e-7, "1.5e-07"),
            (1e16, "1e+16"),
            (123456.5, "123456.5"),
        ] {
            assert_eq!(python_float(v), python, "{v}");
        }
        assert_eq!(float_to_go_string(1234567.0), "1.234567e+06");
        assert_eq!(float_to_go_string(0.5), "0.5");
        assert_eq!(float_to_go_string(f64::INFINITY), "+Inf");
    }
}
