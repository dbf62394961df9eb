//! Password hashing (Argon2id). Hashing is slow on purpose, so in the server it runs on the blocking
//! pool, at most [`HASHING_PERMITS`] at a time for the whole process: a flood of logins queues
//! there instead of occupying the async worker threads that serve every other request.

use std::sync::{Arc, LazyLock};

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use tokio::sync::Semaphore;

/// Password hashes computed at once, process-wide.
pub const HASHING_PERMITS: usize = 2;

static HASHING: LazyLock<Arc<Semaphore>> = LazyLock::new(|| Arc::new(Semaphore::new(HASHING_PERMITS)));

/// Hashes a password here and now (the CLI and tests; the web uses [`hash_password_limited`]).
pub fn hash_password(pw: &str) -> String {
    Argon2::default().hash_password(pw.as_bytes()).map(|h| h.to_string()).expect("argon2 hashing")
}

fn verify_password(pw: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| Argon2::default().verify_password(pw.as_bytes(), &h).is_ok())
}

/// Runs `work` on the blocking pool under the process-wide limit. The permit travels into the
/// blocking task, so a request that is dropped meanwhile does not free a slot its hash still uses.
async fn limited<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    let permit = HASHING.clone().acquire_owned().await.expect("the hashing semaphore is never closed");
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        #[cfg(test)]
        let _seen = tests::InFlight::enter();
        work()
    })
    .await
    .expect("password hashing panicked")
}

pub async fn hash_password_limited(pw: String) -> String {
    limited(move || hash_password(&pw)).await
}

/// Checks `pw` against `hash`; with no hash (unknown user) it checks against a fixed one, so the
/// answer takes as long and timing does not reveal who exists.
pub async fn verify_password_limited(pw: String, hash: Option<String>) -> bool {
    const DUMMY: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$0Xk3pK1x0l2N5b8Z0y2W7wZ3hB4m1yN6oXcQ9rA8f2E";
    limited(move || match hash {
        Some(h) => verify_password(&pw, &h),
        None => {
            let _ = verify_password(&pw, DUMMY);
            false
        }
    })
    .await
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);
    static PEAK: AtomicUsize = AtomicUsize::new(0);

    /// Counts hashes running at once, for the test below.
    pub(crate) struct InFlight;

    impl InFlight {
        pub(crate) fn enter() -> InFlight {
            let now = IN_FLIGHT.fetch_add(1, Ordering::SeqCst) + 1;
            PEAK.fetch_max(now, Ordering::SeqCst);
            InFlight
        }
    }

    impl Drop for InFlight {
        fn drop(&mut self) {
            IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_flood_of_logins_hashes_at_most_two_passwords_at_once_off_the_async_threads() {
        let hash = super::hash_password("richtig-geheim-1");
        let mut all = Vec::new();
        for i in 0..12 {
            let h = if i % 3 == 0 { None } else { Some(hash.clone()) };
            all.push(tokio::spawn(super::verify_password_limited(format!("falsch-{i}"), h)));
        }
        all.push(tokio::spawn(super::verify_password_limited("richtig-geheim-1".into(), Some(hash.clone()))));
        let results: Vec<bool> = futures_join(all).await;
        assert_eq!(results.iter().filter(|ok| **ok).count(), 1, "only the right password passes");
        let peak = PEAK.load(Ordering::SeqCst);
        assert!((1..=super::HASHING_PERMITS).contains(&peak), "{peak} hashes ran at once");
    }

    async fn futures_join(all: Vec<tokio::task::JoinHandle<bool>>) -> Vec<bool> {
        let mut out = Vec::new();
        for h in all {
            out.push(h.await.unwrap());
        }
        out
    }
}
