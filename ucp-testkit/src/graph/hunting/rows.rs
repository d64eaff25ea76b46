//! Realistic advanced hunting rows: every documented column of a table, with a value whose
//! shape fits the column (hashes, device names, accounts, addresses, ports, paths, times).
//!
//! Row `n` of a table is made from the simulator's seed, the table and `n` alone, so a window
//! of rows can be produced on demand, in any order, the same every time.

use chrono::{DateTime, Datelike, Timelike, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Map, Value};

use super::schema::Table;

/// A column's KQL type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `datetime`.
    DateTime,
    /// `string`.
    String,
    /// `long`.
    Long,
    /// `int`.
    Int,
    /// `bool` / `boolean`.
    Bool,
    /// `dynamic`.
    Dynamic,
}

impl Kind {
    /// The type name the hunting API's `schema` states for a column of this kind.
    pub fn wire_name(self) -> &'static str {
        match self {
            Kind::DateTime => "DateTime",
            Kind::String => "String",
            Kind::Long => "Int64",
            Kind::Int => "Int32",
            Kind::Bool => "Boolean",
            Kind::Dynamic => "Object",
        }
    }
}

const HOSTS: &[&str] = &[
    "wks-0142",
    "wks-0277",
    "wks-0310",
    "srv-sql01",
    "srv-dc02",
    "lap-marketing-7",
    "lap-fin-12",
    "build-agent-3",
];
const USERS: &[&str] = &[
    "alex.wilber",
    "megan.bowen",
    "lee.gu",
    "nestor.wilke",
    "patti.fernandez",
    "svc-backup",
    "grady.archie",
    "lidia.holloway",
];
const FILES: &[&str] = &[
    "powershell.exe",
    "cmd.exe",
    "rundll32.exe",
    "svchost.exe",
    "chrome.exe",
    "outlook.exe",
    "invoice_2291.docm",
    "setup.msi",
    "wmic.exe",
    "certutil.exe",
];
const FOLDERS: &[&str] = &[
    r"C:\Windows\System32",
    r"C:\Program Files\Google\Chrome\Application",
    r"C:\Users\Public\Downloads",
    r"C:\ProgramData\Temp",
    r"C:\Program Files\Microsoft Office\root\Office16",
];
const DOMAINS: &[&str] = &[
    "contoso.com",
    "fabrikam.net",
    "login.microsoftonline.com",
    "cdn.example-files.net",
    "update.tailspin.io",
];
const ACTIONS: &[&str] = &[
    "ProcessCreated",
    "ConnectionSuccess",
    "FileCreated",
    "RegistryValueSet",
    "LogonSuccess",
    "LogonFailed",
    "ImageLoaded",
    "AntivirusDetection",
    "Delivered",
    "ClickAllowed",
];

/// The JSON object of row `index` of `table`, stamped `timestamp`.
pub fn row(
    seed: u64,
    table_index: usize,
    table: &Table,
    index: u64,
    timestamp: DateTime<Utc>,
) -> Value {
    let mut rng = StdRng::seed_from_u64(
        seed ^ (table_index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ index.rotate_left(17),
    );
    let mut out = Map::with_capacity(table.columns.len());
    for (name, kind) in table.columns {
        let value = if *name == "Timestamp" {
            Value::String(kusto_time(timestamp))
        } else if *name == "ReportId" {
            match kind {
                Kind::Long => json!(index),
                _ => Value::String(format!("{}-{index}", table.name)),
            }
        } else {
            value(name, *kind, &mut rng, timestamp)
        };
        out.insert((*name).to_string(), value);
    }
    Value::Object(out)
}

/// A datetime as advanced hunting prints it: UTC, seven fractional digits. (Written field by
/// field: every list request formats each item's times, and a format string is parsed anew
/// each time.)
pub fn kusto_time(time: DateTime<Utc>) -> String {
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:07}Z",
        time.year(),
        time.month(),
        time.day(),
        time.hour(),
        time.minute(),
        time.second(),
        time.timestamp_subsec_nanos() / 100
    )
}

fn pick<'a>(rng: &mut StdRng, from: &[&'a str]) -> &'a str {
    from[rng.random_range(0..from.len())]
}

