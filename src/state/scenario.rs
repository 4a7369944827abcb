//! A one-hour synthetic mix of legitimate crowds and a distillation campaign, scored with
//! the default policy's state signals only: the levels must separate the campaign from a
//! popular browser fingerprint, a popular SDK fingerprint on cloud ASNs, and a university NAT.

use super::*;
use crate::policy::Policy;
use crate::score::Weights;
use crate::signal::Fired;
use crate::sketch::mix64;

const T0: u64 = 1_700_000_000_000 - 1_700_000_000_000 % 3_600_000;
const HOUR: u64 = 3_600_000;
const CHROME: u64 = 0xc4;
const FIREFOX: u64 = 0xf1;
const SDK: u64 = 0x5d;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Who {
    Browser,
    Sdk,
    Nat,
    Campaign,
}

struct Ev {
    who: Who,
    obs: Observation,
}

/// A tiny deterministic generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = mix64(self.0.wrapping_add(0x9e37_79b9_7f4a_7c15));
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 * 1.0 < p
    }
}

fn near(base: u64, rng: &mut Rng) -> u64 {
    let mut t = base;
    for _ in 0..rng.below(4) {
        t ^= 1 << rng.below(64);
    }
    t
}

/// Requests per account over the hour: mostly a few, some dozens, a few hundred.
fn volume(rng: &mut Rng, heavy_share: f64) -> u64 {
    if rng.chance(heavy_share) {
        20 + rng.below(120)
    } else {
        1 + rng.below(8)
    }
}

fn events(campaign_fp: u64, pool_prefixes: u64, pool_asns: u64) -> Vec<Ev> {
    let mut rng = Rng(7);
    let mut out = Vec::new();
    let mut push = |who, obs: Observation| out.push(Ev { who, obs });
    // Browser crowd: 3000 accounts, one fingerprint, home prefixes on 10 ISPs.
    for a in 0..3_000u64 {
        let prefix = 1_000_000 + rng.below(2_000_000);
        let asn =
            [7922, 7922, 7922, 701, 701, 20115, 22773, 3320, 2856, 5089][rng.below(10) as usize];
        for _ in 0..volume(&mut rng, 0.3) {
            let o = Observation {
                now_ms: T0 + rng.below(HOUR),
                account: Some(a),
                hfp: CHROME,
                ja4: Some(1),
                prefix: Some(prefix + u64::from(rng.chance(0.1))),
                asn: Some(asn),
                template: Some(rng.next()),
                elicitation: rng.chance(0.1),
                env: None,
                harness: None,
                anchor: None,
            };
            push(Who::Browser, o);
        }
    }
    // SDK crowd: 1500 accounts, one SDK fingerprint, 40% of them on one cloud ASN; each app
    // repeats its own template.
    for a in 10_000..11_500u64 {
        let cloud = rng.chance(0.4);
        let prefix = if cloud {
            5_000 + rng.below(300)
        } else {
            3_000_000 + rng.below(2_000_000)
        };
        let asn = if cloud {
            16509
        } else {
            7922 + rng.below(30) as u32
        };
        let app = rng.next();
        for _ in 0..volume(&mut rng, 0.7) {
            let o = Observation {
                now_ms: T0 + rng.below(HOUR),
                account: Some(a),
                hfp: SDK,
                ja4: Some(2),
                prefix: Some(prefix),
                asn: Some(asn),
                template: Some(near(app, &mut rng)),
                elicitation: rng.chance(0.2),
                env: None,
                harness: None,
                anchor: None,
            };
            push(Who::Sdk, o);
        }
    }
    // University NAT: 300 accounts behind one /24, mixed clients.
    for a in 20_000..20_300u64 {
        let hfp = [CHROME, CHROME, FIREFOX, SDK, SDK][rng.below(5) as usize];
        for _ in 0..1 + rng.below(20) {
            let o = Observation {
                now_ms: T0 + rng.below(HOUR),
                account: Some(a),
                hfp,
                ja4: Some(hfp),
                prefix: Some(42),
                asn: Some(1103),
                template: Some(rng.next()),
                elicitation: rng.chance(0.15),
                env: None,
                harness: None,
                anchor: None,
            };
            push(Who::Nat, o);
        }
    }
    // Campaign: 2000 light accounts, one client stack, a rotating proxy pool, 30 templates
    // with fill-ins, heavy elicitation, sent in synchronized batches of 25 accounts.
    let templates: Vec<u64> = (0..30).map(|_| rng.next()).collect();
    let mut t = T0;
    let mut a = 30_000u64;
    while t < T0 + HOUR {
        let base = templates[rng.below(30) as usize];
        for _ in 0..25 {
            a = 30_000 + (a + 1 + rng.below(40)) % 2_000;
            let o = Observation {
                now_ms: t + rng.below(3_000),
                account: Some(a),
                hfp: campaign_fp,
                ja4: Some(3),
                prefix: Some(9_000_000 + rng.below(pool_prefixes)),
                asn: Some(60_000 + rng.below(pool_asns) as u32),
                template: Some(near(base, &mut rng)),
                elicitation: rng.chance(0.85),
                env: None,
                harness: None,
                anchor: None,
            };
            push(Who::Campaign, o);
        }
        t += 10_000;
    }
    out.sort_by_key(|e| e.obs.now_ms);
    out
}

