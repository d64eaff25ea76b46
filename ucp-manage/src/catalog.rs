//! The catalog: every registered version of every connector definition, with its compiled
//! configuration schema.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use ucp_core::catalog::{ConnectorDefinition, DefinitionError, Version};

use crate::error::Problem;

/// One registered version of a definition, with its schema compiled once.
pub struct Registered {
    definition: ConnectorDefinition,
    validator: jsonschema::Validator,
}

impl Registered {
    /// The definition.
    pub fn definition(&self) -> &ConnectorDefinition {
        &self.definition
    }

    /// Problems of `config` against the definition's schema, each naming its field as
    /// `config.<path>`; empty when valid. Messages never repeat the value (it could be
    /// something a user pasted by mistake, such as a secret).
    pub fn problems(&self, config: &serde_json::Value) -> Vec<Problem> {
        schema_problems(&self.validator, config, "config")
    }
}

/// Problems of `value` against a compiled schema, fields prefixed with `prefix`.
pub(crate) fn schema_problems(
    validator: &jsonschema::Validator,
    value: &serde_json::Value,
    prefix: &str,
) -> Vec<Problem> {
    validator
        .iter_errors(value)
        .map(|e| {
            let path: Vec<String> = e
                .instance_path()
                .as_str()
                .split('/')
                .skip(1)
                .map(|s| s.replace("~1", "/").replace("~0", "~"))
                .collect();
            let mut field = if path.is_empty() {
                prefix.to_string()
            } else {
                format!("{prefix}.{}", path.join("."))
            };
            // A missing property is the property's problem, not its parent's: a form shows
            // the message next to the field left empty.
            if let jsonschema::error::ValidationErrorKind::Required { property } = e.kind() {
                if let Some(name) = property.as_str() {
                    field = format!("{field}.{name}");
                    return Problem::new(field, "a value is required");
                }
            }
            Problem::new(field, e.masked().to_string())
        })
        .collect()
}

/// Compile `schema`, refusing one that is not a valid JSON Schema or that refers to
/// documents outside itself.
pub(crate) fn compile(schema: &serde_json::Value) -> Result<jsonschema::Validator, String> {
    jsonschema::options()
        .should_validate_formats(true)
        .build(schema)
        .map_err(|e| e.masked().to_string())
}

/// Every registered definition version, by id.
#[derive(Default)]
pub struct Catalog {
    entries: RwLock<BTreeMap<String, BTreeMap<Version, Arc<Registered>>>>,
}

impl Catalog {
    /// An empty catalog.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add a definition version. Refuses an invalid schema and a version registered before.
    pub fn register(
        &self,
        definition: ConnectorDefinition,
    ) -> Result<Arc<Registered>, DefinitionError> {
        let fail = |problem: String| DefinitionError {
            id: definition.id().to_string(),
            problem,
        };
        let validator = compile(definition.config_schema())
            .map_err(|e| fail(format!("the configuration schema is not usable: {e}")))?;
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        let versions = entries.entry(definition.id().to_string()).or_default();
        if versions.contains_key(definition.version()) {
            return Err(fail(format!(
                "version {} is already registered: give a new version a new number",
                definition.version()
            )));
        }
        let version = definition.version().clone();
        let registered = Arc::new(Registered {
            definition,
            validator,
        });
        versions.insert(version, registered.clone());
        Ok(registered)
    }

    /// The newest version of `id`.
    pub fn latest(&self, id: &str) -> Option<Arc<Registered>> {
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        entries.get(id)?.values().next_back().cloned()
    }

    /// Version `version` of `id`.
    pub fn get(&self, id: &str, version: &str) -> Option<Arc<Registered>> {
        let version = Version::parse(version).ok()?;
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        entries.get(id)?.get(&version).cloned()
    }

    /// The newest version of every definition, by id.
    pub fn latest_all(&self) -> Vec<Arc<Registered>> {
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        entries
            .values()
            .filter_map(|versions| versions.values().next_back().cloned())
            .collect()
    }

    /// Every registered version of `id`, oldest first.
    pub fn versions(&self, id: &str) -> Vec<Version> {
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        entries
            .get(id)
            .map(|v| v.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Ids of every definition, sorted.
    pub fn ids(&self) -> Vec<String> {
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        entries.keys().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_name_the_field_even_when_it_is_missing() {
        let schema = serde_json::json!({
            "type": "object",
            "required": ["org_url"],
            "properties": {
                "org_url": {"type": "string"},
                "nested": {"type": "object", "required": ["depth"]},
                "page_limit": {"type": "integer", "maximum": 1000}
            }
        });
        let validator = compile(&schema).unwrap();
        let config = serde_json::json!({"nested": {}, "page_limit": 5000});
        let mut fields: Vec<String> = schema_problems(&validator, &config, "config")
            .into_iter()
            .map(|p| p.field)
            .collect();
        fields.sort();
        assert_eq!(
            fields,
            ["config.nested.depth", "config.org_url", "config.page_limit"]
        );
    }
}
