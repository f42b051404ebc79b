//! What the load measures: when each change and caption line was sent and reached each
//! connection, latency histograms from those times, and the processes' memory and CPU.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use hdrhistogram::Histogram;

use crate::flags::Args;
use crate::servers::Target;

/// Resident memory of a process, in KiB.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Resident memory of all nodes, in KiB.
pub fn total_rss(pids: &[u32]) -> Option<u64> {
    pids.iter().map(|&pid| rss_kib(pid)).sum()
}

/// CPU time a process has used, in clock ticks: (user, system).
fn cpu_ticks(pid: u32) -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    Some((fields.get(11)?.parse().ok()?, fields.get(12)?.parse().ok()?))
}

/// CPU time of several processes together.
fn total_cpu(pids: &[u32]) -> Option<(u64, u64)> {
    pids.iter().map(|&pid| cpu_ticks(pid)).try_fold((0, 0), |sum, ticks| ticks.map(|t| (sum.0 + t.0, sum.1 + t.1)))
}

pub fn ticks_per_second() -> f64 {
    // SAFETY: sysconf has no preconditions and _SC_CLK_TCK is a valid name.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 {
        ticks as f64
    } else {
        100.0
    }
}

/// When each of a run's changes reached one connection: nanoseconds after the run's start,
/// or 0 while not yet.
pub fn times(n: usize) -> Vec<AtomicU64> {
    (0..n).map(|_| AtomicU64::new(0)).collect()
}

/// Shared by every task of a run: where the changes start, when each was sent, and when
/// each reached each connection.
pub struct Run {
    pub start: Instant,
    pub first_seq: AtomicU64,
    /// Changes in all rounds.
    pub changes: usize,
    /// Seqs kept per connection from `first_seq` on: the changes and, with votes, their
    /// batches between them.
    pub seqs: usize,
    /// The seq of each change, as the moderator's console saw it.
    pub seq_of: Vec<AtomicU64>,
    pub sent_at: Vec<AtomicU64>,
    /// When the moderator's own copy of each change arrived, and then its acknowledgement.
    pub own_at: Vec<AtomicU64>,
    pub acked_at: Vec<AtomicU64>,
    /// The stage screen's and the AV screen's copies, by seq (from `first_seq`).
    pub stage_at: Vec<AtomicU64>,
    pub av_at: Vec<AtomicU64>,
    /// `arrived[attendee * seqs + seq - first_seq]`.
    pub arrived: Vec<AtomicU64>,
    pub out_of_order: AtomicU64,
    pub reconnects: AtomicU64,
    pub idle_frames: AtomicUsize,
    pub watching_idle: AtomicBool,
    /// Per attendee, the last presence total it was sent.
    pub presence_total: Vec<AtomicU64>,
    /// Per attendee, from its connect to its welcome, in microseconds.
    pub welcomed_us: Vec<AtomicU64>,
    /// Presence frames the reading attendees received, in all.
    pub presence_frames: AtomicU64,
    pub captions: Captions,
    pub votes: Votes,
    /// How long the votes are spread over.
    pub votes_spread: std::time::Duration,
    /// The question the load upvotes, once the moderator asked it.
    pub question: AtomicU64,
}

/// The vote load: when it starts, when each vote went out and how it was answered, and when
/// the chair saw the final counts.
pub struct Votes {
    /// When the attendees start voting; none before the round with votes.
    pub start: tokio::sync::watch::Sender<Option<Instant>>,
    /// When the last vote was sent, nanoseconds after the run's start.
    pub last_sent: AtomicU64,
    pub acked: AtomicU64,
    pub refused: AtomicU64,
    /// When the chair's console saw the poll's and the question's final counts.
    pub poll_final_at: AtomicU64,
    pub question_final_at: AtomicU64,
    /// Batches (`votes` changes) the chair received.
    pub batches: AtomicU64,
}

impl Votes {
    pub fn new() -> Votes {
        Votes {
            start: tokio::sync::watch::channel(None).0,
            last_sent: AtomicU64::new(0),
            acked: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            poll_final_at: AtomicU64::new(0),
            question_final_at: AtomicU64::new(0),
            batches: AtomicU64::new(0),
        }
    }
}

