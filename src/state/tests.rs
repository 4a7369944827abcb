//! Unit tests of the state: memory accounting, each level, merging, corrupt deltas.

use super::*;
use crate::signal::Signal;
use crate::sketch::mix64;
use levels::Clock;

const MIN: u64 = 60_000;
const T0: u64 = 1_700_000_000_000;

fn small_cfg() -> StateConfig {
    StateConfig {
        capacity: Capacity {
            accounts: 4096,
            fingerprints: 1024,
            ja4s: 512,
            prefixes: 2048,
            asns: 512,
            fp_prefixes: 2048,
            fp_asns: 1024,
            templates: 4096,
            envs: 4096,
            tasks: 2048,
            harnesses: 256,
            harness_tasks: 2048,
        },
        ..StateConfig::default()
    }
}

fn obs(now_ms: u64, account: u64, hfp: u64, prefix: u64) -> Observation {
    Observation {
        now_ms,
        account: Some(account),
        hfp,
        ja4: Some(hfp ^ 0xa4),
        prefix: Some(prefix),
        asn: Some((prefix % 7) as u32),
        template: None,
        elicitation: false,
        env: Some(hfp ^ 0xe1),
        anchor: None,
        harness: None,
    }
}

/// Observes `o` after a first request of its account elsewhere (another fingerprint and
/// prefix, a minute earlier, no body): a returning account, which clusters count.
fn observe_returning(s: &mut State, o: &Observation, lv: &mut Levels) {
    let first = Observation {
        now_ms: o.now_ms.saturating_sub(MIN),
        hfp: 0xF1257,
        prefix: Some(0xF1257),
        ja4: None,
        asn: None,
        env: None,
        template: None,
        anchor: None,
        elicitation: false,
        ..*o
    };
    s.observe(&first, &mut Levels::default());
    s.observe(o, lv);
}

fn measured(s: &State, o: &Observation) -> Vec<(Signal, f64)> {
    let mut lv = Levels::default();
    s.measure(o, &mut lv);
    lv.iter().collect()
}

#[test]
fn allocated_bytes_equal_the_memory_bound() {
    for cfg in [
        StateConfig::default(),
        small_cfg(),
        StateConfig {
            precision: 9,
            global_precision: 16,
            ..small_cfg()
        },
    ] {
        let s = State::new(&cfg);
        assert_eq!(s.allocated_bytes() + OVERHEAD_BYTES, cfg.memory_bound());
    }
    assert!(
        std::mem::size_of::<State>() <= OVERHEAD_BYTES / 2,
        "{}",
        std::mem::size_of::<State>()
    );
    let off = StateConfig {
        enabled: false,
        ..StateConfig::default()
    };
    let mut s = State::new(&off);
    assert_eq!(s.allocated_bytes(), 0);
    let mut lv = Levels::default();
    s.observe(&obs(T0, 1, 2, 3), &mut lv);
    assert_eq!(lv.iter().count(), 0);
}

#[test]
fn asn_rotation_separates_pools_from_people_on_a_few_networks() {
    let mut s = State::new(&small_cfg());
    let at = |s: &mut State, i: u64, account: u64, prefix: u64, asn: u32| {
        let mut lv = Levels::default();
        s.observe(&Observation { asn: Some(asn), ..obs(T0 + i * 60_000, account, 1, prefix) }, &mut lv);
        lv
    };
    // A person: office and home in turn, new prefixes every time (CGNAT-like), two ASNs.
    let mut person = Levels::default();
    for i in 0..10u64 {
        person = at(&mut s, i, 21, 100 + i, 64_500 + (i % 2) as u32);
    }
    // 2 ASNs in 10 requests: one change after the first out of 9.
    let p = person.get(Signal::AccountAsnRotation).unwrap();
    assert!((p - 1.0 / 9.0).abs() < 1e-9, "{p}");
    assert!(person.get(Signal::AccountIpRotation).unwrap() >= 8.0 / 9.0 - 1e-9);
    // A pool worker: a new network on every request.
    let mut worker = Levels::default();
    for i in 0..10u64 {
        worker = at(&mut s, i, 22, 900 + i, 65_000 + i as u32);
    }
    // (A 64-bit bitmap per account: a collision may hide one new ASN.)
    let w = worker.get(Signal::AccountAsnRotation).unwrap();
    assert!(w >= 8.0 / 9.0 - 1e-9, "{w}");
    // Measured from the second request on (the prefix rotation from the third), not on
    // the first, nor without an ASN, and only once the account has a request older than
    // the rate slot (its first minute: a new key on a fleet of servers).
    let one = at(&mut s, 0, 23, 1, 7);
    assert_eq!(one.get(Signal::AccountAsnRotation), None);
    let two = at(&mut s, 2, 23, 2, 8);
    assert_eq!(two.get(Signal::AccountAsnRotation), Some(1.0));
    assert_eq!(two.get(Signal::AccountIpRotation), None);
    let stay = at(&mut s, 1, 24, 3, 9);
    assert_eq!(stay.get(Signal::AccountAsnRotation), None);
    assert_eq!(at(&mut s, 1, 24, 3, 9).get(Signal::AccountAsnRotation), None, "both in the first minute");
    assert_eq!(at(&mut s, 3, 24, 3, 9).get(Signal::AccountAsnRotation), Some(0.0));
    let mut lv = Levels::default();
    s.observe(&Observation { asn: None, ..obs(T0, 22, 1, 950) }, &mut lv);
    assert_eq!(lv.get(Signal::AccountAsnRotation), None);
}

/// Request `i` (a minute apart) of `account` on client environment `env`, from `prefix` on `asn`.
fn env_obs(i: u64, account: u64, env: u64, prefix: u64, asn: Option<u32>) -> Observation {
    Observation { asn, env: Some(env), ..obs(T0 + i * 60_000, account, 1, prefix) }
}

/// Observes `o`; its `cluster.asn_rotation_share` level.
fn env_share(s: &mut State, o: Observation) -> Option<f64> {
    let mut lv = Levels::default();
    s.observe(&o, &mut lv);
    lv.get(Signal::ClusterAsnRotationShare)
}

