//! A deterministic, seeded generator of realistic Okta `LogEvent`s.
//!
//! The same seed yields the same events (uuids included), so tests can compare runs.

use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

/// One generated event: the fields the simulator indexes, plus the full JSON document.
#[derive(Clone, Debug)]
pub struct LogEvent {
    /// The event's `uuid`.
    pub uuid: String,
    /// The event's `published` time.
    pub published: DateTime<Utc>,
    /// The event's `eventType`.
    pub event_type: String,
    /// The whole event.
    pub json: Value,
}

/// What kind of event, with the fields that follow from it.
struct Kind {
    event_type: &'static str,
    legacy: Option<&'static str>,
    message: &'static str,
    target: TargetKind,
    /// Relative frequency.
    weight: u32,
}

#[derive(Clone, Copy)]
enum TargetKind {
    None,
    App,
    User,
    UserAndGroup,
    UserAndApp,
    Policy,
    Token,
}

const KINDS: &[Kind] = &[
    Kind {
        event_type: "user.session.start",
        legacy: Some("core.user_auth.login_success"),
        message: "User login to Okta",
        target: TargetKind::None,
        weight: 30,
    },
    Kind {
        event_type: "user.authentication.sso",
        legacy: Some("app.auth.sso"),
        message: "User single sign on to app",
        target: TargetKind::App,
        weight: 25,
    },
    Kind {
        event_type: "user.authentication.auth_via_mfa",
        legacy: Some("core.user.factor.attempt_success"),
        message: "Authentication of user via MFA",
        target: TargetKind::None,
        weight: 12,
    },
    Kind {
        event_type: "policy.evaluate_sign_on",
        legacy: None,
        message: "Evaluation of sign-on policy",
        target: TargetKind::Policy,
        weight: 14,
    },
    Kind {
        event_type: "user.session.end",
        legacy: Some("core.user_auth.logout_success"),
        message: "User logout from Okta",
        target: TargetKind::None,
        weight: 8,
    },
    Kind {
        event_type: "user.account.lock",
        legacy: Some("core.user_auth.account_locked"),
        message: "Max sign in attempts exceeded",
        target: TargetKind::User,
        weight: 2,
    },
    Kind {
        event_type: "user.account.update_password",
        legacy: Some("core.user.config.password_update.success"),
        message: "User update password for Okta",
        target: TargetKind::User,
        weight: 2,
    },
    Kind {
        event_type: "group.user_membership.add",
        legacy: Some("core.user_group_member.user_add"),
        message: "Add user to group membership",
        target: TargetKind::UserAndGroup,
        weight: 3,
    },
    Kind {
        event_type: "group.user_membership.remove",
        legacy: Some("core.user_group_member.user_remove"),
        message: "Remove user from group membership",
        target: TargetKind::UserAndGroup,
        weight: 1,
    },
    Kind {
        event_type: "application.user_membership.add",
        legacy: Some("app.generic.provision.assign_user_to_app"),
        message: "Add user to application membership",
        target: TargetKind::UserAndApp,
        weight: 2,
    },
    Kind {
        event_type: "system.api_token.create",
        legacy: Some("api.token.create"),
        message: "Create API token",
        target: TargetKind::Token,
        weight: 1,
    },
];

const FIRST: &[&str] = &[
    "Ada",
    "Grace",
    "Alan",
    "Edsger",
    "Barbara",
    "Donald",
    "Frances",
    "Ken",
    "Radia",
    "Leslie",
    "Margaret",
    "John",
    "Shafi",
    "Tim",
    "Whitfield",
    "Hedy",
];
const LAST: &[&str] = &[
    "Lovelace",
    "Hopper",
    "Turing",
    "Dijkstra",
    "Liskov",
    "Knuth",
    "Allen",
    "Thompson",
    "Perlman",
    "Lamport",
    "Hamilton",
    "Backus",
    "Goldwasser",
    "Berners-Lee",
    "Diffie",
    "Lamarr",
];
const APPS: &[(&str, &str)] = &[
    ("salesforce", "Salesforce.com"),
    ("office365", "Microsoft Office 365"),
    ("slack", "Slack"),
    ("github", "GitHub Enterprise Cloud"),
    ("zoom", "Zoom"),
    ("aws_console", "AWS Console"),
];
const GROUPS: &[&str] = &[
    "Engineering",
    "Finance",
    "Sales",
    "Admins",
    "Contractors",
    "Support",
];
const PLACES: &[(&str, &str, &str, f64, f64)] = &[
    ("Seattle", "Washington", "United States", 47.61, -122.33),
    ("Dublin", "Leinster", "Ireland", 53.35, -6.26),
    ("Paris", "Ile-de-France", "France", 48.86, 2.35),
    ("Sydney", "New South Wales", "Australia", -33.87, 151.21),
    ("Bengaluru", "Karnataka", "India", 12.97, 77.59),
];
const AGENTS: &[(&str, &str, &str)] = &[
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36", "Windows 10", "CHROME"),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15", "Mac OS X", "SAFARI"),
    ("Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0", "Linux", "FIREFOX"),
    ("Okta Verify/9.2 (iPhone; iOS 17.2)", "iOS", "UNKNOWN"),
];

