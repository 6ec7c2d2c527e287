//! The control endpoint's server side: the slots that bound it, and one task per connection
//! (see the parent module's doc, "Connections").

use std::future::Future;
use std::io::Write as _;
use std::net::Shutdown;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch, OwnedSemaphorePermit, Semaphore};

use super::{
    respond, ControlContext, Request, CONNECTIONS_MAX, LOCK_WAITS_MAX, PIPELINED_MAX,
    REQUEST_BYTES_MAX,
};
use crate::cluster::locks::{Listener, LockOp, EVENTS_MAX};

/// Connections being turned away at once (each lingers up to [`REJECT_LINGER`]); beyond it, a
/// turned-away connection is closed right after its error line.
pub const REJECTS_MAX: usize = 64;

/// How long a turned-away connection is read (and what it sent discarded) after its error
/// line, so that closing it does not reset the line away before the client reads it.
pub const REJECT_LINGER: Duration = Duration::from_secs(1);

/// How long the accept loop pauses after a failed accept (out of descriptors, most likely).
pub const ACCEPT_RETRY: Duration = Duration::from_millis(10);

/// The endpoint's slots: connections served, lock waits, connections being turned away.
#[derive(Clone, Debug)]
pub struct Slots {
    connections: Arc<Semaphore>,
    lock_waits: Arc<Semaphore>,
    rejects: Arc<Semaphore>,
}

impl Default for Slots {
    fn default() -> Self {
        Self {
            connections: Arc::new(Semaphore::new(CONNECTIONS_MAX)),
            lock_waits: Arc::new(Semaphore::new(LOCK_WAITS_MAX)),
            rejects: Arc::new(Semaphore::new(REJECTS_MAX)),
        }
    }
}

impl Slots {
    /// The slots in use and their limits, as `stats` reports them under `"control"`.
    pub fn counts(&self) -> Value {
        json!({
            "connections": CONNECTIONS_MAX - self.connections.available_permits(),
            "connections_max": CONNECTIONS_MAX,
            "lock_waits": LOCK_WAITS_MAX - self.lock_waits.available_permits(),
            "lock_waits_max": LOCK_WAITS_MAX,
        })
    }
}

/// Serves control connections on `listener` until the task is dropped.
pub async fn serve(listener: TcpListener, context: ControlContext) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(error) => {
                tracing::debug!(%error, "control accept failed");
                tokio::time::sleep(ACCEPT_RETRY).await;
                continue;
            }
        };
        match Arc::clone(&context.slots.connections).try_acquire_owned() {
            Ok(slot) => {
                let context = context.clone();
                tokio::spawn(async move {
                    if let Err(error) = connection(stream, &context, slot).await {
                        tracing::debug!(%error, "control connection ended");
                    }
                });
            }
            Err(_) => turn_away(stream, &context.slots),
        }
    }
}

/// Answers a connection beyond [`CONNECTIONS_MAX`] with one error line and closes it.
fn turn_away(stream: TcpStream, slots: &Slots) {
    let line = format!(
        "{}\n",
        json!({"ok": false, "error": format!(
            "too many control connections: {CONNECTIONS_MAX} are open (lock waits aside); \
             try again once one closes"
        )})
    );
    let Ok(stream) = stream.into_std() else {
        return;
    };
    // The socket is non-blocking; a fresh one's send buffer takes the line at once.
    let _ = (&stream).write_all(line.as_bytes());
    let _ = stream.shutdown(Shutdown::Write);
    let Ok(permit) = Arc::clone(&slots.rejects).try_acquire_owned() else {
        return;
    };
    let Ok(stream) = TcpStream::from_std(stream) else {
        return;
    };
    tokio::spawn(async move {
        let _permit = permit;
        let _ = tokio::time::timeout(REJECT_LINGER, drain(stream)).await;
    });
}

/// Reads and discards until end of input or an error.
async fn drain(mut stream: impl AsyncReadExt + Unpin) {
    let mut buf = [0u8; 1024];
    while matches!(stream.read(&mut buf).await, Ok(n) if n > 0) {}
}

/// What the reader of a connection passes on, in the order the client sent it.
enum Input {
    /// A request line (UTF-8).
    Line(String),
    /// A line that is not UTF-8 (the offset and value of its first bad byte): answered with
    /// an error; the connection goes on.
    NotUtf8 { offset: usize, byte: u8 },
    /// A line longer than [`REQUEST_BYTES_MAX`]: answered, then the connection closes.
    TooLong,
    /// More than [`PIPELINED_MAX`] requests ahead of their answers: answered, then closed.
    Overflow,
}

