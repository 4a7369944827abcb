//! When each account sends: diurnal sessions for people (local working hours, quieter
//! weekends, bursts of a few requests minutes apart), batch bursts and steady streams for
//! heavy users, and scheduler waves plus random fill for campaign workers.
//!
//! Returns plain millisecond timestamps; what is sent at each is decided elsewhere.

use super::rng::Rng;

/// Relative activity per local hour of day.
pub const DIURNAL: [f64; 24] = [
    0.15, 0.08, 0.05, 0.04, 0.04, 0.06, 0.15, 0.35, 0.6, 0.85, 1.0, 1.0, 0.9, 0.95, 1.0, 1.0, 0.95, 0.85, 0.75, 0.75,
    0.7, 0.6, 0.45, 0.3,
];

const DAY_MS: u64 = 86_400_000;
const HOUR_MS: u64 = 3_600_000;

/// Activity factor of the UTC day starting at `day_start_ms` (weekends are quieter).
pub fn day_factor(day_start_ms: u64) -> f64 {
    // 1970-01-01 was a Thursday: day 0 -> weekday 3 (Mon = 0).
    match (day_start_ms / DAY_MS + 3) % 7 {
        5 | 6 => 0.55,
        _ => 1.0,
    }
}

/// A time within the UTC day `day_start`, drawn by the diurnal curve at UTC offset `tz`.
fn diurnal_time(r: &mut Rng, day_start: u64, tz: i32) -> u64 {
    let local = r.weighted(&DIURNAL) as i64;
    let utc_hour = (local - tz as i64).rem_euclid(24) as u64;
    day_start + utc_hour * HOUR_MS + r.below(HOUR_MS)
}

/// Sessions of a person: per day active with probability `active`, about `per_day`
/// requests in sessions of ~3 requests, 5 s to a few minutes apart.
pub fn person(r: &mut Rng, start: u64, end: u64, tz: i32, per_day: f64, active: f64) -> Vec<u64> {
    let mut out = Vec::new();
    let mut day = start - start % DAY_MS;
    while day < end {
        let f = day_factor(day);
        if r.chance(active * f.sqrt()) {
            let mut n = r.poisson(per_day * f.sqrt()) as usize;
            while n > 0 {
                let len = (1 + r.poisson(2.0) as usize).min(n);
                n -= len;
                let mut t = diurnal_time(r, day, tz);
                for _ in 0..len {
                    if (start..end).contains(&t) {
                        out.push(t);
                    }
                    t += 5_000 + r.exp(70_000.0) as u64;
                }
            }
        }
        day += DAY_MS;
    }
    out
}

/// A heavy account: `per_day` requests either in a few batch bursts (1-4 s apart) or as a
/// steady diurnal stream (a product serving its own users).
pub fn heavy(r: &mut Rng, start: u64, end: u64, tz: i32, per_day: f64, bursts: bool) -> Vec<u64> {
    let mut out = Vec::new();
    let mut day = start - start % DAY_MS;
    while day < end {
        let n = r.poisson(per_day * day_factor(day)) as usize;
        if bursts {
            let batches = r.range(1, 4) as usize;
            for b in 0..batches {
                let mut t = diurnal_time(r, day, tz);
                for _ in 0..n / batches + usize::from(b < n % batches) {
                    if (start..end).contains(&t) {
                        out.push(t);
                    }
                    t += 1_000 + r.below(3_000);
                }
            }
        } else {
            for _ in 0..n {
                let t = diurnal_time(r, day, tz);
                if (start..end).contains(&t) {
                    out.push(t);
                }
            }
        }
        day += DAY_MS;
    }
    out
}

/// A campaign worker account: Poisson(`per_day` x days) requests; a `sync` share falls in
/// scheduler waves every `wave_ms` (spread `jitter_ms`), the rest at random times (around the
/// clock, or by the diurnal curve at offset `tz` when `diurnal`).
#[allow(clippy::too_many_arguments)]
pub fn worker(r: &mut Rng, start: u64, end: u64, per_day: f64, sync: f64, wave_ms: u64, jitter_ms: u64, diurnal: Option<i32>) -> Vec<u64> {
    if end <= start {
        return Vec::new();
    }
    let span = end - start;
    let n = r.poisson(per_day * span as f64 / DAY_MS as f64) as usize;
    let waves = span / wave_ms.max(1);
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let t = if waves > 0 && r.chance(sync) {
            start + r.below(waves) * wave_ms + r.below(jitter_ms + 1)
        } else if let Some(tz) = diurnal {
            let day = start - start % DAY_MS + r.below((end - (start - start % DAY_MS)).div_ceil(DAY_MS)) * DAY_MS;
            diurnal_time(r, day, tz)
        } else {
            start + r.below(span)
        };
        if (start..end).contains(&t) {
            out.push(t);
        }
    }
    out
}

