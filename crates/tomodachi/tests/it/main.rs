//! The integration tests of `tomodachi`, in one test binary: in-process services over real
//! sockets, the example binaries as processes, the real RabbitMQ and moto, the real Python
//! tomodachi, macro diagnostics and the testing kit. Two run in their own processes:
//! `tests/amqp_tls.rs` points the process's TLS roots at a test CA through the environment, and
//! `tests/amqp_faults.rs` restarts the broker under every connection.

mod support;

mod amqp;
mod aws_sns_sqs;
mod cron_preview;
mod decorator;
mod envelope_python;
mod example_pairs;
mod exit;
mod forms;
mod http_builder;
mod http_limits;
mod interop_amqp;
mod interop_sns_sqs;
mod log_writer;
mod logging;
mod macros;
mod opentelemetry;
mod opentelemetry_aws;
mod otel_metrics;
mod process;
mod protobuf;
mod scenarios;
mod schedule;
mod static_files;
mod testing_kit;
mod websocket;
