//! A node's side of the fleet sync: what it publishes, what it has read, and what it does
//! with an answer. One [`Client`] per node (Envoy: the elected worker; edge: the isolate).
//!
//! A round trip ([`Client::begin`], then [`Client::finish`] with whatever the bridge
//! answered) publishes the local deltas queued since the last stored batch
//! ([`Client::queue`]) and merges the other nodes' batches stored since the node's cursor.
//! At most one batch is unacknowledged: it is sent again, with the same sequence number,
//! until a round trip succeeds (the store function never stores a sequence number twice,
//! so counters are never doubled). Meanwhile [`Client::wants_local`] is false: a host that
//! can leave its changes in its state (the state keeps them until exported) does so, and
//! everything it held back goes out in one delta once the store answers again. Deltas a
//! host must export anyway (Envoy's worker ring) wait in a bounded outbox; the oldest are
//! dropped beyond `max_outbox_bytes` (counted as missed).
//!
//! Failures (no answer, an HTTP error, a store error, a malformed reply) never touch the
//! state; the first of an outage and the recovery each yield one log line. A batch or delta
//! read from the store is hostile input: a malformed batch is refused whole, a delta that
//! `merge_bytes` refuses is skipped, and neither changes the state.
//!
//! Deliberately not here: HTTP, clocks, timers (the host calls, with `now_ms`), and any
//! knowledge of what a delta holds.

use super::batch;
use super::config::FleetConfig;
use super::protocol::{self, Ask, Refusal, GAP, RESET};
use super::Deltas;
use crate::sketch::codec::DecodeError;

/// A request to send to the bridge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// Path (the body is the store function's last argument).
    pub path: String,
    /// Body: a batch ([`super::batch`]), possibly empty.
    pub body: Vec<u8>,
}

/// What came back from the bridge.
#[derive(Debug, Clone, Copy)]
pub enum Outcome<'a> {
    /// An HTTP answer: status and body.
    Http(u16, &'a [u8]),
    /// No answer (connection refused, timeout, ...): the host's description.
    Failed(&'a str),
}

/// What a finished round trip did (hosts add it to their counters).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Round {
    /// The round trip failed (counted in `fleet_errors`).
    pub failed: bool,
    /// Local deltas now stored.
    pub published: u64,
    /// Remote deltas merged.
    pub applied: u64,
    /// Remote batches or deltas refused (malformed, other shape).
    pub refused: u64,
    /// Deltas lost: dropped from a full outbox, too large to publish, or trimmed from the
    /// store before this node read them (one per gap).
    pub missed: u64,
    /// Request and reply body bytes.
    pub bytes_out: u64,
    /// See [`Round::bytes_out`].
    pub bytes_in: u64,
    /// Lines to log (outage start and end, first refusal); never a key or a prompt.
    pub log: Vec<String>,
}

/// The client of one node.
#[derive(Debug, Clone)]
pub struct Client {
    cfg: FleetConfig,
    node: String,
    publisher: String,
    seq: u64,
    cursor: String,
    /// The batch sent last and not acknowledged yet (its seq is `seq`) and its delta count.
    pending: Option<(Vec<u8>, u64)>,
    /// Oldest first.
    outbox: Vec<Vec<u8>>,
    outbox_bytes: usize,
    /// When the round trip under way started.
    in_flight: Option<u64>,
    /// Outage: since when, failed round trips.
    down: Option<(u64, u64)>,
    /// Deltas dropped or round trips lost since the last [`Round`].
    carry: Round,
    refusal_logged: bool,
}

impl Client {
    /// A client for node `node` (a [`super::config::is_name`], unique in the fleet: entries
    /// stored under it are never read back by it) publishing as `publisher` (new for every
    /// client: its sequence numbers start again at 1).
    pub fn new(cfg: FleetConfig, node: &str, publisher: &str) -> Client {
        Client {
            cfg,
            node: node.to_string(),
            publisher: publisher.to_string(),
            seq: 0,
            cursor: protocol::START.to_string(),
            pending: None,
            outbox: Vec::new(),
            outbox_bytes: 0,
            in_flight: None,
            down: None,
            carry: Round::default(),
            refusal_logged: false,
        }
    }

