//! Microsoft Defender XDR through Microsoft Graph security: incidents (with their alerts),
//! alerts, and the 21 advanced hunting tables of the Defender XDR connector, for one Entra
//! tenant.
//!
//! - [`DefenderSource`]: streams `incidents` (`GET /security/incidents?$expand=alerts`) and
//!   `alerts` (`GET /security/alerts_v2`), read incrementally on `lastUpdateDateTime` in
//!   sweeps with an overlap (see [`cursor`](self#cursors)): every version of an item
//!   `(id, lastUpdateDateTime)` is delivered once, an unchanged item never again. Record id
//!   `<id>@<lastUpdateDateTime>`, time = `lastUpdateDateTime`, payload = the item's JSON as
//!   Graph sent it.
//! - [`DefenderHuntingSource`]: one stream per advanced hunting table ([`HUNTING_TABLES`]),
//!   read in time windows with `POST /security/runHuntingQuery`; a window whose answer
//!   reaches the 100,000-row cap is halved and asked again.
//! - [`MdiAlertsSource`]: the Defender for Identity alerts component connector (`alerts_v2`
//!   filtered on `serviceSource`), the kind Defender XDR supersedes.
//! - [`xdr_definition`] and [`mdi_alerts_definition`]: their catalog entries (XDR supersedes
//!   the component, see `definition.rs`).
//! - [`xdr_volume_lines`]: the connector page's chart: incidents, alerts and events.
//! - Response actions of [`DefenderSource`] (see `actions.rs`): [`UPDATE_INCIDENT`]
//!   (`PATCH /security/incidents/{id}` of assignedTo, classification, determination, status,
//!   customTags) and [`ADD_COMMENT`] (`POST /security/incidents/{id}/comments`), with the
//!   permission `SecurityIncident.ReadWrite.All`; [`DefenderSource::incident`] reads one
//!   incident.
//!
//! **Auth.** The Entra app's credential (a client secret or a certificate's private key, with
//! the tenant's token URL) is named in the configuration and lives in the credential store;
//! tokens for `https://graph.microsoft.com/.default` come from the platform's one token
//! provider, and each token request draws from the calling source's budget. A 401 drops the
//! token and the call is made once more with a fresh one. The app needs the application
//! permissions `SecurityIncident.Read.All` (incidents), `SecurityAlert.Read.All` (alerts) and
//! `ThreatHunting.Read.All` (hunting); Graph's 403 "Missing application roles" becomes
//! [`SourceError::Auth`](ucp_core::SourceError::Auth) naming the permission to grant. A 400
//! from a hunting query becomes a configuration error naming the table and the query.
//!
//! **Budgets.** Graph throttles each app per tenant, apart for each API family:
//!
//! | source | budget key | limits (at 90 %) |
//! |---|---|---|
//! | `DefenderSource`, `MdiAlertsSource` | (`microsoft-graph-security`, tenant id) | 50 a minute and 1,500 an hour |
//! | `DefenderHuntingSource` | (`microsoft-graph-hunting`, tenant id) | 45 a minute and 1,500 an hour |
//!
//! Every source of a tenant's security lists shares one budget, as they share Graph's quota
//! (a component connector next to XDR calls the same API); hunting has its own, as Graph
//! counts it apart, so 21 tables never starve the incident stream. Graph says nothing of its
//! remaining quota, only `Retry-After` on a 429: the budget pauses for it (every source on
//! the key waits) and otherwise keeps to 90 % of the documented limits, calls coming at the
//! minute's pace until the hour's share is used.
//!
//! # Cursors
//!
//! Incidents and alerts (see `cursor.rs`): the watermark, the sweep under way (its next
//! page), and the versions delivered within the overlap of the watermark (at most
//! [`MAX_SEEN`]), as JSON. Hunting (see `hunting/window.rs`): the next window's start and
//! length. Both survive restarts; [`Source::cursor_at`](ucp_core::Source::cursor_at) makes one
//! from a time for every stream.

mod actions;
mod config;
mod cursor;
mod definition;
mod enums;
mod graph;
pub mod hunting;
mod mdi;
mod page;
mod source;
mod sweep;
mod volume;

pub use actions::{ADD_COMMENT, MAX_COMMENT_CHARS, UPDATE_INCIDENT};
pub use config::{DefenderConfig, GraphLimits, StartAt, GRAPH_SCOPE, GRAPH_URL};
pub use cursor::MAX_SEEN;
pub use definition::{
    mdi_alerts_definition, xdr_definition, DefenderAlertsSettings, DefenderXdrSettings,
    CREDENTIAL_SLOT, MDI_ALERTS_DEFINITION_ID, XDR_DEFINITION_ID,
};
pub use enums::{
    AlertStatus, Classification, Determination, IncidentStatus, ServiceSource, Severity,
};
pub use hunting::{
    DefenderHuntingSource, HuntingConfig, HuntingTable, HUNTING_PROVIDER, HUNTING_TABLES,
};
pub use mdi::{MdiAlertsSource, MDI_SERVICE_SOURCE};
pub use page::{Item, Summary};
pub use source::{DefenderSource, ALERTS, INCIDENTS, SECURITY_PROVIDER};
pub use volume::{xdr_volume_lines, EVENTS};
