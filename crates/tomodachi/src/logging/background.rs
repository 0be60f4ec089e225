//! A writer that hands records to a background thread: the logging thread copies the record
//! into a shared buffer and goes on; the writer thread writes everything that came in since its
//! last write with one `write_all` (one `write(2)` for a burst of records).
//!
//! Why not `tracing-appender`'s `non_blocking`: it copies every record into a `Vec` of its own
//! (an allocation per record), writes them one `write_all` each unless wrapped in a
//! `BufWriter`, and only flushes when its guard is dropped, with time-outs after which records
//! are left behind. Here the records are appended to one reused buffer, a burst is one write, and
//! [`BackgroundWriter::flush`] waits until every record written before it is out, which the
//! process exit paths call (see [`flush`](super::flush)).

use std::io::{self, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::thread::{JoinHandle, ThreadId};
use std::time::{Duration, Instant};

use tracing_subscriber::fmt::MakeWriter;

/// Bytes waiting for the writer thread above which a logging thread waits before adding more
/// (nothing is dropped; memory stays bounded at about twice this).
pub(super) const DEFAULT_MAX_PENDING: usize = 256 * 1024;

/// A buffer that grew past this (one huge record) is released after it is written.
const MAX_RETAINED_CAPACITY: usize = 4 * DEFAULT_MAX_PENDING;

/// How long the writer thread lets records gather after the first one of a burst woke it,
/// unless someone waits for them or the queue is half full: one wake-up and one `write` per
/// burst instead of one per record (records still reach the destination within about this).
const LINGER: Duration = Duration::from_millis(1);

/// A [`MakeWriter`] whose writers copy each record into a bounded in-memory queue that a
/// background thread (`tomodachi-log`) writes to `W`: the logging thread never waits for
/// the destination unless the queue is full (then it waits: records are never dropped).
///
/// Records keep their bytes and their order (the order in which the logging threads wrote
/// them); records that arrive while the thread is writing are written together, with one
/// `write_all` call. Errors of the destination (a closed pipe) are ignored, as they are for
/// a direct write. [`flush`](Self::flush) returns once every record written before the call
/// has been handed to `W`. Clones share the queue and the thread; dropping the last one writes
/// what is queued, stops the thread and drops `W`.
///
/// [`init`](super::init) writes to stderr through one of these and flushes it when the
/// process exits (see [`flush`](super::flush)).
///
/// ```
/// use tomodachi::logging::{BackgroundWriter, LogFormat, TomodachiLayer};
/// use tracing_subscriber::layer::SubscriberExt;
///
/// let writer = BackgroundWriter::new(Vec::<u8>::new());
/// let layer = TomodachiLayer::new(LogFormat::Python, false, writer.clone());
/// tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
///     tracing::warn!(target: "tomodachi.signal", "received signal");
/// });
/// writer.flush();
/// ```
pub struct BackgroundWriter<W> {
    inner: Arc<Inner<W>>,
}

impl<W> Clone for BackgroundWriter<W> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<W> std::fmt::Debug for BackgroundWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackgroundWriter")
            .field("max_pending", &self.inner.shared.max_pending)
            .finish_non_exhaustive()
    }
}

/// What the clones of one [`BackgroundWriter`] share; the writer thread holds only `shared`,
/// so that dropping the last clone flushes, stops the thread and drops the destination.
struct Inner<W> {
    shared: Arc<Shared<W>>,
    /// The writer thread, once started (`None` when it could not be).
    thread: OnceLock<Option<JoinHandle<()>>>,
}

impl<W> Inner<W> {
    fn thread_id(&self) -> Option<ThreadId> {
        self.thread
            .get()
            .and_then(Option::as_ref)
            .map(|handle| handle.thread().id())
    }
}

impl<W> Drop for Inner<W> {
    /// Writes what is queued, then stops the writer thread (which drops the destination).
    fn drop(&mut self) {
        let Some(Some(handle)) = self.thread.take() else {
            return;
        };
        {
            let mut state = lock(&self.shared.state);
            state.closed = true;
            self.shared.added.notify_one();
        }
        if handle.thread().id() != std::thread::current().id() {
            let _ = handle.join();
        }
    }
}