    /// The settings.
    pub fn config(&self) -> &FleetConfig {
        &self.cfg
    }

    /// This node's name.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// True when the host should export its own changes now (nothing unacknowledged is
    /// waiting); otherwise they are better left in its state until the store answers.
    pub fn wants_local(&self) -> bool {
        self.pending.is_none() && self.outbox.is_empty()
    }

    /// True while a round trip is under way.
    pub fn busy(&self) -> bool {
        self.in_flight.is_some()
    }

    /// True between a failed round trip and the next successful one.
    pub fn is_down(&self) -> bool {
        self.down.is_some()
    }

    /// Queues a local delta for the next batch (empty deltas are ignored).
    pub fn queue<D: Deltas>(&mut self, delta: Vec<u8>) {
        if D::is_empty_delta(&delta) {
            return;
        }
        self.outbox_bytes += delta.len();
        self.outbox.push(delta);
        let mut drop = 0;
        while self.outbox_bytes > self.cfg.max_outbox_bytes as usize && drop < self.outbox.len() {
            self.outbox_bytes -= self.outbox[drop].len();
            drop += 1;
        }
        self.outbox.drain(..drop);
        self.carry.missed += drop as u64;
    }

    /// Starts a round trip unless one is under way (one that outlived its timeout by two
    /// seconds is given up: its answer can no longer arrive, e.g. its context is gone).
    pub fn begin(&mut self, now_ms: u64) -> Option<Call> {
        if let Some(since) = self.in_flight {
            if now_ms.saturating_sub(since) < u64::from(self.cfg.timeout_ms) + 2000 {
                return None;
            }
            self.in_flight = None;
            let mut lost = self.fail(now_ms, "no answer");
            self.carry.log.append(&mut lost.log);
            self.carry.failed = true;
        }
        if self.pending.is_none() {
            self.pending = self.take_batch();
            if self.pending.is_some() {
                self.seq += 1;
            }
        }
        let store = self.pending.is_some();
        let body = self.pending.as_ref().map_or_else(|| batch::encode([]), |p| p.0.clone());
        let ask = Ask { node: &self.node, publisher: &self.publisher, seq: self.seq, cursor: &self.cursor, store };
        self.in_flight = Some(now_ms);
        Some(Call { path: protocol::path(&self.cfg, &ask), body })
    }

    /// The next batch from the outbox, within `max_payload_bytes`; `None` when empty. A
    /// delta over the limit alone can never be published: it is dropped (counted as missed).
    fn take_batch(&mut self) -> Option<(Vec<u8>, u64)> {
        let max = self.cfg.max_payload_bytes as usize;
        let mut size = batch::HEADER_LEN;
        let mut n = 0;
        for d in &self.outbox {
            let add = batch::framed_len(d);
            if size + add > max || n == batch::MAX_DELTAS {
                break;
            }
            size += add;
            n += 1;
        }
        if n == 0 && !self.outbox.is_empty() {
            let d = self.outbox.remove(0);
            self.outbox_bytes -= d.len();
            self.carry.missed += 1;
            return self.take_batch();
        }
        if n == 0 {
            return None;
        }
        let taken: Vec<Vec<u8>> = self.outbox.drain(..n).collect();
        self.outbox_bytes -= size - batch::HEADER_LEN - 4 * n;
        Some((batch::encode(taken.iter().map(Vec::as_slice)), n as u64))
    }

