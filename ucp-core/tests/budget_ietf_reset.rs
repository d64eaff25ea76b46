//! The budget against a provider that speaks the IETF `RateLimit-*` headers, whose reset is
//! in seconds *from now*: converted to an instant, it lands a second either side from one
//! response to the next. The budget must still see one provider window per window, learn
//! what a co-tenant used, and keep using its own share — no pause beyond the real reset.
//!
//! The provider is played in process on tokio's paused clock: a fixed 60-second window of 60
//! calls counted for everyone, headers built as such a provider sends them and read back by
//! the HTTP kit, as a partner's source does.

use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::time::Instant;
use ucp_core::{http, BudgetKey, BudgetSpec, Clock, RateBudget};

const LIMIT: u32 = 60;
const WINDOW: Duration = Duration::from_secs(60);

/// The provider: every caller's calls counted per fixed window.
struct Provider {
    start: Instant,
    window: u64,
    used: u32,
    refused: u32,
    rng: StdRng,
}

impl Provider {
    fn roll(&mut self, now: Instant) {
        let window = (now - self.start).as_secs() / WINDOW.as_secs();
        if window != self.window {
            self.window = window;
            self.used = 0;
        }
    }

    /// One call; the answer's headers, or `None` for a 429.
    fn call(&mut self, now: Instant) -> Option<HeaderMap> {
        self.roll(now);
        if self.used >= LIMIT {
            self.refused += 1;
            return None;
        }
        self.used += 1;
        let end = self.start + WINDOW * (self.window as u32 + 1);
        // Seconds until the reset, as the provider rounds them: a second either way.
        let secs = (end - now).as_secs_f64().round() as i64 + self.rng.random_range(-1..=1);
        let mut headers = HeaderMap::new();
        let value = |n: i64| HeaderValue::from_str(&n.max(0).to_string()).unwrap();
        headers.insert("ratelimit-limit", value(LIMIT.into()));
        headers.insert("ratelimit-remaining", value((LIMIT - self.used).into()));
        headers.insert("ratelimit-reset", value(secs));
        Some(headers)
    }
}

#[tokio::test(start_paused = true)]
async fn a_jittering_relative_reset_and_a_co_tenant_burst_leave_our_share_intact() {
    // Several jitter sequences: the phase of our calls against whole seconds varies, so the
    // rounding error of the relative reset does too.
    for seed in 0..8 {
        scenario(seed).await;
    }
}

async fn scenario(seed: u64) {
    let clock = Clock::new();
    let start = Instant::now();
    // Half the org's 60 calls a minute are ours.
    let budget = RateBudget::new(
        BudgetSpec::new(BudgetKey::new("acme", "org"), LIMIT, WINDOW).share(0.5),
        clock,
    );
    let mut provider = Provider {
        start,
        window: 0,
        used: 0,
        refused: 0,
        rng: StdRng::seed_from_u64(seed),
    };
    let windows = 6u64;
    let mut ours = vec![0u32; windows as usize];
    let mut calls: Vec<Instant> = Vec::new();
    let mut burst_done = vec![false; windows as usize];
    loop {
        budget.acquire().await;
        let now = Instant::now();
        let window = (now - start).as_secs() / WINDOW.as_secs();
        if window >= windows {
            break;
        }
        // The co-tenant: a burst of 20 calls 10 s into the first window, 6 in the others.
        if (now - start) >= WINDOW * window as u32 + Duration::from_secs(10)
            && !burst_done[window as usize]
        {
            burst_done[window as usize] = true;
            let burst = if window == 0 { 20 } else { 6 };
            for _ in 0..burst {
                provider.call(now);
            }
        }
        let headers = provider
            .call(now)
            .expect("the budget never lets us past the limit");
        let hint = http::rate_limit_hint(&headers, clock.now_utc()).expect("a hint");
        budget.observe(&hint);
        ours[window as usize] += 1;
        calls.push(now);
    }
    assert_eq!(provider.refused, 0, "no 429 at any time");
    // Once the first window taught it what the co-tenant uses, every window gives us our
    // whole share of 30 calls (the limiter allows one more at a window's edge).
    for (window, n) in ours.iter().enumerate().skip(1) {
        assert!(
            (29..=31).contains(n),
            "seed {seed}, window {window}: {n} calls of our share of 30 ({ours:?})"
        );
    }
    // No pause beyond the real reset: calls stay about two seconds apart, never a long wait.
    let longest = calls
        .windows(2)
        .map(|pair| pair[1] - pair[0])
        .max()
        .unwrap_or_default();
    assert!(
        longest <= Duration::from_secs(5),
        "seed {seed}: a pause of {longest:?} between calls ({ours:?})"
    );
}
