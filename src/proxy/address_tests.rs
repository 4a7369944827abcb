use super::*;

fn ip(s: &str) -> Option<IpAddr> {
    Some(s.parse().unwrap())
}

/// Feeds `windows` full windows of `f(i)` = (client, X-Forwarded-For entries) and returns
/// the findings of the windows.
/// (With no entry beyond the trusted hops hashed: [`run_beyond`] names them.)
fn run(c: &mut AddressCheck, windows: u32, hops: u32, f: impl Fn(u32) -> (Option<IpAddr>, u64)) -> Vec<Finding> {
    run_beyond(c, windows, hops, |i| {
        let (ip, xff_entries) = f(i);
        ClientAddress { ip, xff_entries, beyond: 0 }
    })
}

fn run_beyond(c: &mut AddressCheck, windows: u32, hops: u32, f: impl Fn(u32) -> ClientAddress) -> Vec<Finding> {
    let mut out = Vec::new();
    for i in 0..windows * WINDOW {
        if c.record(f(i), hops) {
            out.push(c.finding());
        }
    }
    out
}

/// An opaque hash for client `k` (what `client_address` makes of an entry).
fn client_hash(k: u32) -> u64 {
    xxhash_rust::xxh3::xxh3_64(&k.to_le_bytes())
}

/// A public client address per request, spread over many networks.
fn public(i: u32) -> Option<IpAddr> {
    Some(IpAddr::from([20 + (i % 150) as u8, (i / 7 % 250) as u8, (i % 13) as u8, 9]))
}

#[test]
fn internal_addresses_are_private_loopback_shared_and_local() {
    for a in ["10.1.2.3", "172.16.0.1", "192.168.9.9", "127.0.0.1", "169.254.1.1", "100.64.0.1", "100.127.255.1", "::1", "fd00::1", "fe80::1"] {
        assert!(is_internal(a.parse().unwrap()), "{a}");
    }
    for a in ["8.8.8.8", "100.63.0.1", "100.128.0.1", "172.32.0.1", "2001:db8::1", "2a00:1450::1"] {
        assert!(!is_internal(a.parse().unwrap()), "{a}");
    }
}

#[test]
fn a_correct_deployment_is_quiet() {
    let mut c = AddressCheck::default();
    // Behind one trusted hop: one entry each, a few clients behind their own proxies (two).
    assert!(run(&mut c, 20, 1, |i| (public(i), if i % 10 == 0 { 2 } else { 1 })).iter().all(|f| *f == Finding::Ok));
    // At the edge (no trusted hop): no header, or a client's own proxy's.
    let mut c = AddressCheck::default();
    assert!(run(&mut c, 20, 0, |i| (public(i), u64::from(i % 5 == 0))).iter().all(|f| *f == Finding::Ok));
    // Before the first full window nothing is judged.
    let mut c = AddressCheck::default();
    assert!(!c.record(ClientAddress { ip: ip("10.0.0.1"), xff_entries: 3, beyond: 1 }, 0));
    assert_eq!(c.finding(), Finding::Unknown);
}

#[test]
fn a_load_balancer_taken_for_the_client_is_found_in_the_first_window() {
    let mut c = AddressCheck::default();
    // trusted_hops 0 behind a private load balancer: every request from it, with the client in XFF.
    let found = run(&mut c, 2, 0, |_| (ip("10.1.2.3"), 1));
    let lb = Finding::OneProxy { network: ip("10.1.2.0"), private: true, percent: 100 };
    assert_eq!(found, vec![lb, lb]);
    let m = lb.message().unwrap();
    assert!(m.contains("100 % of the last 256 requests came from private addresses (among them 10.1.2.0/24)"), "{m}");
    assert!(m.contains("raise proxy.trusted_hops"), "{m}");
    // Fixed (trusted_hops 1 now).
    assert_eq!(run(&mut c, 1, 1, |i| (public(i), 1)), vec![Finding::Ok]);
    assert_eq!(Finding::Ok.message(), None);
}

