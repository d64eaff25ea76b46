//! The decision at the heart of the sync, for one incident: given both sides as they are and
//! the values last agreed (the ledger), which fields go which way. Pure: the engine reads,
//! calls [`decide`], writes, and records.
//!
//! Per field, with `x`/`s` the sides' values now and `lx`/`ls` the last agreed ones:
//!
//! | XDR changed (`x ≠ lx`) | Sentinel changed (`s ≠ ls`) | decision |
//! |---|---|---|
//! | no | no | nothing |
//! | yes | no | write XDR's value to Sentinel (unless it already means the same) |
//! | no | yes | two-way field: write Sentinel's value to XDR; one-way field: put XDR's value back in Sentinel (reported once per incident) |
//! | yes | yes | the same meaning: record it; else a **conflict**: the side changed last wins (XDR's `lastUpdateDateTime` against Sentinel's `lastModifiedTimeUtc`; a tie goes to XDR, the system of record), logged in the audit; one-way fields always go to XDR |
//!
//! A value the sync wrote itself comes back equal to what it recorded, so it is no change:
//! that is how echoes are told from people's edits, without marking anything on either
//! side. The sides' modification times are per incident, not per field (neither API keeps
//! more), so last-writer-wins is decided at that grain.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::fields::Field;
use crate::sentinel::IncidentProperties;
use crate::xdr::XdrIncident;

/// A side of the sync.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// Microsoft Defender XDR.
    Xdr,
    /// Microsoft Sentinel.
    Sentinel,
}

impl Side {
    /// Its name in messages and the audit.
    pub fn name(self) -> &'static str {
        match self {
            Side::Xdr => "Defender XDR",
            Side::Sentinel => "Sentinel",
        }
    }
}

/// A field changed on both sides to different meanings.
#[derive(Clone, Debug, PartialEq)]
pub struct Conflict {
    /// The field.
    pub field: Field,
    /// Who won.
    pub winner: Side,
    /// Why, in words (times compared, or the one-way rule).
    pub reason: String,
    /// XDR's value.
    pub xdr: Value,
    /// Sentinel's value.
    pub sentinel: Value,
}

/// What to do with one incident.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Decision {
    /// Fields whose XDR value is written to Sentinel.
    pub to_sentinel: Vec<Field>,
    /// Fields whose Sentinel value is written to XDR.
    pub to_xdr: Vec<Field>,
    /// Fields whose sides mean the same now: record them, write nothing.
    pub agreed: Vec<Field>,
    /// One-way fields a Sentinel user changed, put back (also in `to_sentinel`).
    pub reverted: Vec<Field>,
    /// Conflicts and how they were resolved.
    pub conflicts: Vec<Conflict>,
}

impl Decision {
    /// Nothing to write.
    pub fn is_quiet(&self) -> bool {
        self.to_sentinel.is_empty() && self.to_xdr.is_empty()
    }
}

