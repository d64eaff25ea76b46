//! The enum mappings between Graph security (Defender XDR) and Sentinel: the project's
//! decision, as no public mapping exists. Both directions are written as three functions per
//! enum: the Sentinel value an XDR value means, the XDR value a Sentinel value means, and when
//! two values already mean the same (then nothing is written, in either direction).
//!
//! # Status
//!
//! | Defender XDR (Graph) | → Sentinel | Sentinel | → Defender XDR |
//! |---|---|---|---|
//! | `active` | `New` | `New` | `active` |
//! | `inProgress`, `awaitingAction` | `Active` | `Active` | `active` |
//! | `resolved` | `Closed` | `Closed` | `resolved` |
//! | `redirected` (merged) | `Closed`, label `redirected` | | |
//! | `unknownFutureValue`, anything new | nothing written | anything new | nothing written |
//!
//! Graph v1.0's update takes `active`, `resolved` and `redirected` only, so Sentinel's
//! `Active` becomes `active`, and XDR `active` counts as the same as Sentinel `New` *or*
//! `Active` (a Sentinel user moving New → Active changes nothing in XDR, and nothing comes
//! back).
//!
//! # Classification (XDR classification and determination ↔ Sentinel classification and reason)
//!
//! | Defender XDR | → Sentinel | Sentinel | → Defender XDR |
//! |---|---|---|---|
//! | `unknown` (any determination) | `Undetermined` | `Undetermined` or none | `unknown`, determination `unknown` |
//! | `truePositive` (any) | `TruePositive`, `SuspiciousActivity` | `TruePositive` (any reason) | `truePositive`, `other` |
//! | `informationalExpectedActivity` (any) | `BenignPositive`, `SuspiciousButExpected` | `BenignPositive` (any reason) | `informationalExpectedActivity`, `other` |
//! | `falsePositive`, `notEnoughDataToValidate` / `insufficientData` | `FalsePositive`, `InaccurateData` | `FalsePositive`, `InaccurateData` | `falsePositive`, `notEnoughDataToValidate` |
//! | `falsePositive`, any other | `FalsePositive`, `IncorrectAlertLogic` | `FalsePositive`, other or no reason | `falsePositive`, `notMalicious` |
//!
//! Two values are the same when the classes match (and, for false positives, the reason
//! group: inaccurate data or not). So XDR's finer determination (`malware`, `phishing`…)
//! survives a Sentinel user's edit of another field, and Sentinel's reason of a true or
//! benign positive is not pushed into XDR's determination.
//!
//! # Severity (one way: Graph v1.0 cannot update it)
//!
//! | Defender XDR | → Sentinel |
//! |---|---|
//! | `high` | `High` |
//! | `medium` | `Medium` |
//! | `low` | `Low` |
//! | `informational`, `unknown`, anything new | `Informational` |

/// Graph's spelling of `value` among `known`, case-insensitively.
fn find(value: &str, known: &[&'static str]) -> Option<&'static str> {
    known
        .iter()
        .copied()
        .find(|k| k.eq_ignore_ascii_case(value))
}

/// The Sentinel status an XDR status means; `None` for a value not known here.
pub fn status_to_sentinel(xdr: &str) -> Option<&'static str> {
    match find(
        xdr,
        &[
            "active",
            "inProgress",
            "awaitingAction",
            "resolved",
            "redirected",
        ],
    )? {
        "active" => Some("New"),
        "inProgress" | "awaitingAction" => Some("Active"),
        _ => Some("Closed"),
    }
}

/// The XDR status a Sentinel status means (what Graph v1.0's update takes); `None` for a
/// value not known here.
pub fn status_to_xdr(sentinel: &str) -> Option<&'static str> {
    match find(sentinel, &["New", "Active", "Closed"])? {
        "Closed" => Some("resolved"),
        _ => Some("active"),
    }
}

