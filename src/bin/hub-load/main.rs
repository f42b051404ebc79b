//! Load generator: N attendees, a moderator and the staff screens against real servers, over
//! loopback.
//!
//! It starts the server binary itself (one node on the embedded store, or a NATS server and
//! several nodes on JetStream), or attaches to running nodes with `--addr`. It opens the
//! attendees from several loopback source addresses, spread over the nodes, lets the
//! moderator change segments at a fixed interval (and, with `--captions-per-sec`, a
//! captioner post lines meanwhile), and reports connect time, fan-out, the moderator's round
//! trip, the staff screens' and caption latency, losses, and the servers' memory and CPU.
//! Exits non-zero when a change or a caption line was lost or came out of order.
//!
//! main.rs wires the parts: flags.rs (the flags), servers.rs (starting or attaching to the
//! servers), connect.rs (the attendees and staff screens), drive.rs (the moderator and the
//! captioner), measure.rs (times, histograms, CPU and memory), report.rs (the printed
//! figures) and frames.rs (what goes over the wire).

mod connect;
mod drive;
mod flags;
mod frames;
mod measure;
mod report;
mod servers;

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::bail;
use clap::Parser;
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::Message;

use connect::{attendee, churn, screen, Screen, Seat};
use drive::{caption_bases, captioner, Moderator};
use flags::Args;
use frames::screen_hello;
use measure::{server_cpu_us, times, total_rss, Captions, Readings, Run, Votes};
use report::{report_captions, report_joins, report_round, report_votes};
use servers::start;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Arc::new(Args::parse());
    let target = start(&args).await?;
    let pids = target.pids();
    let rss_before = total_rss(&pids);
    let changes = args.changes * args.rounds();
    // Room for the vote batches between the changes: one per window of 250 ms at most.
    let seqs = changes + if args.votes { 200 + (args.vote_secs * 8.0) as usize } else { 0 };
    let run = Arc::new(Run {
        start: Instant::now(),
        first_seq: AtomicU64::new(0),
        changes,
        seqs,
        seq_of: times(changes),
        sent_at: times(changes),
        own_at: times(changes),
        acked_at: times(changes),
        stage_at: times(seqs),
        av_at: times(seqs),
        arrived: times(seqs * args.attendees),
        out_of_order: AtomicU64::new(0),
        reconnects: AtomicU64::new(0),
        idle_frames: AtomicUsize::new(0),
        watching_idle: AtomicBool::new(false),
        presence_total: (0..args.attendees).map(|_| AtomicU64::new(0)).collect(),
        welcomed_us: times(args.attendees),
        presence_frames: AtomicU64::new(0),
        captions: Captions::new(&args),
        votes: Votes::new(),
        votes_spread: Duration::from_secs_f64(args.vote_secs),
        question: AtomicU64::new(0),
    });
    let slow_count = args.attendees * args.slow_percent / 100;
    let addrs: Vec<String> = target.nodes.iter().map(|node| node.addr.to_string()).collect();
    println!(
        "hub-load: {} attendees ({} not reading), {} changes every {} ms, {} source addresses, {} on {}",
        args.attendees,
        slow_count,
        changes,
        args.interval_ms,
        args.sources,
        match (args.hybrid, args.nodes) {
            (true, _) => "a venue node (staff) and a cloud node (attendees) on two leaf-joined NATS servers".to_owned(),
            (false, 0) => "one node".to_owned(),
            (false, _) => format!("{} nodes on NATS JetStream", target.nodes.len()),
        },
        addrs.join(", ")
    );
    let captions = args.captions_per_sec > 0.0;
    if captions {
        caption_bases(target.nodes[0].addr, target.token("captioner")?, &args.event, &run).await?;
    }

    // In a hybrid event every attendee is remote, on the cloud node; the staff at the venue.
    let audience: Vec<_> = match args.hybrid {
        true => target.nodes[1..].iter().map(|node| node.addr).collect(),
        false => target.nodes.iter().map(|node| node.addr).collect(),
    };
    let shared = Arc::new((target.token("attendee")?.to_owned(), args.event.clone(), captions));
    let gate = Arc::new(Semaphore::new(args.concurrency));
    let joined = Arc::new(tokio::sync::Barrier::new(args.attendees + 1));
    let cpu_before_joins = Readings::take(&target);
    let connect_started = Instant::now();
    let mut tasks: Vec<tokio::task::JoinHandle<anyhow::Result<()>>> = Vec::with_capacity(args.attendees);
    for k in 0..args.attendees {
        let source = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1 + (k % usize::from(args.sources.max(1))) as u8));
        let readers = (args.attendees - slow_count) as f64;
        let vote_slot = (args.votes && k >= slow_count).then(|| (k - slow_count) as f64 / readers);
        let seat = Seat { k, addr: audience[k % audience.len()], source, slow: k < slow_count, vote_slot };
        tasks.push(tokio::spawn(attendee(shared.clone(), run.clone(), seat, gate.clone(), joined.clone())));
    }
    tokio::select! {
        _ = joined.wait() => {}
        _ = tokio::time::sleep(Duration::from_secs(120)) => bail!("attendees did not all join within 120 s"),
    }
    let connect = connect_started.elapsed();
    println!(
        "connect: {} attendees welcomed in {:.2} s ({:.0} per second)",
        args.attendees,
        connect.as_secs_f64(),
        args.attendees as f64 / connect.as_secs_f64()
    );
    report_joins(&run, server_cpu_us(&cpu_before_joins, &Readings::take(&target)), args.attendees)?;
    if args.join_storm {
        return Ok(());
    }

    // Idle: let presence settle (in a cluster, nodes share their counts once a second), then
    // count what still arrives while nothing changes.
    let exact = || {
        (slow_count..args.attendees)
            .filter(|&a| run.presence_total[a].load(Ordering::Relaxed) == args.attendees as u64)
            .count()
    };
    let settling = Instant::now();
    tokio::time::sleep(Duration::from_secs(1)).await;
    while exact() < args.attendees - slow_count && settling.elapsed() < Duration::from_secs(15) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!(
        "presence: {} of {} reading attendees show the exact head count ({}) {:.1} s after the storm",
        exact(),
        args.attendees - slow_count,
        args.attendees,
        settling.elapsed().as_secs_f64()
    );
    run.watching_idle.store(true, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(args.idle_secs)).await;
    run.watching_idle.store(false, Ordering::Relaxed);
    println!(
        "idle: {} frames to all attendees in {} s with nothing changing (keep-alive pings not counted)",
        run.idle_frames.load(Ordering::Relaxed),
        args.idle_secs
    );
    let rss_idle = total_rss(&pids);
    if let (Some(before), Some(after)) = (rss_before, rss_idle) {
        let per = (after.saturating_sub(before)) as f64 * 1024.0 / args.attendees as f64;
        println!(
            "memory: server RSS {before} KiB before, {after} KiB with all connected: {per:.0} bytes per connection"
        );
    }

    let first = &target.nodes[0];
    let last = if args.hybrid { first } else { &target.nodes[target.nodes.len() - 1] };
    let (mut moderator, console) =
        Moderator::join(first.addr, &args.event, target.token("moderator")?, run.clone(), args.votes).await?;
    let staff_hello = |role: &str, name: &str| -> anyhow::Result<Message> {
        Ok(screen_hello(&args.event, target.token(role)?, name))
    };
    tasks.push(tokio::spawn(screen(first.addr, staff_hello("speaker", "load-stage")?, run.clone(), Screen::Stage)));
    tasks.push(tokio::spawn(screen(last.addr, staff_hello("av", "load-av")?, run.clone(), Screen::Av)));
    // The screens' welcomes come before the first change.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let readers: Vec<usize> = (slow_count..args.attendees).collect();
    let all_arrived = |change: usize| {
        run.offset_of(change).is_some_and(|at| {
            readers.iter().all(|&a| run.arrived[a * run.seqs + at].load(Ordering::Acquire) > 0)
                && run.stage_at[at].load(Ordering::Acquire) > 0
                && run.av_at[at].load(Ordering::Acquire) > 0
        })
    };
    let mut lost = 0;
    let mut round_cpu = Vec::new();
    for round in 0..args.rounds() {
        let from = round * args.changes;
        let stop = Arc::new(AtomicBool::new(false));
        let posting = (round == 1 && captions).then(|| {
            let token = target.token("captioner").map(str::to_owned);
            let (addr, args, run, stop) = (first.addr, args.clone(), run.clone(), stop.clone());
            tokio::spawn(async move { captioner(addr, token?, args, run, stop).await })
        });
        let churning = (args.churn > 0 && round == 1).then(|| {
            let (addr, token, event) = (audience[0], shared.0.clone(), args.event.clone());
            let stay = Duration::from_secs(3);
            tokio::spawn(churn(addr, token, event, args.churn, stay, stop.clone()))
        });
        let presence_before = (run.presence_frames.load(Ordering::Relaxed), Instant::now());
        let before = Readings::take(&target);
        let voting = args.votes && round == 1;
        if voting {
            console.expected_votes.store(readers.len() as u64, Ordering::Release);
            run.votes.start.send_replace(Some(Instant::now()));
        }
        moderator.round(&args, &run, &console, from).await?;
        stop.store(true, Ordering::Relaxed);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !all_arrived(from + args.changes - 1) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        if let Some(posting) = posting {
            posting.await??;
            // Lines late behind the changes are late, not lost: wait for them a while.
            let deadline = Instant::now() + Duration::from_secs(15);
            while !run.captions.all_arrived(&readers) && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        if voting {
            // Every vote answered, and the chair's final counts in.
            let deadline = Instant::now() + Duration::from_secs(30);
            let votes = &run.votes;
            let answered = || votes.acked.load(Ordering::Acquire) + votes.refused.load(Ordering::Acquire);
            let finals = || {
                votes.poll_final_at.load(Ordering::Acquire) > 0 && votes.question_final_at.load(Ordering::Acquire) > 0
            };
            while (answered() < 2 * readers.len() as u64 || !finals()) && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        let after = Readings::take(&target);
        let churned = match churning {
            Some(churning) => Some(churning.await??),
            None => None,
        };
        if churned.is_some() {
            tokio::time::sleep(Duration::from_secs(1)).await;
            println!(
                "presence: {} of {} reading attendees show the exact head count ({}) 1 s after the churn stopped",
                exact(),
                readers.len(),
                args.attendees
            );
        }
        let presence_frames = run.presence_frames.load(Ordering::Relaxed) - presence_before.0;
        let per_attendee =
            presence_frames as f64 / readers.len().max(1) as f64 / presence_before.1.elapsed().as_secs_f64();
        for task in &tasks {
            if task.is_finished() {
                bail!("an attendee or a staff screen failed; see above");
            }
        }
        println!(
            "{}",
            match round {
                1 if voting => "-- with votes --",
                1 if churned.is_some() => "-- with presence churn --",
                1 => "-- with captions --",
                _ => "-- changes --",
            }
        );
        println!(
            "presence: {per_attendee:.2} frames a second to each attendee{}",
            churned.map_or(String::new(), |n| format!("; {n} attendees joined and left meanwhile"))
        );
        let (round_lost, seconds) = report_round(&args, &run, &readers, from, (&before, &after))?;
        lost += round_lost;
        round_cpu.push(seconds);
        if round == 1 && voting {
            lost += report_votes(&run, readers.len(), round_cpu[1] - round_cpu[0])?;
        } else if round == 1 && args.captions_per_sec > 0.0 {
            lost += report_captions(&args, &run, &readers, round_cpu[1] - round_cpu[0])?;
        }
    }
    let out_of_order = run.out_of_order.load(Ordering::Relaxed);
    let reconnects = run.reconnects.load(Ordering::Relaxed);
    println!("losses: {lost}; out of order: {out_of_order}; reconnects: {reconnects}");
    if let (Some(idle), Some(end)) = (rss_idle, total_rss(&pids)) {
        println!("memory after the changes: {end} KiB ({:+} KiB since idle)", end as i64 - idle as i64);
    }
    if lost > 0 || out_of_order > 0 {
        bail!("{lost} deliveries lost, {out_of_order} out of order");
    }
    Ok(())
}
