//! Defender XDR response actions through the running platform (`RunningPlatform::act`)
//! against the simulated Graph security API over loopback: an update of the five updatable
//! properties, a comment, what Graph v1.0 cannot take, a missing incident, the missing
//! write permission, one comment per idempotency key, and a throttled write retried after
//! Graph's `Retry-After`.

mod defender_support;

use std::sync::Arc;

use defender_support::*;
use serde_json::json;
use ucp_core::credentials::{CredentialRef, CredentialStore, MemoryCredentials};
use ucp_core::health::{HealthKind, HealthQuery, HealthService, Status};
use ucp_core::{
    ActOptions, ActionError, ActionOutcome, ActionRequest, Platform, RunningPlatform,
    DEFAULT_TENANT,
};
use ucp_sources::defender::{DefenderSource, ADD_COMMENT, UPDATE_INCIDENT};
use ucp_testkit::faults::{Fault, Faults};
use ucp_testkit::graph::{GraphSimConfig, GraphSimulator, IncidentEdit};

const WRITE_ROLES: &[&str] = &["SecurityIncident.ReadWrite.All"];

async fn platform(sim: &GraphSimulator, health: Arc<HealthService>) -> RunningPlatform {
    let store = Arc::new(MemoryCredentials::new());
    store
        .put(
            CredentialRef::new(DEFAULT_TENANT, CREDENTIAL),
            credential(sim, SECRET),
        )
        .await
        .unwrap();
    Platform::builder()
        .credentials(store)
        .health(health)
        .source("defender", DefenderSource::new(config(sim)).unwrap())
        .build()
        .expect("valid")
        .start()
        .await
        .expect("starts")
}

fn first_incident(sim: &GraphSimulator) -> String {
    sim.incident_versions()[0].0.clone()
}

#[tokio::test]
async fn an_update_and_a_comment_reach_the_incident() {
    let sim = tenant(
        GraphSimConfig::default().incidents(5).alerts(10),
        WRITE_ROLES,
    )
    .await;
    let health = Arc::new(HealthService::builder().build());
    let running = platform(&sim, health.clone()).await;
    let id = first_incident(&sim);

    let offered: Vec<String> = running
        .actions("defender")
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.name)
        .collect();
    assert_eq!(offered, [UPDATE_INCIDENT, ADD_COMMENT]);

    let update = ActionRequest::new(
        UPDATE_INCIDENT,
        json!({"incident_id": id, "status": "resolved", "classification": "truePositive",
               "determination": "malware", "assignedTo": "ann@contoso.com",
               "customTags": ["ransomware", "tier-1"]}),
    );
    let result = running
        .act("defender", update, ActOptions::default())
        .await
        .expect("performed");
    let ActionOutcome::Done { detail } = &result.outcome else {
        panic!("{result:?}")
    };
    assert_eq!(detail["status"], "resolved");
    assert_eq!(result.attempts, 1);
    let incident = sim.incident(&id).unwrap();
    assert_eq!(incident["status"], "resolved");
    assert_eq!(incident["classification"], "truePositive");
    assert_eq!(incident["determination"], "malware");
    assert_eq!(incident["assignedTo"], "ann@contoso.com");
    assert_eq!(incident["customTags"], json!(["ransomware", "tier-1"]));
    assert_eq!(incident["lastModifiedBy"], format!("API-App:{CLIENT_ID}"));

    let comment = ActionRequest::new(
        ADD_COMMENT,
        json!({"incident_id": id, "comment": "Contained by isolating wks-0142."}),
    );
    let result = running
        .act("defender", comment, ActOptions::default())
        .await
        .expect("performed");
    let ActionOutcome::Done { detail } = &result.outcome else {
        panic!("{result:?}")
    };
    assert_eq!(detail["comments"], 1);
    let incident = sim.incident(&id).unwrap();
    assert_eq!(
        incident["comments"][0]["comment"],
        "Contained by isolating wks-0142."
    );
    assert_eq!(
        incident["comments"][0]["createdByDisplayName"],
        format!("API-App:{CLIENT_ID}")
    );

    // The simulator kept both writes with what they changed.
    let writes = sim.writes();
    assert_eq!(writes.len(), 2);
    assert_eq!(
        writes[0].changed,
        [
            "status",
            "classification",
            "determination",
            "assignedTo",
            "customTags"
        ]
    );
    assert_eq!(writes[1].changed, ["comments"]);
    let rows = health
        .table()
        .query(
            &HealthQuery::new()
                .connector("defender")
                .kind(HealthKind::Action),
        )
        .await
        .unwrap();
    assert_eq!(rows.first().map(|r| r.status), Some(Status::Ok));
}

