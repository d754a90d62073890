//! Password hashing with argon2id at the OWASP-recommended parameters
//! (19 MiB of memory, 2 iterations, 1 lane). Hashing is CPU-heavy: run it through
//! [`off_thread`], never on an async worker thread.
//!
//! Each hash or check holds a 19 MiB block while it runs, so how many run at once, and
//! what becomes of a block once freed, decide the server's memory after people sign in.
//! [`off_thread`] runs one per core at most; the rest wait their turn without a thread.
//! And on glibc, blocks of [`LARGE_BLOCK`] or more are given back to the system when
//! freed ([`return_large_blocks`]); glibc's default keeps them. Measured in the load test
//! (20 sign-ups, then 60 s of traffic): the server's peak RSS was 248.9 MB with glibc's
//! default, reached during the sign-ups, and 46.2 MB with large blocks given back.

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::{Arc, Once, OnceLock};
use tokio::sync::Semaphore;

/// Memory cost in KiB (19 MiB).
pub const MEMORY_KIB: u32 = 19 * 1024;
/// Iterations.
pub const TIME_COST: u32 = 2;
/// Lanes.
pub const PARALLELISM: u32 = 1;

fn hasher() -> Argon2<'static> {
    // The parameters are constants within argon2's documented bounds.
    let params = Params::new(MEMORY_KIB, TIME_COST, PARALLELISM, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Allocations of this size or more are mapped on their own and given back when freed.
const LARGE_BLOCK: usize = 4 << 20;

/// Hashes and checks running at once, at most: one per core. More would not finish any
/// sooner, and each holds [`MEMORY_KIB`] while it runs.
fn slots() -> &'static Arc<Semaphore> {
    static SLOTS: OnceLock<Arc<Semaphore>> = OnceLock::new();
    SLOTS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Arc::new(Semaphore::new(cores))
    })
}

/// Run `work` (hashing or checking a password) on the blocking pool once one of the
/// [`slots`] is free. The slot is held by the work itself, so a caller that goes away
/// (a client that hung up) does not let one more start before this one ends.
pub async fn off_thread<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, tokio::task::JoinError> {
    return_large_blocks();
    // The semaphore is never closed, so a slot always comes.
    let slot = slots().clone().acquire_owned().await.ok();
    tokio::task::spawn_blocking(move || {
        let _slot = slot;
        work()
    })
    .await
}

/// Makes glibc give blocks of [`LARGE_BLOCK`] or more back to the system when they are
/// freed (once per process; elsewhere a no-op). By default glibc maps a large block on its
/// own only until the first such block is freed; then it raises the size it maps for (up
/// to 32 MiB), so every later hash block is carved from one of its arenas and stays there
/// once freed, where smaller allocations can split it and the next hash then needs a new
/// one. Six hashes on six threads kept about 100 MB that way (the test below). A fixed
/// threshold turns that adjustment off. Other allocations that large are rare in
/// the server; the benchmarks with it are in bench/ANALYSIS.md.
fn return_large_blocks() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        {
            // SAFETY: `mallopt` only sets one of the allocator's parameters, under its
            // own lock; the values are within the ranges glibc accepts (a mapping
            // threshold of at most 32 MiB). The trim threshold is what glibc's own
            // adjustment would pair with it (twice as much), so free memory at the top of
            // an arena is not handed back and asked for again on every small change.
            let set = unsafe {
                libc::mallopt(libc::M_MMAP_THRESHOLD, LARGE_BLOCK as libc::c_int)
                    + libc::mallopt(libc::M_TRIM_THRESHOLD, 2 * LARGE_BLOCK as libc::c_int)
            };
            if set != 2 {
                tracing::warn!("could not set the allocator's thresholds for large blocks");
            }
        }
    });
}

