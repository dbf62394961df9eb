//! DNS access for DKIM: mail-auth's authenticator plus a small TXT cache that tests can pre-fill.

use mail_auth::common::parse::TxtRecordParser;
use mail_auth::common::resolver::ToFqdn;
use mail_auth::common::verify::DomainKey;
use mail_auth::hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig, ResolverOpts};
use mail_auth::{MessageAuthenticator, ResolverCache, Txt};
use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Entries kept at most; when full, expired entries are dropped, then everything.
const CACHE_CAPACITY: usize = 4096;

/// Longest time one DKIM verification may wait for DNS before it counts as a temporary failure.
pub const LOOKUP_TIMEOUT: Duration = Duration::from_secs(30);

/// The DNS resolver used for DKIM key lookups. Cheap to clone (shared cache and connections).
#[derive(Clone)]
pub struct Resolver {
    pub(crate) authenticator: MessageAuthenticator,
    pub(crate) txt_cache: TxtCache,
    /// How long one verification may wait for DNS ([`LOOKUP_TIMEOUT`] unless set).
    pub(crate) lookup_timeout: Duration,
}

impl Resolver {
    /// Uses the system's DNS configuration (`/etc/resolv.conf`). For production.
    pub fn system() -> Result<Resolver, String> {
        let authenticator = MessageAuthenticator::new_system_conf()
            .map_err(|e| format!("cannot read the system DNS configuration: {e}"))?;
        Ok(Resolver { authenticator, txt_cache: TxtCache::default(), lookup_timeout: LOOKUP_TIMEOUT })
    }

    /// A resolver without any name server: only records added with [`Resolver::add_dkim_key`] resolve,
    /// every other lookup fails. For tests and offline use.
    pub fn offline() -> Result<Resolver, String> {
        let config = ResolverConfig::from_parts(None, Vec::new(), Vec::new());
        let authenticator = MessageAuthenticator::new(config, ResolverOpts::default())
            .map_err(|e| format!("cannot build the offline resolver: {e}"))?;
        Ok(Resolver { authenticator, txt_cache: TxtCache::default(), lookup_timeout: LOOKUP_TIMEOUT })
    }

    /// Asks only the name server at `addr` (UDP). For a local resolver and for tests (a server that
    /// never answers is how the DNS-stall case is tested).
    pub fn with_name_server(addr: SocketAddr) -> Result<Resolver, String> {
        let mut udp = ConnectionConfig::udp();
        udp.port = addr.port();
        let server = NameServerConfig::new(addr.ip(), true, vec![udp]);
        let config = ResolverConfig::from_parts(None, Vec::new(), vec![server]);
        let authenticator = MessageAuthenticator::new(config, ResolverOpts::default())
            .map_err(|e| format!("cannot build a resolver for {addr}: {e}"))?;
        Ok(Resolver { authenticator, txt_cache: TxtCache::default(), lookup_timeout: LOOKUP_TIMEOUT })
    }

    /// The same resolver (shared cache) with another limit for one verification's DNS wait.
    pub fn with_lookup_timeout(mut self, timeout: Duration) -> Resolver {
        self.lookup_timeout = timeout;
        self
    }

    /// Pins a DKIM key record (`v=DKIM1; k=ed25519; p=…`) for `selector._domainkey.domain`; it never
    /// expires and takes precedence over DNS.
    pub fn add_dkim_key(&self, selector: &str, domain: &str, record: &str) -> Result<(), String> {
        let key = DomainKey::parse(record.as_bytes()).map_err(|e| format!("invalid DKIM key record: {e}"))?;
        let name = format!("{selector}._domainkey.{domain}").to_fqdn().into_owned().into_boxed_str();
        self.txt_cache.pin(name, Txt::from(key));
        Ok(())
    }
}

/// A TXT answer and when it expires (`None`: pinned, never).
type Entry = (Txt, Option<Instant>);

#[derive(Clone, Default)]
pub(crate) struct TxtCache(Arc<Mutex<HashMap<Box<str>, Entry>>>);

impl TxtCache {
    fn pin(&self, name: Box<str>, value: Txt) {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).insert(name, (value, None));
    }
}

impl ResolverCache<Box<str>, Txt> for TxtCache {
    fn get<Q>(&self, name: &Q) -> Option<Txt>
    where
        Box<str>: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        match map.get(name) {
            Some((value, None)) => Some(value.clone()),
            Some((value, Some(until))) if *until > Instant::now() => Some(value.clone()),
            _ => None,
        }
    }

    fn remove<Q>(&self, name: &Q) -> Option<Txt>
    where
        Box<str>: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        map.remove(name).map(|(value, _)| value)
    }

    fn insert(&self, key: Box<str>, value: Txt, valid_until: Instant) {
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if map.get(&key).is_some_and(|(_, until)| until.is_none()) {
            return; // a pinned record stays
        }
        if map.len() >= CACHE_CAPACITY {
            let now = Instant::now();
            map.retain(|_, (_, until)| until.is_none_or(|u| u > now));
            if map.len() >= CACHE_CAPACITY {
                map.retain(|_, (_, until)| until.is_none());
            }
        }
        // Never keep an answer longer than a day, whatever its TTL.
        let cap = Instant::now().checked_add(Duration::from_secs(86_400)).unwrap_or(valid_until);
        map.insert(key, (value, Some(valid_until.min(cap))));
    }
}
