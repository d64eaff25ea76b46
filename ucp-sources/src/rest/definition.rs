//! The typed model of a declarative REST connector definition: the CCF `RestApiPoller`
//! `properties` (`auth`, `request`, `paging`, `response`, `dcrConfig`) plus ucp's own `ucp`
//! block (identity for the catalog, record ids and times, late arrivals, the account's rate
//! budget). [`super::load`] builds it from a file and checks it; nothing here can be invalid
//! once built.

use std::time::Duration;

use super::json_path::Path;
use super::template::Template;
use super::time_format::TimeFormat;

/// A loaded, checked definition.
#[derive(Clone, Debug)]
pub struct RestDefinition {
    /// Where it came from (a file name), for messages.
    pub origin: String,
    /// Catalog identity.
    pub meta: Meta,
    /// CCF `connectorDefinitionName`.
    pub connector_definition_name: String,
    /// CCF `dataType` (the Log Analytics table label), if given.
    pub data_type: Option<String>,
    /// The one stream the connector offers.
    pub stream: String,
    /// The provider name of the rate budget's key (e.g. `okta`): the same as the
    /// hand-written connector's, so both draw on one budget per account.
    pub provider: String,
    /// How calls authenticate.
    pub auth: Auth,
    /// What to ask.
    pub request: Request,
    /// How to page.
    pub paging: Paging,
    /// How to read answers.
    pub response: Response,
    /// Where ids and times of records come from.
    pub records: RecordPaths,
    /// CCF `addOnAttributes`: members added to every JSON object event.
    pub add_on_attributes: Vec<(String, Template)>,
    /// Overlapping windows deduplicated by record id, when set.
    pub late_arrival: Option<LateArrival>,
    /// The largest window one query covers while the stream is behind.
    pub catch_up_window: Duration,
    /// The account's rate budget until responses say otherwise.
    pub budget: BudgetDefaults,
    /// CCF `dcrConfig`: the Sentinel DCR stream the data was meant for.
    pub dcr: Option<DcrConfig>,
    /// `ucp.parameters`: the instance's settings, described (the catalog's config schema).
    pub parameter_specs: Vec<ParameterSpec>,
    /// Fields the loader did not use (CCF fields ucp ignores, typos): for people to read.
    pub warnings: Vec<String>,
}

/// What the connector catalog needs to list a definition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Meta {
    /// Stable id (`ucp.id`, default `connectorDefinitionName`).
    pub id: String,
    /// Version (`ucp.version`, default `1.0.0`).
    pub version: String,
    /// One line for people (`ucp.description`).
    pub description: String,
}

/// A parameter of the definition (`ucp.parameters.<name>`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParameterSpec {
    /// The `{{name}}` it fills.
    pub name: String,
    /// What it is, for people.
    pub description: String,
    /// Its value when the instance sets none.
    pub default: Option<String>,
}

/// An HTTP method a definition may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// GET.
    Get,
    /// POST.
    Post,
    /// PUT.
    Put,
    /// DELETE.
    Delete,
}

impl Method {
    /// Whether parameters travel in the body.
    pub fn has_body(self) -> bool {
        matches!(self, Method::Post | Method::Put)
    }

    /// reqwest's method.
    pub fn http(self) -> reqwest::Method {
        match self {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
            Method::Put => reqwest::Method::PUT,
            Method::Delete => reqwest::Method::DELETE,
        }
    }
}

/// A `{key, value}` pair of a login request (CCF `userName` / `password` of JwtToken and
/// Session auth).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoginField {
    /// The form or JSON field name.
    pub key: String,
    /// Its value (a credential placeholder for the password).
    pub value: Template,
}

/// CCF `auth`.
#[derive(Clone, Debug, PartialEq)]
pub enum Auth {
    /// No authentication.
    None,
    /// `Authorization: Basic` from a basic credential.
    Basic {
        /// The user (a placeholder or literal).
        user: Template,
        /// The password (a credential placeholder).
        password: Template,
    },
    /// A key in a header (`{apiKeyName}: {apiKeyIdentifier} {key}`) or in the POST body.
    ApiKey {
        /// The key (a credential placeholder).
        key: Template,
        /// The header or body field name (default `Authorization`).
        name: String,
        /// A prefix such as `SSWS` or `Bearer`, if any.
        identifier: Option<String>,
        /// The key goes in the POST payload as `{name}: key`, not in a header.
        in_post_payload: bool,
    },
    /// OAuth 2.0 client credentials through the platform's shared token provider.
    OAuth2 {
        /// Where the credential says its secret may go; checked against the credential's.
        token_endpoint: Template,
        /// The scope asked for (may be empty).
        scope: String,
        /// `tokenEndpointHeaders`.
        headers: Vec<(String, Template)>,
        /// `tokenEndpointQueryParameters`.
        query: Vec<(String, Template)>,
        /// `isCredentialsInHeaders`: client id and secret as HTTP Basic.
        credentials_in_header: bool,
        /// `accessTokenPrepend` (default `Bearer`).
        prepend: String,
    },
    /// A login request whose answer carries a token (CCF `JwtToken`).
    JwtToken(Box<Login>),
    /// A login request whose answer carries a session id (CCF `Session`).
    Session(Box<Login>),
}

