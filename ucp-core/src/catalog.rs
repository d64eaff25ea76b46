//! Connector definitions: the catalog's entries.
//!
//! A [`ConnectorDefinition`] names a connector *type* (Okta System Log, a partner's Acme
//! events): who provides and supports it, its version, the streams it collects, the products
//! it can feed, the credentials and configuration it needs (a JSON Schema the source crate
//! generates from its config type), the prerequisites a user must meet (each with a check the
//! platform can run), and the connectors it supersedes. Its [`SourceFactory`] turns a
//! validated configuration plus credential references into a running [`Source`].
//!
//! Registering one is a few lines:
//!
//! ```
//! use std::sync::Arc;
//! use serde::Deserialize;
//! use ucp_core::catalog::{factory, ConnectorDefinition, CredentialKind, Prerequisite};
//! # use ucp_core::{Source, SourceError, SourceContext, SourceInfo, CollectRequest, Page};
//! # struct Acme; #[async_trait::async_trait] impl Source for Acme {
//! #   fn describe(&self) -> SourceInfo { unimplemented!() }
//! #   async fn check(&self, _: &SourceContext) -> Result<(), SourceError> { Ok(()) }
//! #   async fn collect(&self, _: &SourceContext, _: CollectRequest) -> Result<Page, SourceError> { unimplemented!() } }
//!
//! #[derive(Deserialize)]
//! struct AcmeConfig { account: String }
//!
//! let definition = ConnectorDefinition::builder("acme-events", "Acme events")
//!     .provider("acme")
//!     .publisher("Acme Inc.")
//!     .version("1.0.0")
//!     .description("Acme's audit events")
//!     .stream("events", "Acme's audit events")
//!     .feeds(["sentinel"])
//!     .credential("api", "Acme API token", [CredentialKind::ApiToken])
//!     .config_schema(serde_json::json!({"type": "object", "required": ["account"],
//!         "properties": {"account": {"type": "string"}}}))
//!     .prerequisite(Prerequisite::source_check("api-access", "The token can read events"))
//!     .factory(factory(|config: AcmeConfig, _credentials| {
//!         let _ = config.account;
//!         Ok(Arc::new(Acme) as Arc<dyn Source>)
//!     }))
//!     .build()?;
//! assert_eq!(definition.version().to_string(), "1.0.0");
//! # Ok::<(), ucp_core::catalog::DefinitionError>(())
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub use semver::Version;

use crate::credentials::{Credential, CredentialRef};
use crate::record::Cursor;
use crate::source::{Source, SourceContext, SourceError, StreamInfo};

/// The kinds of credential a connector may need (the variants of [`Credential`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialKind {
    /// [`Credential::ApiToken`].
    ApiToken,
    /// [`Credential::ClientSecret`].
    ClientSecret,
    /// [`Credential::PrivateKeyJwt`].
    PrivateKeyJwt,
    /// [`Credential::SharedAccessKey`].
    SharedAccessKey,
    /// [`Credential::Basic`].
    Basic,
}

impl CredentialKind {
    /// The kind of `credential`.
    pub fn of(credential: &Credential) -> Self {
        match credential {
            Credential::ApiToken { .. } => CredentialKind::ApiToken,
            Credential::ClientSecret { .. } => CredentialKind::ClientSecret,
            Credential::PrivateKeyJwt { .. } => CredentialKind::PrivateKeyJwt,
            Credential::SharedAccessKey { .. } => CredentialKind::SharedAccessKey,
            Credential::Basic { .. } => CredentialKind::Basic,
        }
    }

    /// The kind's wire name (`api_token`, `client_secret`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            CredentialKind::ApiToken => "api_token",
            CredentialKind::ClientSecret => "client_secret",
            CredentialKind::PrivateKeyJwt => "private_key_jwt",
            CredentialKind::SharedAccessKey => "shared_access_key",
            CredentialKind::Basic => "basic",
        }
    }
}

impl fmt::Display for CredentialKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One credential a connector needs: a slot the user fills with a stored credential.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CredentialSlot {
    /// The slot's name, e.g. `okta`; the factory looks the reference up by it.
    pub name: String,
    /// What the credential is for, for people.
    pub description: String,
    /// The kinds accepted.
    pub kinds: Vec<CredentialKind>,
}