struct Shared<W> {
    state: Mutex<State>,
    /// Signalled when records are added while the writer thread sleeps.
    added: Condvar,
    /// Signalled when a batch has been written while someone waits for it.
    written: Condvar,
    /// The destination; only the writer thread uses it (or the logging threads, when the
    /// thread could not be started).
    sink: Mutex<W>,
    max_pending: usize,
    /// See [`LINGER`].
    linger: Duration,
}

#[derive(Default)]
struct State {
    /// Records not yet taken by the writer thread.
    pending: Vec<u8>,
    /// The buffer the writer thread handed back, reused as the next `pending`.
    spare: Vec<u8>,
    /// Bytes added since the start.
    queued: u64,
    /// Bytes written (or failed to write) since the start.
    done: u64,
    /// The writer thread waits for records.
    idle: bool,
    /// Threads waiting on `written` (a flush, or a logging thread finding the queue full).
    waiting: usize,
    /// The last clone of the writer is gone: the thread ends once `pending` is written.
    closed: bool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl<W: Write + Send + 'static> BackgroundWriter<W> {
    /// A writer to `sink`, with a queue of 256 KiB; the thread starts with the first record.
    pub fn new(sink: W) -> Self {
        Self::with_max_pending(sink, DEFAULT_MAX_PENDING)
    }

    /// A writer to `sink` whose logging threads wait once `max_pending` bytes are queued (a
    /// larger record is still taken whole when the queue is empty).
    pub fn with_max_pending(sink: W, max_pending: usize) -> Self {
        Self::build(sink, max_pending, LINGER)
    }

    fn build(sink: W, max_pending: usize, linger: Duration) -> Self {
        Self {
            inner: Arc::new(Inner {
                shared: Arc::new(Shared {
                    state: Mutex::new(State::default()),
                    added: Condvar::new(),
                    written: Condvar::new(),
                    sink: Mutex::new(sink),
                    max_pending: max_pending.max(1),
                    linger,
                }),
                thread: OnceLock::new(),
            }),
        }
    }

    /// A writer whose thread lets a burst gather for `linger` (tests).
    #[cfg(test)]
    fn with_linger(sink: W, linger: Duration) -> Self {
        Self::build(sink, DEFAULT_MAX_PENDING, linger)
    }

    /// Queues one record (all of `bytes`, kept together).
    fn push(&self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let shared = &*self.inner.shared;
        let started = self.inner.thread.get_or_init(|| self.start());
        let Some(thread) = started.as_ref().map(|handle| handle.thread().id()) else {
            // no writer thread: write here, as a direct writer would
            let _ = write_batch(&mut *lock(&shared.sink), bytes);
            return;
        };
        let mut state = lock(&shared.state);
        // A full queue: wait for the writer thread (never on itself: it does not log here,
        // but a sink that logs would otherwise wait forever).
        if std::thread::current().id() != thread {
            while !state.pending.is_empty()
                && state.pending.len() + bytes.len() > shared.max_pending
            {
                state.waiting += 1;
                // a lingering writer thread writes at once
                shared.added.notify_one();
                state = shared
                    .written
                    .wait(state)
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                state.waiting -= 1;
            }
        }
        state.pending.extend_from_slice(bytes);
        state.queued += bytes.len() as u64;
        // the thread sleeps (idle), or lingers while the queue fills up
        let wake = std::mem::take(&mut state.idle) || state.pending.len() >= shared.max_pending / 2;
        // woken after the lock is released, so that the writer thread does not wake into it
        drop(state);
        if wake {
            shared.added.notify_one();
        }
    }

    /// Starts the writer thread; `None` when it could not be started.
    fn start(&self) -> Option<JoinHandle<()>> {
        let shared = self.inner.shared.clone();
        std::thread::Builder::new()
            .name("tomodachi-log".into())
            .spawn(move || run(&shared))
            .ok()
    }
}

