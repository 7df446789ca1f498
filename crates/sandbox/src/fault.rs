//! Fault injection and request logs, shared by the fakes.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use chrono::{DateTime, Utc};
use scim_domain::clock::SharedClock;
use std::sync::{Arc, Mutex, MutexGuard};

/// A kind of request a fault can target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Route {
    /// `POST {login}/{tenant}/oauth2/v2.0/token`.
    Login,
    /// `GET /v1.0/servicePrincipals?$filter=…`.
    ListServicePrincipals,
    /// `GET …/synchronization/jobs`.
    ListJobs,
    /// `GET …/synchronization/jobs/{job}`.
    GetJob,
    /// `POST …/jobs/{job}/validateCredentials`.
    ValidateCredentials,
    /// `PUT …/synchronization/secrets`.
    PutSecrets,
    /// `GET …/synchronization/secrets`.
    GetSecrets,
    /// `POST …/jobs/{job}/start`.
    StartJob,
    /// `GET /{tenant}/scim/v2/ServiceProviderConfig` on the AWS fake.
    ScimServiceProviderConfig,
}

/// What a faulty request gets instead of the model's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Answer `code` (with the service's usual error body, and `Retry-After` when given) to
    /// the next `times` matching requests; `usize::MAX` means for ever.
    Status {
        code: u16,
        retry_after: Option<u64>,
        times: usize,
    },
    /// Never answer the next matching request (the client's timeout must fire).
    Hang,
}

/// What the server does with one request.
pub(crate) enum Injected {
    Status { code: u16, retry_after: Option<u64> },
    Hang,
}

/// Faults waiting for their requests, applied in the order they were pushed.
#[derive(Clone, Debug, Default)]
pub struct Faults(Arc<Mutex<Vec<(Route, Fault)>>>);

impl Faults {
    /// Queues `fault` for the next request(s) on `route`.
    pub fn push(&self, route: Route, fault: Fault) {
        lock(&self.0).push((route, fault));
    }

    /// Removes every queued fault.
    pub fn clear(&self) {
        lock(&self.0).clear();
    }

    /// Takes the fault for one request on `route`, if any.
    pub(crate) fn take(&self, route: Route) -> Option<Injected> {
        let mut queue = lock(&self.0);
        loop {
            let index = queue.iter().position(|(r, _)| *r == route)?;
            match &mut queue[index].1 {
                Fault::Hang => {
                    queue.remove(index);
                    return Some(Injected::Hang);
                }
                Fault::Status { times: 0, .. } => {
                    queue.remove(index);
                }
                Fault::Status {
                    code,
                    retry_after,
                    times,
                } => {
                    let injected = Injected::Status {
                        code: *code,
                        retry_after: *retry_after,
                    };
                    if *times != usize::MAX {
                        *times -= 1;
                    }
                    if *times == 0 {
                        queue.remove(index);
                    }
                    return Some(injected);
                }
            }
        }
    }
}

/// One request as a fake received it: no headers, no body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recorded {
    pub method: String,
    /// The path without the query.
    pub path: String,
    /// By the fake's clock.
    pub at: DateTime<Utc>,
}

/// Every request a fake received, in order.
#[derive(Clone)]
pub(crate) struct RequestLog {
    clock: SharedClock,
    entries: Arc<Mutex<Vec<Recorded>>>,
}

impl RequestLog {
    pub fn new(clock: SharedClock) -> Self {
        RequestLog {
            clock,
            entries: Arc::default(),
        }
    }

    pub fn all(&self) -> Vec<Recorded> {
        lock(&self.entries).clone()
    }

    /// Axum middleware recording each request before it is handled.
    pub async fn record(State(log): State<RequestLog>, request: Request, next: Next) -> Response {
        let entry = Recorded {
            method: request.method().to_string(),
            path: request.uri().path().to_owned(),
            at: log.clock.now(),
        };
        lock(&log.entries).push(entry);
        next.run(request).await
    }
}

/// Counts the requests with `method` whose path ends with `path_suffix`.
pub(crate) fn count(requests: &[Recorded], method: &str, path_suffix: &str) -> usize {
    requests
        .iter()
        .filter(|r| r.method == method && r.path.ends_with(path_suffix))
        .count()
}

/// Locks a fake's state; a panic in another test thread must not hide this one's result.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(times: usize) -> Fault {
        Fault::Status {
            code: 500,
            retry_after: None,
            times,
        }
    }

    #[test]
    fn faults_apply_to_their_route_in_order_and_run_out() {
        let faults = Faults::default();
        faults.push(Route::GetJob, status(2));
        faults.push(Route::GetJob, Fault::Hang);
        assert!(faults.take(Route::StartJob).is_none());
        assert!(matches!(
            faults.take(Route::GetJob),
            Some(Injected::Status { code: 500, .. })
        ));
        assert!(matches!(
            faults.take(Route::GetJob),
            Some(Injected::Status { .. })
        ));
        assert!(matches!(faults.take(Route::GetJob), Some(Injected::Hang)));
        assert!(faults.take(Route::GetJob).is_none());
    }

    #[test]
    fn a_fault_for_ever_stays() {
        let faults = Faults::default();
        faults.push(Route::PutSecrets, status(usize::MAX));
        for _ in 0..100 {
            assert!(faults.take(Route::PutSecrets).is_some());
        }
        faults.clear();
        assert!(faults.take(Route::PutSecrets).is_none());
    }
}
