//! Which leases a worker takes, the KCL's way: a lease is free when it has no owner, or when
//! its counter has not moved for the failover time (its owner stopped renewing); each worker
//! aims at its share (leases ÷ live workers, rounded up) and takes free leases first, then, if
//! still short while another worker holds more than its share, steals a few from the busiest.
//! The decision is a pure function of what the table showed and when, so tests drive it with
//! their own clock.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use rand::seq::SliceRandom;

use crate::lease::Lease;

/// When a lease's counter was last seen to change.
#[derive(Clone, Copy, Debug)]
pub struct Seen {
    counter: u64,
    since: Instant,
}

/// What the taker remembers between rounds.
#[derive(Default)]
pub struct Observations {
    seen: HashMap<String, Seen>,
}

/// A lease to take, at the counter it was seen with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Take {
    pub key: String,
    pub counter: u64,
    /// From a live worker (not a free lease).
    pub steal: bool,
    /// The owner changes (a switch is counted).
    pub switch: bool,
}

pub struct Limits {
    pub failover_time: Duration,
    pub max_leases_for_worker: usize,
    pub max_leases_to_steal: usize,
}

impl Observations {
    /// Notes the counters of a table scan made at `now`: a counter seen for the first time, or
    /// changed, counts as renewed now.
    pub fn update(&mut self, leases: &[Lease], now: Instant) {
        let keys: HashSet<&str> = leases.iter().map(|l| l.key.as_str()).collect();
        self.seen.retain(|k, _| keys.contains(k.as_str()));
        for l in leases {
            let fresh = self.seen.get(&l.key).is_none_or(|s| s.counter != l.counter);
            if fresh {
                self.seen.insert(
                    l.key.clone(),
                    Seen {
                        counter: l.counter,
                        since: now,
                    },
                );
            }
        }
    }

    /// Whether `lease` is free for `me` to take: unowned, owned by nobody alive (counter still
    /// for the failover time), or marked as ours but not held (a restart under the same name).
    fn free(
        &self,
        lease: &Lease,
        me: &str,
        held: &HashSet<String>,
        now: Instant,
        limits: &Limits,
    ) -> bool {
        match &lease.owner {
            None => true,
            Some(owner) if owner == me => !held.contains(&lease.key),
            Some(_) => self.seen.get(&lease.key).is_some_and(|s| {
                s.counter == lease.counter && now.duration_since(s.since) > limits.failover_time
            }),
        }
    }