fn hex(rng: &mut StdRng, chars: usize) -> String {
    (0..chars)
        .map(|_| char::from_digit(rng.random_range(0..16), 16).unwrap_or('0'))
        .collect()
}

fn guid(rng: &mut StdRng) -> String {
    format!(
        "{}-{}-{}-{}-{}",
        hex(rng, 8),
        hex(rng, 4),
        hex(rng, 4),
        hex(rng, 4),
        hex(rng, 12)
    )
}

fn ip(rng: &mut StdRng) -> String {
    if rng.random_bool(0.6) {
        format!(
            "10.{}.{}.{}",
            rng.random_range(0..255),
            rng.random_range(0..255),
            rng.random_range(1..255)
        )
    } else {
        format!(
            "{}.{}.{}.{}",
            rng.random_range(20..220),
            rng.random_range(0..255),
            rng.random_range(0..255),
            rng.random_range(1..255)
        )
    }
}

/// A value shaped for the column `name`.
fn value(name: &str, kind: Kind, rng: &mut StdRng, timestamp: DateTime<Utc>) -> Value {
    match kind {
        Kind::DateTime => {
            let before = chrono::Duration::seconds(rng.random_range(1..86_400));
            Value::String(kusto_time(timestamp - before))
        }
        Kind::Long if name.ends_with("Size") => json!(rng.random_range(1_024u64..50_000_000)),
        Kind::Long if name.ends_with("Build") => json!(rng.random_range(17_763u64..26_100)),
        Kind::Long => json!(rng.random_range(4u64..65_535)),
        Kind::Int if name.contains("Port") => json!(rng.random_range(1u32..65_535)),
        Kind::Int => json!(rng.random_range(0u32..20)),
        Kind::Bool => json!(rng.random_bool(0.3)),
        Kind::Dynamic => json!({ "Source": "simulator", "Count": rng.random_range(0..5) }),
        Kind::String => Value::String(string(name, rng)),
    }
}