/// (population, share of its last-20-minute requests at or above the tag threshold, mean score).
fn run(campaign_fp: u64, pool_prefixes: u64, pool_asns: u64) -> Vec<(Who, f64, f64)> {
    let policy = Policy::default();
    let weights = Weights::new(&policy);
    let mut state = State::new(&policy.state);
    let mut tally: Vec<(Who, u64, u64, f64)> = [Who::Browser, Who::Sdk, Who::Nat, Who::Campaign]
        .iter()
        .map(|&w| (w, 0, 0, 0.0))
        .collect();
    for ev in events(campaign_fp, pool_prefixes, pool_asns) {
        let mut lv = Levels::default();
        state.observe(&ev.obs, &mut lv);
        if ev.obs.now_ms < T0 + 40 * 60_000 {
            continue;
        }
        let mut fired = Fired::default();
        for (sig, level) in lv.iter() {
            weights.fire_level(&mut fired, sig, level);
        }
        let (score, reasons, _) = weights.score(&fired);
        if std::env::var_os("SCENARIO_DEBUG").is_some() {
            let rs: Vec<String> = reasons
                .iter()
                .map(|r| format!("{}={:.0}", r.signal.code(), r.points))
                .collect();
            let lvs: Vec<String> = lv
                .iter()
                .map(|(s, v)| format!("{}={v:.1}", s.code()))
                .collect();
            if ev.who != Who::Campaign && score as u32 >= policy.thresholds.tag {
                eprintln!("{:?} {score} {} | {}", ev.who, rs.join(" "), lvs.join(" "));
            }
        }
        if let Some(row) = tally.iter_mut().find(|r| r.0 == ev.who) {
            row.1 += 1;
            row.2 += u64::from(score as u32 >= policy.thresholds.tag);
            row.3 += score as f64;
        }
    }
    tally
        .into_iter()
        .map(|(w, n, tagged, sum)| (w, tagged as f64 / n.max(1) as f64, sum / n.max(1) as f64))
        .collect()
}

fn check(rows: &[(Who, f64, f64)]) {
    for &(who, tagged, mean) in rows {
        eprintln!(
            "{who:?}: tagged {:.1}%, mean state score {mean:.1}",
            tagged * 100.0
        );
    }
    for &(who, tagged, _) in rows {
        if who == Who::Campaign {
            assert!(tagged > 0.9, "{who:?} tagged {tagged}");
        } else {
            assert!(tagged < 0.02, "{who:?} tagged {tagged}");
        }
    }
}

#[test]
fn campaign_on_its_own_stack_and_datacenter_pool() {
    check(&run(0xbad, 400, 8));
}

#[test]
fn campaign_hiding_in_the_sdk_fingerprint_on_a_residential_pool() {
    check(&run(SDK, 4_000, 200));
}