#[test]
fn a_public_load_balancer_is_found_by_its_network_in_the_next_window() {
    let mut c = AddressCheck::default();
    // Several public addresses of one /24 (a cloud load balancer's), 80 % of the traffic.
    let lb = |i: u32| if i % 5 == 0 { (public(i), 0) } else { (Some(IpAddr::from([34, 120, 7, (i % 4) as u8])), 1) };
    let found = run(&mut c, 2, 0, lb);
    assert_eq!(found[0], Finding::Ok, "the first window only elects the network");
    let m = found[1].message().unwrap();
    assert!(m.contains("80 % of the last 256 requests came from one network (34.120.7.0/24)"), "{m}");
    // With the clients' entries counted, the same balancer is found in the first window.
    let lb_clients = |i: u32| {
        let (ip, xff_entries) = lb(i);
        ClientAddress { ip, xff_entries, beyond: if xff_entries > 0 { client_hash(i % 97) } else { 0 } }
    };
    let found = run_beyond(&mut AddressCheck::default(), 1, 0, lb_clients);
    assert!(matches!(found[0], Finding::ProxyLayer { networks: 1, percent: 80, .. }), "{found:?}");
    let m = found[0].message().unwrap();
    assert!(m.contains("80 % of the last 256 requests came from one network (34.120.7.0/24) on behalf of about"), "{m}");
    // Public clients' own proxies, spread over many networks, are not one network.
    let mut c = AddressCheck::default();
    assert!(run(&mut c, 5, 0, |i| (public(i), 1)).iter().all(|f| *f == Finding::Ok));
}

#[test]
fn too_many_trusted_hops_let_clients_choose_their_address() {
    let mut c = AddressCheck::default();
    // trusted_hops 2 but the infrastructure adds one entry: the client's own entry, if any, is taken.
    let found = run(&mut c, 1, 2, |i| (public(i), 1));
    assert_eq!(found, vec![Finding::Spoofable { percent: 100, trusted_hops: 2 }]);
    let m = found[0].message().unwrap();
    assert!(m.contains("100 % of the last 256 requests carried fewer X-Forwarded-For entries than proxy.trusted_hops (2)"), "{m}");
    // trusted_hops 1 and no header at all (no proxy in front).
    let mut c = AddressCheck::default();
    assert_eq!(run(&mut c, 1, 1, |i| (public(i), 0)), vec![Finding::Spoofable { percent: 100, trusted_hops: 1 }]);
}

#[test]
fn networks_are_written_as_their_prefix() {
    assert_eq!(cidr("10.1.2.0".parse().unwrap()), "10.1.2.0/24");
    assert_eq!(cidr(network_of("2001:db8:1:2::9".parse().unwrap())), "2001:db8:1::/48");
    assert_eq!(cidr(network_of("::1".parse().unwrap())), "0:0:0::/48");
}

#[test]
fn requests_without_a_client_address_are_named() {
    let mut c = AddressCheck::default();
    let found = run(&mut c, 1, 0, |i| (if i % 4 == 0 { public(i) } else { None }, 0));
    assert_eq!(found, vec![Finding::Missing { percent: 75 }]);
    let m = found[0].message().unwrap();
    assert!(m.contains("75 % of the last 256 requests had no client address"), "{m}");
}

