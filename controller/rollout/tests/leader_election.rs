//! The leader-election adapter and loops against the loopback Kubernetes API fake shared with
//! the process tests (no API server can run here): 409 on a second create and on a stale
//! resourceVersion, exactly one of two racing candidates wins, the other takes over only
//! after the lease expired, and a leader whose renewals fail closes its fence.

use rollgate_kube_fake::KubeFake;
use rollgate_rollout::leader::decision::{LeaseRecord, Observed};
use rollgate_rollout::leader::elector::{LeaderElector, Leadership};
use rollgate_rollout::leader::lease_api::{LeaseApi, Written};
use rollgate_rollout::leader::{Fence, LeaderConfig};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn client(api: &KubeFake, user: &str) -> kube::Client {
    api.client_as(user).expect("client")
}

fn config(identity: &str) -> LeaderConfig {
    LeaderConfig {
        lease_duration_ms: 2_000,
        renew_deadline_ms: 1_000,
        retry_period_ms: 100,
        ..LeaderConfig::new("ml", "rollgate-test", identity)
    }
}

fn elector(api: &KubeFake, identity: &str) -> LeaderElector {
    let leases = LeaseApi::new(client(api, identity), "ml", "rollgate-test");
    LeaderElector::new(leases, config(identity), now_ms, Arc::new(|_: &str| {})).expect("valid")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn record(holder: &str) -> LeaseRecord {
    LeaseRecord {
        holder: Some(holder.to_string()),
        acquire_time_ms: Some(now_ms()),
        renew_time_ms: Some(now_ms()),
        lease_duration_ms: 2_000,
        transitions: 0,
    }
}

#[test]
fn a_second_create_and_a_stale_replace_get_409() {
    let api = KubeFake::start();
    runtime().block_on(async {
        let a = LeaseApi::new(client(&api, "a"), "ml", "rollgate-test");
        let b = LeaseApi::new(client(&api, "b"), "ml", "rollgate-test");
        assert_eq!(a.get().await.expect("get"), None, "404 is no lease");
        assert!(matches!(a.create(&record("a")).await, Ok(Written::Ok(_))));
        assert_eq!(
            b.create(&record("b")).await.expect("answered"),
            Written::Conflict
        );
        let (read, rv) = b.get().await.expect("get").expect("exists");
        assert_eq!(read.holder.as_deref(), Some("a"));
        let stale = Observed {
            record: read,
            resource_version: rv,
            seen_at_ms: now_ms(),
        };
        let Ok(Written::Ok(new_rv)) = a.replace(&stale, &record("a")).await else {
            panic!("a's renewal with the current resourceVersion");
        };
        assert!(new_rv.parse::<u64>().expect("rv") > stale.resource_version.parse().expect("rv"));
        assert_eq!(
            b.replace(&stale, &record("b")).await.expect("answered"),
            Written::Conflict,
            "b's takeover based on a stale read loses"
        );
        assert_eq!(
            b.get()
                .await
                .expect("get")
                .expect("exists")
                .0
                .holder
                .as_deref(),
            Some("a")
        );
    });
}

#[test]
fn of_two_racing_candidates_one_leads_and_the_other_takes_over_only_after_expiry() {
    let api = KubeFake::start();
    runtime().block_on(async {
        let mut a = tokio::spawn(elector(&api, "a").acquire());
        let mut b = tokio::spawn(elector(&api, "b").acquire());
        let (winner, mut loser): (Leadership, _) = tokio::select! {
            won = &mut a => (won.expect("a"), b),
            won = &mut b => (won.expect("b"), a),
        };
        assert!(winner.check(now_ms()).is_ok());
        // The loser keeps following while the winner renews (1.5 lease durations).
        let followed = tokio::time::timeout(Duration::from_secs(3), &mut loser).await;
        assert!(
            followed.is_err(),
            "the follower took a lease that was being renewed"
        );
        // The winner stops renewing (as if killed): the loser leads after the lease expired.
        drop(winner);
        let stopped = Instant::now();
        let second = tokio::time::timeout(Duration::from_secs(10), loser)
            .await
            .expect("takeover")
            .expect("task");
        let waited = stopped.elapsed();
        assert!(second.check(now_ms()).is_ok());
        assert!(
            waited >= Duration::from_millis(1_800),
            "took over {waited:?} after the last possible renewal"
        );
    });
    let leases: Vec<_> = api.log().into_iter().filter(|e| e.is_write()).collect();
    let rvs: Vec<u64> = leases.iter().filter_map(|e| e.written_rv).collect();
    assert!(rvs.windows(2).all(|w| w[0] < w[1]));
    let holders: Vec<&str> = leases
        .iter()
        .map(|e| e.body["spec"]["holderIdentity"].as_str().unwrap_or(""))
        .collect();
    let switch = holders.windows(2).filter(|w| w[0] != w[1]).count();
    assert_eq!(switch, 1, "one transition: {holders:?}");
    let last = leases.last().expect("writes");
    assert_eq!(last.body["spec"]["leaseTransitions"], 1);
}

#[test]
fn a_leader_whose_renewals_fail_closes_its_fence_within_the_renew_deadline() {
    let api = KubeFake::start();
    runtime().block_on(async {
        let leader = elector(&api, "a").acquire().await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(leader.check(now_ms()).is_ok());
        api.set_lease_outage(true);
        let outage = Instant::now();
        while leader.check(now_ms()).is_ok() {
            assert!(
                outage.elapsed() < Duration::from_secs(5),
                "fence still open"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let closed = outage.elapsed();
        assert!(
            closed <= Duration::from_millis(1_000),
            "closed {closed:?} after the outage"
        );
        let lost = tokio::time::timeout(Duration::from_secs(2), async {
            loop {
                if let Some(reason) = leader.lost() {
                    return reason;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .expect("the renewer gives up");
        assert!(
            lost.contains("renew deadline") && lost.contains("500"),
            "{lost}"
        );
        api.set_lease_outage(false);
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            leader.check(now_ms()).is_err(),
            "leadership once lost stays lost"
        );
    });
}