impl<W> BackgroundWriter<W> {
    /// Waits until every record queued before this call has been written to the destination
    /// (or failed to be: a closed pipe). Returns at once when nothing is queued.
    pub fn flush(&self) {
        self.flush_until(None);
    }

    /// [`flush`](Self::flush), giving up after `timeout`; whether everything was written.
    pub fn flush_timeout(&self, timeout: Duration) -> bool {
        self.flush_until(Instant::now().checked_add(timeout))
    }

    fn flush_until(&self, deadline: Option<Instant>) -> bool {
        let shared = &*self.inner.shared;
        if self.inner.thread_id() == Some(std::thread::current().id()) {
            return false;
        }
        let mut state = lock(&shared.state);
        let target = state.queued;
        if state.done < target {
            // a lingering writer thread writes at once
            shared.added.notify_one();
        }
        while state.done < target {
            state.waiting += 1;
            state = match deadline {
                None => shared
                    .written
                    .wait(state)
                    .unwrap_or_else(|poisoned| poisoned.into_inner()),
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        state.waiting -= 1;
                        return false;
                    }
                    shared
                        .written
                        .wait_timeout(state, left)
                        .unwrap_or_else(|poisoned| poisoned.into_inner())
                        .0
                }
            };
            state.waiting -= 1;
        }
        true
    }
}

/// The writer thread: takes everything queued, writes it with one call, repeats.
fn run<W: Write>(shared: &Shared<W>) {
    loop {
        let (mut batch, end) = {
            let mut state = lock(&shared.state);
            while state.pending.is_empty() {
                if state.closed {
                    return;
                }
                state.idle = true;
                state = shared
                    .added
                    .wait(state)
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
            }
            state.idle = false;
            // let the rest of a burst gather (not when a flush or a full queue waits)
            let until = Instant::now() + shared.linger;
            while !state.closed
                && state.waiting == 0
                && state.pending.len() < shared.max_pending / 2
            {
                let left = until.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                state = shared
                    .added
                    .wait_timeout(state, left)
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .0;
            }
            let next = std::mem::take(&mut state.spare);
            (std::mem::replace(&mut state.pending, next), state.queued)
        };
        {
            let mut sink = lock(&shared.sink);
            // a sink that panics loses its batch, not the thread
            let _ = catch_unwind(AssertUnwindSafe(|| write_batch(&mut *sink, &batch)));
        }
        batch.clear();
        if batch.capacity() > MAX_RETAINED_CAPACITY {
            batch = Vec::new();
        }
        let mut state = lock(&shared.state);
        state.done = end;
        if state.spare.capacity() == 0 {
            state.spare = batch;
        }
        let wake = state.waiting > 0;
        drop(state);
        if wake {
            shared.written.notify_all();
        }
    }
}

fn write_batch<W: Write>(sink: &mut W, bytes: &[u8]) -> io::Result<()> {
    sink.write_all(bytes)?;
    sink.flush()
}

/// The writer handed out by [`BackgroundWriter`]: each `write` queues the bytes as one record
/// (the layers of this crate write a record with one call).
#[derive(Debug)]
pub struct BackgroundHandle<'a, W> {
    owner: &'a BackgroundWriter<W>,
}

impl<W: Write + Send + 'static> io::Write for BackgroundHandle<'_, W> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.owner.push(bytes);
        Ok(bytes.len())
    }

    /// Does not wait for the writer thread (see [`BackgroundWriter::flush`]).
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a, W: Write + Send + 'static> MakeWriter<'a> for BackgroundWriter<W> {
    type Writer = BackgroundHandle<'a, W>;

    fn make_writer(&'a self) -> Self::Writer {
        BackgroundHandle { owner: self }
    }
}

/// The process's stderr writer, created by the first [`BufferedStderr`] record.
static STDERR: OnceLock<BackgroundWriter<io::Stderr>> = OnceLock::new();