/// The two statuses mean the same, or one of them is not known here (then nothing moves).
pub fn status_equivalent(xdr: &str, sentinel: &str) -> bool {
    let (Some(x), Some(s)) = (
        status_to_sentinel(xdr),
        find(sentinel, &["New", "Active", "Closed"]),
    ) else {
        return true;
    };
    match x {
        "New" => s == "New" || s == "Active",
        other => other == s,
    }
}

/// XDR's classification and determination.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct XdrVerdict {
    /// `classification`.
    pub classification: String,
    /// `determination`.
    pub determination: String,
}

/// Sentinel's classification and reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SentinelVerdict {
    /// `classification` (none: not classified).
    pub classification: Option<String>,
    /// `classificationReason`.
    pub reason: Option<String>,
}

const INACCURATE: &[&str] = &["notEnoughDataToValidate", "insufficientData"];

fn xdr_class(verdict: &XdrVerdict) -> &'static str {
    match find(
        &verdict.classification,
        &[
            "truePositive",
            "informationalExpectedActivity",
            "falsePositive",
        ],
    ) {
        Some("truePositive") => "TruePositive",
        Some("informationalExpectedActivity") => "BenignPositive",
        Some(_) => "FalsePositive",
        None => "Undetermined",
    }
}

fn inaccurate_xdr(verdict: &XdrVerdict) -> bool {
    find(&verdict.determination, INACCURATE).is_some()
}

fn inaccurate_sentinel(verdict: &SentinelVerdict) -> bool {
    verdict
        .reason
        .as_deref()
        .is_some_and(|r| r.eq_ignore_ascii_case("InaccurateData"))
}

fn sentinel_class(verdict: &SentinelVerdict) -> &'static str {
    verdict
        .classification
        .as_deref()
        .and_then(|c| {
            find(
                c,
                &[
                    "Undetermined",
                    "TruePositive",
                    "BenignPositive",
                    "FalsePositive",
                ],
            )
        })
        .unwrap_or("Undetermined")
}

/// The Sentinel classification and reason an XDR verdict means.
pub fn verdict_to_sentinel(xdr: &XdrVerdict) -> SentinelVerdict {
    let class = xdr_class(xdr);
    let reason = match class {
        "TruePositive" => Some("SuspiciousActivity"),
        "BenignPositive" => Some("SuspiciousButExpected"),
        "FalsePositive" if inaccurate_xdr(xdr) => Some("InaccurateData"),
        "FalsePositive" => Some("IncorrectAlertLogic"),
        _ => None,
    };
    SentinelVerdict {
        classification: Some(class.to_string()),
        reason: reason.map(str::to_string),
    }
}

/// The XDR classification and determination a Sentinel verdict means.
pub fn verdict_to_xdr(sentinel: &SentinelVerdict) -> XdrVerdict {
    let (classification, determination) = match sentinel_class(sentinel) {
        "TruePositive" => ("truePositive", "other"),
        "BenignPositive" => ("informationalExpectedActivity", "other"),
        "FalsePositive" if inaccurate_sentinel(sentinel) => {
            ("falsePositive", "notEnoughDataToValidate")
        }
        "FalsePositive" => ("falsePositive", "notMalicious"),
        _ => ("unknown", "unknown"),
    };
    XdrVerdict {
        classification: classification.into(),
        determination: determination.into(),
    }
}

/// The two verdicts mean the same.
pub fn verdict_equivalent(xdr: &XdrVerdict, sentinel: &SentinelVerdict) -> bool {
    let class = xdr_class(xdr);
    class == sentinel_class(sentinel)
        && (class != "FalsePositive" || inaccurate_xdr(xdr) == inaccurate_sentinel(sentinel))
}

/// The Sentinel severity an XDR severity means.
pub fn severity_to_sentinel(xdr: &str) -> &'static str {
    match find(xdr, &["high", "medium", "low"]) {
        Some("high") => "High",
        Some("medium") => "Medium",
        Some("low") => "Low",
        _ => "Informational",
    }
}

