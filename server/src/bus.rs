//! The cluster's bus on NATS: carries what the logic asks of other nodes ([`BusCall`]) and feeds back
//! what arrives from them ([`crate::cluster`] is the logic's side).
//!
//! - `msnp.node.<name>`: notes for one node, JSON, in the order its sender sent them.
//! - `msnp.heartbeat`: every node's name, every second; a node unheard for the node timeout is gone.
//! - The sign-in registry: the JetStream key-value bucket `msnp_sessions`, key the lowercased handle in
//!   hex, value the node holding the session. Its revisions order sign-ins across the cluster: of two
//!   sessions of one handle, the one recorded later survives, on every node alike. Kept in memory on
//!   `replicas` NATS servers, so losing one of three loses nothing.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_nats::jetstream::{self, kv};
use futures_util::StreamExt;
use thiserror::Error;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::cluster::{BusCall, ClusterConfig, Heartbeat, Note};
use crate::jobs::Done;
use crate::net::Server;
use crate::notification::JobId;

const BUCKET: &str = "msnp_sessions";
const HEARTBEAT: &str = "msnp.heartbeat";
const HEARTBEAT_EVERY: Duration = Duration::from_secs(1);
/// Tries at opening a key-value bucket, half a second apart.
const REGISTRY_TRIES: u32 = 60;
/// Tries at recording a sign-in, a quarter of a second apart.
const REGISTER_TRIES: u32 = 40;
/// How often a node checks that its watch of the sign-in registry keeps up with the registry.
const WATCH_CHECK_EVERY: Duration = Duration::from_secs(1);

/// A node's bus: the NATS servers to use and its place in the cluster.
#[derive(Clone, Debug)]
pub struct BusConfig {
    /// `nats://host:port`, several separated by commas.
    pub url: String,
    /// NATS servers keeping the sign-in registry (at most as many as the NATS cluster has).
    pub replicas: usize,
    pub cluster: ClusterConfig,
}

#[derive(Debug, Error)]
pub enum BusError {
    #[error("cannot reach NATS at {url}: {message}")]
    Connect { url: String, message: String },
    #[error("cannot open the JetStream key-value bucket {bucket}: {error}")]
    Bucket { bucket: String, error: String },
    #[error("node {0} did not say it was drained within 10 s (is it running, and is another node taking sign-ins?)")]
    NotDrained(String),
}

/// Connects to NATS and starts the tasks that carry the bus for `server`.
pub(crate) async fn start(server: Arc<Server>, config: &BusConfig) -> Result<Vec<JoinHandle<()>>, BusError> {
    let connect_error =
        |e: &dyn std::fmt::Display| BusError::Connect { url: config.url.clone(), message: e.to_string() };
    let client = connect(&config.url).await?;
    let registry = open_bucket(&client, BUCKET, config.replicas, Duration::ZERO).await?;
    let node = config.cluster.node.clone();
    let inbox = client.subscribe(format!("msnp.node.{node}")).await.map_err(|e| connect_error(&e))?;
    let beats = client.subscribe(HEARTBEAT).await.map_err(|e| connect_error(&e))?;
    let watch =
        registry.watch_all().await.map_err(|e| BusError::Bucket { bucket: BUCKET.into(), error: e.to_string() })?;
    let (calls, calls_rx) = mpsc::unbounded_channel();
    let results = server.attach_bus(calls);
    let timeout = config.cluster.node_timeout;
    Ok(vec![
        tokio::spawn(outgoing(client.clone(), registry.clone(), node.clone(), calls_rx, results)),
        tokio::spawn(incoming(Arc::clone(&server), inbox)),
        tokio::spawn(heartbeats(Arc::clone(&server), client, beats)),
        tokio::spawn(registry_changes(server, registry, watch, timeout)),
    ])
}

/// Connects to the NATS servers of `url` (`nats://host:port`, several separated by commas).
pub async fn connect(url: &str) -> Result<async_nats::Client, BusError> {
    let urls: Vec<&str> = url.split(',').map(str::trim).collect();
    let error = |e: &dyn std::fmt::Display| BusError::Connect { url: url.to_owned(), message: e.to_string() };
    async_nats::connect(&urls[..]).await.map_err(|e| error(&e))
}

