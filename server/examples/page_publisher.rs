//! Run with `cargo run --release -p signalscope --example page_publisher -- <redis-url>`
//! (bench/page-cost.sh starts it; it is the publisher of bench/page-cost.mjs).
//!
//! Publishes raw backplane invocations of `NavigationStateUpdate` (test
//! broadcasts, as `load` sends them) straight into Redis on Conduit's group
//! channel, through [`RedisLink::publish_invocation`], the one place that
//! encodes them. It obeys one command per line on stdin and answers each
//! with one JSON line on stdout, so a browser benchmark can say when every
//! message was published:
//!
//! * `paced <count> <rate>`: `count` broadcasts, `rate` per second;
//! * `burst <count>`: `count` broadcasts issued together (pipelined on the
//!   one multiplexed connection, in seq order, [`IN_FLIGHT`] at a time).
//!
//! The answer is `{"first":…, "last":…, "sent_us":[…]}`: the seqs of the
//! command and, per seq, when its PUBLISH was issued (Unix µs). Seqs count
//! up over the whole run, so receivers see one gap-free origin.

use std::time::{Duration, Instant};

use protocol::backplane::{Channels, NAVIGATION_GROUP};
use protocol::broadcast::{TestBroadcast, NAVIGATION_EVENT};
use protocol::hub_protocol::JSON_ONLY;
use signalscope::clock::{unix_ms, unix_us};
use signalscope::redis_link::RedisLink;
use signalscope::redis_target::RedisTarget;
use tokio::io::{AsyncBufReadExt, BufReader};

type Error = Box<dyn std::error::Error + Send + Sync>;

/// The origin of every broadcast, so pages tell them from other senders'.
const ORIGIN: &str = "page-cost";

#[tokio::main]
async fn main() -> Result<(), Error> {
    let url = std::env::args()
        .nth(1)
        .ok_or("usage: page_publisher <redis-url>")?;
    let link = RedisLink::new(&RedisTarget::parse(&url)?, "page-cost-publisher")?;
    let channel = Channels::conduit().group(NAVIGATION_GROUP);
    let mut next_seq = 1u64;
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Some(line) = lines.next_line().await? {
        let words: Vec<&str> = line.split_whitespace().collect();
        let sent_us = match words.as_slice() {
            ["paced", count, rate] => {
                paced(
                    &link,
                    &channel,
                    &mut next_seq,
                    count.parse()?,
                    rate.parse()?,
                )
                .await?
            }
            ["burst", count] => burst(&link, &channel, &mut next_seq, count.parse()?).await?,
            _ => return Err(format!("unknown command: {line}").into()),
        };
        let first = next_seq - sent_us.len() as u64;
        println!(
            "{}",
            serde_json::json!({ "first": first, "last": next_seq - 1, "sent_us": sent_us })
        );
    }
    Ok(())
}

/// The invocation's argument for `seq`, stamped now.
fn broadcast(seq: u64) -> serde_json::Value {
    let mut b = TestBroadcast::new(format!("{ORIGIN}:{seq}"), seq, unix_ms(), ORIGIN);
    b.sent_at_us = Some(unix_us());
    b.to_argument()
}

/// `count` broadcasts at `rate` per second, each on its own schedule (a
/// slow reply does not push the next one back).
async fn paced(
    link: &RedisLink,
    channel: &str,
    next_seq: &mut u64,
    count: u64,
    rate: f64,
) -> Result<Vec<u64>, Error> {
    let gap = Duration::from_secs_f64(1.0 / rate);
    let start = Instant::now();
    let mut sent = Vec::new();
    for k in 0..count {
        tokio::time::sleep_until((start + gap.mul_f64(k as f64)).into()).await;
        sent.push(unix_us());
        link.publish_invocation(
            channel,
            NAVIGATION_EVENT,
            vec![broadcast(*next_seq)],
            JSON_ONLY,
        )
        .await?;
        *next_seq += 1;
    }
    Ok(sent)
}

/// PUBLISHes issued together in a burst: fewer than the link's connection
/// queues without waiting (redis-rs's pipeline channel holds 50), so each
/// takes its place on the first poll, in seq order. Issued all at once, a
/// burst of 500 reached Redis out of order (16 inversions in 10 bursts:
/// futures left waiting for room are woken in another order), and every
/// panel counted a loss at each inversion although nothing was lost.
const IN_FLIGHT: usize = 32;

/// `count` broadcasts issued together, [`IN_FLIGHT`] at a time; all count
/// as published when the burst began.
async fn burst(
    link: &RedisLink,
    channel: &str,
    next_seq: &mut u64,
    count: u64,
) -> Result<Vec<u64>, Error> {
    let began = unix_us();
    let seqs: Vec<u64> = (*next_seq..*next_seq + count).collect();
    for chunk in seqs.chunks(IN_FLIGHT) {
        let publishes = chunk.iter().map(|&seq| {
            link.publish_invocation(channel, NAVIGATION_EVENT, vec![broadcast(seq)], JSON_ONLY)
        });
        for result in futures_util::future::join_all(publishes).await {
            result?;
        }
    }
    *next_seq += count;
    Ok(vec![began; count as usize])
}
