//! Connecting: so that Sentinel does not make a second incident of alerts Defender XDR
//! already made one of, its Microsoft incident creation rules (alert rules of kind
//! `MicrosoftSecurityIncidentCreation`) for the products Defender XDR covers are turned off,
//! as the Defender XDR connector does when connected. The opt-out leaves them on, and health
//! says duplicates are expected, for as long as it is taken.

use ucp_core::health::{HealthKind, Status};
use ucp_core::SourceError;

use super::{IncidentSync, SyncError};

/// What connecting did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Connected {
    /// Rules turned off now, by display name.
    pub disabled: Vec<String>,
    /// Enabled rules for covered products left on (the opt-out), by display name.
    pub left_on: Vec<String>,
}

impl IncidentSync {
    /// Turn off the Microsoft incident creation rules of the covered products (or, with the
    /// opt-out, report the ones left on).
    pub async fn connect(&self) -> Result<Connected, SyncError> {
        let name = &self.config.name;
        let covered = |product: Option<&str>| {
            product.is_some_and(|p| {
                self.config
                    .covered_products
                    .iter()
                    .any(|c| c.eq_ignore_ascii_case(p))
            })
        };
        let rules = match self
            .retry(false, || self.sentinel.alert_rules(&self.cx))
            .await
        {
            Ok(rules) => rules,
            Err(error) => return Err(self.connect_failed(error).await),
        };
        let targets: Vec<_> = rules
            .into_iter()
            .filter(|r| r.is_incident_creation() && r.enabled() && covered(r.product()))
            .collect();
        let mut done = Connected::default();
        let now = self.now();
        if !self.config.disable_creation_rules {
            done.left_on = targets
                .iter()
                .map(|r| r.display_name().to_string())
                .collect();
            let message = format!(
                "{name}: Microsoft incident creation rules stay on for products Defender XDR covers (opt-out taken{}): duplicate incidents are expected, one from Defender XDR and one from the rule, for the same alerts. Turn the rules off in Sentinel (Analytics → Microsoft incident creation rules) or remove the opt-out",
                if done.left_on.is_empty() {
                    String::new()
                } else {
                    format!("; on now: {}", done.left_on.join(", "))
                }
            );
            let mut state = self.state.lock().await;
            state.opted_out = Some(message.clone());
            state.connect_error = None;
            state
                .health
                .observe(Status::Warning, HealthKind::Config, message, now)
                .await;
            return Ok(done);
        }
        for rule in targets {
            let result = self
                .retry(false, || {
                    self.sentinel.set_rule_enabled(
                        &self.cx,
                        &rule.name,
                        false,
                        self.config.merge_attempts,
                    )
                })
                .await;
            match result {
                Ok(_) => {
                    let product = rule.product().unwrap_or_default().to_string();
                    self.ledger.rule_disabled(&rule.name, &product, now)?;
                    self.ledger.audit(
                        now,
                        "",
                        "rules",
                        "rule-disabled",
                        &format!(
                            "turned off Microsoft incident creation rule '{}' ({product}): Defender XDR makes these incidents",
                            rule.display_name()
                        ),
                    )?;
                    done.disabled.push(rule.display_name().to_string());
                }
                Err(error) => return Err(self.connect_failed(error).await),
            }
        }
        let mut state = self.state.lock().await;
        state.connect_error = None;
        state.opted_out = None;
        let message = if done.disabled.is_empty() {
            format!("{name}: connected; no Microsoft incident creation rule was on for the products Defender XDR covers")
        } else {
            format!(
                "{name}: connected; turned off the Microsoft incident creation rules {} so the same alerts do not make a second incident",
                done.disabled.join(", ")
            )
        };
        state
            .health
            .observe(Status::Ok, HealthKind::Config, message, now)
            .await;
        Ok(done)
    }

    async fn connect_failed(&self, error: SourceError) -> SyncError {
        let message = format!(
            "{}: could not turn off Sentinel's Microsoft incident creation rules for the products Defender XDR covers: {error}; what to do: {} (turning rules off needs the Microsoft Sentinel Contributor role; or take the opt-out and expect duplicates)",
            self.config.name,
            error.action()
        );
        let now = self.now();
        let mut state = self.state.lock().await;
        let status = match error {
            SourceError::Auth { .. } | SourceError::Config { .. } => Status::Error,
            _ => Status::Warning,
        };
        state.connect_error = Some(message.clone());
        state
            .health
            .observe(status, HealthKind::Config, message, now)
            .await;
        error.into()
    }
}