/// The key-value bucket `bucket` (kept in memory on `replicas` servers, entries expiring after `max_age`
/// unless zero), created if missing by whoever comes first: the same settings make that idempotent. The
/// bucket's stream is made here, as the client's `create_key_value` would make it, because that call
/// first reads account fields that nats-server 2.9 (Debian's) does not send. A NATS cluster that has
/// just started elects its JetStream leader first: tried again for a while.
pub async fn open_bucket(
    client: &async_nats::Client,
    bucket: &str,
    replicas: usize,
    max_age: Duration,
) -> Result<kv::Store, BusError> {
    let js = jetstream::new(client.clone());
    let stream = jetstream::stream::Config {
        name: format!("KV_{bucket}"),
        subjects: vec![format!("$KV.{bucket}.>")],
        max_messages_per_subject: 1,
        max_age,
        storage: jetstream::stream::StorageType::Memory,
        num_replicas: replicas.max(1),
        allow_rollup: true,
        deny_delete: true,
        allow_direct: true,
        discard: jetstream::stream::DiscardPolicy::New,
        ..Default::default()
    };
    let mut tries = 0;
    loop {
        let error = match js.get_or_create_stream(stream.clone()).await {
            Ok(_) => match js.get_key_value(bucket).await {
                Ok(store) => return Ok(store),
                Err(e) => e.to_string(),
            },
            Err(e) => e.to_string(),
        };
        tries += 1;
        if tries >= REGISTRY_TRIES {
            return Err(BusError::Bucket { bucket: bucket.to_owned(), error });
        }
        tracing::info!(%error, bucket, "a key-value bucket is not ready yet: trying again");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn subject(node: &str) -> String {
    format!("msnp.node.{node}")
}

fn registry_key(user: &str) -> String {
    hex(user)
}

/// `text` in hexadecimal: what key-value keys and subjects can hold, whatever the text.
pub fn hex(text: &str) -> String {
    text.bytes().map(|b| format!("{b:02x}")).collect()
}

fn user_of(key: &str) -> Option<String> {
    let bytes: Option<Vec<u8>> =
        (0..key.len()).step_by(2).map(|i| u8::from_str_radix(key.get(i..i + 2)?, 16).ok()).collect();
    String::from_utf8(bytes?).ok()
}

/// Carries out the logic's calls, notes in the order they were asked for.
async fn outgoing(
    client: async_nats::Client,
    registry: kv::Store,
    node: String,
    mut calls: mpsc::UnboundedReceiver<BusCall>,
    results: mpsc::UnboundedSender<(JobId, Done)>,
) {
    while let Some(call) = calls.recv().await {
        match call {
            BusCall::Note { to, note } => match serde_json::to_vec(&note) {
                Ok(payload) => {
                    if let Err(e) = client.publish(subject(&to), payload.into()).await {
                        tracing::warn!(error = %e, to, "cannot send a note to another node");
                    }
                }
                Err(e) => tracing::error!(error = %e, "cannot encode a note"),
            },
            BusCall::Register { id, user } => {
                let (registry, results, node) = (registry.clone(), results.clone(), node.clone());
                tokio::spawn(async move {
                    let put = register(&registry, &user, &node).await;
                    let _ = results.send((id, Done::Registered(put)));
                });
            }
            BusCall::Unregister { user, rev } => {
                let registry = registry.clone();
                // Fails, as it should, when a later sign-in has replaced this one.
                tokio::spawn(async move { registry.delete_expect_revision(registry_key(&user), Some(rev)).await });
            }
        }
    }
}

/// Records that `user` signs in on `node`: its revision. While the registry's NATS servers elect a new
/// leader (one of them died) puts fail for a moment: tried again for a few seconds.
async fn register(registry: &kv::Store, user: &str, node: &str) -> Result<u64, String> {
    let mut tries = 0;
    loop {
        match registry.put(registry_key(user), node.as_bytes().to_vec().into()).await {
            Ok(rev) => return Ok(rev),
            Err(e) if tries >= REGISTER_TRIES => return Err(e.to_string()),
            Err(e) => tracing::info!(error = %e, "the sign-in registry is not available: trying again"),
        }
        tries += 1;
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Hands notes from other nodes to the logic.
async fn incoming(server: Arc<Server>, mut inbox: async_nats::Subscriber) {
    while let Some(message) = inbox.next().await {
        match serde_json::from_slice::<Note>(&message.payload) {
            Ok(note) => {
                let now = server.now();
                server.with_logic(|logic| logic.note(note, now));
            }
            Err(e) => tracing::warn!(error = %e, "a note that is not one: ignored"),
        }
    }
}

/// Says every second that this node is alive (where it takes sign-ins, how many users it has), and
/// hears the others say it.
async fn heartbeats(server: Arc<Server>, client: async_nats::Client, mut beats: async_nats::Subscriber) {
    let mut tick = tokio::time::interval(HEARTBEAT_EVERY);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let Some(own) = server.with_logic(|logic| logic.own_heartbeat()) else { return };
                let payload = serde_json::to_vec(&own).unwrap_or_default();
                if let Err(e) = client.publish(HEARTBEAT, payload.into()).await {
                    tracing::warn!(error = %e, "cannot send the heartbeat");
                }
            }
            beat = beats.next() => {
                let Some(beat) = beat else { return };
                if let Ok(beat) = serde_json::from_slice::<Heartbeat>(&beat.payload) {
                    let now = server.now();
                    server.with_logic(|logic| logic.heartbeat(beat, now));
                }
            }
        }
    }
}

/// `msnp-server drain`: tells node `node` to move its clients (to `to`, or to the live node with the
/// fewest users), then waits until its heartbeat says it takes no more sign-ins.
pub async fn drain(url: &str, node: &str, to: Option<String>) -> Result<(), BusError> {
    let error = |e: &dyn std::fmt::Display| BusError::Connect { url: url.to_owned(), message: e.to_string() };
    let client = connect(url).await?;
    let mut beats = client.subscribe(HEARTBEAT).await.map_err(|e| error(&e))?;
    let note = serde_json::to_vec(&Note::Drain { to }).unwrap_or_default();
    client.publish(subject(node), note.into()).await.map_err(|e| error(&e))?;
    client.flush().await.map_err(|e| error(&e))?;
    let drained = async {
        while let Some(beat) = beats.next().await {
            if serde_json::from_slice::<Heartbeat>(&beat.payload).is_ok_and(|b| b.node == node && b.ns.is_none()) {
                return true;
            }
        }
        false
    };
    match tokio::time::timeout(Duration::from_secs(10), drained).await {
        Ok(true) => Ok(()),
        _ => Err(BusError::NotDrained(node.to_owned())),
    }
}

/// Hands the registry's changes to the logic (first every entry it holds, then each change). A watch that
/// breaks (its NATS server died, say) is opened again from the revision after the last one seen.
async fn registry_changes(server: Arc<Server>, registry: kv::Store, mut watch: kv::Watch, timeout: Duration) {
    let mut last = 0;
    let mut check = tokio::time::interval(WATCH_CHECK_EVERY);
    loop {
        // What the registry held beyond `last` at the previous check, while nothing came meanwhile.
        let mut behind = false;
        loop {
            tokio::select! {
                entry = watch.next() => match entry {
                    Some(Ok(entry)) => {
                        last = entry.revision;
                        behind = false;
                        registry_change(&server, entry, timeout);
                    }
                    Some(Err(e)) => {
                        tracing::warn!(error = %e, "the sign-in registry's watch broke: opening it again");
                        break;
                    }
                    None => break,
                },
                _ = check.tick() => {
                    // A watch whose consumer went with a NATS server can fall silent without an error: one
                    // that stays behind the registry for two checks running is opened again.
                    let head = registry.stream.get_info().await.map(|info| info.state.last_sequence);
                    let lagging = head.is_ok_and(|head| head > last);
                    if lagging && behind {
                        tracing::warn!(last, "the sign-in registry's watch fell silent: opening it again");
                        break;
                    }
                    behind = lagging;
                }
            }
        }
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            // Asked again soon rather than waiting out the client's own timeout: while the NATS servers elect
            // a new leader the request goes unanswered, and the first one asked after it succeeds.
            match tokio::time::timeout(WATCH_CHECK_EVERY * 2, registry.watch_all_from_revision(last + 1)).await {
                Ok(Ok(again)) => break watch = again,
                Ok(Err(e)) => tracing::warn!(error = %e, "cannot watch the sign-in registry yet"),
                Err(_) => tracing::warn!("cannot watch the sign-in registry yet: no answer"),
            }
        }
    }
}

fn registry_change(server: &Server, entry: kv::Entry, timeout: Duration) {
    let Some(user) = user_of(&entry.key) else { return };
    let holder = match entry.operation {
        kv::Operation::Put => match String::from_utf8(entry.value.to_vec()) {
            Ok(node) => Some((node, entry.revision)),
            Err(_) => return,
        },
        kv::Operation::Delete | kv::Operation::Purge => None,
    };
    let age = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
        .saturating_sub(entry.created.unix_timestamp());
    let fresh = u64::try_from(age).unwrap_or(0) < timeout.as_secs();
    let now = server.now();
    server.with_logic(|logic| logic.directory(&user, holder, entry.revision, fresh, now));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_keys_round_trip() {
        let key = registry_key("jd@hotmail.com");
        assert!(key.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(user_of(&key).as_deref(), Some("jd@hotmail.com"));
        assert_eq!(user_of("zz"), None);
    }
}
