//! Writers for [`TomodachiLayer`](super::TomodachiLayer): stderr, and an in-memory capture for tests.

use std::io;
use std::sync::{Arc, Mutex, MutexGuard};

use tracing_subscriber::fmt::MakeWriter;

/// [`MakeWriter`] locking stderr once per record (the layer's default destination).
#[derive(Debug, Clone, Copy, Default)]
pub struct StderrWriter;

impl<'a> MakeWriter<'a> for StderrWriter {
    type Writer = io::StderrLock<'static>;

    fn make_writer(&'a self) -> Self::Writer {
        io::stderr().lock()
    }
}

/// [`MakeWriter`] appending every record to a shared in-memory buffer; clones share the
/// buffer. Meant for tests that assert on rendered log output.
///
/// ```
/// use tomodachi::logging::{CaptureWriter, LogFormat, TomodachiLayer};
/// use tracing_subscriber::layer::SubscriberExt;
///
/// let capture = CaptureWriter::new();
/// let layer = TomodachiLayer::new(LogFormat::Python, false, capture.clone());
/// tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
///     tracing::warn!(target: "tomodachi.signal", "received signal");
/// });
/// assert!(capture.contents().contains(" [warning  ] received signal"));
/// ```
#[derive(Debug, Clone, Default)]
pub struct CaptureWriter {
    buf: Arc<Mutex<Vec<u8>>>,
}

impl CaptureWriter {
    /// A new, empty capture buffer.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Vec<u8>> {
        self.buf
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Everything written so far (lossily decoded as UTF-8).
    pub fn contents(&self) -> String {
        String::from_utf8_lossy(&self.lock()).into_owned()
    }

    /// Everything written so far, clearing the buffer.
    pub fn take(&self) -> String {
        let bytes = std::mem::take(&mut *self.lock());
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

/// The writer handed out by [`CaptureWriter`]; each write appends to the shared buffer.
#[derive(Debug)]
pub struct CaptureHandle<'a> {
    owner: &'a CaptureWriter,
}

impl io::Write for CaptureHandle<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.owner.lock().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for CaptureWriter {
    type Writer = CaptureHandle<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        CaptureHandle { owner: self }
    }
}
