//! The report: prints each round's fan-out, deliveries, staff screens, backlog and CPU, and the
//! caption round's figures; returns what was lost.

use std::sync::atomic::{AtomicU64, Ordering};

use hdrhistogram::Histogram;

use crate::flags::Args;
use crate::frames::LANGS;
use crate::measure::{latencies, ticks_per_second, Readings, Run};

fn quantiles(h: &Histogram<u64>) -> String {
    let ms = |v: u64| v as f64 / 1000.0;
    format!(
        "p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        ms(h.value_at_quantile(0.5)),
        ms(h.value_at_quantile(0.99)),
        ms(h.max())
    )
}

/// CPU figures over a stretch of the run: seconds, kernel share, µs per delivery.
fn cpu_line(before: (u64, u64), after: (u64, u64), deliveries: f64) -> String {
    let (user, system) = ((after.0 - before.0) as f64, (after.1 - before.1) as f64);
    let seconds = (user + system) / ticks_per_second();
    format!(
        "{seconds:.2} s ({:.0}% in the kernel), {:.1} µs per delivery",
        100.0 * system / (user + system).max(1.0),
        seconds * 1e6 / deliveries.max(1.0)
    )
}

fn cpu_seconds(before: (u64, u64), after: (u64, u64)) -> f64 {
    ((after.0 - before.0) + (after.1 - before.1)) as f64 / ticks_per_second()
}

/// Reports one round of changes (`changes` from `from`); returns the servers' CPU seconds.
pub fn report_round(
    args: &Args,
    run: &Run,
    readers: &[usize],
    from: usize,
    cpu: (&Readings, &Readings),
) -> anyhow::Result<(u64, f64)> {
    let changes = from..from + args.changes;
    let mut lost = 0u64;
    let mut delivery = Histogram::<u64>::new(3)?;
    let mut fanout = Histogram::<u64>::new(3)?;
    let mut first = Histogram::<u64>::new(3)?;
    let mut fanouts = Vec::with_capacity(args.changes);
    let unknown = AtomicU64::new(0);
    for change in changes.clone() {
        let sent = &run.sent_at[change];
        let copies = readers.iter().map(|&a| {
            let mine = &run.arrived[a * run.seqs..(a + 1) * run.seqs];
            (sent, run.at_change(mine, change, &unknown))
        });
        let h = latencies(copies, &mut lost)?;
        delivery.add(&h)?;
        let last = if h.is_empty() { 0 } else { h.max() };
        fanout.record(last.max(1))?;
        first.record(if h.is_empty() { 1 } else { h.min().max(1) })?;
        fanouts.push((sent.load(Ordering::Acquire), last));
    }
    println!("fan-out to the last of {} readers, over {} changes: {}", readers.len(), args.changes, quantiles(&fanout));
    println!("per delivery ({} deliveries): {}", delivery.len(), quantiles(&delivery));
    // The first reader's copy is the path a change takes before fan-out: in a hybrid event,
    // through the venue's stream and the cloud's mirror.
    println!("first reader's copy (sent → first delivery): {}", quantiles(&first));
    // The moderator's own copies and acks are kept by press; the screens' by seq.
    let own = |at: &Vec<AtomicU64>, lost: &mut u64| latencies(changes.clone().map(|c| (&run.sent_at[c], &at[c])), lost);
    let screen = |at: &Vec<AtomicU64>, lost: &mut u64| {
        latencies(changes.clone().map(|c| (&run.sent_at[c], run.at_change(at, c, &unknown))), lost)
    };
    println!("moderator's own change (sent → its copy): {}", quantiles(&own(&run.own_at, &mut lost)?));
    println!("moderator's ack (sent → ack): {}", quantiles(&own(&run.acked_at, &mut lost)?));
    println!("stage screen (node 1): {}", quantiles(&screen(&run.stage_at, &mut lost)?));
    println!("AV screen (node {}): {}", args.nodes.max(1), quantiles(&screen(&run.av_at, &mut lost)?));
    // A fan-out still running when the next change is sent delays it: if that kept
    // happening, each fan-out would start later than the one before.
    let overlapped = fanouts.windows(2).filter(|pair| pair[0].0 + pair[0].1 * 1000 > pair[1].0).count();
    let tenth = (fanouts.len() / 10).max(1);
    let mean_ms =
        |part: &[(u64, u64)]| part.iter().map(|f| f.1 as f64).sum::<f64>() / part.len().max(1) as f64 / 1000.0;
    println!(
        "backlog: {overlapped} fan-outs still running at the next change; mean fan-out of the first and last {tenth} changes: {:.1} / {:.1} ms",
        mean_ms(&fanouts[..tenth]),
        mean_ms(&fanouts[fanouts.len() - tenth..]),
    );
    let deliveries = (args.changes * args.attendees) as f64;
    let mut seconds = 0.0;
    if let (Some(before), Some(after)) = (cpu.0.servers, cpu.1.servers) {
        println!("server CPU during the changes (all nodes): {}", cpu_line(before, after, deliveries));
        seconds = cpu_seconds(before, after);
    }
    if let (Some(before), Some(after)) = (cpu.0.nats, cpu.1.nats) {
        println!("nats-server CPU during the changes: {}", cpu_line(before, after, deliveries));
    }
    if let (Some(before), Some(after)) = (cpu.0.own, cpu.1.own) {
        println!("hub-load's own CPU, same machine: {}", cpu_line(before, after, deliveries));
    }
    Ok((lost, seconds))
}

