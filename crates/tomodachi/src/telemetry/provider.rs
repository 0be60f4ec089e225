//! The tracer provider `--opentelemetry-instrument` builds from the `OTEL_*` variables, with
//! upstream's distro defaults (no exporter unless one is asked for) and its resource rules.

use opentelemetry::KeyValue;
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;

use crate::error::Error;

const SERVICE_NAME: &str = "service.name";
const SERVICE_INSTANCE_ID: &str = "service.instance.id";

/// Which span exporters the variables ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exporter {
    OtlpGrpc,
    OtlpHttp,
}

/// `OTEL_TRACES_EXPORTER` (default `none`) with the OTLP protocol variables, as upstream's
/// distro and the Python SDK's configurator read them: `otlp` means gRPC unless
/// `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL` / `OTEL_EXPORTER_OTLP_PROTOCOL` says `http/protobuf`.
pub(crate) fn exporters(env: &dyn Fn(&str) -> Option<String>) -> Result<Vec<Exporter>, Error> {
    exporters_of("TRACES", env)
}

/// [`exporters`] of the signal `signal` (`TRACES`, `LOGS`): `OTEL_<signal>_EXPORTER` and
/// `OTEL_EXPORTER_OTLP_<signal>_PROTOCOL`.
pub(crate) fn exporters_of(
    signal: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<Exporter>, Error> {
    let names = env(&format!("OTEL_{signal}_EXPORTER")).unwrap_or_default();
    let protocol = env(&format!("OTEL_EXPORTER_OTLP_{signal}_PROTOCOL"))
        .filter(|p| !p.trim().is_empty())
        .or_else(|| env("OTEL_EXPORTER_OTLP_PROTOCOL").filter(|p| !p.trim().is_empty()));
    otlp_exporters(
        &names,
        protocol.as_deref(),
        &format!("opentelemetry_{}_exporter", signal.to_lowercase()),
    )
}

/// The exporters a comma-separated `OTEL_<SIGNAL>_EXPORTER` list names (`none`, `otlp` in
/// `protocol`, `otlp_proto_grpc`, `otlp_proto_http`); another name is an error naming the
/// Python `entry_point` group, as upstream's.
pub(crate) fn otlp_exporters(
    names: &str,
    protocol: Option<&str>,
    entry_point: &str,
) -> Result<Vec<Exporter>, Error> {
    let mut out = Vec::new();
    for name in names.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let exporter = match name {
            "none" => continue,
            "otlp" => match protocol.map(str::trim) {
                None | Some("grpc") => Exporter::OtlpGrpc,
                Some("http/protobuf") => Exporter::OtlpHttp,
                Some(other) => {
                    return Err(Error::msg(format!(
                        "Unsupported OTLP protocol '{other}' is configured"
                    )))
                }
            },
            "otlp_proto_grpc" => Exporter::OtlpGrpc,
            "otlp_proto_http" => Exporter::OtlpHttp,
            other => {
                return Err(Error::msg(format!(
                    "Requested component '{other}' not found in entry point '{entry_point}'"
                )))
            }
        };
        if !out.contains(&exporter) {
            out.push(exporter);
        }
    }
    Ok(out)
}

/// The resource: the SDK's (`OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, the telemetry SDK
/// attributes), with `service.name` = the service's name when it is unset (upstream: unless
/// the service is named `service` or `app`) and `service.instance.id` = its uuid.
pub(crate) fn resource(name: &str, uuid: &str) -> Resource {
    let detected = Resource::builder().build();
    let mut extra = Vec::new();
    if name != "service" && name != "app" {
        let current = detected
            .get(&SERVICE_NAME.into())
            .map(|v| v.as_str().into_owned())
            .unwrap_or_default();
        if current.is_empty() || current.starts_with("unknown_service") {
            extra.push(KeyValue::new(SERVICE_NAME, name.to_owned()));
        }
        let instance = detected
            .get(&SERVICE_INSTANCE_ID.into())
            .map(|v| v.as_str().into_owned())
            .unwrap_or_default();
        if instance.is_empty() && !uuid.is_empty() {
            extra.push(KeyValue::new(SERVICE_INSTANCE_ID, uuid.to_owned()));
        }
    }
    if extra.is_empty() {
        detected
    } else {
        Resource::builder().with_attributes(extra).build()
    }
}

/// Builds the provider for the first instrumented service (inside the tokio runtime: the gRPC
/// exporter's channel lives on it).
pub(crate) fn from_env(name: &str, uuid: &str) -> Result<SdkTracerProvider, Error> {
    let env = |k: &str| std::env::var(k).ok();
    let mut builder = SdkTracerProvider::builder().with_resource(resource(name, uuid));
    for exporter in exporters(&env)? {
        let built = match exporter {
            Exporter::OtlpGrpc => opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .with_protocol(Protocol::Grpc)
                .build(),
            Exporter::OtlpHttp => opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_protocol(Protocol::HttpBinary)
                .build(),
        }
        .map_err(|e| Error::msg(format!("unable to set up the OTLP span exporter: {e}")))?;
        // batched on the processor's own thread, through a bounded queue (OTEL_BSP_*)
        builder = builder.with_batch_exporter(built);
    }
    Ok(builder.build())
}
