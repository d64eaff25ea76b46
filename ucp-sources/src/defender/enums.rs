//! Graph security's enumerations as open enums: parsed without regard to case (the docs'
//! own examples say `Active` and `active`), written in Graph's camelCase, and any value not
//! known here kept as [`Other`](Severity::Other) instead of refused — Graph's enums are
//! evolvable and grow (`awaitingAction`, `microsoftSentinel`, …).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

macro_rules! open_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal,)* }) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)*
            /// A value this version does not know, kept as sent.
            Other(String),
        }

        impl $name {
            /// The value `text` names, in any case; unknown values are kept as `Other`.
            pub fn parse(text: &str) -> Self {
                $(if text.eq_ignore_ascii_case($text) {
                    return $name::$variant;
                })*
                $name::Other(text.to_string())
            }

            /// Graph's spelling (camelCase), or the unknown value as sent.
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $text,)*
                    $name::Other(text) => text,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = std::borrow::Cow::<str>::deserialize(deserializer)?;
                Ok($name::parse(&text))
            }
        }
    };
}

open_enum! {
    /// How severe an incident or alert is.
    Severity {
        /// `unknown`
        Unknown = "unknown",
        /// `informational`
        Informational = "informational",
        /// `low`
        Low = "low",
        /// `medium`
        Medium = "medium",
        /// `high`
        High = "high",
        /// `unknownFutureValue`
        UnknownFutureValue = "unknownFutureValue",
    }
}

open_enum! {
    /// Where an incident stands.
    IncidentStatus {
        /// `active`
        Active = "active",
        /// `resolved`
        Resolved = "resolved",
        /// `inProgress`
        InProgress = "inProgress",
        /// `redirected`: merged into the incident named by `redirectIncidentId`.
        Redirected = "redirected",
        /// `unknownFutureValue`
        UnknownFutureValue = "unknownFutureValue",
        /// `awaitingAction`
        AwaitingAction = "awaitingAction",
    }
}

open_enum! {
    /// Where an alert stands.
    AlertStatus {
        /// `unknown`
        Unknown = "unknown",
        /// `new`
        New = "new",
        /// `inProgress`
        InProgress = "inProgress",
        /// `resolved`
        Resolved = "resolved",
        /// `unknownFutureValue`
        UnknownFutureValue = "unknownFutureValue",
    }
}

open_enum! {
    /// What an analyst concluded an incident or alert is.
    Classification {
        /// `unknown`
        Unknown = "unknown",
        /// `falsePositive`
        FalsePositive = "falsePositive",
        /// `truePositive`
        TruePositive = "truePositive",
        /// `informationalExpectedActivity`
        InformationalExpectedActivity = "informationalExpectedActivity",
        /// `unknownFutureValue`
        UnknownFutureValue = "unknownFutureValue",
    }
}

open_enum! {
    /// Why it was so classified (the docs list differs between pages; all are known here).
    Determination {
        /// `unknown`
        Unknown = "unknown",
        /// `apt`
        Apt = "apt",
        /// `malware`
        Malware = "malware",
        /// `securityPersonnel`
        SecurityPersonnel = "securityPersonnel",
        /// `securityTesting`
        SecurityTesting = "securityTesting",
        /// `unwantedSoftware`
        UnwantedSoftware = "unwantedSoftware",
        /// `other`
        Other_ = "other",
        /// `multiStagedAttack`
        MultiStagedAttack = "multiStagedAttack",
        /// `compromisedUser`
        CompromisedUser = "compromisedUser",
        /// `compromisedAccount`
        CompromisedAccount = "compromisedAccount",
        /// `phishing`
        Phishing = "phishing",
        /// `maliciousUserActivity`
        MaliciousUserActivity = "maliciousUserActivity",
        /// `clean`
        Clean = "clean",
        /// `notMalicious`
        NotMalicious = "notMalicious",
        /// `insufficientData`
        InsufficientData = "insufficientData",
        /// `notEnoughDataToValidate`
        NotEnoughDataToValidate = "notEnoughDataToValidate",
        /// `confirmedUserActivity`
        ConfirmedUserActivity = "confirmedUserActivity",
        /// `lineOfBusinessApplication`
        LineOfBusinessApplication = "lineOfBusinessApplication",
        /// `unknownFutureValue`
        UnknownFutureValue = "unknownFutureValue",
    }
}

open_enum! {
    /// The product that raised an alert.
    ServiceSource {
        /// `unknown`
        Unknown = "unknown",
        /// `microsoftDefenderForEndpoint`
        MicrosoftDefenderForEndpoint = "microsoftDefenderForEndpoint",
        /// `microsoftDefenderForIdentity`
        MicrosoftDefenderForIdentity = "microsoftDefenderForIdentity",
        /// `microsoftDefenderForCloudApps`
        MicrosoftDefenderForCloudApps = "microsoftDefenderForCloudApps",
        /// `microsoftDefenderForOffice365`
        MicrosoftDefenderForOffice365 = "microsoftDefenderForOffice365",
        /// `microsoft365Defender`
        Microsoft365Defender = "microsoft365Defender",
        /// `azureAdIdentityProtection`
        AzureAdIdentityProtection = "azureAdIdentityProtection",
        /// `microsoftAppGovernance`
        MicrosoftAppGovernance = "microsoftAppGovernance",
        /// `dataLossPrevention`
        DataLossPrevention = "dataLossPrevention",
        /// `unknownFutureValue`
        UnknownFutureValue = "unknownFutureValue",
        /// `microsoftDefenderForCloud`
        MicrosoftDefenderForCloud = "microsoftDefenderForCloud",
        /// `microsoftSentinel`
        MicrosoftSentinel = "microsoftSentinel",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn any_case_parses_and_unknown_values_pass_through() {
        assert_eq!(IncidentStatus::parse("Active"), IncidentStatus::Active);
        assert_eq!(IncidentStatus::parse("INPROGRESS").as_str(), "inProgress");
        assert_eq!(
            Classification::parse("TruePositive"),
            Classification::TruePositive
        );
        assert_eq!(Severity::parse("Medium").to_string(), "medium");
        assert_eq!(Determination::parse("other"), Determination::Other_);
        let novel = ServiceSource::parse("microsoftDefenderForAI");
        assert_eq!(novel, ServiceSource::Other("microsoftDefenderForAI".into()));
        assert_eq!(novel.as_str(), "microsoftDefenderForAI");
        let status: IncidentStatus = serde_json::from_str("\"Redirected\"").unwrap();
        assert_eq!(status, IncidentStatus::Redirected);
        assert_eq!(serde_json::to_string(&status).unwrap(), "\"redirected\"");
    }

    proptest! {
        #[test]
        fn parsing_never_fails_and_round_trips(text in ".{0,40}") {
            let parsed = AlertStatus::parse(&text);
            prop_assert_eq!(AlertStatus::parse(parsed.as_str()), parsed);
        }
    }
}