/// Reads request lines until the client's input ends, then sets `gone`. After a line that is
/// too long, or once the client is [`PIPELINED_MAX`] requests ahead, it passes that on and
/// discards the rest of the input (still watching for its end).
async fn read_requests(read: OwnedReadHalf, lines: mpsc::Sender<Input>, gone: watch::Sender<bool>) {
    let mut read = BufReader::new(read);
    let mut discarding = false;
    loop {
        let mut line = Vec::new();
        let n = match (&mut read)
            .take(REQUEST_BYTES_MAX as u64 + 1)
            .read_until(b'\n', &mut line)
            .await
        {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if discarding {
            continue;
        }
        let input = if n > REQUEST_BYTES_MAX {
            Input::TooLong
        } else if lines.capacity() <= 1 {
            // The last free place is kept for this notice.
            Input::Overflow
        } else {
            match String::from_utf8(line) {
                Ok(line) => Input::Line(line),
                Err(e) => {
                    let offset = e.utf8_error().valid_up_to();
                    let byte = e.as_bytes()[offset];
                    Input::NotUtf8 { offset, byte }
                }
            }
        };
        discarding = matches!(input, Input::TooLong | Input::Overflow);
        if lines.try_send(input).is_err() {
            break;
        }
    }
    gone.send_replace(true);
}

/// What to do after a request.
enum Flow {
    Next,
    Close,
}

/// One connection's state (see [`connection`]).
struct Connection<'a> {
    context: &'a ControlContext,
    write: OwnedWriteHalf,
    lines: mpsc::Receiver<Input>,
    events: mpsc::Receiver<Value>,
    listener: Listener,
    gone: watch::Receiver<bool>,
    /// The connection slot, held except while a lock wait holds a lock-wait slot instead.
    slot: Option<OwnedSemaphorePermit>,
}

/// One control connection: requests are answered in order, one at a time; event lines (BASTs,
/// `queued`) are written whenever they arrive, also while a request waits for its completion.
async fn connection(
    stream: TcpStream,
    context: &ControlContext,
    slot: OwnedSemaphorePermit,
) -> std::io::Result<()> {
    let (read, write) = stream.into_split();
    let (line_tx, lines) = mpsc::channel(PIPELINED_MAX + 1);
    let (gone_tx, gone) = watch::channel(false);
    // Reading runs on its own task so that the client's leaving is seen while a request waits.
    let reader = tokio::spawn(read_requests(read, line_tx, gone_tx));
    let (listener, events) = mpsc::channel(EVENTS_MAX);
    let mut connection = Connection {
        context,
        write,
        lines,
        events,
        listener,
        gone,
        slot: Some(slot),
    };
    let result = connection.run().await;
    reader.abort();
    result
}