#[test]
fn environment_hop_share_reaches_new_and_unsettled_accounts_only() {
    let mut s = State::new(&small_cfg());
    let env_obs = |i: u64, account: u64, asn: u32| env_obs(i, account, 0xe1, 1_000 + i, Some(asn));
    let share = env_share;
    // A pool: 10 accounts on one client environment, a new network on every request.
    let mut i = 0;
    for round in 0..4u64 {
        for a in 0..10u64 {
            i += 1;
            share(&mut s, env_obs(i, 100 + a, (a * 10 + round) as u32));
        }
    }
    // 30 requests of known accounts, every one a hop (a 64-bit bitmap per account: a
    // collision may hide one).
    assert_eq!(share(&mut s, env_obs(i + 1, 500, 7)).map(|v| v > 0.9), Some(true), "a new account's first request");
    assert_eq!(share(&mut s, env_obs(i + 2, 500, 7)).map(|v| v > 0.9), Some(true), "two requests do not settle");
    assert_eq!(share(&mut s, env_obs(i + 3, 500, 7)), None, "three on one network do");
    // Without an environment there is no share.
    assert_eq!(share(&mut s, Observation { env: None, ..env_obs(i + 4, 501, 7) }), None);
}

/// Without an ASN (no geo database) a network is the client's prefix: the environment's hop
/// share counts requests from a prefix new to their account, and an account that reuses its
/// addresses is the one known to keep to its networks.
#[test]
fn environment_hop_share_without_an_asn_counts_new_prefixes() {
    let mut s = State::new(&small_cfg());
    let env_obs = |i: u64, account: u64, env: u64, prefix: u64| env_obs(i, account, env, prefix, None);
    let share = env_share;
    // A pool on one environment: 10 accounts, a new prefix on every request. People on
    // another: 10 accounts, each from its own address every time.
    let mut i = 0;
    for round in 0..4u64 {
        for a in 0..10u64 {
            i += 1;
            share(&mut s, env_obs(i, 100 + a, 0xe1, 10_000 + a * 10 + round));
            share(&mut s, env_obs(i, 200 + a, 0xe2, 20_000 + a));
        }
    }
    assert_eq!(share(&mut s, env_obs(i + 1, 500, 0xe1, 7)).map(|v| v > 0.8), Some(true), "a new account in the pool's environment");
    assert_eq!(share(&mut s, env_obs(i + 1, 600, 0xe2, 8)), Some(0.0), "a new account among people");
    assert_eq!(share(&mut s, env_obs(i + 2, 500, 0xe1, 7)).map(|v| v > 0.8), Some(true), "two requests do not settle");
    assert_eq!(share(&mut s, env_obs(i + 3, 500, 0xe1, 7)), None, "three from one address do");
    assert_eq!(share(&mut s, env_obs(i + 4, 501, 0xe1, 9)).map(|v| v > 0.8), Some(true));
    assert_eq!(share(&mut s, env_obs(i + 5, 501, 0xe1, 10)).map(|v| v > 0.8), Some(true));
    assert_eq!(share(&mut s, env_obs(i + 6, 501, 0xe1, 11)).map(|v| v > 0.8), Some(true), "three from three prefixes do not");
}

#[test]
fn account_rate_churn_and_elicitation_share() {
    let mut s = State::new(&small_cfg());
    // 60 requests in one rate slot, from 20 /24s, half with elicitation.
    let start = T0 - T0 % MIN;
    let mut last = Levels::default();
    for i in 0..60u64 {
        let mut o = obs(start + i * 1000, 7, 1, 1000 + i % 20);
        o.elicitation = i % 2 == 0;
        // Without an ASN: the churn of any account is read.
        o.asn = None;
        last = Levels::default();
        s.observe(&o, &mut last);
    }
    let rate = last.get(Signal::RateAccount).unwrap();
    assert!((55.0..=61.0).contains(&rate), "{rate}");
    assert!((last.get(Signal::AccountElicitationShare).unwrap() - 0.5).abs() < 1e-9);
    // Every request in the account's first minute: a fleet's or a pool's, rotation and churn
    // not read yet.
    assert_eq!(last.get(Signal::AccountIpRotation), None);
    assert_eq!(last.get(Signal::AccountIpChurn), None);
    // Ten minutes of silence: the rate has decayed away, the hourly counts have not.
    let later = measured(&s, &Observation { asn: None, ..obs(T0 + 10 * MIN, 7, 1, 1000) });
    let get = |sig| later.iter().find(|(s, _)| *s == sig).map(|x| x.1);
    assert_eq!(get(Signal::RateAccount), Some(0.0));
    let churn = get(Signal::AccountIpChurn).unwrap();
    assert!((14.0..=26.0).contains(&churn), "{churn}");
    // 20 prefixes, then repeats: 19 changes after the first request out of 59 (a 64-bit
    // bitmap per account: collisions hide a few).
    let rotation = get(Signal::AccountIpRotation).unwrap();
    assert!((0.2..=19.0 / 59.0).contains(&rotation), "{rotation}");
    // An account that changes prefix on every request rotates fully.
    let mut lv = Levels::default();
    for i in 0..5u64 {
        lv = Levels::default();
        s.observe(&obs(T0 + i * 2 * MIN, 9, 1, 5000 + i * 977), &mut lv);
    }
    assert_eq!(lv.get(Signal::AccountIpRotation), Some(1.0));
    // An account with fewer than `min_requests` has no share yet.
    let mut lv = Levels::default();
    s.observe(
        &Observation {
            elicitation: true,
            ..obs(T0, 8, 1, 5)
        },
        &mut lv,
    );
    assert_eq!(lv.get(Signal::AccountElicitationShare), None);
}