#[test]
fn a_cdn_spread_over_networks_is_found_by_its_many_clients() {
    // trusted_hops 0 behind a CDN: 71 % of the requests reach the gateway from 12 edge /24s
    // (four addresses each), on behalf of about a hundred clients the CDN appends to X-Forwarded-For.
    let edge = |i: u32| Some(IpAddr::from([104, 16, (i % 12) as u8, (i / 12 % 4) as u8]));
    let cdn = |i: u32| {
        if i % 10 < 7 {
            ClientAddress { ip: edge(i), xff_entries: 1, beyond: client_hash(i * 7 % 150) }
        } else {
            ClientAddress { ip: public(i), xff_entries: 0, beyond: 0 }
        }
    };
    let mut c = AddressCheck::default();
    let found = run_beyond(&mut c, 2, 0, cdn);
    let Finding::ProxyLayer { networks, clients, percent, .. } = found[0] else { panic!("{found:?}") };
    assert_eq!(percent, 71);
    let exact = (0..WINDOW).filter(|i| i % 10 < 7).map(|i| i * 7 % 150).collect::<std::collections::HashSet<_>>().len() as f64;
    assert!((11..=13).contains(&networks) && (f64::from(clients) - exact).abs() <= 0.08 * exact, "{networks} {clients} {exact}");
    let m = found[0].message().unwrap();
    assert!(m.contains(&format!("71 % of the last 256 requests came from {networks} networks (among them 104.16.")), "{m}");
    assert!(m.contains(&format!("on behalf of about {clients} distinct clients")) && m.contains("raise proxy.trusted_hops"), "{m}");
    // The same warning as one network's (one line, whichever way a window shows it).
    assert_eq!(found[0].kind(), Finding::OneProxy { network: None, private: false, percent: 50 }.kind());
    // The same over IPv6: 12 edge /48s.
    let edge6 = |i: u32| Some(IpAddr::from([0x2606, 0x4700, (i % 12) as u16, (i / 12 % 4) as u16, 0, 0, 0, 1]));
    let cdn6 = |i: u32| ClientAddress { ip: if i % 10 < 7 { edge6(i) } else { public(i) }, ..cdn(i) };
    let found = run_beyond(&mut AddressCheck::default(), 1, 0, cdn6);
    assert!(matches!(found[0], Finding::ProxyLayer { networks: 11..=13, percent: 71, .. }), "{found:?}");
    assert!(found[0].message().unwrap().contains("(among them 2606:4700:"), "{found:?}");
    // Fixed: one trusted hop takes the CDN's entry, and nothing is beyond it.
    let fixed = |i: u32| ClientAddress { xff_entries: u64::from(i % 10 < 7), ..cdn(i) };
    assert!(run_beyond(&mut c, 2, 1, |i| ClientAddress { beyond: 0, ..fixed(i) }).iter().all(|f| *f == Finding::Ok));
}

#[test]
fn proxies_that_do_not_gather_clients_are_no_proxy_layer() {
    // Every client behind its own proxy (peers over many networks, one client each).
    let own = |i: u32| ClientAddress { ip: public(i), xff_entries: 1, beyond: client_hash(i) };
    assert!(run_beyond(&mut AddressCheck::default(), 4, 0, own).iter().all(|f| *f == Finding::Ok));
    // A proxy pool's exits over many networks naming a campaign's three machines.
    let pool = |i: u32| ClientAddress { ip: public(i), xff_entries: 1, beyond: client_hash(i % 3) };
    assert!(run_beyond(&mut AddressCheck::default(), 4, 0, pool).iter().all(|f| *f == Finding::Ok));
    // A few clients behind two networks: too few to tell.
    let few = |i: u32| ClientAddress { ip: Some(IpAddr::from([104, 16, (i % 2) as u8, 1])), xff_entries: 1, beyond: client_hash(i % 12) };
    assert!(run_beyond(&mut AddressCheck::default(), 4, 0, few).iter().all(|f| *f == Finding::Ok));
}

#[test]
fn distinct_counts_are_estimated_within_a_few_percent() {
    for n in [0u32, 1, 10, 100, 256] {
        let mut d = Distinct::default();
        for k in 0..n {
            d.insert(client_hash(k));
            d.insert(client_hash(k)); // a repeat counts once
        }
        let e = d.estimate();
        assert!((e - f64::from(n)).abs() <= 2.0 + 0.08 * f64::from(n), "{n}: {e}");
    }
}
