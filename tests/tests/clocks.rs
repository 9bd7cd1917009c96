//! Clocks that are never stale: a job nobody touches still turns "due soon" and "overdue" in the
//! server's lists, through the daily recomputation, and the recomputation runs once per day.

use field_core::job::local_date;
use field_core::{Edit, JobKind, Role};
use fieldline_server::authz::Principal;
use fieldline_server::service::clocks;
use fieldline_server::service::listing::{self, ListFilter};
use fieldline_tests::*;

fn office(env: &fieldline_server::Env) -> Principal {
    let user = env
        .store
        .read()
        .unwrap()
        .user_by_name("office1")
        .unwrap()
        .unwrap();
    Principal {
        user_id: user.id,
        username: "office1".into(),
        display_name: "office1".into(),
        role: Role::OfficeStaff,
        unit: "zhuxian".into(),
        device_id: "test".into(),
        actor: None,
    }
}

fn sla_of(env: &fieldline_server::Env, who: &Principal, job_no: &str) -> (String, String) {
    let l = listing::list(
        env,
        who,
        &ListFilter {
            q: job_no.into(),
            ..Default::default()
        },
    )
    .unwrap();
    let row = &l.rows[0];
    (
        row.sla_state.clone().unwrap_or_default(),
        row.next_due.clone().unwrap_or_default(),
    )
}

#[tokio::test]
async fn an_untouched_job_turns_overdue_by_the_daily_recomputation() {
    let server = TestServer::start().await;
    server.add_user("office1", Role::OfficeStaff, "zhuxian");
    server.add_user("cm-a", Role::CustomerManager, "zhuxian");
    let phone = Phone::login(&server, "office1").await;
    // Accepted now and handed over: the whole-job clock of a small/micro enterprise runs.
    let mut accepted = new_job(JobKind::LowVoltageSmallMicro, "zhuxian", "周建国");
    accepted.accepted_at = chrono::Utc::now();
    let job = phone.store.create_job("office1", &accepted).unwrap();
    assign(&phone, &job.id, Some("cm-a"), None);
    phone.sync().await;
    let env = server.env().clone();
    let who = office(&env);
    let today = local_date(chrono::Utc::now());
    let (state, due) = sla_of(&env, &who, &job.job_no);
    assert!(!due.is_empty(), "a running clock");
    assert_ne!(state, "overdue");

    // Nobody touches the job; weeks pass.
    let later = today + chrono::Duration::days(40);
    let done = env
        .blocking(move |env| clocks::refresh(env, later))
        .await
        .unwrap();
    assert!(done.jobs >= 1 && done.changed >= 1, "{done:?}");
    let (state, due_after) = sla_of(&env, &who, &job.job_no);
    assert_eq!(state, "overdue");
    assert_eq!(due_after, due, "the due date itself does not move");
    let overdue = listing::list(
        &env,
        &who,
        &ListFilter {
            sla: "overdue".into(),
            ..Default::default()
        },
    )
    .unwrap();
    assert!(overdue.rows.iter().any(|r| r.job_id == job.id));
    // "Recently changed" is about people's changes: the recomputation leaves it alone.
    let before = listing::list(&env, &who, &ListFilter::default())
        .unwrap()
        .rows[0]
        .updated_at;
    assert!(before <= chrono::Utc::now().timestamp_millis());

    // Once per day: the second call of the same day does nothing.
    let first = env
        .blocking(move |env| clocks::refresh_if_new_day(env, later))
        .await
        .unwrap();
    assert!(first.is_some());
    let again = env
        .blocking(move |env| clocks::refresh_if_new_day(env, later))
        .await
        .unwrap();
    assert_eq!(again, None);

    // A change recomputes at once, as of today: back to the real state.
    phone
        .store
        .edit(
            &job.id,
            "office1",
            &Edit::SetNotes {
                text: "催办".into(),
            },
        )
        .unwrap();
    phone.sync().await;
    let (state, _) = sla_of(&env, &who, &job.job_no);
    assert_ne!(state, "overdue");
}

#[tokio::test]
async fn periodic_work_runs_on_one_node_at_a_time() {
    use fieldline_server::service::lease;
    use std::time::Duration;
    let server = TestServer::start().await;
    let env = server.env().clone();
    let hour = Duration::from_secs(3600);
    assert!(lease::claim(&env, "periodic", "node-a", hour).unwrap());
    assert!(
        !lease::claim(&env, "periodic", "node-b", hour).unwrap(),
        "held by a"
    );
    assert!(
        lease::claim(&env, "periodic", "node-a", hour).unwrap(),
        "a renews"
    );
    assert!(
        lease::claim(&env, "other-work", "node-b", hour).unwrap(),
        "leases are by name"
    );
    // A holder that stops renewing loses the lease once it expires.
    assert!(lease::claim(&env, "periodic", "node-a", Duration::ZERO).unwrap());
    std::thread::sleep(Duration::from_millis(5));
    assert!(
        lease::claim(&env, "periodic", "node-b", hour).unwrap(),
        "b takes over"
    );
    assert!(!lease::claim(&env, "periodic", "node-a", hour).unwrap());
}