/// A check the platform runs before connecting an instance, with the instance's source
/// built from the user's configuration and credentials.
#[async_trait]
pub trait PrerequisiteCheck: Send + Sync + 'static {
    /// `Ok` when the prerequisite is met; otherwise the source error that says why.
    async fn check(&self, source: &dyn Source, cx: &SourceContext) -> Result<(), SourceError>;
}

/// The check most prerequisites need: the source's own [`Source::check`], one cheap call
/// that proves the connection, the credential and its permission to read.
#[derive(Clone, Copy, Debug, Default)]
pub struct SourceCheck;

#[async_trait]
impl PrerequisiteCheck for SourceCheck {
    async fn check(&self, source: &dyn Source, cx: &SourceContext) -> Result<(), SourceError> {
        source.check(cx).await
    }
}

/// Something a user must have (a licence, a permission) before connecting, with its check.
#[derive(Clone)]
pub struct Prerequisite {
    /// A short stable id, e.g. `logs-read-permission`.
    pub id: String,
    /// What is needed, for people.
    pub description: String,
    /// How the platform verifies it.
    pub check: Arc<dyn PrerequisiteCheck>,
}

impl Prerequisite {
    /// A prerequisite verified by `check`.
    pub fn new(
        id: impl Into<String>,
        description: impl Into<String>,
        check: Arc<dyn PrerequisiteCheck>,
    ) -> Self {
        Prerequisite {
            id: id.into(),
            description: description.into(),
            check,
        }
    }

    /// A prerequisite verified by the source's own check ([`SourceCheck`]).
    pub fn source_check(id: impl Into<String>, description: impl Into<String>) -> Self {
        Self::new(id, description, Arc::new(SourceCheck))
    }
}

impl fmt::Debug for Prerequisite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Prerequisite")
            .field("id", &self.id)
            .field("description", &self.description)
            .finish_non_exhaustive()
    }
}

/// The credentials an instance was given: slot name → stored credential's reference.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CredentialRefs(BTreeMap<String, CredentialRef>);

impl CredentialRefs {
    /// No credential.
    pub fn new() -> Self {
        Self::default()
    }

    /// Fill `slot` with `reference`.
    pub fn with(mut self, slot: impl Into<String>, reference: CredentialRef) -> Self {
        self.0.insert(slot.into(), reference);
        self
    }

    /// The reference in `slot`, or an error naming the slot.
    pub fn get(&self, slot: &str) -> Result<&CredentialRef, FactoryError> {
        self.0.get(slot).ok_or_else(|| FactoryError::Config {
            field: format!("credentials.{slot}"),
            message: format!("no credential was given for slot '{slot}'"),
        })
    }

    /// Every (slot, reference).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &CredentialRef)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }
}

impl FromIterator<(String, CredentialRef)> for CredentialRefs {
    fn from_iter<T: IntoIterator<Item = (String, CredentialRef)>>(iter: T) -> Self {
        CredentialRefs(iter.into_iter().collect())
    }
}

/// Why a factory could not build a source or a cursor. Never holds a secret: configurations
/// carry credential *references*, never their values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FactoryError {
    /// The configuration is unusable; `field` is its path (`page_limit`, `auth.scope`).
    #[error("{field}: {message}")]
    Config {
        /// The field at fault (a dotted path), or `config` for the whole object.
        field: String,
        /// What is wrong and what is accepted.
        message: String,
    },
    /// The connector does not offer this operation.
    #[error("{0}")]
    Unsupported(String),
}

