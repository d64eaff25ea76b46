//! The command line: how long the demo runs, how fast demo time goes, where state and output
//! live. Flags only; the environment (a real org, real product endpoints) is read where it is
//! used, in `org.rs` and `endpoints.rs`, and described in the header of `main.rs`.

use std::path::PathBuf;

/// The parsed flags.
pub struct Args {
    /// `--duration`: how long the demo runs, in real seconds.
    pub duration: u64,
    /// `--speed`: demo seconds per real second.
    pub speed: f64,
    /// `--durable`: keep cursors, product queues and dead letters here, and resume from them.
    pub durable: Option<PathBuf>,
    /// `--output`: where the products' data goes.
    pub output: Output,
    /// `--health-to`: which product also subscribes to the platform's health stream.
    pub health_to: Option<HealthTo>,
}

/// A product that subscribes to the platform's health stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HealthTo {
    /// Sentinel, into the DCR stream `Custom-UcpHealth_CL`.
    Sentinel,
}

/// Where the products' data goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    /// Their ingestion endpoints: emulated, or real when configured.
    Products,
    /// NDJSON files per product.
    Files,
}

const USAGE: &str = "usage: okta_unified [--duration <seconds>] [--speed <factor>] [--durable <state-dir>] [--output <products|files>] [--health-to sentinel]";

/// The flags, with their defaults; an error says which value is wrong, or gives the usage.
pub fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Args, String> {
    let mut parsed = Args {
        duration: 30,
        speed: 60.0,
        durable: None,
        output: Output::Products,
        health_to: None,
    };
    let mut args = args.into_iter();
    while let Some(flag) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .ok_or_else(|| format!("{name} needs a value\n{USAGE}"))
        };
        match flag.as_str() {
            "--duration" => {
                let v = value("--duration")?;
                parsed.duration = v
                    .parse::<u64>()
                    .ok()
                    .filter(|d| (1..=86_400).contains(d))
                    .ok_or_else(|| {
                        format!(
                            "--duration '{v}' must be a whole number of seconds from 1 to 86400"
                        )
                    })?;
            }
            "--speed" => {
                let v = value("--speed")?;
                parsed.speed = v
                    .parse::<f64>()
                    .ok()
                    .filter(|s| s.is_finite() && (1.0..=600.0).contains(s))
                    .ok_or_else(|| {
                        format!("--speed '{v}' must be a number from 1 to 600 (60: one real second is one demo minute)")
                    })?;
            }
            "--durable" => parsed.durable = Some(PathBuf::from(value("--durable")?)),
            "--output" => {
                parsed.output = match value("--output")?.as_str() {
                    "products" => Output::Products,
                    "files" => Output::Files,
                    other => {
                        return Err(format!(
                            "--output '{other}' must be 'products' (their endpoints) or 'files' (NDJSON files)"
                        ))
                    }
                }
            }
            "--health-to" => {
                parsed.health_to = match value("--health-to")?.as_str() {
                    "sentinel" => Some(HealthTo::Sentinel),
                    other => {
                        return Err(format!(
                            "--health-to '{other}' must be 'sentinel' (the health stream into its DCR stream Custom-UcpHealth_CL)"
                        ))
                    }
                }
            }
            "-h" | "--help" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown argument '{other}'\n{USAGE}")),
        }
    }
    if parsed.health_to.is_some() && parsed.output == Output::Files {
        return Err(
            "--health-to sentinel needs Sentinel's endpoint: leave out --output files".into(),
        );
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Result<Args, String> {
        parse_args(list.iter().map(|s| s.to_string()))
    }

    #[test]
    fn flags_parse_and_bad_values_are_named() {
        let a = args(&["--duration", "5", "--speed", "120"]).unwrap();
        assert!(a.durable.is_none());
        let d = args(&["--durable", "./ucp-state"]).unwrap();
        assert_eq!(d.durable, Some(PathBuf::from("./ucp-state")));
        assert_eq!((a.duration, a.speed), (5, 120.0));
        let d = args(&[]).unwrap();
        assert_eq!((d.duration, d.speed), (30, 60.0));
        assert_eq!(d.output, Output::Products);
        assert_eq!(args(&["--output", "files"]).unwrap().output, Output::Files);
        assert_eq!(
            args(&["--output", "products"]).unwrap().output,
            Output::Products
        );
        assert!(args(&["--output", "ndjson"])
            .err()
            .unwrap()
            .contains("--output 'ndjson'"));
        assert!(args(&["--duration", "x"]).err().unwrap().contains("'x'"));
        assert!(args(&["--speed", "0"])
            .err()
            .unwrap()
            .contains("--speed '0'"));
        assert!(args(&["--speed"]).err().unwrap().contains("needs a value"));
        assert_eq!(d.health_to, None);
        assert_eq!(
            args(&["--health-to", "sentinel"]).unwrap().health_to,
            Some(HealthTo::Sentinel)
        );
        assert!(args(&["--health-to", "mdi"])
            .err()
            .unwrap()
            .contains("--health-to 'mdi'"));
        assert!(args(&["--health-to", "sentinel", "--output", "files"])
            .err()
            .unwrap()
            .contains("leave out --output files"));
        assert!(args(&["--fast"])
            .err()
            .unwrap()
            .contains("unknown argument '--fast'"));
    }
}