/// One person of the org the events are about: the actors and targets of the log, and the
/// users of the simulated user directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Person {
    /// Okta user id (`00u` and 17 digits), stable per name.
    pub id: String,
    /// `first.last@domain`.
    pub login: String,
    pub first: &'static str,
    pub last: &'static str,
}

impl Person {
    fn new(first: &'static str, last: &'static str, domain: &str) -> Self {
        // Stable id per name so the same person keeps one id.
        let id_seed = first.len() * 31 + last.len() * 7 + first.as_bytes()[0] as usize;
        Person {
            id: format!(
                "00u{:017}",
                id_seed * 1_000_003 + last.as_bytes()[0] as usize
            ),
            login: format!("{}.{}@{domain}", first.to_lowercase(), last.to_lowercase()),
            first,
            last,
        }
    }
}

/// Everyone the generator can name, once per user id (two names can share an id; the first
/// keeps it).
pub(crate) fn roster(domain: &str) -> Vec<Person> {
    let mut seen = std::collections::HashSet::new();
    FIRST
        .iter()
        .flat_map(|first| LAST.iter().map(move |last| (*first, *last)))
        .map(|(first, last)| Person::new(first, last, domain))
        .filter(|person| seen.insert(person.id.clone()))
        .collect()
}

/// Generates events one at a time from a seed.
#[derive(Debug)]
pub struct EventGenerator {
    rng: StdRng,
    domain: String,
}

impl EventGenerator {
    /// A generator for an org whose users live under `domain` (e.g. `example.com`).
    pub fn new(seed: u64, domain: impl Into<String>) -> Self {
        EventGenerator {
            rng: StdRng::seed_from_u64(seed),
            domain: domain.into(),
        }
    }

    /// The next event, published at `published`.
    pub fn next_event(&mut self, published: DateTime<Utc>) -> LogEvent {
        let kind = self.pick_kind();
        self.event_of(kind, published)
    }

    /// The next event of a given type (unknown types are generated as plain session events
    /// with that type), published at `published`.
    pub fn event_of_type(&mut self, event_type: &str, published: DateTime<Utc>) -> LogEvent {
        let kind = KINDS
            .iter()
            .find(|k| k.event_type == event_type)
            .unwrap_or(&KINDS[0]);
        let mut event = self.event_of(kind, published);
        event.event_type = event_type.to_string();
        event.json["eventType"] = Value::String(event_type.to_string());
        event
    }