#[test]
fn cluster_counts_and_lightness() {
    let mut s = State::new(&small_cfg());
    // 60 heavy accounts (30 requests each) and 120 light ones (2 each) on one fp and /24.
    let mut t = T0;
    for round in 0..30u64 {
        for a in 0..60u64 {
            t += 50;
            s.observe(&obs(t, 1000 + a, 42, 77), &mut Levels::default());
        }
        if round < 2 {
            for a in 0..120u64 {
                t += 50;
                s.observe(&obs(t, 5000 + a, 42, 77), &mut Levels::default());
            }
        }
    }
    let lv = measured(&s, &obs(t, 1000, 42, 77));
    let get = |sig| {
        lv.iter()
            .find(|(s, _)| *s == sig)
            .map(|x| x.1)
            .unwrap_or(f64::NAN)
    };
    let all = get(Signal::ClusterAccountsPerFp);
    assert!((all - 180.0).abs() < 180.0 * 0.4, "{all}");
    assert!((get(Signal::ClusterAccountsPerFpPrefix) - 180.0).abs() < 180.0 * 0.4);
    assert!((get(Signal::ClusterLightAccountsPerFpAsn) - 120.0).abs() < 120.0 * 0.5);
    assert!((get(Signal::ClusterAccountsPerPrefix) - 180.0).abs() < 180.0 * 0.4);
    assert!(get(Signal::ClusterAccountsPerJa4) > 100.0);
    // Another fingerprint in the same prefix is a different (fp, prefix) cluster.
    let mut lv = Levels::default();
    s.observe(&obs(t, 1, 43, 77), &mut lv);
    assert!(lv.get(Signal::ClusterAccountsPerFpPrefix).unwrap_or(0.0) < 2.0);
    // Two windows later the cluster counts have expired; account history lasts
    // `account_window_s` (a day), and expires after two of those: the account's rotation
    // share (0: one prefix) is read while it has three requests in the window.
    let no_asn = |now| Observation { asn: None, ..obs(now, 1000, 42, 77) };
    let later = measured(&s, &no_asn(t + 2 * 3_600_000));
    let account = |sig: Signal| sig.code().starts_with("account.");
    assert!(
        later.iter().all(|&(sig, v)| v == 0.0 || account(sig)),
        "{later:?}"
    );
    let rotation_read = |lv: &[(Signal, f64)]| lv.iter().any(|&(sig, _)| sig == Signal::AccountIpRotation);
    assert!(rotation_read(&later), "{later:?}");
    let gone = measured(&s, &no_asn(t + 48 * 3_600_000));
    assert!(gone.iter().all(|&(_, v)| v == 0.0), "{gone:?}");
    assert!(!rotation_read(&gone), "{gone:?}");
}

/// `base` with `k` pseudo-random bits flipped.
/// The network- and client-wide crowds (fingerprint, JA4, ASN, light accounts per fingerprint
/// and ASN, the fingerprint's rate) are read per `population_reference` active accounts once
/// the window holds more; the prefix-wide and (fingerprint, prefix) crowds are not.
#[test]
fn network_wide_crowds_are_read_per_reference_population() {
    let run = |reference: u32| {
        let mut s = State::new(&StateConfig { population_reference: reference, ..small_cfg() });
        let mut t = T0;
        for round in 0..12u64 {
            for a in 0..180u64 {
                t += 50;
                if round < 2 || a < 60 {
                    s.observe(&obs(t, 1000 + a, 42, 77), &mut Levels::default());
                }
            }
        }
        let active = s.active_accounts(t);
        (measured(&s, &obs(t, 1000, 42, 77)), active)
    };
    let (unscaled, active) = run(StateConfig::default().population_reference);
    let (scaled, _) = run(30);
    let scale = active / 30.0;
    assert!(scale > 4.0, "{active} active accounts");
    let get = |lv: &[(Signal, f64)], sig| lv.iter().find(|(s, _)| *s == sig).map_or(f64::NAN, |x| x.1);
    for sig in [Signal::ClusterAccountsPerFp, Signal::ClusterAccountsPerJa4, Signal::ClusterAccountsPerAsn, Signal::ClusterLightAccountsPerFpAsn, Signal::RateFp] {
        let (u, v) = (get(&unscaled, sig), get(&scaled, sig));
        assert!(u > 10.0 && (v - u / scale).abs() < 1e-9 * u, "{sig:?}: {u} unscaled, {v} at reference 30 ({scale}x)");
    }
    for sig in [Signal::ClusterAccountsPerPrefix, Signal::ClusterAccountsPerFpPrefix, Signal::RatePrefix] {
        let (u, v) = (get(&unscaled, sig), get(&scaled, sig));
        assert!(u > 10.0 && u == v, "{sig:?}: {u} unscaled, {v} at reference 30");
    }
}

fn near(base: u64, k: u32, salt: u64) -> u64 {
    let mut t = base;
    for j in 0..k as u64 {
        t ^= 1 << (mix64(salt.wrapping_mul(64) + j) % 64);
    }
    t
}

#[test]
fn templates_cluster_near_duplicates_and_synchrony() {
    let mut s = State::new(&small_cfg());
    let base = mix64(12345);
    let mut t = T0;
    // 40 accounts send near-duplicates of one template, spread over 40 minutes.
    for a in 0..40u64 {
        t += MIN;
        let o = Observation {
            template: Some(near(base, (a % 4) as u32, a)),
            ..obs(t, 100 + a, 1, a)
        };
        observe_returning(&mut s, &o, &mut Levels::default());
    }
    // 40 other accounts send unrelated templates.
    for a in 0..40u64 {
        let o = Observation {
            template: Some(mix64(a + 999)),
            ..obs(t, 500 + a, 1, a)
        };
        observe_returning(&mut s, &o, &mut Levels::default());
    }
    let mut lv = Levels::default();
    s.observe(
        &Observation {
            template: Some(near(base, 2, 7777)),
            ..obs(t, 1, 1, 1)
        },
        &mut lv,
    );
    let acc = lv.get(Signal::ClusterAccountsPerTemplate).unwrap();
    assert!(acc > 25.0, "{acc}");
    assert!(lv.get(Signal::ClusterSynchrony).unwrap() < 4.0);
    let mut lv = Levels::default();
    s.observe(
        &Observation {
            template: Some(mix64(424242)),
            ..obs(t, 2, 1, 1)
        },
        &mut lv,
    );
    assert!(lv.get(Signal::ClusterAccountsPerTemplate).unwrap_or(0.0) < 3.0);
    // 25 accounts send the template within five seconds: synchronized.
    for a in 0..25u64 {
        let o = Observation {
            template: Some(base),
            ..obs(t + 10 * MIN + a * 200, 900 + a, 1, a)
        };
        lv = Levels::default();
        observe_returning(&mut s, &o, &mut lv);
    }
    let sync = lv.get(Signal::ClusterSynchrony).unwrap();
    assert!((18.0..=34.0).contains(&sync), "{sync}");
}

#[test]
fn extreme_clocks_never_panic() {
    let mut s = State::new(&small_cfg());
    for now in [
        0,
        1,
        u64::MAX,
        u64::MAX - 1,
        4_294_967_295_000,
        u64::MAX / 1000,
        0,
        T0,
    ] {
        let o = Observation {
            template: Some(now ^ 7),
            elicitation: true,
            ..obs(now, now % 5, 1, 2)
        };
        s.observe(&o, &mut Levels::default());
        s.measure(&o, &mut Levels::default());
    }
    let d = s.export_delta();
    State::new(&small_cfg()).merge_bytes(&d).unwrap();
}

