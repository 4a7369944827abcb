use super::*;

fn ip(s: &str) -> Option<IpAddr> {
    Some(s.parse().unwrap())
}

/// Feeds `windows` full windows of `f(i)` = (client, X-Forwarded-For entries) and returns
/// the findings of the windows.
fn run(c: &mut AddressCheck, windows: u32, hops: u32, f: impl Fn(u32) -> (Option<IpAddr>, u64)) -> Vec<Finding> {
    let mut out = Vec::new();
    for i in 0..windows * WINDOW {
        let (client, entries) = f(i);
        if c.record(client, entries, hops) {
            out.push(c.finding());
        }
    }
    out
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
    assert!(!c.record(ip("10.0.0.1"), 3, 0));
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
