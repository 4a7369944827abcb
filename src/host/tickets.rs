//! Requests between their header phase and their body, for hosts where the engine's caller
//! cannot keep a Rust value per request (the edge worker's JS): the header phase's result is
//! parked here under a ticket (a number), and the body call hands the ticket back.
//!
//! Bounded: [`CAPACITY`] slots, reused in turn. A ticket whose slot was reused since (more
//! than `CAPACITY` requests parked after it while it waited, or a body call that never came)
//! is stale: [`Tickets::take`] returns `None` and the host answers as for an internal error
//! (held request) or skips learning (a request already decided). Nothing here decides.

use crate::engine::{Held, Learn};

/// Slots in a [`Tickets`] table: requests that can wait for their body at once per engine.
pub const CAPACITY: usize = 1024;

/// What waits for a body.
#[derive(Debug)]
pub enum Parked {
    /// A request held for its body, with what forwarding it needs afterwards.
    Held {
        /// The header phase's result (boxed: it is larger than a `Learn`).
        held: Box<Held>,
        /// The request's reference id.
        reference: u64,
        /// Client-sent tag headers to delete before forwarding.
        forged: Vec<String>,
    },
    /// A request decided at its headers, whose body the engine learns from.
    Learn(Learn),
}

/// A bounded table of parked requests (see the module docs).
#[derive(Debug, Default)]
pub struct Tickets {
    slots: Vec<Option<(u32, Parked)>>,
    last: u32,
}

impl Tickets {
    /// Parks `p`; returns its ticket (never 0: hosts use 0 for "none"). May evict the oldest
    /// entry (its ticket becomes stale).
    pub fn park(&mut self, p: Parked) -> u32 {
        self.last = self.last.wrapping_add(1).max(1);
        let t = self.last;
        let i = t as usize % CAPACITY;
        if self.slots.len() <= i {
            self.slots.resize_with(i + 1, || None);
        }
        self.slots[i] = Some((t, p));
        t
    }

    /// Takes the request parked under `ticket`; `None` when the ticket is 0, unknown or stale.
    pub fn take(&mut self, ticket: u32) -> Option<Parked> {
        let slot = self.slots.get_mut(ticket as usize % CAPACITY)?;
        match slot {
            Some((t, _)) if *t == ticket && ticket != 0 => slot.take().map(|(_, p)| p),
            _ => None,
        }
    }

    /// Requests parked now.
    pub fn len(&self) -> usize {
        self.slots.iter().filter(|s| s.is_some()).count()
    }

    /// True when nothing is parked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Decision;
    use crate::request::{Header, Request};
    use crate::Engine;

    /// A `Learn` from a real header phase (`body.inspect: never` on a body path).
    fn learn() -> Learn {
        let mut e = Engine::from_json(r#"{"body": {"inspect": "never"}}"#).unwrap();
        let mut r = Request::new();
        r.method = b"POST";
        r.path = b"/v1/messages";
        r.headers = vec![Header::new("x-api-key", "k")];
        match e.inspect_headers(&r, true) {
            Decision::Final { learn: Some(l), .. } => l,
            d => panic!("{d:?}"),
        }
    }

    #[test]
    fn tickets_are_taken_once_and_never_zero() {
        let mut t = Tickets::default();
        let a = t.park(Parked::Learn(learn()));
        let b = t.park(Parked::Learn(learn()));
        assert!(a != 0 && b != a);
        assert_eq!(t.len(), 2);
        assert!(matches!(t.take(a), Some(Parked::Learn(_))));
        assert!(t.take(a).is_none(), "taken twice");
        assert!(t.take(0).is_none());
        assert!(t.take(b + 1).is_none());
        assert!(t.take(b).is_some());
        assert!(t.is_empty());
    }

    #[test]
    fn the_table_is_bounded_and_old_tickets_go_stale() {
        let mut t = Tickets::default();
        let first = t.park(Parked::Learn(learn()));
        let mut last = first;
        for _ in 0..CAPACITY {
            last = t.park(Parked::Learn(learn()));
        }
        assert_eq!(t.len(), CAPACITY);
        assert!(t.take(first).is_none(), "evicted by the ticket that reused its slot");
        assert!(t.take(last).is_some());
        // Wrapping around u32 skips 0.
        t.last = u32::MAX;
        assert_eq!(t.park(Parked::Learn(learn())), 1);
    }
}
