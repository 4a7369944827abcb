//! Fuzz target: the fleet decoder, as a node runs it on what the store returns
//! (`Client::finish`: the bridge's RESP reply, the packed answer, each batch, each state delta
//! through `State::merge_bytes`).
//!
//! The first byte picks how the rest is used: 0, the whole reply; 1, delta bodies behind a
//! valid delta header (so the table decoders are reached); 2, edits (position, value) applied
//! to real deltas exported from a populated state. Whatever comes in: no panic, every delta is
//! counted as merged or refused, and when nothing was merged the state is unchanged (its
//! measured levels and active-account count are what they were).
#![no_main]

use std::sync::OnceLock;

use distill_guard::fleet::{batch, protocol, Client, FleetConfig, Outcome};
use distill_guard::signal::Levels;
use distill_guard::state::{Capacity, Observation, State, StateConfig};
use libfuzzer_sys::fuzz_target;

const T: u64 = 1_700_000_000_000;

fn cfg() -> StateConfig {
    let c = 64;
    StateConfig {
        capacity: Capacity { accounts: c, fingerprints: c, ja4s: c, prefixes: c, asns: c, fp_prefixes: c, fp_asns: c, templates: c, envs: c, tasks: c, harnesses: c, harness_tasks: c },
        ..StateConfig::default()
    }
}

fn obs(i: u64) -> Observation {
    Observation { now_ms: T + i * 1000, account: Some(i % 40), hfp: 7 + i % 3, ja4: Some(i % 5), prefix: Some(42 + i % 4), asn: Some(64_500 + (i % 6) as u32), template: Some(99 + i % 2), env: Some(5), anchor: Some(300 + i % 3), harness: Some(900 + i % 2), elicitation: i % 3 == 0 }
}

/// A populated state and two real deltas it exported.
fn base() -> &'static (State, Vec<Vec<u8>>) {
    static BASE: OnceLock<(State, Vec<Vec<u8>>)> = OnceLock::new();
    BASE.get_or_init(|| {
        let mut lv = Levels::default();
        let mut other = State::new(&cfg());
        let mut deltas = Vec::new();
        for i in 0..60 {
            other.observe(&obs(i), &mut lv);
            other.record_verdict(Some(i % 40), T + i * 1000, i % 2 == 0);
            if i % 30 == 29 {
                deltas.push(other.export_delta());
            }
        }
        let mut st = State::new(&cfg());
        for i in 100..130 {
            st.observe(&obs(i), &mut lv);
        }
        (st, deltas)
    })
}

fn fingerprint(st: &State) -> (Vec<(u8, u64)>, u64) {
    let mut lv = Levels::default();
    st.measure(&obs(7), &mut lv);
    let levels = lv.iter().map(|(s, v)| (s as u8, v.to_bits())).collect();
    (levels, st.active_accounts(T + 200_000).to_bits())
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let (base_state, real) = base();
    let header = &real[0][..13]; // magic, version, shape
    let deltas: Vec<Vec<u8>> = match mode % 3 {
        0 => Vec::new(),
        1 => rest.chunks(97).take(8).map(|c| [header, c].concat()).collect(),
        _ => {
            let mut ds = real.clone();
            for e in rest.chunks_exact(4).take(64) {
                let d = &mut ds[usize::from(e[0]) % 2];
                let at = usize::from(u16::from_le_bytes([e[1], e[2]])) % d.len();
                d[at] = e[3];
            }
            ds
        }
    };
    let reply = if mode % 3 == 0 {
        rest.to_vec()
    } else {
        let b = batch::encode(deltas.iter().map(Vec::as_slice));
        protocol::bulk(&protocol::pack("1-0", 0, &[(b"fuzz-peer", &b)]))
    };
    let mut state = base_state.clone();
    let before = fingerprint(&state);
    let mut client = Client::new(FleetConfig::default(), "fuzz", "fuzz-1");
    client.begin(T).expect("a round trip starts");
    let r = client.finish(&mut state, Outcome::Http(200, &reply), T);
    if mode % 3 != 0 {
        assert!(!r.failed, "a well-framed answer is an answer");
        assert_eq!(r.applied + r.refused, deltas.len() as u64, "every delta merged or refused");
    }
    if r.applied == 0 {
        assert_eq!(fingerprint(&state), before, "nothing merged, nothing changed");
    }
});