/// Reports the caption round's lines; returns how many deliveries were lost.
pub fn report_captions(args: &Args, run: &Run, readers: &[usize], cpu_extra: f64) -> anyhow::Result<u64> {
    let captions = &run.captions;
    let posted = captions.posted.load(Ordering::Acquire);
    let mut lost = 0u64;
    let copies = readers.iter().flat_map(|&a| {
        (0..posted)
            .filter(move |line| line % 3 == a % 3)
            .map(move |line| (&captions.sent_at[line], &captions.arrived[a * captions.room + line]))
    });
    let h = latencies(copies, &mut lost)?;
    println!(
        "captions: {posted} lines at {} per second over {}; {} deliveries to their track's readers: {}",
        args.captions_per_sec,
        LANGS.join(", "),
        h.len(),
        quantiles(&h)
    );
    println!(
        "caption CPU: {cpu_extra:.2} s more than the round without captions, {:.1} µs per caption delivery",
        cpu_extra * 1e6 / (h.len() as f64).max(1.0)
    );
    let misrouted = captions.misrouted.load(Ordering::Relaxed);
    println!("caption losses: {lost}; lines of another track: {misrouted}");
    Ok(lost + misrouted)
}

/// Reports the vote round: answers, batches, how soon the chair saw the final counts, and
/// the CPU the votes cost; returns the votes not acknowledged.
pub fn report_votes(run: &Run, voters: usize, cpu_extra: f64) -> anyhow::Result<u64> {
    let votes = &run.votes;
    let (acked, refused) = (votes.acked.load(Ordering::Acquire), votes.refused.load(Ordering::Acquire));
    let sent = 2 * voters as u64;
    println!(
        "votes: {sent} sent ({voters} on the poll, {voters} upvotes) over {:.0} s: {acked} acknowledged, {refused} refused, in {} batches to the chair",
        run.votes_spread.as_secs_f64(),
        votes.batches.load(Ordering::Acquire)
    );
    let last = votes.last_sent.load(Ordering::Acquire);
    let after_last = |at: &AtomicU64| match at.load(Ordering::Acquire) {
        0 => "never".to_owned(),
        at => format!("{:.0} ms", (at as f64 - last as f64) / 1e6),
    };
    println!(
        "chair's final count after the last vote was sent: poll {}, question {}",
        after_last(&votes.poll_final_at),
        after_last(&votes.question_final_at)
    );
    println!(
        "vote CPU: {cpu_extra:.2} s more than the round without votes, {:.0} µs per vote",
        cpu_extra * 1e6 / sent.max(1) as f64
    );
    Ok(sent - acked.min(sent))
}

/// Each connection's time from its connect to its welcome, and the servers' CPU per join.
pub fn report_joins(run: &Run, server_cpu_us: Option<f64>, attendees: usize) -> anyhow::Result<()> {
    let mut h = Histogram::<u64>::new(3)?;
    for welcomed in &run.welcomed_us {
        h.record(welcomed.load(Ordering::Acquire).max(1))?;
    }
    let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    let cpu = server_cpu_us.map_or("unknown".to_owned(), |us| format!("{:.0} µs", us / attendees as f64));
    println!(
        "joins: connect to welcome p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; server CPU per join {cpu}",
        ms(0.5),
        ms(0.99),
        h.max() as f64 / 1000.0
    );
    Ok(())
}
