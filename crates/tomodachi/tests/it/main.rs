//! The integration tests of `tomodachi`, in one test binary: in-process services over real
//! sockets, the example binaries as processes, the real RabbitMQ and moto, the real Python
//! tomodachi, macro diagnostics and the testing kit. (`tests/amqp_tls.rs` runs in its own
//! process: it points the process's TLS roots at a test CA through the environment.)

mod support;

mod amqp;
mod amqp_faults;
mod aws_sns_sqs;
mod cron_preview;
mod envelope_python;
mod example_pairs;
mod exit;
mod http_builder;
mod interop_amqp;
mod interop_sns_sqs;
mod logging;
mod macros;
mod process;
mod scenarios;
mod schedule;
mod testing_kit;
