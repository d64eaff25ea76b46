//! Acceptance: how a collection job learns that every subscriber took a page.
//!
//! The job creates one [`PendingPage`] per page it fans out and one [`Ack`] per subscriber
//! batch; the ack travels with the batch through the subscriber's queue and is accepted once
//! the batch is delivered, dead-lettered, durably queued, or dropped by policy (counted). The
//! job saves the stream's cursor past a page only when its count reaches zero and every page
//! before it is complete; an ack dropped unaccepted (a delivery task that died) marks the page
//! abandoned so the cursor never passes it.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::mpsc;

/// Acceptance state of one fanned-out page, shared by the job and its subscribers' acks.
#[derive(Debug)]
pub(crate) struct PendingPage {
    /// Subscribers (plus the job's own guard while fanning out) that have not accepted yet.
    remaining: AtomicUsize,
    /// A subscriber lost the batch without accepting it (its task died): the cursor must not
    /// pass this page until it is collected again.
    abandoned: AtomicBool,
}

impl PendingPage {
    /// A page held by the job's own guard until [`PendingPage::release_guard`].
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(PendingPage {
            remaining: AtomicUsize::new(1),
            abandoned: AtomicBool::new(false),
        })
    }

    /// Every subscriber accepted it.
    pub(crate) fn is_complete(&self) -> bool {
        self.remaining.load(Ordering::Acquire) == 0 && !self.is_abandoned()
    }

    /// A subscriber lost its batch: the page must be collected again.
    pub(crate) fn is_abandoned(&self) -> bool {
        self.abandoned.load(Ordering::Acquire)
    }

    /// The job finished fanning the page out; tell it if that completed the page.
    pub(crate) fn release_guard(&self, notify: &mpsc::UnboundedSender<()>) {
        if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            let _ = notify.send(());
        }
    }
}

/// A subscriber's promise to accept one batch. Dropping it unaccepted marks the page
/// abandoned, unless the subscription was removed (then nobody wants the batch any more).
pub(crate) struct Ack {
    page: Arc<PendingPage>,
    released: Arc<AtomicBool>,
    notify: mpsc::UnboundedSender<()>,
    done: bool,
}

impl Ack {
    /// One more subscriber owes `page` an acceptance. `released` is the subscription's flag,
    /// set when it is removed; `notify` wakes the job.
    pub(crate) fn new(
        page: Arc<PendingPage>,
        released: Arc<AtomicBool>,
        notify: mpsc::UnboundedSender<()>,
    ) -> Self {
        page.remaining.fetch_add(1, Ordering::AcqRel);
        Ack {
            page,
            released,
            notify,
            done: false,
        }
    }

    /// The batch is delivered, dead-lettered, durably queued, or dropped by policy with the
    /// loss counted.
    pub(crate) fn accept(mut self) {
        self.finish();
    }

    fn finish(&mut self) {
        self.done = true;
        self.page.release_guard(&self.notify);
    }
}

impl Drop for Ack {
    fn drop(&mut self) {
        if !self.done {
            if !self.released.load(Ordering::Acquire) {
                self.page.abandoned.store(true, Ordering::Release);
            }
            self.finish();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_completes_when_the_guard_and_every_ack_are_done() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let page = PendingPage::new();
        let released = Arc::new(AtomicBool::new(false));
        let a = Ack::new(page.clone(), released.clone(), tx.clone());
        let b = Ack::new(page.clone(), released.clone(), tx.clone());
        page.release_guard(&tx);
        a.accept();
        assert!(!page.is_complete());
        b.accept();
        assert!(page.is_complete());
        assert!(rx.try_recv().is_ok(), "the job is woken once complete");
    }

    #[test]
    fn a_dropped_ack_abandons_the_page_unless_its_subscription_was_removed() {
        let (tx, _rx) = mpsc::unbounded_channel();
        let page = PendingPage::new();
        let released = Arc::new(AtomicBool::new(false));
        drop(Ack::new(page.clone(), released.clone(), tx.clone()));
        page.release_guard(&tx);
        assert!(page.is_abandoned() && !page.is_complete());

        let page = PendingPage::new();
        released.store(true, Ordering::Release);
        drop(Ack::new(page.clone(), released, tx.clone()));
        page.release_guard(&tx);
        assert!(page.is_complete());
    }
}
