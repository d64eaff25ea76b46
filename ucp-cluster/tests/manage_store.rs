//! The management store on PostgreSQL (`PgStore`): what the SQLite store promises, in the
//! cluster database — revisions, conflicts (also between two nodes at once), one workspace
//! per tenant, an append-only audit log written with every change, roles and API keys.

mod support;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use ucp_cluster::{Db, DbConfig, PgStore};
use ucp_manage::model::{ApiKeyRecord, AuditQuery};
use ucp_manage::{AuditEntry, InstanceRecord, InstanceState, Role, Store, StoreError, Workspace};

fn entry(tenant: &str, connector: Option<&str>, action: &str, at: i64) -> AuditEntry {
    AuditEntry {
        id: 0,
        time: DateTime::from_timestamp(at, 0).expect("a time"),
        tenant: tenant.into(),
        actor: "alice".into(),
        action: action.into(),
        target: format!("connector/{}", connector.unwrap_or("-")),
        connector: connector.map(Into::into),
        reason: None,
        before: None,
        after: None,
    }
}

fn record(tenant: &str, name: &str, revision: u64) -> InstanceRecord {
    let now = DateTime::from_timestamp(1_700_000_000, 0).expect("a time");
    InstanceRecord {
        tenant: tenant.into(),
        name: name.into(),
        definition: "okta-system-log".into(),
        version: "1.0.0".into(),
        config: serde_json::json!({"org_url": "https://c.okta.com"}),
        credentials: BTreeMap::from([("okta".into(), "okta-token".into())]),
        owned_credentials: vec![],
        products: vec![],
        state: InstanceState::Active,
        attention: None,
        disconnect_reason: None,
        superseded_by: None,
        created_by: "alice".into(),
        created_at: now,
        updated_by: "alice".into(),
        updated_at: now,
        revision,
    }
}

async fn store(test: &str) -> Option<(PgStore, DbConfig)> {
    let config = support::config(test)?;
    let db = Db::open(config.clone()).await.expect("the database opens");
    Some((PgStore::new(db), config))
}

#[tokio::test]
async fn instances_insert_once_update_at_their_revision_and_survive_reopen() {
    let Some((store, config)) = store("manage_instances").await else {
        return;
    };
    let a = record("contoso", "okta", 1);
    store
        .put_instance(&a, None, entry("contoso", Some("okta"), "create", 1))
        .await
        .expect("created");
    let again = store
        .put_instance(&a, None, entry("contoso", Some("okta"), "create", 2))
        .await
        .expect_err("a second create");
    assert!(matches!(again, StoreError::Conflict(_)), "{again}");
    let mut b = a.clone();
    b.revision = 2;
    b.state = InstanceState::Paused;
    let stale = store
        .put_instance(&b, Some(7), entry("contoso", Some("okta"), "pause", 3))
        .await
        .expect_err("a stale revision");
    assert_eq!(stale, StoreError::Stale { current: 1 });
    store
        .put_instance(&b, Some(1), entry("contoso", Some("okta"), "pause", 4))
        .await
        .expect("paused");
    // Another node (another store on the same database) reads the same.
    let other = PgStore::new(Db::open(config).await.expect("opens again"));
    let read = other
        .instance("contoso", "okta")
        .await
        .expect("reads")
        .expect("the instance");
    assert_eq!((read.revision, read.state), (2, InstanceState::Paused));
    let audit = other
        .audit(&AuditQuery {
            tenant: "contoso".into(),
            limit: 10,
            ..Default::default()
        })
        .await
        .expect("the audit log");
    let actions: Vec<&str> = audit.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        ["pause", "create"],
        "refused changes left no entry"
    );
    assert!(audit[0].id > audit[1].id);
    let deleted = other
        .delete_instance(
            "contoso",
            "okta",
            1,
            entry("contoso", Some("okta"), "delete", 5),
        )
        .await
        .expect_err("a stale delete");
    assert_eq!(deleted, StoreError::Stale { current: 2 });
    other
        .delete_instance(
            "contoso",
            "okta",
            2,
            entry("contoso", Some("okta"), "delete", 6),
        )
        .await
        .expect("deleted");
    assert!(store.all_instances().await.expect("lists").is_empty());
}

#[tokio::test]
async fn two_nodes_creating_one_connector_at_once_get_one_success_and_one_conflict() {
    let Some((one, config)) = store("manage_race").await else {
        return;
    };
    let two = PgStore::new(Db::open(config).await.expect("opens again"));
    let a = record("contoso", "okta", 1);
    let (first, second) = tokio::join!(
        one.put_instance(&a, None, entry("contoso", Some("okta"), "create", 1)),
        two.put_instance(&a, None, entry("contoso", Some("okta"), "create", 1)),
    );
    let outcomes = [first, second];
    assert_eq!(
        outcomes.iter().filter(|r| r.is_ok()).count(),
        1,
        "{outcomes:?}"
    );
    assert!(outcomes
        .iter()
        .any(|r| matches!(r, Err(StoreError::Conflict(_)))));
    let audit = one
        .audit(&AuditQuery {
            tenant: "contoso".into(),
            limit: 10,
            ..Default::default()
        })
        .await
        .expect("the audit log");
    assert_eq!(audit.len(), 1, "only the change that happened is logged");
}