/// [`MakeWriter`] to stderr through the process's one [`BackgroundWriter`]: the
/// destination [`init`](super::init) installs. Records leave the request path at once and are
/// written in batches; [`flush`](super::flush) waits for them, and the process exit paths call
/// it (returning from [`launch`](crate::launch), `exit()`, returning from `main`, a panic).
#[derive(Debug, Clone, Copy, Default)]
pub struct BufferedStderr;

impl BufferedStderr {
    fn writer() -> &'static BackgroundWriter<io::Stderr> {
        STDERR.get_or_init(|| {
            install_exit_hooks();
            BackgroundWriter::new(io::stderr())
        })
    }
}

impl<'a> MakeWriter<'a> for BufferedStderr {
    type Writer = BackgroundHandle<'static, io::Stderr>;

    fn make_writer(&'a self) -> Self::Writer {
        BackgroundHandle {
            owner: Self::writer(),
        }
    }
}

/// Waits until every record written to stderr by the library's subscriber so far is out
/// (see [`super::flush`]).
pub(super) fn flush_stderr() {
    if let Some(writer) = STDERR.get() {
        writer.flush();
    }
}

/// How long a panic waits for the queued records before its message is printed.
const PANIC_FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// Flushes the stderr queue when the process exits through `exit()` (also the return from
/// `main`) and before a panic message is printed (so that it follows the records logged before
/// it).
fn install_exit_hooks() {
    #[cfg(unix)]
    {
        extern "C" fn flush_at_exit() {
            // a panic must not unwind out of an `extern "C"` function
            let _ = catch_unwind(flush_stderr);
        }
        // SAFETY: `flush_at_exit` is a plain function that stays valid for the whole process.
        unsafe {
            libc::atexit(flush_at_exit);
        }
    }
    if std::thread::panicking() {
        // the hook cannot be changed while this thread panics (a record logged by a `Drop`)
        return;
    }
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if let Some(writer) = STDERR.get() {
            writer.flush_timeout(PANIC_FLUSH_TIMEOUT);
        }
        previous(info);
    }));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::mpsc;

    /// Says a write started, then waits for the go-ahead.
    type Gate = (mpsc::Sender<()>, mpsc::Receiver<()>);

    /// A sink recording each write call; the first `gated` writes wait for a go-ahead, after
    /// saying they started.
    #[derive(Clone)]
    struct Sink {
        writes: Arc<Mutex<Vec<Vec<u8>>>>,
        gate: Arc<Mutex<Option<Gate>>>,
    }

    impl Sink {
        fn new() -> Self {
            Self {
                writes: Arc::default(),
                gate: Arc::default(),
            }
        }

        /// The first write blocks until the returned sender sends; `started` receives when it
        /// has begun.
        fn gated() -> (Self, mpsc::Receiver<()>, mpsc::Sender<()>) {
            let sink = Self::new();
            let (started_tx, started_rx) = mpsc::channel();
            let (go_tx, go_rx) = mpsc::channel();
            *sink.gate.lock().unwrap() = Some((started_tx, go_rx));
            (sink, started_rx, go_tx)
        }

        fn writes(&self) -> Vec<Vec<u8>> {
            self.writes.lock().unwrap().clone()
        }

        fn all(&self) -> Vec<u8> {
            self.writes().concat()
        }
    }

    impl Write for Sink {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            let gate = self.gate.lock().unwrap().take();
            if let Some((started, go)) = gate {
                started.send(()).unwrap();
                go.recv().unwrap();
            }
            self.writes.lock().unwrap().push(bytes.to_vec());
            Ok(bytes.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn record<W: Write + Send + 'static>(writer: &BackgroundWriter<W>, line: &str) {
        writer.make_writer().write_all(line.as_bytes()).unwrap();
    }

    #[test]
    fn records_that_arrive_while_a_write_is_under_way_go_out_in_one_write() {
        let (sink, started, go) = Sink::gated();
        let writer = BackgroundWriter::new(sink.clone());
        record(&writer, "r0\n");
        started.recv().unwrap();
        let lines: Vec<String> = (1..=100).map(|i| format!("r{i}\n")).collect();
        for line in &lines {
            record(&writer, line);
        }
        go.send(()).unwrap();
        writer.flush();
        assert_eq!(
            sink.writes(),
            vec![b"r0\n".to_vec(), lines.concat().into_bytes()],
            "the 100 records queued during the first write are the second write"
        );
    }

    #[test]
    fn a_burst_gathers_for_the_linger_and_a_flush_cuts_it_short() {
        let sink = Sink::new();
        let writer = BackgroundWriter::with_linger(sink.clone(), Duration::from_secs(30));
        for i in 0..20 {
            record(&writer, &format!("r{i:02}\n"));
            std::thread::sleep(Duration::from_millis(2));
        }
        // records spaced 2 ms apart: without the linger each would have been its own write
        assert!(sink.writes().is_empty(), "the writer thread lingers");
        writer.flush();
        let writes = sink.writes();
        assert_eq!(writes.len(), 1, "the burst is one write");
        let expected: String = (0..20).map(|i| format!("r{i:02}\n")).collect();
        assert_eq!(String::from_utf8(writes.concat()).unwrap(), expected);
    }

    #[test]
    fn a_half_full_queue_ends_the_linger() {
        let sink = Sink::new();
        let writer = BackgroundWriter::build(sink.clone(), 100, Duration::from_secs(30));
        record(&writer, "0123456789\n");
        std::thread::sleep(Duration::from_millis(20));
        assert!(sink.writes().is_empty(), "the writer thread lingers");
        // 11 + 44 bytes: past half of the 100-byte queue
        record(&writer, &"x".repeat(43));
        let deadline = Instant::now() + Duration::from_secs(10);
        while sink.writes().is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(sink.all().len(), 11 + 43, "written without a flush");
    }

    #[test]
    fn flush_returns_once_every_record_before_it_is_written_in_order() {
        let sink = Sink::new();
        let writer = BackgroundWriter::new(sink.clone());
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let writer = writer.clone();
                std::thread::spawn(move || {
                    for i in 0..2_000 {
                        record(&writer, &format!("t{t} {i:04}\n"));
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        writer.flush();
        let all = String::from_utf8(sink.all()).unwrap();
        let lines: Vec<&str> = all.lines().collect();
        assert_eq!(lines.len(), 8_000, "nothing lost");
        for t in 0..4 {
            let mine: Vec<&str> = lines
                .iter()
                .copied()
                .filter(|l| l.starts_with(&format!("t{t} ")))
                .collect();
            let expected: Vec<String> = (0..2_000).map(|i| format!("t{t} {i:04}")).collect();
            assert_eq!(mine, expected, "each thread's records keep their order");
        }
    }

    #[test]
    fn a_full_queue_makes_the_logging_thread_wait_and_nothing_is_dropped() {
        let (sink, started, go) = Sink::gated();
        let writer = BackgroundWriter::with_max_pending(sink.clone(), 10);
        record(&writer, "first\n");
        started.recv().unwrap();
        // while the writer thread is stuck, a logger fills the queue (10 bytes: two records
        // of 4) and waits; everything goes out once the writer thread moves on
        let logger = {
            let writer = writer.clone();
            std::thread::spawn(move || {
                for i in 0..300 {
                    record(&writer, &format!("{i:03}\n"));
                }
            })
        };
        go.send(()).unwrap();
        logger.join().unwrap();
        writer.flush();
        let writes = sink.writes();
        assert_eq!(writes[0], b"first\n");
        assert!(
            writes[1..].iter().all(|w| w.len() <= 10),
            "no batch is larger than the queue: {:?}",
            writes.iter().map(Vec::len).collect::<Vec<_>>()
        );
        let expected: String = (0..300).map(|i| format!("{i:03}\n")).collect();
        assert_eq!(sink.all()[6..], *expected.as_bytes());
    }

    #[test]
    fn a_record_larger_than_the_queue_is_taken_whole() {
        let sink = Sink::new();
        let writer = BackgroundWriter::with_max_pending(sink.clone(), 4);
        let big = "x".repeat(100) + "\n";
        record(&writer, &big);
        record(&writer, "y\n");
        writer.flush();
        assert_eq!(sink.all(), format!("{big}y\n").into_bytes());
        assert!(sink.writes().contains(&big.into_bytes()), "never split");
    }

    /// A destination that fails every write (a closed pipe).
    struct Broken(Arc<Mutex<usize>>);

    impl Write for Broken {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            *self.0.lock().unwrap() += 1;
            Err(io::ErrorKind::BrokenPipe.into())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_failing_destination_neither_panics_nor_blocks_the_loggers() {
        let attempts = Arc::new(Mutex::new(0));
        let writer = BackgroundWriter::with_max_pending(Broken(attempts.clone()), 16);
        for i in 0..1_000 {
            writer
                .make_writer()
                .write_all(format!("record {i}\n").as_bytes())
                .unwrap();
        }
        writer.flush();
        assert!(*attempts.lock().unwrap() >= 1);
    }

    /// A destination whose first write panics.
    struct PanicsOnce(bool, Sink);

    impl Write for PanicsOnce {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            if !self.0 {
                self.0 = true;
                panic!("destination failed");
            }
            self.1.write(bytes)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_panicking_destination_does_not_stop_the_writer_thread() {
        let sink = Sink::new();
        let writer = BackgroundWriter::new(PanicsOnce(false, sink.clone()));
        record(&writer, "lost\n");
        writer.flush();
        record(&writer, "kept\n");
        writer.flush();
        assert_eq!(sink.all(), b"kept\n");
    }

    /// A sink that says when it is dropped.
    struct Dropped(Sink, Arc<AtomicBool>);

    impl Write for Dropped {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0.write(bytes)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Drop for Dropped {
        fn drop(&mut self) {
            self.1.store(true, Ordering::SeqCst);
        }
    }

    #[test]
    fn dropping_the_last_clone_writes_everything_and_drops_the_destination() {
        let (sink, dropped) = (Sink::new(), Arc::new(AtomicBool::new(false)));
        let writer = BackgroundWriter::new(Dropped(sink.clone(), dropped.clone()));
        let other = writer.clone();
        for i in 0..1_000 {
            record(&writer, &format!("{i}\n"));
        }
        drop(writer);
        assert!(!dropped.load(Ordering::SeqCst), "a clone is left");
        record(&other, "last\n");
        drop(other);
        assert!(dropped.load(Ordering::SeqCst));
        let expected: String = (0..1_000).map(|i| format!("{i}\n")).collect();
        assert_eq!(sink.all(), (expected + "last\n").into_bytes());
    }

    #[test]
    fn flush_with_nothing_queued_returns_at_once() {
        let writer = BackgroundWriter::new(Sink::new());
        writer.flush();
        assert!(writer.flush_timeout(Duration::ZERO));
    }

    #[test]
    fn flush_timeout_gives_up_while_the_destination_is_stuck() {
        let (sink, started, go) = Sink::gated();
        let writer = BackgroundWriter::new(sink.clone());
        record(&writer, "stuck\n");
        started.recv().unwrap();
        assert!(!writer.flush_timeout(Duration::ZERO));
        go.send(()).unwrap();
        assert!(writer.flush_timeout(Duration::from_secs(60)));
        assert_eq!(sink.all(), b"stuck\n");
    }

    #[test]
    fn the_layer_writes_each_record_whole_through_it() {
        use super::super::{LogFormat, TomodachiLayer};
        use tracing_subscriber::layer::SubscriberExt;

        let sink = Sink::new();
        let writer = BackgroundWriter::new(sink.clone());
        let layer = TomodachiLayer::new(LogFormat::Python, false, writer.clone());
        tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
            for i in 0..50 {
                tracing::info!(target: "t", "record {i}");
            }
        });
        writer.flush();
        let all = String::from_utf8(sink.all()).unwrap();
        let lines: Vec<&str> = all.lines().collect();
        assert_eq!(lines.len(), 50);
        for (i, line) in lines.iter().enumerate() {
            assert!(line.contains(&format!("] record {i} ")), "{line}");
        }
    }
}