#[test]
fn cluster_elicitation_share_needs_min_requests() {
    let mut s = State::new(&small_cfg());
    let mut lv = Levels::default();
    for i in 0..9u64 {
        lv = Levels::default();
        observe_returning(
            &mut s,
            &Observation {
                elicitation: true,
                ..obs(T0 + i, i, 5, 6)
            },
            &mut lv,
        );
    }
    assert_eq!(lv.get(Signal::ClusterElicitationShare), None);
    for i in 9..20u64 {
        lv = Levels::default();
        observe_returning(
            &mut s,
            &Observation {
                elicitation: i % 4 != 0,
                ..obs(T0 + i, i, 5, 6)
            },
            &mut lv,
        );
    }
    let share = lv.get(Signal::ClusterElicitationShare).unwrap();
    assert!((share - 18.0 / 20.0).abs() < 1e-9, "{share}");
}

#[test]
fn cluster_share_ignores_heavy_accounts_and_single_account_clusters() {
    let mut s = State::new(&small_cfg());
    let mut lv = Levels::default();
    // One heavy account (100 requests, all elicited) and two light ones in one cluster.
    for i in 0..100u64 {
        lv = Levels::default();
        s.observe(
            &Observation {
                elicitation: true,
                ..obs(T0 + i, 1, 5, 6)
            },
            &mut lv,
        );
    }
    assert_eq!(lv.get(Signal::ClusterElicitationShare), None);
    assert_eq!(lv.get(Signal::AccountElicitationShare), Some(1.0));
    for i in 0..30u64 {
        lv = Levels::default();
        let o = Observation {
            elicitation: i < 3,
            ..obs(T0 + 200 + i, 2 + i % 2, 5, 6)
        };
        if i < 2 {
            observe_returning(&mut s, &o, &mut lv);
        } else {
            s.observe(&o, &mut lv);
        }
    }
    // Counted: the heavy account's requests after its first, while it was light (19), and
    // the light accounts' 30, of which 19 + 3 elicited; its other 80 are not. Until a third
    // account was seen there was no share at all.
    let share = lv.get(Signal::ClusterElicitationShare).unwrap();
    assert!((share - 22.0 / 49.0).abs() < 1e-9, "{share}");
    // The heavy account itself is judged by its own share, not the cluster's.
    let mut lv = Levels::default();
    s.observe(&obs(T0 + 300, 1, 5, 6), &mut lv);
    assert_eq!(lv.get(Signal::ClusterElicitationShare), None);
    assert!(lv.get(Signal::AccountElicitationShare).unwrap() > 0.95);
}

/// Traffic with a few hot clusters and a bounded set of cold keys, over `minutes`.
fn traffic(n: u64, minutes: u64, seed: u64) -> Vec<Observation> {
    (0..n)
        .map(|i| {
            let r = mix64(i ^ seed);
            let hot = r % 3 == 0;
            Observation {
                now_ms: T0 + i * minutes * MIN / n,
                account: Some(if hot { r % 300 } else { 10_000 + r % 3_000 }),
                hfp: if hot { 1 } else { (r >> 8) % 20 },
                ja4: Some((r >> 16) % 20),
                prefix: Some(if hot { (r >> 20) % 8 } else { (r >> 20) % 200 }),
                asn: Some(((r >> 32) % 40) as u32),
                template: Some(if hot {
                    near(777, ((r >> 40) % 3) as u32, r)
                } else {
                    mix64(r % 400)
                }),
                elicitation: hot && (r >> 50) % 4 != 0,
                env: None,
                harness: None,
                anchor: None,
            }
        })
        .collect()
}

/// Capacities well above the key counts of [`traffic`] (no evictions).
fn roomy_cfg() -> StateConfig {
    let c = 65_536;
    StateConfig {
        capacity: Capacity {
            accounts: c,
            fingerprints: c,
            ja4s: c,
            prefixes: c,
            asns: c,
            fp_prefixes: c,
            fp_asns: c,
            templates: c,
            envs: c,
            tasks: 2048,
            harnesses: 256,
            harness_tasks: 2048,
        },
        ..StateConfig::default()
    }
}

#[test]
fn workers_exchanging_deltas_agree_with_one_state() {
    let cfg = roomy_cfg();
    let obs = traffic(24_000, 90, 1);
    let mut single = State::new(&cfg);
    let mut workers: Vec<State> = (0..4).map(|_| State::new(&cfg)).collect();
    for (i, o) in obs.iter().enumerate() {
        single.observe(o, &mut Levels::default());
        if let Some(w) = workers.get_mut(mix64(i as u64) as usize % 4) {
            w.observe(o, &mut Levels::default());
        }
        if i % 100 == 99 || i + 1 == obs.len() {
            let deltas: Vec<Vec<u8>> = workers.iter_mut().map(|w| w.export_delta()).collect();
            for (wi, w) in workers.iter_mut().enumerate() {
                for (di, d) in deltas.iter().enumerate() {
                    if di != wi {
                        w.merge_bytes(d).unwrap();
                    }
                }
            }
        }
    }
    let now = obs.last().map_or(T0, |o| o.now_ms);
    let mut compared = 0;
    for probe in traffic(300, 1, 2) {
        let probe = Observation {
            now_ms: now,
            ..probe
        };
        let want = measured(&single, &probe);
        for w in &workers {
            let got = measured(w, &probe);
            assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
            for (&(sa, a), &(sb, b)) in got.iter().zip(&want) {
                assert_eq!(sa, sb);
                // Lightness (also gating cluster shares) and prefix / ASN novelty are decided
                // when a request is seen, from
                // what was merged so far (a worker lags its peers by up to one tick).
                // Whether an account returns (and so counts in a cluster) is decided from what
                // the worker merged so far, too.
                let tol = match sa {
                    Signal::ClusterLightAccountsPerFpAsn => 0.2 * b + 3.0,
                    Signal::ClusterAccountsPerFp
                    | Signal::ClusterAccountsPerJa4
                    | Signal::ClusterAccountsPerPrefix
                    | Signal::ClusterAccountsPerAsn
                    | Signal::ClusterAccountsPerFpPrefix
                    | Signal::ClusterAccountsPerTemplate => 0.06 * b + 2.0,
                    Signal::AccountIpRotation | Signal::AccountAsnRotation => 0.15,
                    Signal::ClusterElicitationShare => 0.05,
                    _ => 1e-6 * b.abs() + 1e-9,
                };
                assert!((a - b).abs() <= tol, "{sa:?}: worker {a} vs single {b}");
                compared += 1;
            }
        }
    }
    assert!(compared > 1000, "{compared}");
    let aa = single.active_accounts(now);
    // 100 hot and 2000 cold accounts (the generator's residues).
    assert!((aa - 2_100.0).abs() < 2_100.0 * 0.06, "{aa}");
    assert_eq!(
        workers
            .iter()
            .map(|w| w.active_accounts(now))
            .fold(0.0, f64::max),
        aa
    );
}