/// The decision for incident `x` whose twin has properties `s` (changed last at
/// `s_modified`), given the values last agreed (`known`; empty for a twin the ledger does not
/// know yet, whose every field then takes XDR's value).
pub fn decide(
    x: &XdrIncident,
    s: &IncidentProperties,
    s_modified: Option<DateTime<Utc>>,
    known: &HashMap<Field, (Value, Value)>,
) -> Decision {
    let mut d = Decision::default();
    for field in Field::ALL {
        let xv = field.of_xdr(x);
        let sv = field.of_sentinel(s);
        let same = field.equivalent(&xv, &sv);
        let Some((lx, ls)) = known.get(&field) else {
            if same {
                d.agreed.push(field);
            } else {
                d.to_sentinel.push(field);
            }
            continue;
        };
        let (x_changed, s_changed) = (xv != *lx, sv != *ls);
        match (x_changed, s_changed) {
            (false, false) => {}
            _ if same => d.agreed.push(field),
            (true, false) => d.to_sentinel.push(field),
            (false, true) if field.two_way(x) => d.to_xdr.push(field),
            (false, true) => {
                d.to_sentinel.push(field);
                d.reverted.push(field);
            }
            (true, true) => {
                let (winner, reason) = if !field.two_way(x) {
                    (
                        Side::Xdr,
                        format!(
                            "Graph v1.0 cannot take the {} from Sentinel: Defender XDR's stands",
                            field.name()
                        ),
                    )
                } else {
                    match s_modified {
                        Some(st) if st > x.updated => (
                            Side::Sentinel,
                            format!(
                                "Sentinel changed last ({} > {})",
                                st.to_rfc3339(),
                                x.updated.to_rfc3339()
                            ),
                        ),
                        Some(st) => (
                            Side::Xdr,
                            format!(
                                "Defender XDR changed last or at the same time ({} >= {})",
                                x.updated.to_rfc3339(),
                                st.to_rfc3339()
                            ),
                        ),
                        None => (
                            Side::Xdr,
                            "Sentinel's modification time is unknown: Defender XDR's stands"
                                .to_string(),
                        ),
                    }
                };
                match winner {
                    Side::Xdr => d.to_sentinel.push(field),
                    Side::Sentinel => d.to_xdr.push(field),
                }
                d.conflicts.push(Conflict {
                    field,
                    winner,
                    reason,
                    xdr: xv,
                    sentinel: sv,
                });
            }
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn x(status: &str, owner: Option<&str>, updated: &str) -> XdrIncident {
        XdrIncident::parse(&json!({
            "id": "1", "displayName": "t", "severity": "high", "status": status,
            "classification": "unknown", "determination": "unknown",
            "assignedTo": owner, "lastUpdateDateTime": updated,
        }))
        .unwrap()
    }

    fn twin_of(x: &XdrIncident) -> IncidentProperties {
        let mut s = IncidentProperties::default();
        for f in Field::ALL {
            f.write_sentinel(x, &mut s);
        }
        s
    }

    fn agreed(x: &XdrIncident, s: &IncidentProperties) -> HashMap<Field, (Value, Value)> {
        Field::ALL
            .into_iter()
            .map(|f| (f, (f.of_xdr(x), f.of_sentinel(s))))
            .collect()
    }

    fn at(t: &str) -> Option<DateTime<Utc>> {
        Some(DateTime::parse_from_rfc3339(t).unwrap().to_utc())
    }

    #[test]
    fn a_new_twin_takes_everything_from_xdr_and_an_echo_is_no_change() {
        let xi = x("active", None, "2026-03-02T09:00:00Z");
        let empty = IncidentProperties::default();
        let d = decide(&xi, &empty, None, &HashMap::new());
        assert_eq!(d.to_sentinel.len() + d.agreed.len(), Field::ALL.len());
        assert!(d.to_xdr.is_empty());
        // What the sync wrote comes back: nothing to do.
        let s = twin_of(&xi);
        let d = decide(&xi, &s, at("2026-03-02T09:00:01Z"), &agreed(&xi, &s));
        assert!(d.is_quiet() && d.agreed.is_empty(), "{d:?}");
    }

    #[test]
    fn one_sided_changes_flow_and_one_way_fields_are_put_back() {
        let xi = x("active", None, "2026-03-02T09:00:00Z");
        let s = twin_of(&xi);
        let known = agreed(&xi, &s);
        let mut edited = s.clone();
        edited.owner = Some(crate::sentinel::Owner {
            user_principal_name: Some("bob@contoso.com".into()),
            ..Default::default()
        });
        edited.title = Some("renamed in Sentinel".into());
        let d = decide(&xi, &edited, at("2026-03-02T09:05:00Z"), &known);
        assert_eq!(d.to_xdr, [Field::Owner]);
        assert_eq!(d.to_sentinel, [Field::Title]);
        assert_eq!(d.reverted, [Field::Title]);
        // Sentinel New → Active means the same XDR status: recorded, not written.
        let mut active = s.clone();
        active.status = Some("Active".into());
        let d = decide(&xi, &active, at("2026-03-02T09:05:00Z"), &known);
        assert_eq!(d.agreed, [Field::Status]);
        assert!(d.is_quiet());
    }

    #[test]
    fn concurrent_edits_of_one_field_go_to_the_side_changed_last_and_ties_to_xdr() {
        let before = x("active", None, "2026-03-02T09:00:00Z");
        let s = twin_of(&before);
        let known = agreed(&before, &s);
        let mut edited = s.clone();
        edited.owner = Some(crate::sentinel::Owner {
            user_principal_name: Some("bob@contoso.com".into()),
            ..Default::default()
        });
        let xdr_later = x("active", Some("ann@contoso.com"), "2026-03-02T09:10:00Z");
        let d = decide(&xdr_later, &edited, at("2026-03-02T09:05:00Z"), &known);
        assert_eq!(d.to_sentinel, [Field::Owner]);
        assert_eq!(d.conflicts[0].winner, Side::Xdr);
        let d = decide(&xdr_later, &edited, at("2026-03-02T09:15:00Z"), &known);
        assert_eq!(d.to_xdr, [Field::Owner]);
        assert_eq!(d.conflicts[0].winner, Side::Sentinel);
        let d = decide(&xdr_later, &edited, at("2026-03-02T09:10:00Z"), &known);
        assert_eq!(d.conflicts[0].winner, Side::Xdr, "a tie goes to XDR");
        // The same decision every time: deterministic.
        assert_eq!(
            decide(&xdr_later, &edited, at("2026-03-02T09:15:00Z"), &known),
            decide(&xdr_later, &edited, at("2026-03-02T09:15:00Z"), &known)
        );
        // Both changed to the same meaning: no conflict, nothing written.
        let mut same = s.clone();
        same.owner = Some(crate::sentinel::Owner {
            user_principal_name: Some("ANN@contoso.com".into()),
            ..Default::default()
        });
        let d = decide(&xdr_later, &same, at("2026-03-02T09:15:00Z"), &known);
        assert!(d.conflicts.is_empty() && d.is_quiet());
        assert_eq!(d.agreed, [Field::Owner]);
    }
}
