//! The `ucp` block: catalog identity, stream and provider, record paths, late arrivals,
//! catch-up window, budget and parameters, with their defaults.

use std::time::Duration;

use super::super::definition::*;
use super::super::fields::{problem, Checked, Object};
use super::super::time_format::TimeFormat;
use super::missing;

/// The `ucp` block, with its defaults.
pub(super) struct Extension {
    pub meta: Meta,
    pub stream: String,
    pub provider: String,
    pub records: RecordPaths,
    pub late_arrival: Option<LateArrival>,
    pub catch_up_window: Duration,
    pub budget: BudgetDefaults,
    pub parameters: Vec<ParameterSpec>,
}

impl Extension {
    pub(super) fn read(
        object: Option<&Object>,
        name: &str,
        request: &Request,
        warnings: &mut Vec<String>,
    ) -> Checked<Extension> {
        let slug = |text: &str| -> String {
            text.chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        c.to_ascii_lowercase()
                    } else {
                        '_'
                    }
                })
                .collect()
        };
        let qps_budget = match request.qps {
            Some(qps) => BudgetDefaults {
                limit: ((qps * 60.0).ceil() as u32).max(1),
                per: Duration::from_secs(60),
                share: 1.0,
            },
            None => BudgetDefaults {
                limit: 60,
                per: Duration::from_secs(60),
                share: 1.0,
            },
        };
        let Some(object) = object else {
            return Ok(Extension {
                meta: Meta {
                    id: name.to_string(),
                    version: "1.0.0".into(),
                    description: format!("{name} (CCF RestApiPoller)"),
                },
                stream: "events".into(),
                provider: slug(name),
                records: RecordPaths::default(),
                late_arrival: None,
                catch_up_window: request.window,
                budget: qps_budget,
                parameters: Vec::new(),
            });
        };
        let budget = match object.object("rateLimit")? {
            Some(rate) => {
                let budget = BudgetDefaults {
                    limit: rate
                        .integer("limit", 1, u32::MAX as u64)?
                        .ok_or_else(|| missing(&rate, "limit"))? as u32,
                    per: Duration::from_secs(
                        rate.integer("perSeconds", 1, 24 * 3600)?.unwrap_or(60),
                    ),
                    share: rate.number("share", 0.01, 1.0)?.unwrap_or(1.0),
                };
                rate.unread(warnings);
                budget
            }
            None => qps_budget,
        };
        let late_arrival = match object.object("lateArrival")? {
            Some(late) => {
                let lookback = late
                    .integer("lookbackInMin", 1, 7 * 24 * 60)?
                    .ok_or_else(|| missing(&late, "lookbackInMin"))?;
                let max_ids = late
                    .integer("maxRememberedIds", 1, 1_000_000)?
                    .unwrap_or(20_000) as usize;
                late.unread(warnings);
                Some(LateArrival {
                    lookback: Duration::from_secs(lookback * 60),
                    max_ids,
                })
            }
            None => None,
        };
        let time_format = object
            .string("recordTimeFormat")?
            .map(|text| {
                TimeFormat::parse(&text).map_err(|why| problem(object.at("recordTimeFormat"), why))
            })
            .transpose()?;
        let mut parameters = Vec::new();
        if let Some(specs) = object.object("parameters")? {
            for name in specs.keys() {
                let spec = specs.object(&name)?.ok_or_else(|| missing(&specs, &name))?;
                parameters.push(ParameterSpec {
                    description: spec.string("description")?.unwrap_or_default(),
                    default: spec.string("default")?,
                    name,
                });
                spec.unread(warnings);
            }
        }
        let catch_up = object
            .integer("catchUpWindowInMin", 1, 31 * 24 * 60)?
            .map(|m| Duration::from_secs(m * 60));
        let extension = Extension {
            meta: Meta {
                id: object.string("id")?.unwrap_or_else(|| name.to_string()),
                version: object.string("version")?.unwrap_or_else(|| "1.0.0".into()),
                description: object
                    .string("description")?
                    .unwrap_or_else(|| format!("{name} (CCF RestApiPoller)")),
            },
            stream: object.string("stream")?.unwrap_or_else(|| "events".into()),
            provider: object.string("provider")?.unwrap_or_else(|| slug(name)),
            records: RecordPaths {
                id: object.json_path("recordIdJsonPath")?,
                time: object.json_path("recordTimeJsonPath")?,
                time_format,
            },
            late_arrival,
            catch_up_window: catch_up.unwrap_or(request.window).max(request.window),
            budget,
            parameters,
        };
        if extension.stream.trim().is_empty() || extension.provider.trim().is_empty() {
            return Err(problem(
                object.path(),
                "stream and provider must not be empty",
            ));
        }
        object.unread(warnings);
        Ok(extension)
    }
}