/// The login request of JwtToken and Session auth.
#[derive(Clone, Debug, PartialEq)]
pub struct Login {
    /// The login URL.
    pub endpoint: Template,
    /// Its method (default POST).
    pub method: Method,
    /// The user field.
    pub user: LoginField,
    /// The password field.
    pub password: LoginField,
    /// Query parameters of the login request.
    pub query: Vec<(String, Template)>,
    /// Headers of the login request.
    pub headers: Vec<(String, Template)>,
    /// Send user and password as HTTP Basic instead of fields.
    pub credentials_in_header: bool,
    /// A JSON body instead of a form.
    pub json: bool,
    /// Timeout of the login request.
    pub timeout: Duration,
    /// Where the token is (JwtToken): a JSON path of the body, or a response header.
    pub token: TokenLocation,
    /// The header the token or session id is sent in on API calls.
    pub send_header: String,
    /// A prefix before the token on API calls (`Bearer`), if any.
    pub prepend: Option<String>,
    /// How long a token or session is used before logging in again (a 401 also does).
    pub lifetime: Duration,
}

/// Where a login answer carries its token.
#[derive(Clone, Debug, PartialEq)]
pub enum TokenLocation {
    /// At this JSON path of the body.
    Body(Path),
    /// In this response header.
    Header(String),
}

/// CCF `request`.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    /// `apiEndpoint`.
    pub endpoint: Template,
    /// `httpMethod`.
    pub method: Method,
    /// `queryWindowInMin`.
    pub window: Duration,
    /// `queryTimeFormat`.
    pub time_format: TimeFormat,
    /// `startTimeAttributeName` and `endTimeAttributeName`.
    pub time_attributes: Option<(String, String)>,
    /// `queryTimeIntervalAttributeName` with its prepend and delimiter.
    pub interval: Option<Interval>,
    /// `queryParameters`.
    pub query: Vec<(String, Template)>,
    /// `queryParametersTemplate`.
    pub template: Option<Template>,
    /// `headers`.
    pub headers: Vec<(String, Template)>,
    /// `isPostPayloadJson`.
    pub json_body: bool,
    /// `rateLimitQPS`.
    pub qps: Option<f64>,
    /// `retryCount` (1–6): kept for people; retries belong to the platform (see the module
    /// docs of [`super`]).
    pub retry_count: u32,
    /// `timeoutInSeconds` (1–180): the timeout of every request.
    pub timeout: Duration,
    /// `rateLimitConfig`.
    pub rate_limit: RateLimitConfig,
}

/// `?{name}={prepend}{start}{delimiter}{end}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interval {
    /// The parameter's name.
    pub name: String,
    /// Text before the start time.
    pub prepend: String,
    /// Text between the times.
    pub delimiter: String,
}

/// CCF `rateLimitConfig`, mapped onto ucp's rate-limit hints.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct RateLimitConfig {
    /// Headers named by the definition (`extraction.source: CustomHeaders`); every other
    /// fact still comes from the standard dialects.
    pub custom: Vec<(HintField, HeaderSpec)>,
    /// `retryStrategy.useResetOrRetryAfterHeaders` (default true): false drops a 429's reset
    /// and retry-after, so the budget waits a whole window.
    pub use_reset: bool,
}

/// A fact of a rate-limit hint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HintField {
    /// Calls per window.
    Limit,
    /// Calls left.
    Remaining,
    /// When the window resets.
    Reset,
    /// How long to wait.
    RetryAfter,
}

/// A header and how its value is written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeaderSpec {
    /// The header's name.
    pub name: String,
    /// Its format.
    pub format: HeaderFormat,
}

