//! Where log lines go: stdout, in batches, without a request ever waiting on the terminal or
//! the pipe, and without a hand-off per line.
//!
//! Each thread appends its lines to a buffer of its own; a buffer is written out in one
//! `write` when it passes [`BATCH_BYTES`], and by a background thread every [`FLUSH_EVERY`]
//! whatever its size, so a quiet server's lines still show within a tenth of a second. Writes
//! to stdout are serialised, so lines never interleave even on a pipe.
//!
//! Written here because tracing-appender's `non_blocking`, the usual choice, sends each line
//! as its own allocation through a channel to a writer thread: under load, waking that thread
//! for every line and freeing on one thread what another allocated (glibc's arena lock) cost
//! more than the request itself (`cargo xtask bench`, production-defaults rows: 1.9× the
//! floor's CPU per request with it).

use std::cell::RefCell;
use std::io::{self, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;

/// A thread's buffer is written out once it holds this much.
pub const BATCH_BYTES: usize = 64 * 1024;
/// Every buffer is written out at least this often.
pub const FLUSH_EVERY: Duration = Duration::from_millis(100);

type Buffer = Arc<Mutex<Vec<u8>>>;

/// Every thread's buffer, for the flusher (held here too, so that the lines of a thread that
/// ended are still written); and the one lock every write to the output takes.
struct Shared {
    buffers: Mutex<Vec<Buffer>>,
    output: Mutex<Box<dyn Write + Send>>,
}

/// The writer tracing's formatter writes each line to ([`MakeWriter`]).
#[derive(Clone)]
pub struct BatchedWriter {
    shared: Arc<Shared>,
}

/// Writes out what is buffered when dropped: hold it until `main` returns.
pub struct FlushGuard {
    shared: Arc<Shared>,
}

thread_local! {
    /// This thread's buffer, and the writer it belongs to (there is one per process but for
    /// tests; a thread that writes to another writer gets a buffer of that one's).
    static BUFFER: RefCell<Option<(*const Shared, Buffer)>> = const { RefCell::new(None) };
}

impl BatchedWriter {
    /// A writer to stdout, its flusher thread started, and the guard that flushes at exit.
    pub fn stdout() -> (Self, FlushGuard) {
        Self::to(Box::new(io::stdout()))
    }

    fn to(output: Box<dyn Write + Send>) -> (Self, FlushGuard) {
        let shared = Arc::new(Shared {
            buffers: Mutex::new(Vec::new()),
            output: Mutex::new(output),
        });
        let flusher = Arc::downgrade(&shared);
        std::thread::Builder::new()
            .name("log-flusher".into())
            .spawn(move || {
                while let Some(shared) = flusher.upgrade() {
                    shared.flush_all();
                    drop(shared);
                    std::thread::sleep(FLUSH_EVERY);
                }
            })
            .expect("a thread for the log can be started");
        (
            Self {
                shared: shared.clone(),
            },
            FlushGuard { shared },
        )
    }
}

impl Shared {
    /// Runs `with` on this thread's buffer, made and registered on its first line.
    fn with_buffer<T>(&self, with: impl FnOnce(&Mutex<Vec<u8>>) -> T) -> T {
        BUFFER.with(|cell| {
            let mut cell = cell.borrow_mut();
            let own = |(of, _): &(*const Shared, Buffer)| std::ptr::eq(*of, self);
            if !cell.as_ref().is_some_and(own) {
                let buffer = Buffer::default();
                let mut all = self.buffers.lock().unwrap_or_else(|e| e.into_inner());
                all.push(buffer.clone());
                *cell = Some((self, buffer));
            }
            let (_, buffer) = cell.as_ref().expect("set just above");
            with(buffer)
        })
    }
}

impl Shared {
    /// Writes `lines` out whole, under the output's lock.
    fn emit(&self, lines: &[u8]) {
        if lines.is_empty() {
            return;
        }
        let mut output = self.output.lock().unwrap_or_else(|e| e.into_inner());
        // A log that cannot be written (a closed pipe) must not stop the server.
        let _ = output.write_all(lines).and_then(|()| output.flush());
    }

    /// Writes out every buffer; forgets those of threads that have ended.
    fn flush_all(&self) {
        let buffers: Vec<Buffer> = self
            .buffers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        for buffer in &buffers {
            let lines = std::mem::take(&mut *buffer.lock().unwrap_or_else(|e| e.into_inner()));
            self.emit(&lines);
        }
        drop(buffers);
        let mut all = self.buffers.lock().unwrap_or_else(|e| e.into_inner());
        // Held only here and empty: its thread has ended and its last lines are written.
        all.retain(|buffer| {
            let ended = Arc::strong_count(buffer) == 1;
            let empty = buffer.lock().unwrap_or_else(|e| e.into_inner()).is_empty();
            !(ended && empty)
        });
    }
}

impl Drop for FlushGuard {
    fn drop(&mut self) {
        self.shared.flush_all();
    }
}

/// One line's writer: appends to the thread's buffer, writing it out when full. It borrows
/// what it needs: no reference is counted per line.
pub struct LineWriter<'a> {
    shared: &'a Shared,
}

impl Write for LineWriter<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let full = self.shared.with_buffer(|buffer| {
            let mut buffer = buffer.lock().unwrap_or_else(|e| e.into_inner());
            buffer.extend_from_slice(bytes);
            (buffer.len() >= BATCH_BYTES).then(|| std::mem::take(&mut *buffer))
        });
        if let Some(lines) = full {
            self.shared.emit(&lines);
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for BatchedWriter {
    type Writer = LineWriter<'a>;

    fn make_writer(&'a self) -> LineWriter<'a> {
        LineWriter {
            shared: &self.shared,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An output the test can read back.
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_from_many_threads_arrive_whole_within_the_flush_period() {
        let sink = Sink::default();
        let (writer, guard) = BatchedWriter::to(Box::new(sink.clone()));
        std::thread::scope(|scope| {
            for thread in 0..4 {
                let writer = writer.clone();
                scope.spawn(move || {
                    for line in 0..5000 {
                        let text = format!("thread {thread} line {line} {}\n", "x".repeat(40));
                        writer.make_writer().write_all(text.as_bytes()).unwrap();
                    }
                });
            }
        });
        // A quiet spell: what is left is written by the flusher, not only at exit.
        std::thread::sleep(FLUSH_EVERY * 3);
        let written = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        assert_eq!(written.lines().count(), 20_000);
        assert!(
            written
                .lines()
                .all(|l| l.starts_with("thread ") && l.ends_with("xx"))
        );
        drop(guard);
    }

    #[test]
    fn the_guard_writes_out_what_is_left() {
        let sink = Sink::default();
        let (writer, guard) = BatchedWriter::to(Box::new(sink.clone()));
        std::thread::spawn(move || writer.make_writer().write_all(b"last words\n").unwrap())
            .join()
            .unwrap();
        drop(guard);
        assert_eq!(sink.0.lock().unwrap().as_slice(), b"last words\n");
    }
}
