//! The advanced hunting tables the Defender XDR connector streams, one stream each, grouped
//! as its connector page groups them (the product that fills each table).

/// One table: its name and the product that fills it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HuntingTable {
    /// The table's name, which is also its stream's.
    pub name: &'static str,
    /// The Defender product that fills it.
    pub product: &'static str,
    /// What its rows are, for the stream's description.
    pub events: &'static str,
}

const MDE: &str = "Defender for Endpoint";
const MDO: &str = "Defender for Office 365";
const MDI: &str = "Defender for Identity";
const MDCA: &str = "Defender for Cloud Apps";
const ALERTS: &str = "Defender alerts";

/// The 21 tables, in the connector page's order.
pub const HUNTING_TABLES: [HuntingTable; 21] = [
    HuntingTable {
        name: "DeviceInfo",
        product: MDE,
        events: "machine information, including OS",
    },
    HuntingTable {
        name: "DeviceNetworkInfo",
        product: MDE,
        events: "network properties of devices",
    },
    HuntingTable {
        name: "DeviceProcessEvents",
        product: MDE,
        events: "process creation and related events",
    },
    HuntingTable {
        name: "DeviceNetworkEvents",
        product: MDE,
        events: "network connections and related events",
    },
    HuntingTable {
        name: "DeviceFileEvents",
        product: MDE,
        events: "file creation, modification and other file system events",
    },
    HuntingTable {
        name: "DeviceRegistryEvents",
        product: MDE,
        events: "creation and modification of registry entries",
    },
    HuntingTable {
        name: "DeviceLogonEvents",
        product: MDE,
        events: "sign-ins and other authentication events on devices",
    },
    HuntingTable {
        name: "DeviceImageLoadEvents",
        product: MDE,
        events: "DLL loading events",
    },
    HuntingTable {
        name: "DeviceEvents",
        product: MDE,
        events: "other device events, including security controls",
    },
    HuntingTable {
        name: "DeviceFileCertificateInfo",
        product: MDE,
        events: "certificates of signed files",
    },
    HuntingTable {
        name: "EmailAttachmentInfo",
        product: MDO,
        events: "files attached to emails",
    },
    HuntingTable {
        name: "EmailEvents",
        product: MDO,
        events: "email delivery and blocking events",
    },
    HuntingTable {
        name: "EmailPostDeliveryEvents",
        product: MDO,
        events: "security events after delivery",
    },
    HuntingTable {
        name: "EmailUrlInfo",
        product: MDO,
        events: "URLs in emails",
    },
    HuntingTable {
        name: "UrlClickEvents",
        product: MDO,
        events: "Safe Links clicks",
    },
    HuntingTable {
        name: "IdentityDirectoryEvents",
        product: MDI,
        events: "on-premises Active Directory events",
    },
    HuntingTable {
        name: "IdentityLogonEvents",
        product: MDI,
        events: "authentication activities",
    },
    HuntingTable {
        name: "IdentityQueryEvents",
        product: MDI,
        events: "queries against Active Directory objects",
    },
    HuntingTable {
        name: "CloudAppEvents",
        product: MDCA,
        events: "activities in cloud apps and services",
    },
    HuntingTable {
        name: "AlertInfo",
        product: ALERTS,
        events: "alerts of every Defender product",
    },
    HuntingTable {
        name: "AlertEvidence",
        product: ALERTS,
        events: "entities associated with alerts",
    },
];

/// The table called `name` (exact, as KQL's table names are).
pub fn table(name: &str) -> Option<&'static HuntingTable> {
    HUNTING_TABLES.iter().find(|t| t.name == name)
}