impl FactoryError {
    /// A configuration error about `field`.
    pub fn config(field: impl Into<String>, message: impl Into<String>) -> Self {
        FactoryError::Config {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl From<SourceError> for FactoryError {
    fn from(error: SourceError) -> Self {
        FactoryError::config("config", error.to_string())
    }
}

/// Builds a definition's sources.
pub trait SourceFactory: Send + Sync + 'static {
    /// A source for `config` (already valid against the definition's schema) and the
    /// instance's `credentials`.
    fn build(
        &self,
        config: &serde_json::Value,
        credentials: &CredentialRefs,
    ) -> Result<Arc<dyn Source>, FactoryError>;

    /// The cursor of `stream` that starts collection at `time` (an offsets reset "to a
    /// time"). Connectors whose cursors cannot address a time leave the default, which
    /// refuses.
    fn cursor_at(
        &self,
        config: &serde_json::Value,
        stream: &str,
        time: DateTime<Utc>,
    ) -> Result<Cursor, FactoryError> {
        let _ = (config, time);
        Err(FactoryError::Unsupported(format!(
            "this connector cannot start stream '{stream}' at a given time; reset it to the start instead"
        )))
    }
}

type BuildFn<C> =
    dyn Fn(C, &CredentialRefs) -> Result<Arc<dyn Source>, FactoryError> + Send + Sync + 'static;
type CursorFn<C> =
    dyn Fn(C, &str, DateTime<Utc>) -> Result<Cursor, FactoryError> + Send + Sync + 'static;

/// A [`SourceFactory`] from closures over the typed configuration `C` (see [`factory`]).
pub struct FnFactory<C> {
    build: Box<BuildFn<C>>,
    cursor_at: Option<Box<CursorFn<C>>>,
}

/// A factory that deserializes the configuration into `C` and calls `build`.
pub fn factory<C, F>(build: F) -> FnFactory<C>
where
    C: DeserializeOwned + 'static,
    F: Fn(C, &CredentialRefs) -> Result<Arc<dyn Source>, FactoryError> + Send + Sync + 'static,
{
    FnFactory {
        build: Box::new(build),
        cursor_at: None,
    }
}

impl<C> FnFactory<C> {
    /// Offer offsets resets to a time through `cursor_at`.
    pub fn with_cursor_at<F>(mut self, cursor_at: F) -> Self
    where
        F: Fn(C, &str, DateTime<Utc>) -> Result<Cursor, FactoryError> + Send + Sync + 'static,
    {
        self.cursor_at = Some(Box::new(cursor_at));
        self
    }
}

/// `config` as `C`, or an error saying what serde found wrong.
fn typed<C: DeserializeOwned>(config: &serde_json::Value) -> Result<C, FactoryError> {
    C::deserialize(config).map_err(|e| FactoryError::config("config", e.to_string()))
}

impl<C: DeserializeOwned + 'static> SourceFactory for FnFactory<C> {
    fn build(
        &self,
        config: &serde_json::Value,
        credentials: &CredentialRefs,
    ) -> Result<Arc<dyn Source>, FactoryError> {
        (self.build)(typed(config)?, credentials)
    }

    fn cursor_at(
        &self,
        config: &serde_json::Value,
        stream: &str,
        time: DateTime<Utc>,
    ) -> Result<Cursor, FactoryError> {
        match &self.cursor_at {
            Some(cursor_at) => cursor_at(typed(config)?, stream, time),
            None => Err(FactoryError::Unsupported(format!(
                "this connector cannot start stream '{stream}' at a given time; reset it to the start instead"
            ))),
        }
    }
}

/// A definition that cannot be registered, naming the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("connector definition '{id}': {problem}")]
pub struct DefinitionError {
    /// The definition's id as given.
    pub id: String,
    /// What is wrong.
    pub problem: String,
}

/// A connector type in the catalog. Build with [`ConnectorDefinition::builder`].
#[derive(Clone)]
pub struct ConnectorDefinition {
    id: String,
    display_name: String,
    provider: String,
    publisher: String,
    version: Version,
    description: String,
    streams: Vec<StreamInfo>,
    products: Vec<String>,
    credentials: Vec<CredentialSlot>,
    config_schema: serde_json::Value,
    prerequisites: Vec<Prerequisite>,
    supersedes: Vec<String>,
    factory: Arc<dyn SourceFactory>,
}

impl fmt::Debug for ConnectorDefinition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectorDefinition")
            .field("id", &self.id)
            .field("version", &self.version.to_string())
            .field("provider", &self.provider)
            .field("publisher", &self.publisher)
            .finish_non_exhaustive()
    }
}

impl ConnectorDefinition {
    /// Start a definition with its id (lowercase letters, digits and `-`) and display name.
    pub fn builder(
        id: impl Into<String>,
        display_name: impl Into<String>,
    ) -> ConnectorDefinitionBuilder {
        ConnectorDefinitionBuilder {
            id: id.into(),
            display_name: display_name.into(),
            provider: String::new(),
            publisher: String::new(),
            version: String::new(),
            description: String::new(),
            streams: Vec::new(),
            products: Vec::new(),
            credentials: Vec::new(),
            config_schema: None,
            prerequisites: Vec::new(),
            supersedes: Vec::new(),
            factory: None,
        }
    }