#[test]
fn exports_are_deterministic_and_empty_when_nothing_changed() {
    let cfg = small_cfg();
    let (mut a, mut b) = (State::new(&cfg), State::new(&cfg));
    for o in traffic(2_000, 5, 3) {
        a.observe(&o, &mut Levels::default());
        b.observe(&o, &mut Levels::default());
    }
    let da = a.export_delta();
    assert_eq!(da, b.export_delta());
    let empty = a.export_delta();
    assert_eq!(empty.len(), 4 + 1 + 8 + 1 + 12 * 4 + 4);
    let mut c = State::new(&StateConfig {
        seed: 99,
        ..cfg.clone()
    });
    assert!(c.merge_bytes(&da).is_err());
    let mut d = State::new(&StateConfig {
        capacity: Capacity {
            templates: 0,
            ..cfg.capacity
        },
        ..cfg
    });
    d.merge_bytes(&da).unwrap();
}

#[test]
fn corrupt_deltas_are_errors_and_change_nothing() {
    let cfg = small_cfg();
    let mut src = State::new(&cfg);
    let data = traffic(200, 10, 4);
    for o in &data {
        src.observe(o, &mut Levels::default());
    }
    let good = src.export_delta();
    let mut dst = State::new(&cfg);
    for o in data.iter().take(100) {
        dst.observe(o, &mut Levels::default());
    }
    let probe = |s: &State| {
        data.iter()
            .step_by(7)
            .map(|o| measured(s, o))
            .collect::<Vec<_>>()
    };
    let before = probe(&dst);
    let mut errors = 0;
    let step = good.len() / 150 + 1;
    let cuts: Vec<usize> = (0..good.len())
        .step_by(step)
        .chain(good.len() - 20..good.len())
        .collect();
    for &cut in &cuts {
        errors += usize::from(dst.merge_bytes(&good[..cut]).is_err());
    }
    assert_eq!(errors, cuts.len());
    // Bit flips: inside register or counter bytes they still form a valid delta, elsewhere
    // they must be refused; never a panic.
    let mut scratch = State::new(&cfg);
    let mut rng = 5u64;
    let mut refused = 0;
    for _ in 0..300 {
        let mut bad = good.clone();
        for _ in 0..3 {
            rng = mix64(rng);
            let i = (rng % bad.len() as u64) as usize;
            bad[i] ^= 1 << (rng >> 61);
        }
        refused += usize::from(scratch.merge_bytes(&bad).is_err());
    }
    assert!(refused > 10, "{refused}");
    assert_eq!(probe(&dst), before);
    dst.merge_bytes(&good).unwrap();
    assert_ne!(probe(&dst), before);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2_000))]

    #[test]
    fn arbitrary_buffers_never_panic(tail in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600), cut in 0usize..64) {
        let cfg = StateConfig { capacity: Capacity { accounts: 64, fingerprints: 64, ja4s: 64, prefixes: 64, asns: 64, fp_prefixes: 64, fp_asns: 64, templates: 64, envs: 64, tasks: 64, harnesses: 64, harness_tasks: 64 }, ..StateConfig::default() };
        let mut s = State::new(&cfg);
        let _ = s.merge_bytes(&tail);
        // A valid header followed by garbage reaches the record decoders.
        let mut buf = s.export_delta();
        buf.truncate(14 + cut.min(32));
        buf.extend_from_slice(&tail);
        let _ = s.merge_bytes(&buf);
    }
}

#[test]
fn lazy_state_allocates_on_first_observation_or_merge() {
    let cfg = small_cfg();
    let mut idle = State::new_lazy(&cfg);
    assert!(!idle.is_allocated());
    assert_eq!(idle.allocated_bytes(), 0);
    // Measuring and exporting an unused lazy state allocates nothing and exports no change.
    let o = obs(T0, 1, 2, 3);
    assert!(measured(&idle, &o).is_empty());
    assert!(idle.export_delta().len() <= crate::host::envoy::sync::EMPTY_DELTA_LEN);
    assert!(!idle.is_allocated());

    // Observing allocates the full state and then behaves like an eager one.
    let (mut lazy, mut eager) = (State::new_lazy(&cfg), State::new(&cfg));
    for i in 0..50 {
        let o = obs(T0 + i * 1000, 100 + i, 7, 9);
        let (mut a, mut b) = (Levels::default(), Levels::default());
        lazy.observe(&o, &mut a);
        eager.observe(&o, &mut b);
        assert_eq!(a.iter().collect::<Vec<_>>(), b.iter().collect::<Vec<_>>());
    }
    assert!(lazy.is_allocated());
    assert_eq!(lazy.allocated_bytes() + OVERHEAD_BYTES, cfg.memory_bound());

    // Merging a peer's delta allocates too, and the merged data is there.
    let delta = eager.export_delta();
    idle.merge_bytes(&delta).unwrap();
    assert!(idle.is_allocated());
    let probe = obs(T0 + 50_000, 999, 7, 9);
    assert_eq!(measured(&idle, &probe), measured(&eager, &probe));

    // With state disabled there is nothing to allocate, lazily or not.
    let off = StateConfig { enabled: false, ..small_cfg() };
    assert!(State::new_lazy(&off).is_allocated());
    assert_eq!(State::new_lazy(&off).allocated_bytes(), 0);
}

#[test]
fn flag_history_travels_with_the_delta() {
    let cfg = small_cfg();
    let (mut a, mut b) = (State::new(&cfg), State::new(&cfg));
    let acct = Some(mix64(42));
    for k in 0..4u64 {
        a.record_verdict(acct, T0 + k * MIN, k != 0);
    }
    assert_eq!(b.flag_history(acct, T0 + 4 * MIN), None);
    b.merge_bytes(&a.export_delta()).unwrap();
    let (la, lb) = (a.flag_history(acct, T0 + 4 * MIN), b.flag_history(acct, T0 + 4 * MIN));
    assert!(la.is_some_and(|l| (l - 0.75).abs() < 1e-3), "{la:?}");
    assert_eq!(la, lb);
    // b's own later request adds to the merged history; a learns it on the next exchange.
    b.record_verdict(acct, T0 + 5 * MIN, true);
    a.merge_bytes(&b.export_delta()).unwrap();
    assert_eq!(a.flag_history(acct, T0 + 6 * MIN), b.flag_history(acct, T0 + 6 * MIN));
}