#[tokio::test]
async fn what_graph_cannot_take_is_refused_before_any_call_and_a_missing_incident_is_an_answer() {
    let sim = tenant(GraphSimConfig::default().incidents(2), WRITE_ROLES).await;
    let running = platform(&sim, Arc::new(HealthService::builder().build())).await;
    let id = first_incident(&sim);

    let severity = ActionRequest::new(
        UPDATE_INCIDENT,
        json!({"incident_id": id, "severity": "high"}),
    );
    match running
        .act("defender", severity, ActOptions::default())
        .await
    {
        Err(ActionError::Failed { message, .. }) => {
            assert!(
                message.contains("cannot be updated through Graph v1.0"),
                "{message}"
            )
        }
        other => panic!("{other:?}"),
    }
    let in_progress = ActionRequest::new(
        UPDATE_INCIDENT,
        json!({"incident_id": id, "status": "inProgress"}),
    );
    assert!(running.plan_action("defender", &in_progress).await.is_err());
    assert!(sim.writes().is_empty(), "nothing was sent");

    let missing = ActionRequest::new(
        UPDATE_INCIDENT,
        json!({"incident_id": "99999999", "status": "active"}),
    );
    let result = running
        .act("defender", missing, ActOptions::default())
        .await
        .expect("an answer");
    match result.outcome {
        ActionOutcome::Refused { reason } => assert!(reason.contains("99999999"), "{reason}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn without_the_write_permission_the_failure_names_it() {
    let sim = tenant(
        GraphSimConfig::default().incidents(2),
        &["SecurityIncident.Read.All"],
    )
    .await;
    let health = Arc::new(HealthService::builder().build());
    let running = platform(&sim, health.clone()).await;
    let request = ActionRequest::new(
        ADD_COMMENT,
        json!({"incident_id": first_incident(&sim), "comment": "hello"}),
    );
    match running
        .act("defender", request, ActOptions::default())
        .await
    {
        Err(ActionError::Failed { message, .. }) => {
            assert!(
                message.contains("SecurityIncident.ReadWrite.All"),
                "{message}"
            );
            assert!(message.contains("Grant admin consent"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(sim.counts().forbidden, 1, "a refusal is not retried");
    let rows = health
        .table()
        .query(
            &HealthQuery::new()
                .connector("defender")
                .kind(HealthKind::Action),
        )
        .await
        .unwrap();
    assert_eq!(rows.first().map(|r| r.status), Some(Status::Error));
}

#[tokio::test]
async fn one_idempotency_key_is_one_comment() {
    let sim = tenant(GraphSimConfig::default().incidents(2), WRITE_ROLES).await;
    let running = platform(&sim, Arc::new(HealthService::builder().build())).await;
    let id = first_incident(&sim);
    let request = ActionRequest::new(ADD_COMMENT, json!({"incident_id": id, "comment": "once"}));
    let options = ActOptions::default().idempotency_key(format!("sentinel-comment-{id}-1"));
    let first = running
        .act("defender", request.clone(), options.clone())
        .await
        .unwrap();
    let again = running.act("defender", request, options).await.unwrap();
    assert!(again.replayed);
    assert_eq!(again.outcome, first.outcome);
    assert_eq!(
        sim.incident(&id).unwrap()["comments"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn a_throttled_update_is_retried_after_graphs_retry_after() {
    let faults = Faults::new();
    let sim = GraphSimulator::start_wrapped(GraphSimConfig::default().incidents(2), |r| {
        r.layer(faults.layer())
    })
    .await
    .unwrap();
    sim.register_app(CLIENT_ID, SECRET, WRITE_ROLES);
    let running = platform(&sim, Arc::new(HealthService::builder().build())).await;
    let id = first_incident(&sim);
    // A person assigned it meanwhile; the update replaces only what it names.
    assert!(sim.edit_incident(
        &id,
        "bob@contoso.com",
        IncidentEdit {
            title: Some("Renamed in the portal".into()),
            ..IncidentEdit::default()
        }
    ));
    faults.push_next(Fault::RateLimited {
        retry_after: std::time::Duration::from_secs(1),
    });
    let request = ActionRequest::new(
        UPDATE_INCIDENT,
        json!({"incident_id": id, "status": "resolved"}),
    );
    let result = running
        .act("defender", request, ActOptions::default())
        .await
        .expect("performed after the wait");
    assert_eq!(result.attempts, 2);
    let incident = sim.incident(&id).unwrap();
    assert_eq!(incident["status"], "resolved");
    assert_eq!(incident["displayName"], "Renamed in the portal");
}