/// How a rate-limit header writes its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderFormat {
    /// A count, or seconds from now for a reset.
    Integer,
    /// Seconds from now.
    Seconds,
    /// Epoch seconds.
    UnixTimeSeconds,
    /// Epoch milliseconds.
    UnixTimeMilliseconds,
    /// An HTTP date or ISO 8601 time.
    DateTime,
}

/// CCF `paging`.
#[derive(Clone, Debug, PartialEq)]
pub struct Paging {
    /// The kind and its fields.
    pub kind: PagingKind,
    /// `pageSize`.
    pub page_size: Option<u32>,
    /// `pageSizeParameterName`.
    pub page_size_param: Option<String>,
    /// `pagingInfoPlacement`: paging parameters in the body rather than the query string.
    pub in_body: bool,
    /// `pagingQueryParamOnly`: next-page requests carry only the paging parameters.
    pub paging_params_only: bool,
}

/// How the next page is asked for.
#[derive(Clone, Debug, PartialEq)]
pub enum PagingKind {
    /// One request per window.
    None,
    /// `LinkHeader` / `PersistentLinkHeader`: follow a URL from the `Link` header (or the
    /// body).
    Link {
        /// The cursor outlives windows (polling mode).
        persistent: bool,
        /// The `rel` to follow (default `next`).
        rel: String,
        /// `linkHeaderTokenJsonPath`: the link is in the body here.
        body_path: Option<Path>,
    },
    /// `NextPageToken` / `PersistentToken`.
    Token {
        /// The cursor outlives windows (polling mode).
        persistent: bool,
        /// Where the token comes from.
        source: ValueSource,
        /// How it is sent.
        send: TokenSend,
        /// `hasNextFlagJsonPath`.
        has_next: Option<Path>,
    },
    /// `NextPageUrl`: a URL read from the body.
    NextUrl {
        /// Where the URL (or the token appended to `base`) comes from.
        source: ValueSource,
        /// `nextPageUrl`: a fixed URL for next pages, the value sent as `send`.
        base: Option<Template>,
        /// How the value is sent when `base` is set.
        send: Option<TokenSend>,
        /// `nextPageUrlQueryParameters`.
        query: Vec<(String, Template)>,
        /// `hasNextFlagJsonPath`.
        has_next: Option<Path>,
    },
    /// `Offset`: `offsetParaName` counts the records read so far in the window.
    Offset {
        /// The offset parameter (a JSON path when it sits in a JSON body).
        param: String,
        /// `offsetEndParaName` (offset + page size), if any.
        end_param: Option<String>,
    },
    /// `CountBasedPaging`: page numbers.
    PageNumber {
        /// `pageNumberParaName`.
        param: String,
        /// `zeroBasedIndexing`.
        zero_based: bool,
        /// `hasNextFlagJsonPath`.
        has_next: Option<Path>,
        /// `totalResultsJsonPath`.
        total: Option<Path>,
        /// `pageCountJsonPath`.
        page_count: Option<Path>,
    },
}

impl PagingKind {
    /// Whether the paging position outlives windows (polling mode).
    pub fn persistent(&self) -> bool {
        matches!(
            self,
            PagingKind::Link {
                persistent: true,
                ..
            } | PagingKind::Token {
                persistent: true,
                ..
            }
        )
    }
}

/// Where a paging value comes from.
#[derive(Clone, Debug, PartialEq)]
pub enum ValueSource {
    /// A JSON path of the body.
    Body(Path),
    /// A response header.
    Header(String),
}

/// How a paging value is sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenSend {
    /// As this parameter (query string or body, after `pagingInfoPlacement`).
    Param(String),
    /// In this request header.
    Header(String),
}

/// CCF `response`.
#[derive(Clone, Debug, PartialEq)]
pub struct Response {
    /// `eventsJsonPaths`.
    pub events: Vec<Path>,
    /// `successStatusJsonPath` and `successStatusValue`.
    pub success: Option<(Path, String)>,
    /// `isGzipCompressed` / `compressionAlgo`.
    pub compression: Option<Compression>,
    /// `format`.
    pub format: Format,
}

/// How a body is compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    /// gzip (one member).
    Gzip,
    /// gzip of several concatenated members.
    MultiGzip,
    /// zlib-wrapped deflate (raw deflate is tried too).
    Deflate,
}

/// A body's format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Format {
    /// JSON.
    Json,
    /// CSV (RFC 4180).
    Csv(CsvFormat),
}