/// The Sentinel product name (as alert rules and `alertProductNames` spell it) of an XDR
/// alert's `serviceSource`; an unknown source is kept as sent.
pub fn product_name(service_source: &str) -> String {
    let known: &[(&str, &str)] = &[
        (
            "microsoftDefenderForEndpoint",
            "Microsoft Defender Advanced Threat Protection",
        ),
        (
            "microsoftDefenderForIdentity",
            "Azure Advanced Threat Protection",
        ),
        (
            "microsoftDefenderForOffice365",
            "Office 365 Advanced Threat Protection",
        ),
        (
            "microsoftDefenderForCloudApps",
            "Microsoft Cloud App Security",
        ),
        (
            "azureAdIdentityProtection",
            "Azure Active Directory Identity Protection",
        ),
        ("microsoftDefenderForCloud", "Azure Security Center"),
        ("dataLossPrevention", "Microsoft Data Loss Prevention"),
        ("microsoft365Defender", "Microsoft 365 Defender"),
        ("microsoftAppGovernance", "Microsoft App Governance"),
    ];
    known
        .iter()
        .find(|(s, _)| s.eq_ignore_ascii_case(service_source))
        .map(|(_, p)| p.to_string())
        .unwrap_or_else(|| service_source.to_string())
}

/// The products whose Microsoft incident creation rules the sync turns off by default: the
/// ones Defender XDR makes incidents of itself (the Defender portal's list of connectors it
/// disconnects).
pub const XDR_COVERED_PRODUCTS: &[&str] = &[
    "Microsoft Defender Advanced Threat Protection",
    "Azure Advanced Threat Protection",
    "Office 365 Advanced Threat Protection",
    "Microsoft Cloud App Security",
    "Azure Active Directory Identity Protection",
];

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const XDR_STATUSES: &[&str] = &[
        "active",
        "inProgress",
        "awaitingAction",
        "resolved",
        "redirected",
        "unknownFutureValue",
        "somethingNew",
    ];
    const SENTINEL_STATUSES: &[&str] = &["New", "Active", "Closed", "Paused"];
    const CLASSES: &[&str] = &[
        "unknown",
        "truePositive",
        "informationalExpectedActivity",
        "falsePositive",
        "unknownFutureValue",
    ];
    const DETERMINATIONS: &[&str] = &[
        "unknown",
        "malware",
        "phishing",
        "other",
        "notMalicious",
        "clean",
        "notEnoughDataToValidate",
        "insufficientData",
        "securityTesting",
    ];
    const SENTINEL_CLASSES: &[Option<&str>] = &[
        None,
        Some("Undetermined"),
        Some("TruePositive"),
        Some("BenignPositive"),
        Some("FalsePositive"),
    ];
    const REASONS: &[Option<&str>] = &[
        None,
        Some("SuspiciousActivity"),
        Some("SuspiciousButExpected"),
        Some("IncorrectAlertLogic"),
        Some("InaccurateData"),
    ];

    #[test]
    fn the_status_table_both_ways() {
        let to_sentinel: Vec<_> = XDR_STATUSES.iter().map(|s| status_to_sentinel(s)).collect();
        assert_eq!(
            to_sentinel,
            [
                Some("New"),
                Some("Active"),
                Some("Active"),
                Some("Closed"),
                Some("Closed"),
                None,
                None
            ]
        );
        let to_xdr: Vec<_> = SENTINEL_STATUSES.iter().map(|s| status_to_xdr(s)).collect();
        assert_eq!(
            to_xdr,
            [Some("active"), Some("active"), Some("resolved"), None]
        );
        assert!(status_equivalent("active", "Active"));
        assert!(!status_equivalent("inProgress", "New"));
        assert!(status_equivalent("RESOLVED", "closed"), "any case");
    }

    #[test]
    fn the_classification_table_both_ways() {
        let v = |c: &str, d: &str| XdrVerdict {
            classification: c.into(),
            determination: d.into(),
        };
        let s = |c: &str, r: Option<&str>| SentinelVerdict {
            classification: Some(c.into()),
            reason: r.map(str::to_string),
        };
        assert_eq!(
            verdict_to_sentinel(&v("truePositive", "malware")),
            s("TruePositive", Some("SuspiciousActivity"))
        );
        assert_eq!(
            verdict_to_sentinel(&v("falsePositive", "insufficientData")),
            s("FalsePositive", Some("InaccurateData"))
        );
        assert_eq!(
            verdict_to_sentinel(&v("falsePositive", "clean")),
            s("FalsePositive", Some("IncorrectAlertLogic"))
        );
        assert_eq!(
            verdict_to_sentinel(&v("unknown", "unknown")),
            s("Undetermined", None)
        );
        assert_eq!(
            verdict_to_xdr(&s("BenignPositive", None)),
            v("informationalExpectedActivity", "other")
        );
        assert_eq!(
            verdict_to_xdr(&s("FalsePositive", Some("InaccurateData"))),
            v("falsePositive", "notEnoughDataToValidate")
        );
        assert_eq!(
            verdict_to_xdr(&SentinelVerdict {
                classification: None,
                reason: None
            }),
            v("unknown", "unknown")
        );
        // XDR's finer determination is the same verdict as Sentinel's class.
        assert!(verdict_equivalent(
            &v("truePositive", "phishing"),
            &s("TruePositive", Some("SuspiciousButExpected"))
        ));
        assert!(!verdict_equivalent(
            &v("falsePositive", "notMalicious"),
            &s("FalsePositive", Some("InaccurateData"))
        ));
    }

    #[test]
    fn severities_and_products() {
        assert_eq!(severity_to_sentinel("HIGH"), "High");
        assert_eq!(severity_to_sentinel("unknown"), "Informational");
        assert_eq!(
            product_name("microsoftDefenderForIdentity"),
            "Azure Advanced Threat Protection"
        );
        assert_eq!(product_name("newService"), "newService");
        for product in XDR_COVERED_PRODUCTS {
            assert!(
                [
                    "microsoftDefenderForEndpoint",
                    "microsoftDefenderForIdentity",
                    "microsoftDefenderForOffice365",
                    "microsoftDefenderForCloudApps",
                    "azureAdIdentityProtection"
                ]
                .iter()
                .any(|s| product_name(s) == *product),
                "{product}"
            );
        }
    }

    proptest! {
        // What the sync writes to one side means the same as what it came from, so nothing
        // comes back: XDR → Sentinel → (no write back to) XDR, and the reverse.
        #[test]
        fn a_status_written_either_way_is_equivalent_to_its_origin(
            x in prop::sample::select(XDR_STATUSES),
            s in prop::sample::select(SENTINEL_STATUSES),
        ) {
            if let Some(written) = status_to_sentinel(x) {
                prop_assert!(status_equivalent(x, written));
            }
            if let Some(written) = status_to_xdr(s) {
                prop_assert!(status_equivalent(written, s));
                // and the XDR value written maps to a Sentinel value equivalent to it.
                prop_assert!(status_equivalent(written, status_to_sentinel(written).unwrap()));
            }
        }

        #[test]
        fn a_verdict_written_either_way_is_equivalent_to_its_origin(
            c in prop::sample::select(CLASSES),
            d in prop::sample::select(DETERMINATIONS),
            sc in prop::sample::select(SENTINEL_CLASSES),
            r in prop::sample::select(REASONS),
        ) {
            let x = XdrVerdict { classification: c.into(), determination: d.into() };
            let s = SentinelVerdict { classification: sc.map(str::to_string), reason: r.map(str::to_string) };
            prop_assert!(verdict_equivalent(&x, &verdict_to_sentinel(&x)));
            let back = verdict_to_xdr(&s);
            prop_assert!(verdict_equivalent(&back, &s));
            // A second trip changes nothing.
            prop_assert_eq!(verdict_to_xdr(&verdict_to_sentinel(&back)), back.clone());
        }

        #[test]
        fn any_text_maps_without_panicking(text in ".{0,30}") {
            let _ = status_to_sentinel(&text);
            let _ = status_to_xdr(&text);
            let _ = status_equivalent(&text, &text);
            let _ = severity_to_sentinel(&text);
            let _ = product_name(&text);
        }
    }
}