    fn pick_kind(&mut self) -> &'static Kind {
        let total: u32 = KINDS.iter().map(|k| k.weight).sum();
        let mut roll = self.rng.random_range(0..total);
        for kind in KINDS {
            if roll < kind.weight {
                return kind;
            }
            roll -= kind.weight;
        }
        &KINDS[0]
    }

    fn okta_id(&mut self, prefix: &str) -> String {
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        let tail: String = (0..17)
            .map(|_| ALPHABET[self.rng.random_range(0..ALPHABET.len())] as char)
            .collect();
        format!("{prefix}{tail}")
    }

    fn uuid(&mut self) -> String {
        let bits: u128 = self.rng.random();
        // Version 4, RFC 4122 variant.
        let bits = (bits & !(0xf << 76) | (0x4 << 76)) & !(0x3 << 62) | (0x2 << 62);
        let hex = format!("{bits:032x}");
        format!(
            "{}-{}-{}-{}-{}",
            &hex[0..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..32]
        )
    }

    fn user(&mut self) -> Value {
        let first = FIRST[self.rng.random_range(0..FIRST.len())];
        let last = LAST[self.rng.random_range(0..LAST.len())];
        let person = Person::new(first, last, &self.domain);
        json!({
            "id": person.id,
            "type": "User",
            "alternateId": person.login,
            "displayName": format!("{first} {last}"),
            "detailEntry": null
        })
    }

    fn event_of(&mut self, kind: &'static Kind, published: DateTime<Utc>) -> LogEvent {
        // Okta publishes millisecond timestamps.
        let published = published.trunc_subsecs(3);
        let uuid = self.uuid();
        let actor = self.user();
        let (city, state, country, lat, lon) = PLACES[self.rng.random_range(0..PLACES.len())];
        let (raw_agent, os, browser) = AGENTS[self.rng.random_range(0..AGENTS.len())];
        let ip = format!(
            "{}.{}.{}.{}",
            self.rng.random_range(20..220),
            self.rng.random_range(0..255),
            self.rng.random_range(0..255),
            self.rng.random_range(1..255)
        );
        let failed = matches!(
            kind.event_type,
            "user.session.start" | "user.authentication.auth_via_mfa"
        ) && self.rng.random_range(0..100) < 7;
        let (result, reason) = if kind.event_type == "user.account.lock" {
            ("FAILURE", Value::String("LOCKED_OUT".into()))
        } else if failed {
            ("FAILURE", Value::String("INVALID_CREDENTIALS".into()))
        } else if kind.event_type == "policy.evaluate_sign_on" {
            ("ALLOW", Value::Null)
        } else {
            ("SUCCESS", Value::Null)
        };
        let severity = if result == "FAILURE" { "WARN" } else { "INFO" };
        let target = self.target(kind.target);
        let transaction_id = self.okta_id("");
        let session_id = self.okta_id("102");
        let request_id = self.okta_id("");
        let json = json!({
            "uuid": uuid,
            "published": published.to_rfc3339_opts(SecondsFormat::Millis, true),
            "eventType": kind.event_type,
            "version": "0",
            "displayMessage": kind.message,
            "severity": severity,
            "legacyEventType": kind.legacy,
            "actor": actor,
            "client": {
                "userAgent": {"rawUserAgent": raw_agent, "os": os, "browser": browser},
                "zone": "null",
                "device": if os == "iOS" { "Mobile" } else { "Computer" },
                "id": null,
                "ipAddress": ip,
                "geographicalContext": {
                    "city": city, "state": state, "country": country, "postalCode": null,
                    "geolocation": {"lat": lat, "lon": lon}
                }
            },
            "device": null,
            "outcome": {"result": result, "reason": reason},
            "target": target,
            "transaction": {"type": "WEB", "id": transaction_id, "detail": {}},
            "debugContext": {"debugData": {
                "requestId": request_id,
                "requestUri": if kind.event_type.starts_with("user.authentication") { "/idp/idx/challenge/answer" } else { "/api/v1/authn" },
                "url": "/api/v1/authn?",
                "threatSuspected": "false"
            }},
            "authenticationContext": {
                "authenticationProvider": null,
                "credentialProvider": null,
                "credentialType": null,
                "issuer": null,
                "interface": null,
                "authenticationStep": 0,
                "externalSessionId": session_id
            },
            "securityContext": {
                "asNumber": self.rng.random_range(1000..65000),
                "asOrg": "example transit",
                "isp": "example isp",
                "domain": "example.net",
                "isProxy": false
            },
            "request": {"ipChain": [{"ip": ip, "version": "V4", "source": null}]}
        });
        LogEvent {
            uuid,
            published,
            event_type: kind.event_type.to_string(),
            json,
        }
    }

    fn target(&mut self, kind: TargetKind) -> Value {
        let app = |g: &mut Self| {
            let (name, label) = APPS[g.rng.random_range(0..APPS.len())];
            json!({"id": g.okta_id("0oa"), "type": "AppInstance", "alternateId": label, "displayName": name, "detailEntry": null})
        };
        match kind {
            TargetKind::None => Value::Null,
            TargetKind::App => json!([app(self)]),
            TargetKind::User => json!([self.user()]),
            TargetKind::UserAndGroup => {
                let group = GROUPS[self.rng.random_range(0..GROUPS.len())];
                let id = self.okta_id("00g");
                json!([self.user(), {"id": id, "type": "UserGroup", "alternateId": "unknown", "displayName": group, "detailEntry": null}])
            }
            TargetKind::UserAndApp => json!([self.user(), app(self)]),
            TargetKind::Policy => {
                let id = self.okta_id("00p");
                json!([{"id": id, "type": "PolicyEntity", "alternateId": "unknown", "displayName": "Default Policy", "detailEntry": {"policyType": "OktaSignOn"}}])
            }
            TargetKind::Token => {
                let id = self.okta_id("00T");
                json!([{"id": id, "type": "Token", "alternateId": "unknown", "displayName": "automation token", "detailEntry": null}])
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_events_and_uuids_are_unique() {
        let t = Utc::now();
        let mut a = EventGenerator::new(7, "example.com");
        let mut b = EventGenerator::new(7, "example.com");
        let mut seen = std::collections::HashSet::new();
        for _ in 0..2000 {
            let (x, y) = (a.next_event(t), b.next_event(t));
            assert_eq!(x.json, y.json);
            assert!(seen.insert(x.uuid.clone()), "duplicate uuid {}", x.uuid);
            assert_eq!(x.json["uuid"], Value::String(x.uuid.clone()));
            assert_eq!(x.uuid.len(), 36);
        }
        let other = EventGenerator::new(8, "example.com").next_event(t);
        assert_ne!(
            other.uuid,
            EventGenerator::new(7, "example.com").next_event(t).uuid
        );
    }

    #[test]
    fn generates_a_mix_of_event_types() {
        let mut g = EventGenerator::new(1, "example.com");
        let types: std::collections::HashSet<String> = (0..2000)
            .map(|_| g.next_event(Utc::now()).event_type)
            .collect();
        for expected in [
            "user.session.start",
            "user.authentication.sso",
            "user.account.lock",
            "system.api_token.create",
            "group.user_membership.add",
        ] {
            assert!(types.contains(expected), "missing {expected}");
        }
    }
}