/// Agent sessions: on each day (every day with `tz` `None`, around the clock; otherwise
/// active with probability `active`, by the diurnal curve at offset `tz`) about `per_day`
/// sessions, each of about `turns` requests (at least one) 3-40 s apart, as a model answers
/// and tools run. Returns `(time, session << 8 | turn)`: sessions numbered from 0 per
/// account, turns from 0 (capped at 255).
#[allow(clippy::too_many_arguments)]
pub fn sessions(r: &mut Rng, start: u64, end: u64, tz: Option<i32>, per_day: f64, turns: f64, active: f64) -> Vec<(u64, u32)> {
    let mut out = Vec::new();
    let mut session = 0u32;
    let mut day = start - start % DAY_MS;
    while day < end && session < 1 << 24 {
        let f = day_factor(day);
        let on = tz.is_none() || r.chance(active * f.sqrt());
        let n = if on { r.poisson(per_day * if tz.is_some() { f.sqrt() } else { 1.0 }) } else { 0 };
        for _ in 0..n {
            let mut t = match tz {
                Some(tz) => diurnal_time(r, day, tz),
                None => day + r.below(DAY_MS),
            };
            let len = (1 + r.poisson((turns - 1.0).max(0.0))).min(256) as u32;
            for turn in 0..len {
                if (start..end).contains(&t) {
                    out.push((t, session << 8 | turn));
                }
                t += 3_000 + r.exp(12_000.0).min(37_000.0) as u64;
            }
            session += 1;
        }
        day += DAY_MS;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MON: u64 = 1_772_409_600_000;

    #[test]
    fn weekdays_and_weekends() {
        assert_eq!(day_factor(MON), 1.0);
        assert_eq!(day_factor(MON + 5 * DAY_MS), 0.55);
        assert_eq!(day_factor(MON + 7 * DAY_MS), 1.0);
    }

    #[test]
    fn people_follow_the_day_and_stay_in_range() {
        let mut r = Rng::new(1);
        let end = MON + 2 * DAY_MS;
        let mut by_hour = [0u32; 24];
        for _ in 0..300 {
            for t in person(&mut r, MON, end, 0, 8.0, 1.0) {
                assert!((MON..end).contains(&t));
                by_hour[((t % DAY_MS) / HOUR_MS) as usize] += 1;
            }
        }
        assert!(by_hour[14] > 4 * by_hour[3], "{by_hour:?}");
    }

    #[test]
    fn sessions_are_bursts_of_numbered_turns() {
        let mut r = Rng::new(4);
        let ev = sessions(&mut r, MON, MON + 3 * DAY_MS, Some(0), 3.0, 8.0, 1.0);
        assert!(ev.len() > 20);
        let mut by_session = std::collections::BTreeMap::<u32, Vec<(u64, u32)>>::new();
        for &(t, aux) in &ev {
            by_session.entry(aux >> 8).or_default().push((t, aux & 0xff));
        }
        for turns in by_session.values() {
            assert!(turns.windows(2).all(|w| w[1].1 == w[0].1 + 1 && w[1].0 - w[0].0 >= 3_000 && w[1].0 - w[0].0 <= 40_000), "{turns:?}");
        }
    }

    #[test]
    fn workers_hit_the_waves() {
        let mut r = Rng::new(2);
        let end = MON + DAY_MS;
        let ts = worker(&mut r, MON, end, 200.0, 1.0, 300_000, 10_000, None);
        assert!(ts.len() > 150);
        assert!(ts.iter().all(|t| (t - MON) % 300_000 <= 10_000));
        let free = worker(&mut r, MON, end, 200.0, 0.0, 300_000, 10_000, None);
        assert!(free.iter().filter(|t| (*t - MON) % 300_000 > 10_000).count() > free.len() / 2);
    }
}
