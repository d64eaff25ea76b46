//! Copying one incident's new comments each way (see [`crate::comments`] for identity,
//! echoes and limits).

use std::collections::HashSet;

use chrono::DateTime;
use serde_json::json;
use ucp_core::{ActionOutcome, ActionRequest, Source};
use ucp_sources::defender::ADD_COMMENT;

use super::{IncidentSync, Notes, SyncError};
use crate::comments::{
    is_sentinel_copy, sentinel_copy_id, to_sentinel, to_xdr, xdr_key, MAX_COMMENTS,
};
use crate::ledger::{CommentRecord, CommentState};
use crate::report::Direction;
use crate::sentinel::Incident;
use crate::xdr::XdrIncident;

const XDR: &str = "xdr";
const SENTINEL: &str = "sentinel";
const WARNED_LIMIT: &str = "comments-limit";
const WARNED_CUT: &str = "comment-cut";

fn record(origin: &str, key: &str, state: CommentState, copy: &str) -> CommentRecord {
    CommentRecord {
        origin: origin.into(),
        key: key.into(),
        state,
        copy: copy.into(),
    }
}

impl IncidentSync {
    /// Copy incident `id`'s new comments each way; the writes made.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn sync_comments(
        &self,
        id: &str,
        x: &XdrIncident,
        s: &Incident,
        sentinel_id: &str,
        records: &[CommentRecord],
        warned: &mut Vec<String>,
        notes: &mut Notes,
    ) -> Result<u64, SyncError> {
        let mut writes = 0;
        let now = self.now();
        let known: HashSet<(&str, &str)> = records
            .iter()
            .map(|r| (r.origin.as_str(), r.key.as_str()))
            .collect();
        // Texts the sync posted (or is posting) to XDR: their comments are ours.
        let posted: HashSet<&str> = records
            .iter()
            .filter(|r| {
                r.origin == SENTINEL
                    && matches!(r.state, CommentState::Pending | CommentState::Copied)
            })
            .map(|r| r.copy.as_str())
            .collect();
        let xdr_texts: HashSet<&str> = x.comments.iter().map(|c| c.comment.as_str()).collect();

        // A copy to XDR left pending by a stopped run: found (done) or posted again below.
        let mut to_post: Vec<(String, String, Option<DateTime<chrono::Utc>>)> = Vec::new();
        for pending in records.iter().filter(|r| r.state == CommentState::Pending) {
            if xdr_texts.contains(pending.copy.as_str()) {
                self.ledger.comment(
                    id,
                    &record(SENTINEL, &pending.key, CommentState::Copied, &pending.copy),
                )?;
            } else {
                to_post.push((pending.key.clone(), pending.copy.clone(), None));
            }
        }

        // XDR → Sentinel.
        let count_read = s
            .properties
            .additional_data
            .as_ref()
            .and_then(|d| d.get("commentsCount"))
            .and_then(|c| c.as_u64())
            .unwrap_or(0) as usize;
        let mut in_sentinel = count_read;
        for comment in &x.comments {
            let key = xdr_key(comment);
            if known.contains(&(XDR, key.as_str())) {
                continue;
            }
            if posted.contains(comment.comment.as_str()) {
                self.ledger
                    .comment(id, &record(XDR, &key, CommentState::Ours, ""))?;
                continue;
            }
            if in_sentinel >= MAX_COMMENTS {
                self.ledger
                    .comment(id, &record(XDR, &key, CommentState::Skipped, ""))?;
                self.ledger.audit(now, id, "comments", "comment-skipped", &format!("a Defender XDR comment by {} was not copied: the Sentinel twin has {MAX_COMMENTS} comments, Sentinel's limit", comment.by))?;
                self.state.lock().await.stats.comments_skipped += 1;
                if !warned.iter().any(|w| w == WARNED_LIMIT) {
                    warned.push(WARNED_LIMIT.into());
                    notes.warnings.push(format!("Defender XDR incident {id} has more comments than the {MAX_COMMENTS} a Sentinel incident holds: the newer ones are not copied (read them in the Microsoft Defender portal)"));
                }
                continue;
            }
            let (text, cut) = to_sentinel(comment);
            if cut && !warned.iter().any(|w| w == WARNED_CUT) {
                warned.push(WARNED_CUT.into());
                notes.warnings.push(format!("a comment of Defender XDR incident {id} is longer than Sentinel's 30,000 characters: its copy was cut (the whole comment is in the Microsoft Defender portal)"));
            }
            let copy_id = sentinel_copy_id(&key);
            let saved = self
                .retry(false, || {
                    self.sentinel
                        .put_comment(&self.cx, sentinel_id, &copy_id, &text)
                })
                .await?;
            match saved {
                Ok(_) => {
                    self.ledger
                        .comment(id, &record(SENTINEL, &copy_id, CommentState::Ours, ""))?;
                    self.ledger
                        .comment(id, &record(XDR, &key, CommentState::Copied, &copy_id))?;
                    in_sentinel += 1;
                    writes += 1;
                    self.copied(
                        Direction::ToSentinel,
                        DateTime::parse_from_rfc3339(&comment.at)
                            .ok()
                            .map(|t| t.to_utc()),
                    )
                    .await;
                }
                Err(why) => {
                    self.ledger
                        .comment(id, &record(XDR, &key, CommentState::Skipped, ""))?;
                    self.ledger.audit(
                        now,
                        id,
                        "comments",
                        "comment-skipped",
                        &format!("Sentinel refused the copy of a Defender XDR comment: {why}"),
                    )?;
                    self.state.lock().await.stats.comments_skipped += 1;
                    notes.warnings.push(format!("Sentinel refused the copy of a comment of Defender XDR incident {id} ({why}); it is not tried again"));
                }
            }
        }

        // Sentinel → XDR, when Sentinel holds comments the ledger does not know.
        let known_in_sentinel = records.iter().filter(|r| r.origin == SENTINEL).count();
        if count_read != known_in_sentinel {
            let comments = self
                .retry(false, || self.sentinel.comments(&self.cx, sentinel_id))
                .await?;
            for comment in comments {
                if known.contains(&(SENTINEL, comment.name.as_str())) {
                    continue;
                }
                if is_sentinel_copy(&comment) {
                    self.ledger
                        .comment(id, &record(SENTINEL, &comment.name, CommentState::Ours, ""))?;
                    continue;
                }
                let (text, _) = to_xdr(&comment);
                self.ledger.comment(
                    id,
                    &record(SENTINEL, &comment.name, CommentState::Pending, &text),
                )?;
                to_post.push((
                    comment.name.clone(),
                    text,
                    comment.properties.created_time_utc,
                ));
            }
        }
        for (key, text, written_at) in to_post {
            let request =
                ActionRequest::new(ADD_COMMENT, json!({"incident_id": id, "comment": text}));
            let outcome = self
                .retry(true, || async {
                    self.cx.budget().acquire_urgent().await;
                    self.defender.act(&self.cx, &request).await
                })
                .await?;
            match outcome {
                ActionOutcome::Done { .. } | ActionOutcome::AlreadyDone { .. } => {
                    self.ledger
                        .comment(id, &record(SENTINEL, &key, CommentState::Copied, &text))?;
                    writes += 1;
                    self.copied(Direction::ToXdr, written_at).await;
                }
                ActionOutcome::Refused { reason } => {
                    self.ledger
                        .comment(id, &record(SENTINEL, &key, CommentState::Skipped, &text))?;
                    notes.warnings.push(format!("Defender XDR refused a comment copied from Sentinel to incident {id}: {reason}"));
                }
            }
        }
        Ok(writes)
    }

    /// A comment copied in `direction`, written at `written_at` on its side.
    async fn copied(&self, direction: Direction, written_at: Option<DateTime<chrono::Utc>>) {
        let mut state = self.state.lock().await;
        match direction {
            Direction::ToSentinel => {
                state.stats.comments_to_sentinel += 1;
                state.stats.sentinel_writes += 1;
            }
            Direction::ToXdr => {
                state.stats.comments_to_xdr += 1;
                state.stats.xdr_writes += 1;
            }
        }
        self.metrics.comment(self.cx.tenant(), direction);
        let latency = written_at
            .filter(|t| *t >= self.started)
            .and_then(|t| (self.now() - t).to_std().ok());
        if let Some(latency) = latency {
            match direction {
                Direction::ToSentinel => state.stats.latency_to_sentinel.push(latency),
                Direction::ToXdr => state.stats.latency_to_xdr.push(latency),
            }
            self.metrics.latency(self.cx.tenant(), direction, latency);
        }
    }
}