fn string(name: &str, rng: &mut StdRng) -> String {
    let user = pick(rng, USERS);
    let host = pick(rng, HOSTS);
    let domain = pick(rng, DOMAINS);
    if name.ends_with("SHA256") {
        hex(rng, 64)
    } else if name.ends_with("SHA1") || name.ends_with("Hash") || name == "DeviceId" {
        hex(rng, 40)
    } else if name.ends_with("MD5") {
        hex(rng, 32)
    } else if name.ends_with("Sid") {
        format!(
            "S-1-5-21-{}-{}",
            rng.random_range(100_000_000u64..999_999_999),
            rng.random_range(1_000..9_999)
        )
    } else if name.ends_with("ObjectId") || name.ends_with("Guid") || name.ends_with("AadDeviceId")
    {
        guid(rng)
    } else if name.ends_with("Upn")
        || name.ends_with("EmailAddress")
        || name.ends_with("FromAddress")
    {
        format!("{user}@contoso.com")
    } else if name.ends_with("IP") || name.ends_with("IPAddress") || name.starts_with("SenderIPv4")
    {
        ip(rng)
    } else if name.ends_with("DeviceName") || name == "DeviceName" {
        format!("{host}.corp.contoso.com")
    } else if name.ends_with("AccountName") {
        user.to_string()
    } else if name.ends_with("Domain") {
        domain.to_string()
    } else if name.ends_with("FileName") {
        pick(rng, FILES).to_string()
    } else if name.ends_with("FolderPath") {
        pick(rng, FOLDERS).to_string()
    } else if name.ends_with("CommandLine") {
        format!(
            "{} -NoProfile -Command Get-Item {}",
            pick(rng, FILES),
            pick(rng, FOLDERS)
        )
    } else if name.contains("Url") {
        format!("https://{domain}/{}", hex(rng, 10))
    } else if name == "ActionType" {
        pick(rng, ACTIONS).to_string()
    } else if name.ends_with("MessageId") {
        if name == "InternetMessageId" {
            format!("<{}@{domain}>", hex(rng, 16))
        } else {
            guid(rng)
        }
    } else if name == "AlertId" {
        format!(
            "da{}_{}",
            rng.random_range(637_000_000_000_000_000u64..638_000_000_000_000_000),
            rng.random_range(1_000_000u64..2_000_000_000)
        )
    } else if matches!(name, "Title" | "Subject" | "EmailSubject") {
        pick(
            rng,
            &[
                "Suspicious PowerShell command line",
                "Invoice overdue - action required",
                "Impossible travel activity",
                "Ransomware behavior detected",
            ],
        )
        .to_string()
    } else if name == "Category" || name == "Categories" {
        let category = pick(
            rng,
            &[
                "Execution",
                "InitialAccess",
                "CredentialAccess",
                "CommandAndControl",
            ],
        );
        if name == "Categories" {
            format!("[\"{category}\"]")
        } else {
            category.to_string()
        }
    } else if name == "ServiceSource" {
        pick(
            rng,
            &[
                "Microsoft Defender for Endpoint",
                "Microsoft Defender for Office 365",
                "Microsoft Defender for Identity",
                "Microsoft Defender for Cloud Apps",
            ],
        )
        .to_string()
    } else if name == "DetectionSource" {
        pick(
            rng,
            &[
                "EDR",
                "Antivirus",
                "Microsoft Defender for Office 365",
                "Microsoft Defender for Identity",
            ],
        )
        .to_string()
    } else if name == "AttackTechniques" {
        pick(
            rng,
            &[
                "[\"Command and Scripting Interpreter (T1059)\"]",
                "[\"Phishing (T1566)\"]",
                "[\"Valid Accounts (T1078)\"]",
            ],
        )
        .to_string()
    } else if matches!(name, "OSPlatform") {
        pick(
            rng,
            &[
                "Windows11",
                "Windows10",
                "WindowsServer2022",
                "macOS",
                "Linux",
            ],
        )
        .to_string()
    } else if matches!(name, "Protocol" | "RequestProtocol") {
        pick(rng, &["Tcp", "Udp", "Kerberos", "Ntlm", "Ldap", "Smb"]).to_string()
    } else if matches!(name, "Location" | "City") {
        pick(rng, &["Seattle", "Dublin", "Singapore", "Sao Paulo"]).to_string()
    } else if name == "CountryCode" {
        pick(rng, &["US", "IE", "SG", "BR"]).to_string()
    } else if matches!(name, "Isp" | "ISP") {
        pick(
            rng,
            &["Contoso Networks", "Fabrikam Telecom", "Tailspin Broadband"],
        )
        .to_string()
    } else if matches!(name, "Application" | "Workload") {
        pick(
            rng,
            &[
                "Microsoft 365",
                "Active Directory",
                "Microsoft Teams",
                "Email",
                "Office 365",
            ],
        )
        .to_string()
    } else if name == "Severity" {
        pick(rng, &["Low", "Medium", "High", "Informational"]).to_string()
    } else if name.starts_with("Is") {
        rng.random_bool(0.5).to_string()
    } else if name.ends_with("Fields")
        || name.ends_with("Networks")
        || name.ends_with("Addresses")
        || name.ends_with("Users")
    {
        format!("[{{\"Name\":\"{user}\",\"Domain\":\"contoso\"}}]")
    } else {
        format!("{name}-{}", rng.random_range(1..400))
    }
}

#[cfg(test)]
mod tests {
    use super::super::schema::TABLES;
    use super::*;

    #[test]
    fn rows_have_every_column_with_its_type_and_are_reproducible() {
        let at = DateTime::parse_from_rfc3339("2026-03-02T09:00:00.25Z")
            .unwrap()
            .to_utc();
        for (i, table) in TABLES.iter().enumerate() {
            let a = row(7, i, table, 42, at);
            assert_eq!(a, row(7, i, table, 42, at), "{}", table.name);
            assert_ne!(a, row(7, i, table, 43, at), "{}", table.name);
            let object = a.as_object().unwrap();
            assert_eq!(object.len(), table.columns.len(), "{}", table.name);
            assert_eq!(object["Timestamp"], "2026-03-02T09:00:00.2500000Z");
            for (name, kind) in table.columns {
                let v = &object[*name];
                let fits = match kind {
                    Kind::DateTime | Kind::String => v.is_string(),
                    Kind::Long | Kind::Int => v.is_u64(),
                    Kind::Bool => v.is_boolean(),
                    Kind::Dynamic => v.is_object(),
                };
                assert!(fits, "{}.{name} = {v}", table.name);
            }
        }
    }
}
