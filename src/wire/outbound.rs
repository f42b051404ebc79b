//! A connection's outbound side. Whoever has a frame for it writes it straight to the
//! socket: the hub writes each change to every socket in turn, with no task to wake and
//! no copy per connection. Only what the socket cannot take at once waits here, bounded,
//! and the connection's session writes it out when the socket drains.

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::sync::{Mutex, MutexGuard};

use bytes::{Buf, Bytes};
use tokio::net::TcpStream;
use tokio::sync::Notify;

use super::Frame;

/// How many frames may wait for one connection before it counts as too slow and is
/// closed. A closed client reconnects and resumes; the others never wait for it.
pub const MAX_QUEUED_FRAMES: usize = 256;
/// How many bytes may wait for one connection: a chair's welcome fits many times over.
pub const MAX_QUEUED_BYTES: usize = 1024 * 1024;
/// Frames handed to the kernel in one write when catching up.
const WRITE_BATCH: usize = 64;

/// Why a frame was not taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// The connection has too much waiting: it is not reading.
    TooSlow,
    /// The connection is closing or gone.
    Closed,
}

/// Where a connection's writing stands after a flush.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flushed {
    /// Open, and everything is written.
    Open,
    /// Some is still waiting for the socket.
    Waiting,
    /// Closing, and everything up to the close frame is written.
    Closed { code: u16, reason: &'static str },
    /// The socket failed; nothing more can be written.
    Dead,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Open,
    Closing { code: u16, reason: &'static str },
    Dead,
}

struct Queue {
    /// Frames the socket has not taken yet, in order; the first may be partly written.
    frames: VecDeque<Bytes>,
    bytes: usize,
    state: State,
}

pub struct Outbound {
    socket: TcpStream,
    queue: Mutex<Queue>,
    /// Wakes the session when frames start waiting or the connection is told to close.
    wake: Notify,
}

impl Outbound {
    pub fn new(socket: TcpStream) -> Self {
        let queue = Queue { frames: VecDeque::new(), bytes: 0, state: State::Open };
        Outbound { socket, queue: Mutex::new(queue), wake: Notify::new() }
    }

    pub fn socket(&self) -> &TcpStream {
        &self.socket
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes the frame now if nothing is waiting, or queues it behind what is.
    pub fn send(&self, frame: &Frame) -> Result<(), Refused> {
        self.send_many(&[frame])
    }

    /// Writes several frames in one system call if nothing is waiting (a change and the one
    /// that caught up with it on its way to this connection), or queues them behind what is.
    pub fn send_many(&self, frames: &[&Frame]) -> Result<(), Refused> {
        let mut queue = self.lock();
        if queue.state != State::Open {
            return Err(Refused::Closed);
        }
        let bytes: usize = frames.iter().map(|f| f.bytes().len()).sum();
        let push_all = |queue: &mut Queue| frames.iter().for_each(|f| queue.push(f.bytes().clone()));
        if !queue.frames.is_empty() {
            if queue.frames.len() + frames.len() > MAX_QUEUED_FRAMES || queue.bytes + bytes > MAX_QUEUED_BYTES {
                return Err(Refused::TooSlow);
            }
            push_all(&mut queue);
            return Ok(());
        }
        // One frame, the usual case, without gathering slices.
        let written = match frames {
            [frame] => self.socket.try_write(frame.bytes()),
            frames => {
                let slices: Vec<IoSlice<'_>> = frames.iter().map(|f| IoSlice::new(f.bytes())).collect();
                self.socket.try_write_vectored(&slices)
            }
        };
        match written {
            Ok(n) if n == bytes => Ok(()),
            Ok(n) => {
                push_all(&mut queue);
                queue.advance(n);
                self.wake.notify_one();
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                push_all(&mut queue);
                self.wake.notify_one();
                Ok(())
            }
            Err(_) => {
                queue.die();
                self.wake.notify_one();
                Err(Refused::Closed)
            }
        }
    }

    /// Closes after what is already waiting: `last_word` if any, then a close frame with
    /// the code and reason. Nothing sent after this is taken. The first close wins.
    pub fn close(&self, code: u16, reason: &'static str, last_word: Option<Frame>) {
        let mut queue = self.lock();
        if queue.state != State::Open {
            return;
        }
        queue.state = State::Closing { code, reason };
        if let Some(frame) = last_word {
            queue.push(frame.bytes().clone());
        }
        queue.push(Frame::close(code, reason).bytes().clone());
        self.wake.notify_one();
    }

    /// Refuses everything from now on: the session has ended.
    pub fn shut(&self) {
        self.lock().die();
    }

    /// Resolves when frames start waiting, the connection is told to close, or it failed.
    pub async fn woken(&self) {
        self.wake.notified().await;
    }

    /// Writes as much of what is waiting as the socket takes now.
    pub fn flush(&self) -> Flushed {
        let mut queue = self.lock();
        while !queue.frames.is_empty() {
            let written = {
                let slices: Vec<IoSlice<'_>> = queue.frames.iter().take(WRITE_BATCH).map(|b| IoSlice::new(b)).collect();
                self.socket.try_write_vectored(&slices)
            };
            match written {
                Ok(0) => queue.die(),
                Ok(n) => queue.advance(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Flushed::Waiting,
                Err(_) => queue.die(),
            }
        }
        // An idle connection keeps no buffer.
        queue.frames = VecDeque::new();
        match queue.state {
            State::Open => Flushed::Open,
            State::Closing { code, reason } => Flushed::Closed { code, reason },
            State::Dead => Flushed::Dead,
        }
    }
}

impl Queue {
    fn push(&mut self, bytes: Bytes) {
        self.bytes += bytes.len();
        self.frames.push_back(bytes);
    }

    fn advance(&mut self, mut written: usize) {
        self.bytes -= written;
        while let Some(front) = self.frames.front_mut() {
            if written < front.len() {
                front.advance(written);
                return;
            }
            written -= front.len();
            self.frames.pop_front();
        }
    }

    fn die(&mut self) {
        self.state = State::Dead;
        self.frames = VecDeque::new();
        self.bytes = 0;
    }
}

#[cfg(test)]
mod tests;