#[test]
fn address_churn_behind_one_operator_is_not_counted() {
    // A phone on one carrier: 40 addresses in 40 /24s over an hour, one ASN. The same
    // account pattern on an operator per address is a pool: churn is counted.
    // (`reuse`: the number of addresses used in turn, 0 for a new one per request.)
    let run = |asn_of: &dyn Fn(u64) -> u32, reuse: u64| {
        let mut s = State::new(&small_cfg());
        let mut lv = Levels::default();
        for i in 0..40u64 {
            lv = Levels::default();
            s.observe(&Observation { asn: Some(asn_of(i)), ..obs(T0 + i * 90_000, 7, 1, 3000 + if reuse == 0 { i } else { i % reuse }) }, &mut lv);
        }
        lv.get(Signal::AccountIpChurn)
    };
    assert_eq!(run(&|_| 64_500, 0), None);
    let pool = run(&|i| 100 + i as u32, 0).unwrap_or(0.0);
    assert!(pool > 20.0, "{pool}");
    // A fleet of eight servers on three clouds reuses its addresses: not counted either.
    assert_eq!(run(&|i| [16_509, 15_169, 8_075][(i % 3) as usize], 8), None);
}

/// The body of a request of `account` in agent harness `harness` on task `task`, after three
/// requests of the account in the last hour and a half (a returning account).
fn agent_turn(s: &mut State, now_ms: u64, account: u64, harness: u64, task: u64) {
    turn(s, now_ms, account, Some(harness), task);
}

/// The same for a body naming `task` outside any agent harness (or inside `harness`).
fn turn(s: &mut State, now_ms: u64, account: u64, harness: Option<u64>, task: u64) {
    let o = Observation { anchor: Some(task), harness, ..obs(now_ms, account, 0xA6E, account) };
    if s.accounts.find(s.d.seeds.hash(dom::ACCOUNT, account)).is_none() {
        for back in [90, 60, 30] {
            s.observe(&Observation { now_ms: now_ms - back * MIN, ..obs(now_ms, account, 0xA6E, account) }, &mut Levels::default());
        }
    }
    s.observe(&Observation { anchor: None, harness: None, ..o }, &mut Levels::default());
    s.learn(&o);
}

/// Headers only (no body yet): the account's remembered harness is read.
fn at_headers(s: &State, now_ms: u64, account: u64) -> Levels {
    let mut lv = Levels::default();
    s.measure(&obs(now_ms, account, 0xA6E, account), &mut lv);
    lv
}

fn level_of(lv: &Levels, sig: Signal) -> Option<f64> {
    lv.iter().find(|(x, _)| *x == sig).map(|(_, v)| v)
}

/// Three rounds of agent work: 30 campaign accounts working through 12 benchmark tasks in
/// harness `campaign_harness`, and 60 people on their own code (one common identifier among
/// them) in the popular harness 0x09E7, all within one account-window slot (the counts of
/// the previous slot fade). Returns the time after the last request.
fn agent_rounds(s: &mut State, campaign_harness: u64) -> u64 {
    const DAY: u64 = 24 * 60 * MIN;
    let mut t = (T0 / DAY + 1) * DAY + 120 * MIN;
    for round in 0..3u64 {
        for a in 0..30u64 {
            t += MIN;
            agent_turn(s, t, 1000 + a, campaign_harness, 500 + (a * 5 + round * 7) % 12);
        }
        for a in 0..60u64 {
            t += MIN;
            let task = if a % 20 == 0 { 42 } else { 10_000 + a * 3 + round };
            agent_turn(s, t, 5000 + a, 0x09E7, task);
        }
    }
    t
}

#[test]
fn a_harness_working_a_shared_task_set_repeats_its_tasks() {
    let mut s = State::new(&small_cfg());
    let t = agent_rounds(&mut s, 0xBE7C);
    // Account 1003 began three tasks; two of them repeated others' (rounds 1 and 2).
    let campaign = at_headers(&s, t + MIN, 1003);
    let people = at_headers(&s, t + MIN, 5003);
    let c = level_of(&campaign, Signal::ClusterHarnessRepeat).expect("the campaign harness is measured at the headers");
    assert!(c > 0.6, "campaign {c}");
    assert!(level_of(&campaign, Signal::AccountTaskRepeat).is_some_and(|v| v > 0.6), "{:?}", campaign.iter().collect::<Vec<_>>());
    // A person repeats nobody's task: neither their harness's share nor their own is against them.
    assert_eq!(level_of(&people, Signal::ClusterHarnessRepeat), None);
    assert!(level_of(&people, Signal::AccountTaskRepeat).is_some_and(|v| v < 0.1));
    // An account that repeats others' tasks in a repeating harness has no ordinary history;
    // a person in the popular harness keeps theirs.
    assert!(!campaign.ordinary, "{:?}", campaign.iter().collect::<Vec<_>>());
    assert!(people.ordinary, "{:?}", people.iter().collect::<Vec<_>>());
    // An account not seen before has no work of its own yet: the harness's share is not
    // held against it, even with the harness's body in hand.
    let mut lv = Levels::default();
    s.measure(&Observation { harness: Some(0xBE7C), anchor: Some(500), ..obs(t + MIN, 9999, 0xA6E, 9999) }, &mut lv);
    assert_eq!(level_of(&lv, Signal::ClusterHarnessRepeat), None);
    // Deltas carry the harness counts and the account's own: a fresh peer measures the same
    // share for the account's next body.
    let mut peer = State::new(&small_cfg());
    peer.merge_bytes(&s.export_delta()).unwrap();
    let mut lv = Levels::default();
    peer.measure(&Observation { harness: Some(0xBE7C), anchor: Some(500), ..obs(t + MIN, 1003, 0xA6E, 1003) }, &mut lv);
    let v = level_of(&lv, Signal::ClusterHarnessRepeat);
    assert!(v.is_some_and(|v| (v - c).abs() < 0.05), "{v:?} vs {c}");
}