/// CSV settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CsvFormat {
    /// `csvDelimiter` (default `,`).
    pub delimiter: u8,
    /// `hasCsvHeader` (default true): the first row names the columns.
    pub header: bool,
    /// `csvEscape` (default `"`): the quote character.
    pub quote: u8,
    /// `hasCsvBoundary`: a boundary line before and after the rows is skipped.
    pub boundary: bool,
}

/// Where a record's id and time come from.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct RecordPaths {
    /// `ucp.recordIdJsonPath`; without one, the id is a hash of the record's content.
    pub id: Option<Path>,
    /// `ucp.recordTimeJsonPath`; without one, the time of collection.
    pub time: Option<Path>,
    /// `ucp.recordTimeFormat`, when record times are not ISO 8601 or epoch numbers.
    pub time_format: Option<TimeFormat>,
}

/// `ucp.lateArrival`: every query reaches back `lookback` before its window, and records
/// already delivered are dropped by id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LateArrival {
    /// How far back each query reaches.
    pub lookback: Duration,
    /// The most ids the cursor remembers (oldest dropped first).
    pub max_ids: usize,
}

/// `ucp.rateLimit`, or what `rateLimitQPS` implies.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BudgetDefaults {
    /// Calls per window.
    pub limit: u32,
    /// The window.
    pub per: Duration,
    /// Share of the limit this platform uses.
    pub share: f64,
}

/// CCF `dcrConfig`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DcrConfig {
    /// `dataCollectionEndpoint`.
    pub endpoint: String,
    /// `dataCollectionRuleImmutableId`.
    pub rule_id: String,
    /// `streamName` (`Custom-…`).
    pub stream: String,
}

impl RestDefinition {
    /// Every configuration parameter (`{{name}}` that is not a credential field) the
    /// definition uses, sorted, each once.
    pub fn parameters(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .templates()
            .flat_map(|t| t.parameters().map(str::to_string).collect::<Vec<_>>())
            .chain(self.parameter_specs.iter().map(|p| p.name.clone()))
            .collect();
        names.sort_unstable();
        names.dedup();
        names
    }

    /// The catalog's configuration schema of an instance: a JSON Schema object with one
    /// string property per parameter (with its description and default) and the credential's
    /// name, required when the auth needs one.
    pub fn config_schema(&self) -> serde_json::Value {
        let mut properties = serde_json::Map::new();
        let mut required = Vec::new();
        for name in self.parameters() {
            let spec = self
                .parameter_specs
                .iter()
                .find(|p| p.name.eq_ignore_ascii_case(&name));
            let mut property = serde_json::json!({"type": "string"});
            if let Some(spec) = spec {
                property["description"] = spec.description.clone().into();
                if let Some(default) = &spec.default {
                    property["default"] = default.clone().into();
                }
            }
            if spec.is_none_or(|s| s.default.is_none()) {
                required.push(serde_json::Value::from(name.clone()));
            }
            properties.insert(name, property);
        }
        if !matches!(self.auth, Auth::None) {
            properties.insert(
                "credential".into(),
                serde_json::json!({"type": "string", "description": "the name of the credential in the tenant's store"}),
            );
            required.push("credential".into());
        }
        serde_json::json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": self.meta.id,
            "description": self.meta.description,
            "type": "object",
            "properties": properties,
            "required": required,
        })
    }

    fn templates(&self) -> impl Iterator<Item = &Template> {
        let mut all: Vec<&Template> = vec![&self.request.endpoint];
        all.extend(self.request.query.iter().map(|(_, t)| t));
        all.extend(self.request.headers.iter().map(|(_, t)| t));
        all.extend(self.request.template.iter());
        all.extend(self.add_on_attributes.iter().map(|(_, t)| t));
        match &self.auth {
            Auth::None => {}
            Auth::Basic { user, password } => all.extend([user, password]),
            Auth::ApiKey { key, .. } => all.push(key),
            Auth::OAuth2 {
                token_endpoint,
                headers,
                query,
                ..
            } => {
                all.push(token_endpoint);
                all.extend(headers.iter().chain(query).map(|(_, t)| t));
            }
            Auth::JwtToken(login) | Auth::Session(login) => {
                all.extend([&login.endpoint, &login.user.value, &login.password.value]);
                all.extend(login.headers.iter().chain(&login.query).map(|(_, t)| t));
            }
        }
        if let PagingKind::NextUrl { base, query, .. } = &self.paging.kind {
            all.extend(base.iter());
            all.extend(query.iter().map(|(_, t)| t));
        }
        all.into_iter()
    }
}
