//! Builder setters that the transports' subscription and publish-options builders share, as
//! macros expanded inside each builder's `impl` block (each builder keeps its own type and
//! docs; the fields the setters write are named the same everywhere).

/// `envelope(..)` (a custom envelope) and `raw()` (no envelope) for a builder with an
/// `envelope: EnvelopeChoice` field; the two texts document what they mean for that builder.
macro_rules! envelope_setters {
    (envelope: $envelope_doc:literal, raw: $raw_doc:literal $(,)?) => {
        #[doc = $envelope_doc]
        pub fn envelope(mut self, envelope: impl $crate::envelope::Envelope) -> Self {
            self.envelope =
                $crate::message::EnvelopeChoice::Custom(::std::sync::Arc::new(envelope));
            self
        }

        #[doc = $raw_doc]
        pub fn raw(mut self) -> Self {
            self.envelope = $crate::message::EnvelopeChoice::Raw;
            self
        }
    };
}

/// `name(..)` for a subscription builder with a `name: Option<String>` field.
macro_rules! handler_name_setter {
    () => {
        /// The handler name: used in logs and in the non-competing queue name, so it must
        /// equal the Python method name for a Rust and a Python instance to derive the same
        /// queue.
        pub fn name(mut self, name: impl Into<String>) -> Self {
            self.name = Some(name.into());
            self
        }
    };
}

/// `service(..)` for a publish-options builder with a `service: Option<String>` field.
macro_rules! service_setter {
    () => {
        /// Publishes as the running service named `name` (default: the service whose handler
        /// is running, else the most recently started service).
        pub fn service(mut self, name: impl Into<String>) -> Self {
            self.service = Some(name.into());
            self
        }
    };
}

pub(crate) use {envelope_setters, handler_name_setter, service_setter};