    /// A builder holding every field of this definition, to derive another from it (a new
    /// version, another publisher's packaging).
    pub fn to_builder(&self) -> ConnectorDefinitionBuilder {
        ConnectorDefinitionBuilder {
            id: self.id.clone(),
            display_name: self.display_name.clone(),
            provider: self.provider.clone(),
            publisher: self.publisher.clone(),
            version: self.version.to_string(),
            description: self.description.clone(),
            streams: self.streams.clone(),
            products: self.products.clone(),
            credentials: self.credentials.clone(),
            config_schema: Some(self.config_schema.clone()),
            prerequisites: self.prerequisites.clone(),
            supersedes: self.supersedes.clone(),
            factory: Some(self.factory.clone()),
        }
    }

    /// The connector type's id, e.g. `okta-system-log`.
    pub fn id(&self) -> &str {
        &self.id
    }
    /// The name people see.
    pub fn display_name(&self) -> &str {
        &self.display_name
    }
    /// The provider whose API it reads, e.g. `okta`.
    pub fn provider(&self) -> &str {
        &self.provider
    }
    /// Who supports it ("supported by").
    pub fn publisher(&self) -> &str {
        &self.publisher
    }
    /// Its semantic version.
    pub fn version(&self) -> &Version {
        &self.version
    }
    /// What it does.
    pub fn description(&self) -> &str {
        &self.description
    }
    /// The streams it collects.
    pub fn streams(&self) -> &[StreamInfo] {
        &self.streams
    }
    /// Ids of the products it can feed.
    pub fn products(&self) -> &[String] {
        &self.products
    }
    /// The credentials it needs.
    pub fn credentials(&self) -> &[CredentialSlot] {
        &self.credentials
    }
    /// The JSON Schema its configuration must satisfy.
    pub fn config_schema(&self) -> &serde_json::Value {
        &self.config_schema
    }
    /// What a user must have before connecting.
    pub fn prerequisites(&self) -> &[Prerequisite] {
        &self.prerequisites
    }
    /// Ids of the connectors it replaces.
    pub fn supersedes(&self) -> &[String] {
        &self.supersedes
    }
    /// Its source factory.
    pub fn factory(&self) -> &Arc<dyn SourceFactory> {
        &self.factory
    }
}

/// Collects a [`ConnectorDefinition`]; [`build`](Self::build) checks it.
pub struct ConnectorDefinitionBuilder {
    id: String,
    display_name: String,
    provider: String,
    publisher: String,
    version: String,
    description: String,
    streams: Vec<StreamInfo>,
    products: Vec<String>,
    credentials: Vec<CredentialSlot>,
    config_schema: Option<serde_json::Value>,
    prerequisites: Vec<Prerequisite>,
    supersedes: Vec<String>,
    factory: Option<Arc<dyn SourceFactory>>,
}

impl ConnectorDefinitionBuilder {
    /// The provider whose API it reads.
    pub fn provider(mut self, provider: impl Into<String>) -> Self {
        self.provider = provider.into();
        self
    }
    /// Who supports it.
    pub fn publisher(mut self, publisher: impl Into<String>) -> Self {
        self.publisher = publisher.into();
        self
    }
    /// Its semantic version, e.g. `1.2.0`.
    pub fn version(mut self, version: impl Into<String>) -> Self {
        self.version = version.into();
        self
    }
    /// What it does.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }
    /// A stream it collects.
    pub fn stream(mut self, name: impl Into<String>, description: impl Into<String>) -> Self {
        self.streams.push(StreamInfo::new(name, description));
        self
    }
    /// Products it can feed.
    pub fn feeds<I, S>(mut self, products: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.products.extend(products.into_iter().map(Into::into));
        self
    }
    /// A credential slot, accepting `kinds`.
    pub fn credential(
        mut self,
        name: impl Into<String>,
        description: impl Into<String>,
        kinds: impl IntoIterator<Item = CredentialKind>,
    ) -> Self {
        self.credentials.push(CredentialSlot {
            name: name.into(),
            description: description.into(),
            kinds: kinds.into_iter().collect(),
        });
        self
    }
    /// The configuration's JSON Schema (e.g. from `schemars::schema_for!`).
    pub fn config_schema(mut self, schema: serde_json::Value) -> Self {
        self.config_schema = Some(schema);
        self
    }
    /// A prerequisite.
    pub fn prerequisite(mut self, prerequisite: Prerequisite) -> Self {
        self.prerequisites.push(prerequisite);
        self
    }
    /// A connector it replaces.
    pub fn supersedes(mut self, id: impl Into<String>) -> Self {
        self.supersedes.push(id.into());
        self
    }
    /// Its source factory.
    pub fn factory(mut self, factory: impl SourceFactory) -> Self {
        self.factory = Some(Arc::new(factory));
        self
    }

