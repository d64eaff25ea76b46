//! The org's users, for the response-action endpoints: a table seeded with the people the
//! System Log talks about, each with a lifecycle status, identity-provider sessions, OAuth
//! tokens and enrolled factors, and the state rules of Okta's lifecycle operations (an
//! `ACTIVE` user can be suspended, a `SUSPENDED` one unsuspended, a `DEPROVISIONED` one
//! neither).

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use super::events::roster;

/// A user's lifecycle status, as Okta names it in `status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UserStatus {
    /// `ACTIVE`: can sign in.
    Active,
    /// `SUSPENDED`: cannot sign in until unsuspended; keeps group and app assignments.
    Suspended,
    /// `DEPROVISIONED`: deactivated; only activation or deletion remain.
    Deprovisioned,
}

impl UserStatus {
    /// Okta's name: `ACTIVE`, `SUSPENDED`, `DEPROVISIONED`.
    pub fn as_okta(self) -> &'static str {
        match self {
            UserStatus::Active => "ACTIVE",
            UserStatus::Suspended => "SUSPENDED",
            UserStatus::Deprovisioned => "DEPROVISIONED",
        }
    }
}

/// One user of the simulated org.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OktaUser {
    /// Okta user id (`00u…`).
    pub id: String,
    /// `profile.login` (also the email).
    pub login: String,
    /// `profile.firstName`.
    pub first_name: String,
    /// `profile.lastName`.
    pub last_name: String,
    /// Lifecycle status.
    pub status: UserStatus,
    /// When the status last changed.
    pub status_changed: DateTime<Utc>,
    /// Live identity-provider sessions.
    pub sessions: u32,
    /// Live OpenID Connect and OAuth tokens issued to the user.
    pub oauth_tokens: u32,
    /// Enrolled factors (`push`, `token:software:totp`, `sms`…).
    pub factors: Vec<String>,
}

impl OktaUser {
    /// An `ACTIVE` user `id` with login `login`, one session, one OAuth token and a push
    /// factor.
    pub fn active(id: impl Into<String>, login: impl Into<String>, at: DateTime<Utc>) -> Self {
        OktaUser {
            id: id.into(),
            login: login.into(),
            first_name: "Test".into(),
            last_name: "User".into(),
            status: UserStatus::Active,
            status_changed: at,
            sessions: 1,
            oauth_tokens: 1,
            factors: vec!["push".into()],
        }
    }

    /// The user as `GET /api/v1/users/{id}` returns it, links following the status (a link
    /// is present only when the operation is allowed, as Okta's are).
    pub(crate) fn json(&self, base_url: &str) -> Value {
        let time = self
            .status_changed
            .to_rfc3339_opts(SecondsFormat::Millis, true);
        let href = format!("{base_url}/api/v1/users/{}", self.id);
        let link =
            |path: &str, method: &str| json!({"href": format!("{href}/{path}"), "method": method});
        let mut links = serde_json::Map::new();
        links.insert("self".into(), json!({"href": href}));
        match self.status {
            UserStatus::Active => {
                links.insert("suspend".into(), link("lifecycle/suspend", "POST"));
                links.insert("deactivate".into(), link("lifecycle/deactivate", "POST"));
                if !self.factors.is_empty() {
                    links.insert(
                        "resetFactors".into(),
                        link("lifecycle/reset_factors", "POST"),
                    );
                }
            }
            UserStatus::Suspended => {
                links.insert("unsuspend".into(), link("lifecycle/unsuspend", "POST"));
                links.insert("deactivate".into(), link("lifecycle/deactivate", "POST"));
            }
            UserStatus::Deprovisioned => {
                links.insert("activate".into(), link("lifecycle/activate", "POST"));
                links.insert("delete".into(), json!({"href": href, "method": "DELETE"}));
            }
        }
        json!({
            "id": self.id,
            "status": self.status.as_okta(),
            "created": time,
            "activated": time,
            "statusChanged": time,
            "lastLogin": null,
            "lastUpdated": time,
            "passwordChanged": time,
            "type": {"id": "oty1simulatedusertype"},
            "profile": {
                "firstName": self.first_name,
                "lastName": self.last_name,
                "mobilePhone": null,
                "secondEmail": null,
                "login": self.login,
                "email": self.login,
            },
            "credentials": {"provider": {"type": "OKTA", "name": "OKTA"}},
            "_links": links,
        })
    }
}

/// A lifecycle operation, `POST /api/v1/users/{id}/lifecycle/<path>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Lifecycle {
    Suspend,
    Unsuspend,
    ResetFactors,
}

impl Lifecycle {
    /// The operation at the end of a lifecycle path, if simulated.
    pub fn from_path(path: &str) -> Option<Self> {
        match path {
            "suspend" => Some(Lifecycle::Suspend),
            "unsuspend" => Some(Lifecycle::Unsuspend),
            "reset_factors" => Some(Lifecycle::ResetFactors),
            _ => None,
        }
    }
}

/// Why the org refuses an operation on a user, each as Okta answers it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// 404 `E0000007`.
    NotFound,
    /// 400 `E0000001` with one cause.
    Validation(String),
    /// 403 `E0000038`.
    NotAllowedInStatus,
}

/// Every user, by id.
#[derive(Debug, Default)]
pub(crate) struct Users {
    by_id: BTreeMap<String, OktaUser>,
}