#[test]
fn a_campaign_running_a_popular_agent_is_judged_by_its_own_repeats() {
    // The same campaign in the popular agent's own harness: the harness's share mixes the
    // campaign's repeats with the people's own work.
    let mut s = State::new(&small_cfg());
    let t = agent_rounds(&mut s, 0x09E7);
    let campaign = at_headers(&s, t + MIN, 1003);
    assert!(level_of(&campaign, Signal::AccountTaskRepeat).is_some_and(|v| v > 0.6));
    for person in 5000..5060 {
        let lv = at_headers(&s, t + MIN, person);
        assert_eq!(level_of(&lv, Signal::ClusterHarnessRepeat), None, "person {person}");
        assert!(level_of(&lv, Signal::AccountTaskRepeat).is_none_or(|v| v < 0.4), "person {person}");
    }
}

#[test]
fn a_harness_of_a_few_accounts_is_not_measured() {
    // An evaluation team: 4 accounts running the same benchmark through their harness.
    let mut s = State::new(&small_cfg());
    let mut t = T0;
    for task in 0..20u64 {
        for a in 0..4u64 {
            t += MIN;
            agent_turn(&mut s, t, 77 + a, 0xE7A1, 300 + task);
        }
    }
    assert!(at_headers(&s, t + MIN, 78).iter().all(|(sig, _)| sig != Signal::ClusterHarnessRepeat));
}

#[test]
fn a_slow_campaign_adds_up_its_repeats_over_the_long_window() {
    // 40 campaign accounts begin one benchmark task a day (of 24) for six days, in their own
    // harness; 80 people begin one task of their own code a day in the popular one (a few on
    // a common identifier). A day holds one task per account: too little to judge; the week
    // holds six. All within one long-window slot.
    const DAY: u64 = 24 * 60 * MIN;
    const WEEK: u64 = 7 * DAY;
    let mut s = State::new(&small_cfg());
    let start = (T0 / WEEK + 1) * WEEK + 120 * MIN;
    let mut t = start;
    for day in 0..6u64 {
        t = start + day * DAY;
        for a in 0..40u64 {
            t += MIN;
            agent_turn(&mut s, t, 1000 + a, 0xBE7C, 500 + (a * 5 + day * 7) % 24);
        }
        for a in 0..80u64 {
            t += MIN;
            let task = if a % 20 == 0 { 42 } else { 10_000 + a * 10 + day };
            agent_turn(&mut s, t, 5000 + a, 0x09E7, task);
        }
    }
    let campaign = at_headers(&s, t + MIN, 1003);
    let c = level_of(&campaign, Signal::ClusterHarnessRepeat).expect("the slow campaign's harness is held against it");
    assert!(c > 0.6, "campaign {c}");
    assert!(level_of(&campaign, Signal::AccountTaskRepeat).is_some_and(|v| v > 0.6), "{:?}", campaign.iter().collect::<Vec<_>>());
    assert!(!campaign.ordinary);
    for person in 5000..5080 {
        let lv = at_headers(&s, t + MIN, person);
        assert_eq!(level_of(&lv, Signal::ClusterHarnessRepeat), None, "person {person}");
        assert!(level_of(&lv, Signal::AccountTaskRepeat).is_none_or(|v| v < 0.4), "person {person}");
    }
    // With the long window no longer than the account window, the week's work is gone: the
    // account's long-window pairs are its last day or two.
    let cfg = StateConfig { long_window_s: 86_400, ..small_cfg() };
    let mut short = State::new(&cfg);
    for day in 0..6u64 {
        let mut t = start + day * DAY;
        for a in 0..40u64 {
            t += MIN;
            agent_turn(&mut short, t, 1000 + a, 0xBE7C, 500 + (a * 5 + day * 7) % 24);
        }
    }
    let long_pairs = |s: &State| {
        let c = Clock::at(t + MIN, &s.d);
        let i = s.accounts.find(s.d.seeds.hash(dom::ACCOUNT, 1003)).expect("the account is kept");
        s.accounts.get(i).map(|(e, _)| e.harness_work_long.sliding(c.long, c.long_frac)[0]).unwrap_or(0.0)
    };
    assert!(long_pairs(&s) >= 5.0, "{}", long_pairs(&s));
    assert!(long_pairs(&short) <= 2.0, "{}", long_pairs(&short));
}

#[test]
fn a_slow_swarm_counts_as_broad_once_its_accounts_prove_broad() {
    // 30 accounts each send one task of a shared set every three hours: each proves broad
    // (three shared tasks in its window) only in its third or fourth round, after its first
    // tasks were counted. 30 people each send one common identifier (shared by all of them) and one of
    // their own code per round.
    const DAY: u64 = 24 * 60 * MIN;
    let start = (T0 / DAY + 1) * DAY + 60 * MIN;
    let mut s = State::new(&small_cfg());
    let mut t = start;
    for round in 0..4u64 {
        t = start + round * 180 * MIN;
        for a in 0..30u64 {
            t += MIN;
            turn(&mut s, t, 1000 + a, None, 500 + (a + round * 7) % 10);
        }
        for a in 0..30u64 {
            t += MIN;
            turn(&mut s, t, 5000 + a, None, 42 + round);
            turn(&mut s, t + 10_000, 5000 + a, None, 90_000 + a * 10 + round);
        }
    }
    // The swarm's first tasks now count its accounts as broad: an account's recent tasks
    // are ones a swarm works.
    let swarm = at_headers(&s, t + MIN, 1003);
    assert!(level_of(&swarm, Signal::AccountSwarmShare).is_some_and(|v| v >= 0.5), "{:?}", swarm.iter().collect::<Vec<_>>());
    // A person whose recent tasks hold their own code credits nothing: the common
    // identifiers stay ordinary.
    let person = at_headers(&s, t + MIN, 5003);
    assert!(level_of(&person, Signal::AccountSwarmShare).is_none_or(|v| v < 0.5), "{:?}", person.iter().collect::<Vec<_>>());
    // A new account's first task: the swarm's tasks are a swarm's, the common identifier is not.
    let first = |task: u64| {
        let mut lv = Levels::default();
        s.measure(&Observation { anchor: Some(task), ..obs(t + MIN, 99_999, 0xA6E, 99_999) }, &mut lv);
        level_of(&lv, Signal::ClusterSwarm)
    };
    assert!(first(500).is_some_and(|v| v >= 0.6), "{:?}", first(500));
    assert!(first(42).is_some_and(|v| v < 0.3), "{:?}", first(42));
}