    /// Its source factory, shared with other definitions (versions of one connector).
    pub fn shared_factory(mut self, factory: Arc<dyn SourceFactory>) -> Self {
        self.factory = Some(factory);
        self
    }

    /// The definition, or the first thing wrong with it.
    pub fn build(self) -> Result<ConnectorDefinition, DefinitionError> {
        let fail = |problem: String| DefinitionError {
            id: self.id.clone(),
            problem,
        };
        if !is_identifier(&self.id) {
            return Err(fail(
                "the id must be 1 to 63 lowercase letters, digits or '-', starting and ending with a letter or digit".into(),
            ));
        }
        for (field, value) in [
            ("display name", &self.display_name),
            ("provider", &self.provider),
            ("publisher", &self.publisher),
            ("description", &self.description),
        ] {
            if value.trim().is_empty() {
                return Err(fail(format!("the {field} is empty")));
            }
        }
        let version = Version::parse(&self.version).map_err(|e| {
            fail(format!(
                "version '{}' is not a semantic version ({e}): use MAJOR.MINOR.PATCH, e.g. 1.0.0",
                self.version
            ))
        })?;
        if self.streams.is_empty() {
            return Err(fail("it declares no stream".into()));
        }
        distinct("stream", self.streams.iter().map(|s| s.name.as_str())).map_err(&fail)?;
        distinct("product", self.products.iter().map(String::as_str)).map_err(&fail)?;
        distinct(
            "credential slot",
            self.credentials.iter().map(|c| c.name.as_str()),
        )
        .map_err(&fail)?;
        distinct(
            "prerequisite",
            self.prerequisites.iter().map(|p| p.id.as_str()),
        )
        .map_err(&fail)?;
        if let Some(slot) = self.credentials.iter().find(|c| c.kinds.is_empty()) {
            return Err(fail(format!(
                "credential slot '{}' accepts no kind",
                slot.name
            )));
        }
        if self.supersedes.contains(&self.id) {
            return Err(fail("it cannot supersede itself".into()));
        }
        let config_schema = match self.config_schema {
            Some(schema @ serde_json::Value::Object(_)) => schema,
            Some(_) => return Err(fail("the configuration schema is not a JSON object".into())),
            None => return Err(fail("it has no configuration schema".into())),
        };
        let Some(factory) = self.factory else {
            return Err(fail("it has no source factory".into()));
        };
        Ok(ConnectorDefinition {
            id: self.id,
            display_name: self.display_name,
            provider: self.provider,
            publisher: self.publisher,
            version,
            description: self.description,
            streams: self.streams,
            products: self.products,
            credentials: self.credentials,
            config_schema,
            prerequisites: self.prerequisites,
            supersedes: self.supersedes,
            factory,
        })
    }
}

/// The first name given twice, as an error.
fn distinct<'a>(what: &str, names: impl Iterator<Item = &'a str>) -> Result<(), String> {
    let mut seen = BTreeSet::new();
    for name in names {
        if name.trim().is_empty() {
            return Err(format!("a {what} has an empty name"));
        }
        if !seen.insert(name) {
            return Err(format!("{what} '{name}' is declared twice"));
        }
    }
    Ok(())
}

