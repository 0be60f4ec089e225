//! The ProtobufBase wire schema, upstream's `sns_sqs_message.proto` (`syntax = "proto3"`,
//! `package proto`), written out as prost messages (no protoc, no build script):
//!
//! ```proto
//! message Service { string name = 1; string uuid = 2; }
//! message Metadata {
//!   string message_uuid = 1; string protocol_version = 2; double timestamp = 3;
//!   string topic = 4; string data_encoding = 5;
//! }
//! message SNSSQSMessage { Service service = 1; Metadata metadata = 2; bytes data = 3; }
//! ```

/// `proto.Service`: the publishing service.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Service {
    #[prost(string, tag = "1")]
    pub(crate) name: String,
    #[prost(string, tag = "2")]
    pub(crate) uuid: String,
}

/// `proto.Metadata`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Metadata {
    #[prost(string, tag = "1")]
    pub(crate) message_uuid: String,
    #[prost(string, tag = "2")]
    pub(crate) protocol_version: String,
    #[prost(double, tag = "3")]
    pub(crate) timestamp: f64,
    #[prost(string, tag = "4")]
    pub(crate) topic: String,
    #[prost(string, tag = "5")]
    pub(crate) data_encoding: String,
}

/// `proto.SNSSQSMessage`: the envelope. Python always sets both sub-messages (assigning a
/// field of a sub-message marks it present), so they are written even when empty.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct SnsSqsMessage {
    #[prost(message, optional, tag = "1")]
    pub(crate) service: Option<Service>,
    #[prost(message, optional, tag = "2")]
    pub(crate) metadata: Option<Metadata>,
    #[prost(bytes = "bytes", tag = "3")]
    pub(crate) data: bytes::Bytes,
}
