//! The command-line flags of hub-load: what to start or attach to, and the shape of the load.
//! Every other module reads them; this one depends on none of them.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;

/// Load generator for the hub.
#[derive(Parser, Debug)]
#[command(about)]
pub struct Args {
    /// Attendee connections to open.
    #[arg(long, default_value_t = 1000)]
    pub attendees: usize,
    /// Segment changes the moderator makes (in each round, with captions).
    #[arg(long, default_value_t = 50)]
    pub changes: usize,
    /// Milliseconds between two changes.
    #[arg(long, default_value_t = 200)]
    pub interval_ms: u64,
    /// Every this many changes, the moderator also sends a cue (attendees see it hidden).
    #[arg(long, default_value_t = 10)]
    pub cue_every: usize,
    /// Percent of attendees that never read after their welcome.
    #[arg(long, default_value_t = 0)]
    pub slow_percent: usize,
    /// Loopback source addresses to spread connections over (127.0.0.1 and up).
    #[arg(long, default_value_t = 16)]
    pub sources: u8,
    /// Connections being opened at once.
    #[arg(long, default_value_t = 512)]
    pub concurrency: usize,
    /// Seconds to watch an idle event for frames that should not be sent.
    #[arg(long, default_value_t = 3)]
    pub idle_secs: u64,
    /// Caption lines per second in all, over zh, ja and en in turn, posted over HTTP. The
    /// changes then run twice in one run: first without captions, then with them.
    #[arg(long, default_value_t = 0.0)]
    pub captions_per_sec: f64,
    /// The changes run twice: the second time every reading attendee also votes once on the
    /// demo's poll and upvotes a question, spread evenly over `--vote-secs`.
    #[arg(long, conflicts_with = "captions_per_sec")]
    pub votes: bool,
    /// Seconds the votes are spread over (with --votes).
    #[arg(long, default_value_t = 10.0)]
    pub vote_secs: f64,
    /// Hub nodes on NATS JetStream: the generator starts a NATS server and this many nodes
    /// joined to it, and spreads the attendees over them in turn. 0: one node on the
    /// embedded store.
    #[arg(long, default_value_t = 0)]
    pub nodes: usize,
    /// A hybrid event: a venue node and a cloud node, each on its own NATS server, joined as
    /// a leaf node (JetStream domains `venue` and `cloud`); the moderator and the staff
    /// screens on the venue node, every attendee on the cloud node, which mirrors the venue.
    #[arg(long, conflicts_with_all = ["nodes", "addr", "captions_per_sec"])]
    pub hybrid: bool,
    /// The NATS server binary (with --nodes or --hybrid): a bare name is looked for on the PATH, then
    /// where `./test` installs it (~/.cache/eventhub-test/bin).
    #[arg(long, env = "EVENTHUB_NATS_SERVER", default_value = "nats-server")]
    pub nats_server: PathBuf,
    /// The server binary to start (ignored with --addr).
    #[arg(long, default_value = "target/release/eventhub")]
    pub server: PathBuf,
    /// Attach to running nodes instead (repeat for several)...
    #[arg(long, requires = "token")]
    pub addr: Vec<SocketAddr>,
    /// ...with their tokens as ROLE=TOKEN: attendee, moderator, speaker (the stage screen),
    /// av (the AV screen), and captioner with --captions-per-sec...
    #[arg(long)]
    pub token: Vec<String>,
    /// ...and their pids, for memory and CPU figures.
    #[arg(long)]
    pub pid: Vec<u32>,
    #[arg(long, default_value = "sjtu-forum")]
    pub event: String,
    /// Only the join storm: every attendee connects at once (at `--concurrency`), the joins
    /// are reported (joins a second, each connection's time to its welcome, the servers' CPU
    /// per join), and the run ends there.
    #[arg(long)]
    pub join_storm: bool,
    /// Presence churn: the changes run twice, the second time with this many attendees
    /// joining and as many leaving every second (each stays a few seconds), so that the
    /// fan-out with and without churn compare in one run; the presence frames an attendee
    /// gets a second are reported for both.
    #[arg(long, default_value_t = 0, conflicts_with_all = ["captions_per_sec", "votes"])]
    pub churn: u32,
}

impl Args {
    pub fn rounds(&self) -> usize {
        if self.captions_per_sec > 0.0 || self.votes || self.churn > 0 {
            2
        } else {
            1
        }
    }
}