/// Hash a password into a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`).
pub fn hash(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(hasher()
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

/// Check a password against a stored PHC string; false on any mismatch or malformed hash.
pub fn verify(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => hasher()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// Burn the same time as a real check when the account does not exist, so response time
/// does not reveal which emails are registered.
pub fn verify_against_dummy(password: &str) {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let phc = DUMMY.get_or_init(|| hash("dummy password for timing").unwrap_or_default());
    let _ = verify(password, phc);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_with_owasp_parameters_and_verifies() {
        let phc = hash("correct horse").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify("correct horse", &phc));
        assert!(!verify("wrong horse", &phc));
        assert!(!verify("correct horse", "not a hash"));
        assert_ne!(phc, hash("correct horse").unwrap(), "salted");
    }

    /// However many ask at once, no more hashes run than there are slots, and all run.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_more_run_at_once_than_there_are_cores() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let (now, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let tasks: Vec<_> = (0..cores * 4)
            .map(|_| {
                let (now, most) = (now.clone(), most.clone());
                tokio::spawn(off_thread(move || {
                    let running = now.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(running, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    now.fetch_sub(1, Ordering::SeqCst);
                }))
            })
            .collect();
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        let most = most.load(Ordering::SeqCst);
        assert!(
            (1..=cores).contains(&most),
            "{most} at once on {cores} cores"
        );
    }

    /// A caller that goes away while its hash runs does not give its slot back early.
    #[tokio::test]
    async fn an_abandoned_hash_keeps_its_slot_until_it_ends() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let (started, release) = (std::sync::mpsc::channel(), std::sync::mpsc::channel::<()>());
        let (started_tx, started_rx) = started;
        let (release_tx, release_rx) = release;
        let call = tokio::spawn(off_thread(move || {
            let _ = started_tx.send(());
            let _ = release_rx.recv();
        }));
        tokio::task::spawn_blocking(move || started_rx.recv())
            .await
            .unwrap()
            .unwrap();
        call.abort();
        let _ = call.await;
        // Other tests in this process may hold slots too: never more than this one's free.
        assert!(slots().available_permits() < cores);
        release_tx.send(()).unwrap();
        let _ = off_thread(|| ()).await;
    }

    /// Hash blocks go back to the system once freed, although each hash ran on a thread
    /// of its own that is still alive (as the blocking pool's are). Measured in a child
    /// process (this test's binary, running only this test), so no other test's memory
    /// is counted. With glibc's default the growth was about 19 MiB per thread after
    /// the first.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn freed_hash_blocks_go_back_to_the_system() {
        const CHILD: &str = "PROMPTLAB_HASH_MEMORY_CHILD";
        const THREADS: usize = 6;
        let name = "auth::password::tests::freed_hash_blocks_go_back_to_the_system";
        if std::env::var_os(CHILD).is_some() {
            return_large_blocks();
            let before = rss_kib();
            let turn = Arc::new(std::sync::Mutex::new(()));
            let all_hashed = Arc::new(std::sync::Barrier::new(THREADS + 1));
            let done = Arc::new(std::sync::Barrier::new(THREADS + 1));
            let threads: Vec<_> = (0..THREADS)
                .map(|_| {
                    let (turn, all_hashed, done) = (turn.clone(), all_hashed.clone(), done.clone());
                    std::thread::spawn(move || {
                        {
                            let _turn = turn.lock().unwrap();
                            hash("correct horse").unwrap();
                        }
                        all_hashed.wait();
                        done.wait();
                    })
                })
                .collect();
            all_hashed.wait();
            println!("grew by {} KiB", rss_kib() - before);
            done.wait();
            threads.into_iter().for_each(|t| t.join().unwrap());
            return;
        }
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", name, "--nocapture", "--test-threads=1"])
            .env(CHILD, "1")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{stdout}");
        let grew: i64 = stdout
            .split("grew by ")
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no measure in: {stdout}"));
        assert!(
            grew < i64::from(MEMORY_KIB),
            "{THREADS} hashes kept {grew} KiB"
        );
    }

    fn rss_kib() -> i64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }
}