#[tokio::test]
async fn pages_list_by_name_within_one_tenant() {
    let Some((store, _)) = store("manage_pages").await else {
        return;
    };
    for (tenant, name) in [
        ("a", "x3"),
        ("a", "x1"),
        ("b", "x2"),
        ("a", "x2"),
        ("a", "X9"),
    ] {
        store
            .put_instance(&record(tenant, name, 1), None, entry(tenant, None, "c", 1))
            .await
            .expect("created");
    }
    let names = |v: Vec<InstanceRecord>| v.into_iter().map(|r| r.name).collect::<Vec<_>>();
    // Byte order, as in SQLite: upper case first.
    assert_eq!(
        names(store.instances("a", None, 2).await.expect("a page")),
        ["X9", "x1"]
    );
    assert_eq!(
        names(store.instances("a", Some("x1"), 5).await.expect("a page")),
        ["x2", "x3"]
    );
    assert_eq!(
        store.instance_counts("a").await.expect("counts"),
        BTreeMap::from([("okta-system-log".to_string(), 4)])
    );
}

#[tokio::test]
async fn one_workspace_per_tenant_and_the_conflict_names_it() {
    let Some((store, _)) = store("manage_workspaces").await else {
        return;
    };
    let ws = |name: &str| Workspace {
        tenant: "contoso".into(),
        name: name.into(),
        settings: serde_json::json!({}),
        connected_by: "alice".into(),
        connected_at: Utc::now(),
    };
    store
        .connect_workspace(&ws("law-1"), entry("contoso", None, "ws", 1))
        .await
        .expect("connected");
    let err = store
        .connect_workspace(&ws("law-2"), entry("contoso", None, "ws", 2))
        .await
        .expect_err("a second workspace");
    assert!(err.to_string().contains("'law-1'"), "{err}");
    store
        .remove_workspace("contoso", entry("contoso", None, "off", 3))
        .await
        .expect("offboarded");
    assert!(matches!(
        store
            .remove_workspace("contoso", entry("contoso", None, "off", 4))
            .await,
        Err(StoreError::NotFound(_))
    ));
    store
        .connect_workspace(&ws("law-2"), entry("contoso", None, "ws", 5))
        .await
        .expect("connected again");
    let all = store.workspaces().await.expect("lists");
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].name, "law-2");
}

#[tokio::test]
async fn the_audit_log_refuses_updates_and_deletes_and_filters_by_connector_and_time() {
    let Some((store, config)) = store("manage_audit").await else {
        return;
    };
    for (i, c) in [Some("a"), Some("b"), None, Some("a")]
        .into_iter()
        .enumerate()
    {
        store
            .append_audit(entry("t", c, "x", 100 + i as i64))
            .await
            .expect("appended");
    }
    store
        .append_audit(entry("other", Some("a"), "x", 100))
        .await
        .expect("appended");
    let q = |connector: Option<&str>, since: Option<i64>, before_id: Option<u64>| AuditQuery {
        tenant: "t".into(),
        connector: connector.map(Into::into),
        since: since.and_then(|s| DateTime::from_timestamp(s, 0)),
        until: None,
        before_id,
        limit: 10,
    };
    assert_eq!(
        store
            .audit(&q(Some("a"), None, None))
            .await
            .expect("q")
            .len(),
        2
    );
    assert_eq!(
        store
            .audit(&q(None, Some(102), None))
            .await
            .expect("q")
            .len(),
        2
    );
    let all = store.audit(&q(None, None, None)).await.expect("q");
    assert_eq!(all.len(), 4);
    let page = store
        .audit(&q(None, None, Some(all[1].id)))
        .await
        .expect("q");
    assert_eq!(page.len(), 2);
    let db = Db::open(config).await.expect("opens");
    let client = db.client().await.expect("a client");
    let update = client
        .execute("UPDATE ucp_manage_audit SET tenant = 'x'", &[])
        .await
        .expect_err("an update");
    assert!(format!("{update:?}").contains("append-only"), "{update:?}");
    assert!(client
        .execute("DELETE FROM ucp_manage_audit", &[])
        .await
        .is_err());
}

#[tokio::test]
async fn roles_api_keys_and_definitions() {
    let Some((store, _)) = store("manage_roles").await else {
        return;
    };
    store
        .set_role("t", "bob", Some(Role::Reader), entry("t", None, "role", 1))
        .await
        .expect("assigned");
    store
        .set_role("t", "bob", Some(Role::Owner), entry("t", None, "role", 2))
        .await
        .expect("reassigned");
    assert_eq!(
        store.role("t", "bob").await.expect("a role"),
        Some(Role::Owner)
    );
    assert_eq!(store.role("u", "bob").await.expect("no role"), None);
    assert_eq!(store.roles("t").await.expect("roles").len(), 1);
    store
        .set_role("t", "bob", None, entry("t", None, "role", 3))
        .await
        .expect("removed");
    assert!(store.roles("t").await.expect("roles").is_empty());
    let key = ApiKeyRecord {
        id: "k1".into(),
        principal: "bob".into(),
        hash: vec![1, 2, 3],
        created_at: DateTime::from_timestamp(5, 0).expect("a time"),
        revoked: false,
    };
    store
        .put_api_key(&key, entry("_platform", None, "k", 1))
        .await
        .expect("stored");
    assert_eq!(store.api_key("k1").await.expect("read"), Some(key.clone()));
    assert!(matches!(
        store
            .put_api_key(&key, entry("_platform", None, "k", 1))
            .await,
        Err(StoreError::Conflict(_))
    ));
    store
        .revoke_api_key("k1", entry("_platform", None, "r", 2))
        .await
        .expect("revoked");
    assert!(
        store
            .api_key("k1")
            .await
            .expect("read")
            .expect("the key")
            .revoked
    );
    assert!(matches!(
        store
            .revoke_api_key("k2", entry("_platform", None, "r", 3))
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert!(store
        .record_definition("okta", "1.0.0")
        .await
        .expect("recorded"));
    assert!(!store
        .record_definition("okta", "1.0.0")
        .await
        .expect("known"));
}