    /// The leases `me` should take now, given the table (`leases`, just scanned and passed to
    /// [`Observations::update`]) and the leases it holds.
    pub fn plan(
        &self,
        leases: &[Lease],
        me: &str,
        held: &HashSet<String>,
        now: Instant,
        limits: &Limits,
    ) -> Vec<Take> {
        let active: Vec<&Lease> = leases.iter().filter(|l| !l.is_finished()).collect();
        if active.is_empty() {
            return Vec::new();
        }
        let (free, owned): (Vec<&Lease>, Vec<&Lease>) = active
            .iter()
            .partition(|l| self.free(l, me, held, now, limits));
        // Live workers and what they hold (this worker counts even with nothing).
        let mut load: BTreeMap<&str, Vec<&Lease>> = BTreeMap::new();
        load.insert(me, Vec::new());
        for l in &owned {
            if let Some(owner) = &l.owner {
                load.entry(owner.as_str()).or_default().push(l);
            }
        }
        let target = active
            .len()
            .div_ceil(load.len())
            .min(limits.max_leases_for_worker);
        let mine = held
            .iter()
            .filter(|k| active.iter().any(|l| &l.key == *k))
            .count();
        let needed = target.saturating_sub(mine);
        if needed == 0 {
            return Vec::new();
        }
        let mut rng = rand::thread_rng();
        if !free.is_empty() {
            let mut free = free;
            free.shuffle(&mut rng);
            return free
                .into_iter()
                .take(needed)
                .map(|l| Take {
                    key: l.key.clone(),
                    counter: l.counter,
                    steal: false,
                    switch: l.owner.as_deref() != Some(me),
                })
                .collect();
        }
        // Nothing free: steal from the busiest worker if it holds more than its share.
        let busiest = load
            .iter()
            .filter(|(w, _)| **w != me)
            .max_by_key(|(_, ls)| ls.len());
        let Some((_, theirs)) = busiest else {
            return Vec::new();
        };
        if theirs.len() <= target {
            return Vec::new();
        }
        let count = needed
            .min(theirs.len() - target)
            .min(limits.max_leases_to_steal);
        let mut theirs = theirs.clone();
        theirs.shuffle(&mut rng);
        theirs
            .into_iter()
            .take(count)
            .map(|l| Take {
                key: l.key.clone(),
                counter: l.counter,
                steal: true,
                switch: true,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lease::Checkpoint;

    fn lease(key: &str, owner: Option<&str>, counter: u64) -> Lease {
        let mut l = Lease::new(key, Checkpoint::TrimHorizon);
        l.owner = owner.map(str::to_owned);
        l.counter = counter;
        l
    }

    const LIMITS: Limits = Limits {
        failover_time: Duration::from_secs(10),
        max_leases_for_worker: usize::MAX,
        max_leases_to_steal: 1,
    };

    #[test]
    fn a_lone_worker_takes_every_free_lease() {
        let leases: Vec<Lease> = (0..4).map(|i| lease(&format!("s{i}"), None, 0)).collect();
        let mut obs = Observations::default();
        let t0 = Instant::now();
        obs.update(&leases, t0);
        let plan = obs.plan(&leases, "a", &HashSet::new(), t0, &LIMITS);
        assert_eq!(plan.len(), 4);
        assert!(plan.iter().all(|t| !t.steal && t.switch));
    }

    #[test]
    fn an_owned_lease_expires_only_after_its_counter_stood_still_for_the_failover_time() {
        let leases = vec![lease("s0", Some("b"), 5)];
        let mut obs = Observations::default();
        let t0 = Instant::now();
        obs.update(&leases, t0);
        // b holds its one lease; a's share is 1 of 1 lease over 2 workers: nothing free.
        assert!(obs
            .plan(&leases, "a", &HashSet::new(), t0, &LIMITS)
            .is_empty());
        let t1 = t0 + Duration::from_secs(9);
        obs.update(&leases, t1);
        assert!(obs
            .plan(&leases, "a", &HashSet::new(), t1, &LIMITS)
            .is_empty());
        // The counter moved at 9 s: b is alive, the clock starts again.
        let renewed = vec![lease("s0", Some("b"), 6)];
        obs.update(&renewed, t1);
        let t2 = t0 + Duration::from_secs(15);
        obs.update(&renewed, t2);
        assert!(obs
            .plan(&renewed, "a", &HashSet::new(), t2, &LIMITS)
            .is_empty());
        // Standing still for more than 10 s since 9 s: b is gone.
        let t3 = t0 + Duration::from_secs(20);
        obs.update(&renewed, t3);
        let plan = obs.plan(&renewed, "a", &HashSet::new(), t3, &LIMITS);
        assert_eq!(
            plan,
            vec![Take {
                key: "s0".into(),
                counter: 6,
                steal: false,
                switch: true
            }]
        );
    }

    #[test]
    fn a_new_worker_steals_one_at_a_time_toward_an_even_spread() {
        // 8 leases all held by a; b arrives.
        let mut leases: Vec<Lease> = (0..8)
            .map(|i| lease(&format!("s{i}"), Some("a"), 1))
            .collect();
        let mut obs = Observations::default();
        let mut now = Instant::now();
        let mut b_held = HashSet::new();
        for round in 0..10 {
            obs.update(&leases, now);
            let plan = obs.plan(&leases, "b", &b_held, now, &LIMITS);
            assert!(plan.len() <= 1, "round {round}: at most one steal a round");
            for t in plan {
                assert!(t.steal);
                let l = leases.iter_mut().find(|l| l.key == t.key).unwrap();
                l.owner = Some("b".into());
                l.counter += 1;
                b_held.insert(t.key);
            }
            // a keeps renewing what it holds.
            for l in leases
                .iter_mut()
                .filter(|l| l.owner.as_deref() == Some("a"))
            {
                l.counter += 1;
            }
            now += Duration::from_secs(20);
        }
        assert_eq!(b_held.len(), 4, "an even spread: 4 and 4");
        // And no more: a holds its share exactly.
        obs.update(&leases, now);
        assert!(obs.plan(&leases, "b", &b_held, now, &LIMITS).is_empty());
    }

    #[test]
    fn finished_shards_are_not_taken_and_do_not_count() {
        let mut done = lease("s0", None, 3);
        done.checkpoint = Checkpoint::ShardEnd;
        let leases = vec![done, lease("s1", None, 0)];
        let mut obs = Observations::default();
        let now = Instant::now();
        obs.update(&leases, now);
        let plan = obs.plan(&leases, "a", &HashSet::new(), now, &LIMITS);
        assert_eq!(
            plan.iter().map(|t| t.key.as_str()).collect::<Vec<_>>(),
            ["s1"]
        );
    }

    #[test]
    fn a_worker_takes_back_leases_under_its_own_name_after_a_restart() {
        let leases = vec![lease("s0", Some("a"), 9), lease("s1", Some("a"), 4)];
        let mut obs = Observations::default();
        let now = Instant::now();
        obs.update(&leases, now);
        let plan = obs.plan(&leases, "a", &HashSet::new(), now, &LIMITS);
        assert_eq!(plan.len(), 2);
        assert!(plan.iter().all(|t| !t.switch), "not an owner switch");
    }

    #[test]
    fn max_leases_for_worker_caps_the_share() {
        let leases: Vec<Lease> = (0..6).map(|i| lease(&format!("s{i}"), None, 0)).collect();
        let mut obs = Observations::default();
        let now = Instant::now();
        obs.update(&leases, now);
        let limits = Limits {
            max_leases_for_worker: 2,
            ..LIMITS
        };
        assert_eq!(
            obs.plan(&leases, "a", &HashSet::new(), now, &limits).len(),
            2
        );
    }
}
