//! The client-per-tenant connection strategy: a registry of driver clients, one per tenant,
//! created lazily with single-flight creation, evicted by LRU beyond `max_clients` and by idle
//! TTL, each evicted client shut down — the pattern Node/Mongoose apps use.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use mongodb::Client;
use tokio::sync::{Mutex, OnceCell};
use tokio::time::Instant;

use super::{ConnectOptions, MongoError, client};

struct Entry {
    cell: Arc<OnceCell<Client>>,
    last_used: Instant,
}

/// Counters of a registry's life, for the evidence of a run.
#[derive(Debug, Default)]
pub struct RegistryStats {
    /// Clients created.
    pub created: AtomicU64,
    /// Clients evicted because the registry was full (least recently used first).
    pub evicted_lru: AtomicU64,
    /// Clients evicted because they were idle longer than the TTL.
    pub evicted_idle: AtomicU64,
    /// The most clients the registry ever held at once.
    pub max_held: AtomicUsize,
}

/// Per-tenant clients, at most `max_clients` at a time.
pub struct ClientRegistry {
    uri: String,
    opts: ConnectOptions,
    max_clients: usize,
    idle_ttl: Duration,
    clients: Mutex<HashMap<String, Entry>>,
    /// Life counters.
    pub stats: RegistryStats,
}

impl std::fmt::Debug for ClientRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URI may hold credentials: never print it.
        f.debug_struct("ClientRegistry")
            .field("max_clients", &self.max_clients)
            .field("idle_ttl", &self.idle_ttl)
            .finish_non_exhaustive()
    }
}

impl ClientRegistry {
    /// A registry of clients for `uri`, each with `opts` (its own pool), at most `max_clients`
    /// (at least 1) held at once, each dropped after `idle_ttl` without use.
    pub fn new(
        uri: &str,
        opts: ConnectOptions,
        max_clients: usize,
        idle_ttl: Duration,
    ) -> ClientRegistry {
        ClientRegistry {
            uri: uri.to_string(),
            opts,
            max_clients: max_clients.max(1),
            idle_ttl,
            clients: Mutex::new(HashMap::new()),
            stats: RegistryStats::default(),
        }
    }

    /// Clients held now.
    pub async fn len(&self) -> usize {
        self.clients.lock().await.len()
    }

    /// Whether the registry holds no client.
    pub async fn is_empty(&self) -> bool {
        self.len().await == 0
    }

    /// The client of a tenant, created on first use, and whether this call created it.
    /// Concurrent first uses of one tenant create one client between them (single flight).
    /// Called by runner workers, once per operation.
    ///
    /// # Errors
    /// When the client cannot be created (a bad URI).
    pub async fn get(&self, tenant: &str) -> Result<(Client, bool), MongoError> {
        let now = Instant::now();
        let mut evicted = Vec::new();
        let cell = {
            let mut map = self.clients.lock().await;
            // Idle entries first, then the least recently used beyond capacity.
            let idle: Vec<String> = map
                .iter()
                .filter(|(k, e)| {
                    k.as_str() != tenant && now.duration_since(e.last_used) > self.idle_ttl
                })
                .map(|(k, _)| k.clone())
                .collect();
            for k in idle {
                if let Some(e) = map.remove(&k) {
                    self.stats.evicted_idle.fetch_add(1, Ordering::Relaxed);
                    evicted.push(e.cell);
                }
            }
            let cell = match map.get_mut(tenant) {
                Some(e) => {
                    e.last_used = now;
                    e.cell.clone()
                }
                None => {
                    while map.len() >= self.max_clients {
                        let oldest = map
                            .iter()
                            .min_by_key(|(_, e)| e.last_used)
                            .map(|(k, _)| k.clone())
                            .expect("a full registry has entries");
                        if let Some(e) = map.remove(&oldest) {
                            self.stats.evicted_lru.fetch_add(1, Ordering::Relaxed);
                            evicted.push(e.cell);
                        }
                    }
                    let cell = Arc::new(OnceCell::new());
                    map.insert(
                        tenant.to_string(),
                        Entry {
                            cell: cell.clone(),
                            last_used: now,
                        },
                    );
                    cell
                }
            };
            self.stats.max_held.fetch_max(map.len(), Ordering::Relaxed);
            cell
        };
        // Shut evicted clients down outside the lock; callers still using one keep a clone,
        // which fails its next operation as a counted error rather than hanging.
        for e in evicted {
            if let Some(c) = e.get().cloned() {
                tokio::spawn(async move { c.shutdown().await });
            }
        }
        let mut created = false;
        let c = cell
            .get_or_try_init(|| async {
                created = true;
                self.stats.created.fetch_add(1, Ordering::Relaxed);
                client(&self.uri, &self.opts).await
            })
            .await?;
        Ok((c.clone(), created))
    }

    /// Shuts every held client down.
    pub async fn shutdown(&self) {
        let drained: Vec<Entry> = self.clients.lock().await.drain().map(|(_, e)| e).collect();
        for e in drained {
            if let Some(c) = e.cell.get().cloned() {
                c.shutdown().await;
            }
        }
    }
}
