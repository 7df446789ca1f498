//! Time, injected. Everything that asks "what time is it" asks a [`Clock`], so tests and the
//! `sweep --at` command can move time without sleeping.

use chrono::{DateTime, Duration, Utc};
use std::sync::{Arc, Mutex};

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

/// The wall clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that moves only when told to.
#[derive(Clone)]
pub struct ManualClock(Arc<Mutex<DateTime<Utc>>>);

impl ManualClock {
    pub fn new(at: DateTime<Utc>) -> Self {
        ManualClock(Arc::new(Mutex::new(at)))
    }
    pub fn set(&self, at: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = at;
    }
    pub fn advance(&self, by: Duration) {
        let mut now = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

pub type SharedClock = Arc<dyn Clock>;

/// Another clock moved forward by an adjustable offset: the web demo's clock, which runs
/// with the wall clock (or a test's [`ManualClock`]) and jumps ahead when a person asks to
/// see what happens days later. It never goes back, so message times and the audit trail
/// stay in order.
#[derive(Clone)]
pub struct JumpClock {
    base: SharedClock,
    offset: Arc<Mutex<Duration>>,
}

impl JumpClock {
    pub fn new(base: SharedClock) -> Self {
        JumpClock {
            base,
            offset: Arc::new(Mutex::new(Duration::zero())),
        }
    }

    /// Moves the clock forward by `by`; a negative `by` is ignored.
    pub fn jump(&self, by: Duration) {
        if by > Duration::zero() {
            *self.offset.lock().unwrap_or_else(|e| e.into_inner()) += by;
        }
    }

    /// How far ahead of its base clock this clock is.
    pub fn offset(&self) -> Duration {
        *self.offset.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Clock for JumpClock {
    fn now(&self) -> DateTime<Utc> {
        self.base.now() + self.offset()
    }
}