impl Connection<'_> {
    async fn run(&mut self) -> std::io::Result<()> {
        loop {
            let input = tokio::select! {
                input = self.lines.recv() => input,
                Some(event) = self.events.recv() => {
                    self.send(&event).await?;
                    continue;
                }
            };
            let flow = match input {
                // The client's input ended and every request it sent was answered.
                None => Flow::Close,
                Some(Input::Line(line)) if line.trim().is_empty() => Flow::Next,
                Some(Input::Line(line)) => self.request(line.trim()).await?,
                Some(Input::NotUtf8 { offset, byte }) => {
                    let error = format!(
                        "request is not UTF-8 (byte {byte:#04x} at offset {offset}); the line \
                         was ignored"
                    );
                    self.send(&json!({"ok": false, "error": error})).await?;
                    Flow::Next
                }
                Some(Input::TooLong) => {
                    let error = format!("request longer than {REQUEST_BYTES_MAX} bytes; closing");
                    self.close_with(&json!({"ok": false, "error": error}))
                        .await?;
                    Flow::Close
                }
                Some(Input::Overflow) => {
                    let error = format!(
                        "more than {PIPELINED_MAX} requests sent ahead of their answers; the rest \
                         were not read; closing"
                    );
                    self.close_with(&json!({"ok": false, "error": error}))
                        .await?;
                    Flow::Close
                }
            };
            if matches!(flow, Flow::Close) {
                return Ok(());
            }
        }
    }

    async fn send(&mut self, value: &Value) -> std::io::Result<()> {
        self.write.write_all(format!("{value}\n").as_bytes()).await
    }

    /// Writes a last line, ends the output, and waits (bounded) for the client to close, so
    /// that the unread rest of its input does not reset the line away.
    async fn close_with(&mut self, value: &Value) -> std::io::Result<()> {
        self.send(value).await?;
        self.write.shutdown().await?;
        let _ = tokio::time::timeout(REJECT_LINGER, self.gone.wait_for(|gone| *gone)).await;
        Ok(())
    }

    /// Runs `work` while writing event lines; `None` if `abandon` and the client left first.
    async fn until<T>(
        &mut self,
        work: impl Future<Output = T>,
        abandon: bool,
    ) -> std::io::Result<Option<T>> {
        tokio::pin!(work);
        loop {
            let event = tokio::select! {
                out = &mut work => return Ok(Some(out)),
                Some(event) = self.events.recv() => event,
                _ = self.gone.wait_for(|gone| *gone), if abandon => return Ok(None),
            };
            self.send(&event).await?;
        }
    }

    async fn request(&mut self, line: &str) -> std::io::Result<Flow> {
        let request = match Request::parse(line) {
            Ok(request) => request,
            Err(error) => {
                self.send(&json!({"ok": false, "error": error})).await?;
                return Ok(Flow::Next);
            }
        };
        if !request.waits() {
            let (context, listener) = (self.context, self.listener.clone());
            let answer = context.answer_request(&request, Some(&listener));
            let reply = self.until(answer, false).await?;
            self.send(&reply.unwrap_or_default()).await?;
            return Ok(Flow::Next);
        }
        self.wait(&request).await
    }

    /// A request that may wait for another client (a lock request, `bast` with a timeout): it
    /// holds a lock-wait slot instead of its connection slot while it waits. When every
    /// lock-wait slot is taken, a `deq` waits in its connection slot and anything else is
    /// refused (not issued). A client that leaves while it waits is let go; a lock request stays
    /// queued at the node.
    async fn wait(&mut self, request: &Request) -> std::io::Result<Flow> {
        let wait_slot = Arc::clone(&self.context.slots.lock_waits).try_acquire_owned();
        let is_deq = matches!(request, Request::Lock(l) if matches!(l.op, LockOp::Deq { .. }));
        let wait_slot = match wait_slot {
            Ok(slot) => Some(slot),
            Err(_) if is_deq => None,
            Err(_) => {
                let error = format!(
                    "{}: {LOCK_WAITS_MAX} requests already wait at this node; not issued, try \
                     again once one completes",
                    super::verb(request)
                );
                self.send(&json!({"ok": false, "error": error})).await?;
                return Ok(Flow::Next);
            }
        };
        let Some(reply) = self.issue_and_wait(request, wait_slot.is_some()).await? else {
            return Ok(Flow::Close);
        };
        self.send(&reply).await?;
        if self.slot.is_none() {
            let slots = Arc::clone(&self.context.slots.connections);
            match self.until(slots.acquire_owned(), true).await? {
                Some(Ok(slot)) => self.slot = Some(slot),
                Some(Err(_)) | None => return Ok(Flow::Close),
            }
        }
        drop(wait_slot);
        Ok(Flow::Next)
    }

    /// Issues `request` (a lock request is acknowledged with a `queued` event line), gives up
    /// the connection slot if `release`, and waits for the reply; `None` if the client left.
    async fn issue_and_wait(
        &mut self,
        request: &Request,
        release: bool,
    ) -> std::io::Result<Option<Value>> {
        let context = self.context;
        let result = match request {
            Request::Lock(lock) => {
                let issued = match context.locks.issue(lock, Some(&self.listener)) {
                    Ok(issued) => issued,
                    Err(e) => return Ok(Some(respond(request, Err(super::lock_error(lock, &e))))),
                };
                self.send(&json!({"event": "queued", "lock_id": issued.lock.0}))
                    .await?;
                if release {
                    self.slot = None;
                }
                let Some(reply) = self.until(issued.completion(), true).await? else {
                    return Ok(None);
                };
                super::lock_result(lock, reply)
            }
            _ => {
                if release {
                    self.slot = None;
                }
                let listener = self.listener.clone();
                let Some(reply) = self
                    .until(context.answer_request(request, Some(&listener)), true)
                    .await?
                else {
                    return Ok(None);
                };
                return Ok(Some(reply));
            }
        };
        Ok(Some(respond(request, result)))
    }
}