/// 1–63 of `[a-z0-9-]`, not starting or ending with `-`: safe in URLs, file names and
/// engine names.
pub fn is_identifier(s: &str) -> bool {
    let bytes = s.as_bytes();
    (1..=63).contains(&bytes.len())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes.first() != Some(&b'-')
        && bytes.last() != Some(&b'-')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::{CollectRequest, Page, SourceInfo};

    struct Nothing;
    #[async_trait]
    impl Source for Nothing {
        fn describe(&self) -> SourceInfo {
            SourceInfo {
                provider: "none".into(),
                streams: vec![],
                capabilities: Default::default(),
                budget: crate::budget::BudgetSpec::new(
                    crate::budget::BudgetKey::new("none", "none"),
                    1,
                    std::time::Duration::from_secs(1),
                ),
            }
        }
        async fn check(&self, _: &SourceContext) -> Result<(), SourceError> {
            Ok(())
        }
        async fn collect(&self, _: &SourceContext, _: CollectRequest) -> Result<Page, SourceError> {
            Ok(Page::default())
        }
    }

    #[derive(Deserialize)]
    struct Config {
        size: u32,
    }

    fn complete() -> ConnectorDefinitionBuilder {
        ConnectorDefinition::builder("acme", "Acme")
            .provider("acme")
            .publisher("Acme Inc.")
            .version("1.2.3")
            .description("d")
            .stream("events", "e")
            .credential("api", "token", [CredentialKind::ApiToken])
            .config_schema(serde_json::json!({"type": "object"}))
            .factory(factory(|c: Config, _| {
                assert_eq!(c.size, 3);
                Ok(Arc::new(Nothing) as Arc<dyn Source>)
            }))
    }

    #[test]
    fn a_complete_definition_builds_and_its_factory_reads_typed_config() {
        let d = complete().build().unwrap();
        assert_eq!(d.version(), &Version::new(1, 2, 3));
        assert!(d
            .factory()
            .build(&serde_json::json!({"size": 3}), &CredentialRefs::new())
            .is_ok());
        let err = d
            .factory()
            .build(&serde_json::json!({"size": "x"}), &CredentialRefs::new())
            .err()
            .unwrap();
        assert!(err.to_string().contains("invalid type"), "{err}");
        let unsupported = d
            .factory()
            .cursor_at(&serde_json::json!({"size": 3}), "events", Utc::now())
            .unwrap_err();
        assert!(matches!(unsupported, FactoryError::Unsupported(_)));
    }

    #[test]
    fn each_mistake_is_named() {
        let cases: Vec<(ConnectorDefinitionBuilder, &str)> = vec![
            (complete().version("1.2"), "not a semantic version"),
            (
                ConnectorDefinition::builder("Acme!", "A"),
                "lowercase letters",
            ),
            (complete().publisher(" "), "publisher is empty"),
            (complete().stream("events", "again"), "stream 'events'"),
            (
                complete().credential("k", "none", []),
                "slot 'k' accepts no kind",
            ),
            (
                complete().config_schema(serde_json::json!(true)),
                "not a JSON object",
            ),
            (complete().supersedes("acme"), "supersede itself"),
        ];
        for (builder, expected) in cases {
            let err = builder.build().unwrap_err().to_string();
            assert!(err.contains(expected), "{err} lacks {expected}");
        }
    }

    #[test]
    fn a_new_version_derives_from_a_definition() {
        let v1 = complete().build().unwrap();
        let v2 = v1.to_builder().version("2.0.0").build().unwrap();
        assert_eq!((v2.id(), v2.version()), ("acme", &Version::new(2, 0, 0)));
        assert!(Arc::ptr_eq(v1.factory(), v2.factory()));
    }

    #[test]
    fn identifiers() {
        assert!(is_identifier("okta-system-log"));
        assert!(is_identifier("a1"));
        for bad in ["", "-a", "a-", "A", "a.b", "a/b", &"a".repeat(64)] {
            assert!(!is_identifier(bad), "{bad}");
        }
    }

    #[test]
    fn credential_refs_name_a_missing_slot() {
        let refs = CredentialRefs::new().with("okta", CredentialRef::new("t", "okta-token"));
        assert_eq!(refs.get("okta").unwrap().name, "okta-token");
        assert_eq!(
            refs.get("hubs").unwrap_err().to_string(),
            "credentials.hubs: no credential was given for slot 'hubs'"
        );
    }
}