    /// Ends the round trip with what the bridge answered; merges the other nodes' deltas
    /// into `state`.
    pub fn finish<D: Deltas>(&mut self, state: &mut D, outcome: Outcome<'_>, now_ms: u64) -> Round {
        self.in_flight = None;
        let mut round = std::mem::take(&mut self.carry);
        round.bytes_out = self.pending.as_ref().map_or(batch::HEADER_LEN, |p| p.0.len()) as u64;
        let body = match outcome {
            Outcome::Failed(why) => return self.failed(round, now_ms, why),
            Outcome::Http(200, body) => body,
            Outcome::Http(status, _) => return self.failed(round, now_ms, &format!("HTTP status {status}")),
        };
        round.bytes_in = body.len() as u64;
        if body.len() > self.cfg.max_reply_bytes as usize + (64 << 10) {
            return self.failed(round, now_ms, "answer larger than fleet.max_reply_bytes");
        }
        let answer = match protocol::answer(body, self.cfg.max_entries) {
            Ok(a) => a,
            Err(Refusal::Store(text)) => return self.failed(round, now_ms, &format!("store error: {text}")),
            Err(Refusal::Malformed(e)) => return self.failed(round, now_ms, &format!("malformed answer: {}", what(&e))),
        };
        // Acknowledged: stored now, or stored by an earlier try whose answer was lost.
        if let Some((_, n)) = self.pending.take() {
            round.published += n;
        }
        if answer.flags & GAP != 0 {
            round.missed += 1;
        }
        if answer.flags & RESET != 0 && self.cursor != protocol::START {
            round.log.push("distill-guard: fleet: the store's log restarted; reading it from its start".into());
        }
        let (applied, refused) = merge_entries(state, &answer.entries, &mut |node, why| {
            if !std::mem::replace(&mut self.refusal_logged, true) {
                round.log.push(format!("distill-guard: fleet: refused a delta from node {:?} ({why}); logged once", protocol::printable(node, 64)));
            }
        });
        round.applied += applied;
        round.refused += refused;
        self.cursor = answer.cursor.to_string();
        if let Some((since, failures)) = self.down.take() {
            round.log.push(format!("distill-guard: fleet: store back after {failures} failed round trip(s) in {} s", now_ms.saturating_sub(since) / 1000));
        }
        round
    }

    fn failed(&mut self, mut round: Round, now_ms: u64, why: &str) -> Round {
        let mut f = self.fail(now_ms, why);
        round.log.append(&mut f.log);
        round.failed = true;
        round
    }

    /// Records a failed round trip; the first of an outage yields a log line.
    fn fail(&mut self, now_ms: u64, why: &str) -> Round {
        let mut r = Round { failed: true, ..Round::default() };
        match self.down.as_mut() {
            Some((_, n)) => *n += 1,
            None => {
                self.down = Some((now_ms, 1));
                r.log.push(format!("distill-guard: fleet: store unreachable ({why}); filtering on local state (logged once per outage)"));
            }
        }
        r
    }

}

/// What a decode error names (without the `Display` machinery: smaller Wasm modules).
fn what(e: &DecodeError) -> &'static str {
    match e {
        DecodeError::Truncated(w) | DecodeError::Invalid(w) => w,
    }
}

/// Merges every delta of every batch in `entries` into `state`: (merged, refused). A
/// malformed batch is refused whole, a delta `merge_bytes` refuses is skipped; `refused`
/// hears of each (node name, why).
pub fn merge_entries<D: Deltas>(state: &mut D, entries: &[(&[u8], &[u8])], refused: &mut dyn FnMut(&[u8], &str)) -> (u64, u64) {
    let (mut ok, mut bad) = (0, 0);
    for (node, bytes) in entries {
        match batch::decode(bytes) {
            Ok(deltas) => {
                for d in deltas {
                    match state.merge_bytes(d) {
                        Ok(()) => ok += 1,
                        Err(e) => {
                            bad += 1;
                            refused(node, what(&e));
                        }
                    }
                }
            }
            Err(e) => {
                bad += 1;
                refused(node, what(&e));
            }
        }
    }
    (ok, bad)
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