impl Users {
    /// The people of the event generator's roster, most `ACTIVE`, about one in ten
    /// `SUSPENDED` and one in twenty `DEPROVISIONED`; active users have 0–3 sessions, 0–2
    /// tokens and 1–3 factors. Deterministic given `seed`.
    pub fn seeded(seed: u64, domain: &str, at: DateTime<Utc>) -> Self {
        const FACTORS: [&str; 3] = ["push", "token:software:totp", "sms"];
        let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed_0075_e125);
        let mut users = Users::default();
        for person in roster(domain) {
            let roll = rng.random_range(0..100);
            let status = match roll {
                0..=9 => UserStatus::Suspended,
                10..=14 => UserStatus::Deprovisioned,
                _ => UserStatus::Active,
            };
            let live = status == UserStatus::Active;
            let factors = if status == UserStatus::Deprovisioned {
                Vec::new()
            } else {
                FACTORS[..rng.random_range(1..=FACTORS.len())]
                    .iter()
                    .map(|f| f.to_string())
                    .collect()
            };
            users.put(OktaUser {
                id: person.id,
                login: person.login,
                first_name: person.first.into(),
                last_name: person.last.into(),
                status,
                status_changed: at,
                sessions: if live { rng.random_range(0..=3) } else { 0 },
                oauth_tokens: if live { rng.random_range(0..=2) } else { 0 },
                factors,
            });
        }
        users
    }

    /// Add or replace a user.
    pub fn put(&mut self, user: OktaUser) {
        self.by_id.insert(user.id.clone(), user);
    }

    /// The user with this id, or else this login (Okta's `{idOrLogin}`).
    pub fn find(&self, id_or_login: &str) -> Option<&OktaUser> {
        self.by_id
            .get(id_or_login)
            .or_else(|| self.by_id.values().find(|u| u.login == id_or_login))
    }

    /// Every user, by id.
    pub fn all(&self) -> impl Iterator<Item = &OktaUser> {
        self.by_id.values()
    }

    /// Perform a lifecycle operation on user `id` (ids only: lifecycle paths take no login).
    pub fn lifecycle(
        &mut self,
        id: &str,
        operation: Lifecycle,
        now: DateTime<Utc>,
    ) -> Result<(), Refusal> {
        let user = self.by_id.get_mut(id).ok_or(Refusal::NotFound)?;
        match (operation, user.status) {
            (Lifecycle::Suspend, UserStatus::Active) => {
                user.status = UserStatus::Suspended;
                user.status_changed = now;
            }
            (Lifecycle::Suspend, _) => {
                return Err(Refusal::Validation(
                    "Cannot suspend a user that is not active".into(),
                ))
            }
            (Lifecycle::Unsuspend, UserStatus::Suspended) => {
                user.status = UserStatus::Active;
                user.status_changed = now;
            }
            (Lifecycle::Unsuspend, _) => {
                return Err(Refusal::Validation(
                    "Cannot unsuspend a user that is not suspended".into(),
                ))
            }
            (Lifecycle::ResetFactors, UserStatus::Deprovisioned) => {
                return Err(Refusal::NotAllowedInStatus)
            }
            (Lifecycle::ResetFactors, _) => user.factors.clear(),
        }
        Ok(())
    }

    /// End every session of user `id`, and its OAuth tokens too when `oauth_tokens`.
    pub fn clear_sessions(&mut self, id: &str, oauth_tokens: bool) -> Result<(), Refusal> {
        let user = self.by_id.get_mut(id).ok_or(Refusal::NotFound)?;
        user.sessions = 0;
        if oauth_tokens {
            user.oauth_tokens = 0;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_780_000_000, 0).unwrap()
    }

    #[test]
    fn the_seeded_org_has_every_status_and_is_reproducible() {
        let users = Users::seeded(42, "example.com", now());
        let count = |s| users.all().filter(|u| u.status == s).count();
        assert!(
            count(UserStatus::Active) > 150,
            "{}",
            count(UserStatus::Active)
        );
        assert!(count(UserStatus::Suspended) > 5);
        assert!(count(UserStatus::Deprovisioned) > 2);
        let again = Users::seeded(42, "example.com", now());
        assert!(users.all().eq(again.all()));
        let first = users.all().next().unwrap();
        assert_eq!(users.find(&first.login), Some(first));
    }

    #[test]
    fn lifecycle_follows_okta_s_state_rules() {
        let mut users = Users::default();
        users.put(OktaUser::active("00u1", "a@example.com", now()));
        assert_eq!(users.lifecycle("00u1", Lifecycle::Suspend, now()), Ok(()));
        assert!(matches!(
            users.lifecycle("00u1", Lifecycle::Suspend, now()),
            Err(Refusal::Validation(_))
        ));
        assert_eq!(users.lifecycle("00u1", Lifecycle::Unsuspend, now()), Ok(()));
        assert!(matches!(
            users.lifecycle("00u1", Lifecycle::Unsuspend, now()),
            Err(Refusal::Validation(_))
        ));
        assert_eq!(
            users.lifecycle("00u9", Lifecycle::Suspend, now()),
            Err(Refusal::NotFound)
        );
        assert_eq!(
            users.lifecycle("00u1", Lifecycle::ResetFactors, now()),
            Ok(())
        );
        assert!(users.find("00u1").unwrap().factors.is_empty());
        users.clear_sessions("00u1", false).unwrap();
        assert_eq!(users.find("00u1").unwrap().sessions, 0);
        assert_eq!(users.find("00u1").unwrap().oauth_tokens, 1);
        users.clear_sessions("00u1", true).unwrap();
        assert_eq!(users.find("00u1").unwrap().oauth_tokens, 0);
        let mut gone = OktaUser::active("00u2", "b@example.com", now());
        gone.status = UserStatus::Deprovisioned;
        users.put(gone);
        assert_eq!(
            users.lifecycle("00u2", Lifecycle::ResetFactors, now()),
            Err(Refusal::NotAllowedInStatus)
        );
    }
}