#[test]
fn tasks_sent_before_they_were_shared_count_once_they_are() {
    // An account of a slow swarm sends three tasks before anyone else has: none is shared
    // then. A person sends their own code and two of those tasks. Then ten accounts work
    // through the same three tasks.
    let mut s = State::new(&small_cfg());
    let mut t = T0;
    for task in [700, 701, 702] {
        t += MIN;
        turn(&mut s, t, 1000, None, task);
    }
    for task in [90_000, 700, 701] {
        t += MIN;
        turn(&mut s, t, 5000, None, task);
    }
    let breadth = |s: &State, t, account| level_of(&at_headers(s, t, account), Signal::AccountTaskBreadth).unwrap_or(0.0);
    assert!(breadth(&s, t + MIN, 1000) < 1.0, "nothing is shared yet");
    for a in 0..10u64 {
        for task in [700, 701, 702] {
            t += MIN;
            turn(&mut s, t, 2000 + a, None, task);
        }
    }
    // The swarm account's remembered tasks are all shared now: it is broad.
    assert!(breadth(&s, t + MIN, 1000) >= 3.0, "{}", breadth(&s, t + MIN, 1000));
    // The person's list holds their own code: their breadth is what it was when they sent it.
    assert!(breadth(&s, t + MIN, 5000) < 1.0, "{}", breadth(&s, t + MIN, 5000));
}

#[test]
fn in_a_harness_of_mostly_repeats_half_of_an_accounts_tasks_is_enough() {
    // A campaign's own harness: 40 accounts over 10 tasks (three in four of its pairs repeat
    // another account's). A popular agent: 40 people on their own code, a few of them on one
    // common identifier.
    const WEEK: u64 = 7 * 24 * 60 * MIN;
    let start = (T0 / WEEK + 1) * WEEK + 60 * MIN;
    let mut s = State::new(&small_cfg());
    let mut t = start;
    for a in 0..40u64 {
        t += MIN;
        agent_turn(&mut s, t, 1000 + a, 0xBE7C, 500 + a % 10);
        let task = if a % 8 == 0 { 42 } else { 10_000 + a };
        agent_turn(&mut s, t, 5000 + a, 0x09E7, task);
    }
    // An account new to each harness sends two tasks: one of its own, one another account sent.
    for (account, harness, repeated) in [(1100, 0xBE7C, 503), (5100, 0x09E7, 42)] {
        t += MIN;
        agent_turn(&mut s, t, account, harness, 90_000 + account);
        agent_turn(&mut s, t + MIN, account, harness, repeated);
    }
    let campaign = at_headers(&s, t + 2 * MIN, 1100);
    assert!(level_of(&campaign, Signal::ClusterHarnessRepeat).is_some_and(|v| v >= 0.6), "{:?}", campaign.iter().collect::<Vec<_>>());
    let person = at_headers(&s, t + 2 * MIN, 5100);
    assert_eq!(level_of(&person, Signal::ClusterHarnessRepeat), None, "{:?}", person.iter().collect::<Vec<_>>());
}

#[test]
fn a_repeating_account_is_read_by_its_remembered_tasks_other_accounts_work_now() {
    // Account 1000 sends two tasks before any other account of its harness (700, 701), then
    // two that 30 accounts already sent (500, 501): half of its tasks repeat, so its harness
    // is held against it. Then the others work through 700 and 701 too.
    let mut s = State::new(&small_cfg());
    let mut t = T0;
    for task in [700, 701] {
        t += MIN;
        agent_turn(&mut s, t, 1000, 0xBE7C, task);
    }
    for a in 0..30u64 {
        t += MIN;
        agent_turn(&mut s, t, 2000 + a, 0xBE7C, 500 + a % 2);
    }
    for task in [500, 501] {
        t += MIN;
        agent_turn(&mut s, t, 1000, 0xBE7C, task);
    }
    let repeat = |s: &State, t| level_of(&at_headers(s, t, 1000), Signal::AccountTaskRepeat);
    assert!(repeat(&s, t + MIN).is_some_and(|v| (0.4..0.6).contains(&v)), "{:?}", repeat(&s, t + MIN));
    for a in 0..30u64 {
        t += MIN;
        agent_turn(&mut s, t, 2000 + a, 0xBE7C, 700 + a % 2);
    }
    // Every task it remembers is worked by other accounts now.
    assert!(repeat(&s, t + MIN).is_some_and(|v| v > 0.9), "{:?}", repeat(&s, t + MIN));
}

#[test]
fn remembered_tasks_keep_whether_they_were_sent_in_a_harness() {
    let mut e = entries::AccountE::default();
    for (task, agent) in [(1, true), (2, false), (3, true), (4, false)] {
        e.remember(task, agent);
    }
    assert_eq!((e.recent, e.in_harness), ([4, 3, 2, 1], 0b1010));
    e.remember(2, true); // found again: moves to the front, agent now
    assert_eq!((e.recent, e.in_harness), ([2, 4, 3, 1], 0b1101));
    e.remember(5, false); // the oldest goes
    assert_eq!((e.recent, e.in_harness), ([5, 2, 4, 3], 0b1010));
    e.remember(5, true);
    assert_eq!((e.recent, e.in_harness), ([5, 2, 4, 3], 0b1011));
}

#[test]
fn a_busy_account_rotating_on_every_request_reads_as_rotating() {
    // 300 requests in the window, each from a new /24, without an ASN: the 64-bit bitmap of
    // the account's prefixes is full after ~200, and counting new bits alone read 0.21 here
    // (about "reusing its addresses"). Linear counting saturates near 310 distinct prefixes.
    let mut s = State::new(&small_cfg());
    let lv = last_levels(&mut s, (0..300u64).map(|i| Observation { asn: None, ..obs(T0 + i * 20_000, 11, 1, 10_000 + i * 7) }));
    let rotation = lv.get(Signal::AccountIpRotation).unwrap();
    assert!(rotation > 0.8, "{rotation}");
    // Not `reusing` its addresses, so its churn is read.
    assert!(lv.get(Signal::AccountIpChurn).is_some_and(|c| c > 100.0), "{:?}", lv.get(Signal::AccountIpChurn));
    // A busy account on ten prefixes still reuses them.
    let lv = last_levels(&mut s, (0..300u64).map(|i| Observation { asn: None, ..obs(T0 + i * 20_000, 12, 1, 20_000 + i % 10) }));
    assert!(lv.get(Signal::AccountIpRotation).unwrap() < 0.1);
    assert_eq!(lv.get(Signal::AccountIpChurn), None);
}

/// Observes `series` in order; the levels of its last observation.
fn last_levels(s: &mut State, series: impl IntoIterator<Item = Observation>) -> Levels {
    let mut lv = Levels::default();
    for o in series {
        lv = Levels::default();
        s.observe(&o, &mut lv);
    }
    lv
}