/// The caption load: line `g` goes to track `g % 3` with seq `base[g % 3] + g / 3 + 1`.
pub struct Captions {
    /// Lines room is kept for.
    pub room: usize,
    /// Lines posted so far.
    pub posted: AtomicUsize,
    pub base: [AtomicU64; 3],
    pub sent_at: Vec<AtomicU64>,
    /// `arrived[attendee * room + line]`.
    pub arrived: Vec<AtomicU64>,
    /// Lines of a track the attendee does not follow.
    pub misrouted: AtomicU64,
}

impl Captions {
    pub fn new(args: &Args) -> Captions {
        let seconds = (args.changes as u64 * args.interval_ms) as f64 / 1000.0 + 2.0;
        let room = if args.captions_per_sec > 0.0 { (args.captions_per_sec * seconds).ceil() as usize } else { 0 };
        Captions {
            room,
            posted: AtomicUsize::new(0),
            base: Default::default(),
            sent_at: times(room),
            arrived: times(room * args.attendees),
            misrouted: AtomicU64::new(0),
        }
    }

    /// Whether every line posted has reached every reader of its track.
    pub fn all_arrived(&self, readers: &[usize]) -> bool {
        let posted = self.posted.load(Ordering::Acquire);
        readers.iter().all(|&a| {
            (0..posted)
                .filter(|line| line % 3 == a % 3)
                .all(|line| self.arrived[a * self.room + line].load(Ordering::Acquire) > 0)
        })
    }

    /// Records line `(track, seq)` reaching attendee `k`.
    pub fn arrived(&self, k: usize, (track, seq): (usize, u64), now: u64) {
        if track != k % 3 {
            self.misrouted.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let base = self.base[track].load(Ordering::Acquire);
        let line = seq.checked_sub(base + 1).map(|n| n as usize * 3 + track);
        if let Some(line) = line.filter(|&line| line < self.room) {
            self.arrived[k * self.room + line].store(now, Ordering::Release);
        }
    }
}

impl Run {
    pub fn now(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }

    /// Records change `seq` reaching a connection, into `at` (indexed by seq).
    pub fn record(&self, at: &[AtomicU64], seq: u64, now: u64) {
        let first = self.first_seq.load(Ordering::Acquire);
        if first > 0 && seq >= first && seq - first < self.seqs as u64 {
            at[(seq - first) as usize].store(now, Ordering::Release);
        }
    }

    /// Where change `change` is in a by-seq record, once the console has seen its seq.
    pub fn offset_of(&self, change: usize) -> Option<usize> {
        let (seq, first) = (self.seq_of[change].load(Ordering::Acquire), self.first_seq.load(Ordering::Acquire));
        (seq >= first && first > 0).then(|| (seq - first) as usize).filter(|&k| k < self.seqs)
    }

    /// When change `change` reached a connection whose by-seq record is `at`: a slot that
    /// stays 0 (lost) when its seq is unknown.
    pub fn at_change<'a>(&self, at: &'a [AtomicU64], change: usize, unknown: &'a AtomicU64) -> &'a AtomicU64 {
        self.offset_of(change).map_or(unknown, |k| &at[k])
    }
}

/// Latencies from `sent` to `at`, in microseconds; a missing arrival counts as lost.
pub fn latencies<'a>(
    pairs: impl Iterator<Item = (&'a AtomicU64, &'a AtomicU64)>,
    lost: &mut u64,
) -> anyhow::Result<Histogram<u64>> {
    let mut h = Histogram::<u64>::new(3)?;
    for (sent, at) in pairs {
        match at.load(Ordering::Acquire) {
            0 => *lost += 1,
            at => h.record((at.saturating_sub(sent.load(Ordering::Acquire)) / 1000).max(1))?,
        }
    }
    Ok(h)
}

/// CPU time the servers used between two readings, in microseconds.
pub fn server_cpu_us(before: &Readings, after: &Readings) -> Option<f64> {
    let (Some(b), Some(a)) = (before.servers, after.servers) else { return None };
    Some((a.0 + a.1).saturating_sub(b.0 + b.1) as f64 * 1e6 / ticks_per_second())
}

/// CPU readings taken at the start and end of a round.
pub struct Readings {
    pub servers: Option<(u64, u64)>,
    pub own: Option<(u64, u64)>,
    pub nats: Option<(u64, u64)>,
}

impl Readings {
    pub fn take(target: &Target) -> Readings {
        Readings {
            servers: total_cpu(&target.pids()),
            own: cpu_ticks(std::process::id()),
            nats: target.nats_pid.and_then(cpu_ticks),
        }
    }
}
