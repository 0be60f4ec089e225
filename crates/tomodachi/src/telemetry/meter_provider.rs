//! The meter provider `--opentelemetry-instrument` builds from the `OTEL_*` variables: OTLP
//! export from `OTEL_METRICS_EXPORTER` (default `none`, as upstream's distro) on a periodic
//! reader, and upstream's Prometheus endpoint from `OTEL_PYTHON_METER_PROVIDER` /
//! `OTEL_PYTHON_METRIC_READER` = `tomodachi_prometheus`.

use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};

use super::provider::{otlp_exporters, resource, Exporter};
use crate::error::Error;

/// The name of upstream's Prometheus meter provider and metric reader plugins.
const TOMODACHI_PROMETHEUS: &str = "tomodachi_prometheus";

/// What the variables ask for.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct MetricsConfig {
    pub(crate) exporters: Vec<Exporter>,
    pub(crate) prometheus: bool,
}

impl MetricsConfig {
    /// Whether anything reads the instruments (else no meter provider is built and the
    /// services record nothing).
    pub(crate) fn is_empty(&self) -> bool {
        self.exporters.is_empty() && !self.prometheus
    }
}

fn first(env: &dyn Fn(&str) -> Option<String>, keys: &[&str]) -> Option<String> {
    keys.iter()
        .find_map(|k| env(k).filter(|v| !v.trim().is_empty()))
}

/// Reads `OTEL_PYTHON_METER_PROVIDER` (also `OTEL_METER_PROVIDER`), `OTEL_PYTHON_METRIC_READER`
/// (also `OTEL_METRIC_READER`), `OTEL_METRICS_EXPORTER` and the OTLP protocol variables
/// (`OTEL_EXPORTER_OTLP_METRICS_PROTOCOL`, `OTEL_EXPORTER_OTLP_PROTOCOL`; `otlp` is gRPC unless
/// they say `http/protobuf`). With the `tomodachi_prometheus` meter provider the exporters are
/// not used (upstream's provider has the Prometheus reader only).
pub(crate) fn config(env: &dyn Fn(&str) -> Option<String>) -> Result<MetricsConfig, Error> {
    let provider = first(env, &["OTEL_PYTHON_METER_PROVIDER", "OTEL_METER_PROVIDER"]);
    match provider.as_deref().map(str::trim) {
        None => {}
        Some(TOMODACHI_PROMETHEUS) => {
            return Ok(MetricsConfig {
                exporters: Vec::new(),
                prometheus: true,
            })
        }
        Some(other) => return Err(Error::msg(format!("meter provider '{other}' not found"))),
    }
    let mut out = MetricsConfig::default();
    let readers = first(env, &["OTEL_PYTHON_METRIC_READER", "OTEL_METRIC_READER"]);
    for name in readers
        .iter()
        .flat_map(|r| r.split(','))
        .map(str::trim)
        .filter(|n| !n.is_empty() && *n != "none")
    {
        if name != TOMODACHI_PROMETHEUS {
            return Err(Error::msg(format!(
                "Requested component '{name}' not found in entry point 'opentelemetry_metric_reader'"
            )));
        }
        out.prometheus = true;
    }
    let names = env("OTEL_METRICS_EXPORTER").unwrap_or_default();
    // the standard Prometheus exporter's name: served by the same endpoint
    let otlp: Vec<&str> = names
        .split(',')
        .map(str::trim)
        .filter(|n| {
            let prometheus = *n == "prometheus";
            out.prometheus |= prometheus;
            !prometheus
        })
        .collect();
    let protocol = first(
        env,
        &[
            "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
            "OTEL_EXPORTER_OTLP_PROTOCOL",
        ],
    );
    out.exporters = otlp_exporters(
        &otlp.join(","),
        protocol.as_deref(),
        "opentelemetry_metrics_exporter",
    )?;
    Ok(out)
}

/// Builds the provider for the first instrumented service (`None`: nothing asked for). The
/// Prometheus reader, when asked for, is `prometheus`.
pub(crate) fn from_env(
    config: &MetricsConfig,
    name: &str,
    uuid: &str,
    prometheus: Option<super::prometheus::PrometheusReader>,
) -> Result<Option<SdkMeterProvider>, Error> {
    if config.is_empty() {
        return Ok(None);
    }
    let mut builder = SdkMeterProvider::builder().with_resource(resource(name, uuid));
    for exporter in &config.exporters {
        let built = match exporter {
            Exporter::OtlpGrpc => opentelemetry_otlp::MetricExporter::builder()
                .with_tonic()
                .with_protocol(Protocol::Grpc)
                .build(),
            Exporter::OtlpHttp => opentelemetry_otlp::MetricExporter::builder()
                .with_http()
                .with_protocol(Protocol::HttpBinary)
                .build(),
        }
        .map_err(|e| Error::msg(format!("unable to set up the OTLP metric exporter: {e}")))?;
        // exports on its own thread every OTEL_METRIC_EXPORT_INTERVAL ms (default 60 s)
        builder = builder.with_reader(PeriodicReader::builder(built).build());
    }
    if let Some(reader) = prometheus {
        builder = builder.with_reader(reader);
    }
    Ok(Some(builder.build()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn nothing_by_default() {
        assert!(config(&env(&[])).unwrap().is_empty());
        assert!(config(&env(&[("OTEL_METRICS_EXPORTER", "none")]))
            .unwrap()
            .is_empty());
    }

    #[test]
    fn otlp_follows_the_protocol_variables() {
        let c = config(&env(&[("OTEL_METRICS_EXPORTER", "otlp")])).unwrap();
        assert_eq!(c.exporters, vec![Exporter::OtlpGrpc]);
        let c = config(&env(&[
            ("OTEL_METRICS_EXPORTER", "otlp"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "http/protobuf"),
        ]))
        .unwrap();
        assert_eq!(c.exporters, vec![Exporter::OtlpHttp]);
        assert!(!c.prometheus);
        assert!(config(&env(&[("OTEL_METRICS_EXPORTER", "carrier-pigeon")])).is_err());
    }

    #[test]
    fn the_prometheus_provider_and_reader() {
        let c = config(&env(&[
            ("OTEL_PYTHON_METER_PROVIDER", "tomodachi_prometheus"),
            ("OTEL_METRICS_EXPORTER", "otlp"),
        ]))
        .unwrap();
        assert_eq!(
            c,
            MetricsConfig {
                exporters: vec![],
                prometheus: true
            }
        );
        let c = config(&env(&[
            ("OTEL_PYTHON_METRIC_READER", "tomodachi_prometheus"),
            ("OTEL_METRICS_EXPORTER", "otlp_proto_http"),
        ]))
        .unwrap();
        assert_eq!(c.exporters, vec![Exporter::OtlpHttp]);
        assert!(c.prometheus);
        let c = config(&env(&[("OTEL_METRICS_EXPORTER", "prometheus, otlp")])).unwrap();
        assert_eq!(c.exporters, vec![Exporter::OtlpGrpc]);
        assert!(c.prometheus);
        assert!(config(&env(&[("OTEL_PYTHON_METER_PROVIDER", "nope")])).is_err());
        assert!(config(&env(&[("OTEL_PYTHON_METRIC_READER", "nope")])).is_err());
    }
}
