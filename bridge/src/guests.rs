//! "Make me a temporary account": guest accounts on the embedded server, limited per client address and
//! in total, removed when they expire (`msnp_server::guests`).

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Extension;
use axum::extract::State as Shared;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use msnp::ns::Entry;
use msnp_server::store::{Admin, SqliteStore};
use serde::Serialize;

use crate::config::GuestPolicy;
use crate::serve::Conn;
use crate::state::State;

/// How often expired guests are looked for.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// Guest accounts: where they are made, with which contacts, and who made how many lately.
#[derive(Debug)]
pub struct Guests {
    pub policy: GuestPolicy,
    store: Arc<Mutex<SqliteStore>>,
    contacts: Vec<Entry>,
    recent: Mutex<HashMap<IpAddr, VecDeque<Instant>>>,
}

fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

impl Guests {
    /// Guests in `store`, with `contacts` (the robots); starts removing expired ones every minute.
    pub fn start(policy: GuestPolicy, store: SqliteStore, contacts: Vec<Entry>) -> Arc<Guests> {
        let guests =
            Arc::new(Guests { policy, store: Arc::new(Mutex::new(store)), contacts, recent: Mutex::default() });
        let store = Arc::downgrade(&guests.store);
        tokio::spawn(async move {
            let mut every = tokio::time::interval(SWEEP_EVERY);
            loop {
                every.tick().await;
                let Some(store) = store.upgrade() else { return };
                let swept = tokio::task::spawn_blocking(move || {
                    let mut store = store.lock().unwrap_or_else(|e| e.into_inner());
                    msnp_server::guests::remove_expired(&mut *store, unix_now())
                })
                .await;
                match swept {
                    Ok(Ok(0)) => {}
                    Ok(Ok(n)) => tracing::info!(removed = n, "expired guest accounts removed"),
                    Ok(Err(e)) => tracing::warn!(error = %e, "cannot remove expired guest accounts"),
                    Err(e) => tracing::warn!(error = %e, "guest sweep failed"),
                }
            }
        });
        guests
    }

    /// Counts a request from `client`; if it has had its share this hour, how long until it may ask again.
    fn admit(&self, client: IpAddr, now: Instant) -> Result<(), Duration> {
        let hour = Duration::from_secs(3600);
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        // Forget addresses whose hour is over, so the table stays as small as the last hour's callers.
        recent.retain(|_, times| {
            while times.front().is_some_and(|t| now.duration_since(*t) >= hour) {
                times.pop_front();
            }
            !times.is_empty()
        });
        let times = recent.entry(client).or_default();
        if times.len() >= self.policy.per_address_per_hour as usize {
            let oldest = times.front().copied().unwrap_or(now);
            return Err(hour.saturating_sub(now.duration_since(oldest)));
        }
        times.push_back(now);
        Ok(())
    }
}

/// What `GET /guest` tells the page.
#[derive(Serialize)]
struct Offer {
    hours: u64,
}

/// The account made, shown to its person once.
#[derive(Serialize)]
struct Made {
    email: String,
    password: String,
}

/// `GET /guest`: whether guest accounts are offered, and for how long they last.
pub async fn offer(Shared(state): Shared<Arc<State>>) -> Response {
    match &state.guests {
        Some(g) => axum::Json(Offer { hours: g.policy.ttl.as_secs().div_ceil(3600) }).into_response(),
        None => (StatusCode::NOT_FOUND, "no guest accounts here").into_response(),
    }
}

/// `POST /guest`: a new guest account, or why not.
pub async fn create(
    Shared(state): Shared<Arc<State>>,
    Extension(conn): Extension<Conn>,
    headers: HeaderMap,
) -> Response {
    let Some(guests) = state.guests.clone() else {
        return (StatusCode::NOT_FOUND, "no guest accounts here").into_response();
    };
    let client = crate::client::address(conn.peer, &headers, &state.trusted_proxies, state.forwarded_header);
    if !crate::http::origin_allowed(&headers, &state.origins) {
        state.metrics.refused("origin");
        return (StatusCode::FORBIDDEN, "this page's origin may not make accounts here").into_response();
    }
    if let Err(wait) = guests.admit(client.ip(), Instant::now()) {
        let per_hour = guests.policy.per_address_per_hour;
        let minutes = wait.as_secs().div_ceil(60).max(1);
        let why = format!(
            "Only {per_hour} temporary accounts per hour from one address; try again in {minutes} minute{}.",
            if minutes == 1 { "" } else { "s" }
        );
        return (StatusCode::TOO_MANY_REQUESTS, [(axum::http::header::RETRY_AFTER, wait.as_secs().max(1))], why)
            .into_response();
    }
    let made = tokio::task::spawn_blocking(move || {
        let mut store = guests.store.lock().unwrap_or_else(|e| e.into_inner());
        if store.guest_count()? >= guests.policy.max {
            return Ok(None);
        }
        msnp_server::guests::create(&mut *store, &guests.contacts, guests.policy.ttl, unix_now()).map(Some)
    })
    .await;
    match made {
        Ok(Ok(Some(guest))) => {
            tracing::info!(%client, email = guest.email, "guest account created");
            axum::Json(Made { email: guest.email, password: guest.password }).into_response()
        }
        Ok(Ok(None)) => {
            (StatusCode::SERVICE_UNAVAILABLE, "All temporary accounts are taken; try again later.").into_response()
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "cannot create a guest account");
            (StatusCode::INTERNAL_SERVER_ERROR, "The server could not make an account.").into_response()
        }
        Err(e) => {
            tracing::warn!(error = %e, "guest account task failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "The server could not make an account.").into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_address_gets_its_share_per_hour() {
        let store = SqliteStore::memory(msnp_server::secret::Secret::random().unwrap()).unwrap();
        let policy = GuestPolicy { ttl: Duration::from_secs(60), per_address_per_hour: 2, max: 10 };
        let guests =
            Guests { policy, store: Arc::new(Mutex::new(store)), contacts: Vec::new(), recent: Mutex::default() };
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let t = Instant::now();
        assert!(guests.admit(a, t).is_ok() && guests.admit(a, t).is_ok());
        assert_eq!(guests.admit(a, t + Duration::from_secs(3599)), Err(Duration::from_secs(1)), "when to ask again");
        assert!(guests.admit(b, t).is_ok());
        assert!(guests.admit(a, t + Duration::from_secs(3600)).is_ok());
        assert_eq!(guests.recent.lock().unwrap().len(), 1, "b's hour is over");
    }
}
