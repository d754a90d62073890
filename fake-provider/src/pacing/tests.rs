use super::*;
use std::sync::atomic::Ordering::SeqCst;

#[tokio::test]
async fn a_pause_never_ends_before_its_deadline() {
    for ms in [0, 1, 2, 3, 5, 8] {
        let d = Duration::from_millis(ms) + Duration::from_micros(137);
        let t0 = Instant::now();
        sleep(d).await;
        assert!(
            t0.elapsed() >= d,
            "a pause of {d:?} ended after {:?}",
            t0.elapsed()
        );
    }
}

#[tokio::test]
async fn pauses_end_in_deadline_order() {
    // On a current-thread runtime woken tasks run in the order they were woken, which is
    // the order of their deadlines even when the thread is late and fires several at once.
    let order = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for ms in [30u64, 10, 20, 0, 25, 15] {
        let order = order.clone();
        tasks.push(tokio::spawn(async move {
            sleep(Duration::from_millis(ms)).await;
            lock(&order).push(ms);
        }));
    }
    for t in tasks {
        t.await.expect("a pause's task");
    }
    assert_eq!(*lock(&order), vec![0, 10, 15, 20, 25, 30]);
}

#[tokio::test]
async fn a_sooner_deadline_wakes_the_thread_that_waits_for_a_later_one() {
    // The thread sleeps until the far deadline; a near one added after it must not wait
    // that long. The bound is the far deadline, not a speed goal.
    let mut far = Box::pin(sleep(Duration::from_secs(30)));
    let looked = LOOKED.load(SeqCst);
    assert!(futures::poll!(far.as_mut()).is_pending());
    // Until the thread has looked at the heap with the far deadline in it.
    while LOOKED.load(SeqCst) == looked {
        std::thread::yield_now();
    }
    let near_first = tokio::select! {
        biased;
        _ = tokio::time::sleep(Duration::from_secs(20)) => false,
        _ = sleep(Duration::from_millis(5)) => true,
    };
    assert!(near_first, "the near pause waited for the far one");
    drop(far);
}

#[tokio::test]
async fn a_dropped_pause_leaves_the_others_alone() {
    let dropped = tokio::time::timeout(Duration::from_millis(1), sleep(Duration::from_millis(50)));
    assert!(dropped.await.is_err());
    let t0 = Instant::now();
    sleep(Duration::from_millis(60)).await;
    assert!(t0.elapsed() >= Duration::from_millis(60));
}

#[test]
fn a_pause_polled_from_another_task_keeps_the_new_waker() {
    // A future moved between tasks registers the waker of its latest poll.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .expect("a runtime");
    rt.block_on(async {
        let mut pause = Box::pin(sleep(Duration::from_millis(20)));
        // First polled (and registered) here, then finished in another task.
        assert!(futures::poll!(pause.as_mut()).is_pending());
        tokio::spawn(pause)
            .await
            .expect("the task that finishes the pause");
    });
}
