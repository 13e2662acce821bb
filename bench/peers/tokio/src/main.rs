// The task benchmarks of bench/task-bench.c, written for tokio's
// current-thread runtime: `taskbench BENCH [N]` prints "BENCH VALUE".
// See bench/peers/README.md for what each one measures.
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Notify;

fn rss_bytes() -> i64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    for line in s.lines() {
        if let Some(rest) = line.strip_prefix("VmRSS:") {
            let kb: i64 = rest.trim().trim_end_matches("kB").trim().parse().unwrap_or(-1);
            return kb * 1024;
        }
    }
    -1
}

async fn spawn_join(n: usize) -> f64 {
    let t0 = Instant::now();
    let mut handles = Vec::with_capacity(n);
    for _ in 0..n {
        handles.push(tokio::spawn(async { 1u64 }));
    }
    let mut sum = 0u64;
    for h in handles {
        sum += h.await.unwrap();
    }
    assert_eq!(sum, n as u64);
    n as f64 / t0.elapsed().as_secs_f64()
}

// One root task per worker, each spawning its share of n tasks and
// awaiting them (bench/task-bench.c mt_spawn_join).
async fn mt_spawn_join(n: usize, workers: usize) -> f64 {
    let t0 = Instant::now();
    let share = n / workers;
    let mut roots = Vec::with_capacity(workers);
    for _ in 0..workers {
        roots.push(tokio::spawn(async move {
            let mut handles = Vec::with_capacity(share);
            for _ in 0..share {
                handles.push(tokio::spawn(async { 1u64 }));
            }
            let mut sum = 0u64;
            for h in handles {
                sum += h.await.unwrap();
            }
            sum
        }));
    }
    let mut sum = 0u64;
    for r in roots {
        sum += r.await.unwrap();
    }
    assert_eq!(sum, (share * workers) as u64);
    (share * workers) as f64 / t0.elapsed().as_secs_f64()
}

// One fanned-out task: a little work, then the fan-in counter (the
// work's result, never 0, feeds it so that it can't be left out); the
// last one notifies.
async fn fan_task(i: usize, left: Arc<AtomicUsize>, done: Arc<Notify>) {
    let mut x = (i as u64).wrapping_mul(2654435761).wrapping_add(1);
    for _ in 0..8 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    if left.fetch_sub(1 + (x == 0) as usize, Ordering::AcqRel) == 1 {
        done.notify_one();
    }
}

// Fan-out from outside the runtime (the main thread), fan-in through a
// counter whose last decrement notifies the main thread.
fn fanout(rt: &tokio::runtime::Runtime, n: usize) -> f64 {
    let t0 = Instant::now();
    let left = Arc::new(AtomicUsize::new(n));
    let done = Arc::new(Notify::new());
    for i in 0..n {
        drop(rt.spawn(fan_task(i, left.clone(), done.clone())));
    }
    rt.block_on(done.notified());
    assert_eq!(left.load(Ordering::Relaxed), 0);
    n as f64 / t0.elapsed().as_secs_f64()
}

// The same fan-out from a task on a worker (its spawns go to that
// worker's queue, the others steal them); the main thread waits.
fn fanout_in(rt: &tokio::runtime::Runtime, n: usize) -> f64 {
    let t0 = Instant::now();
    let left = Arc::new(AtomicUsize::new(n));
    let done = Arc::new(Notify::new());
    let (l0, d0) = (left.clone(), done.clone());
    drop(rt.spawn(async move {
        for i in 0..n {
            drop(tokio::spawn(fan_task(i, l0.clone(), d0.clone())));
        }
    }));
    rt.block_on(done.notified());
    assert_eq!(left.load(Ordering::Relaxed), 0);
    n as f64 / t0.elapsed().as_secs_f64()
}

async fn pingpong(n: usize) -> f64 {
    let to_a = Arc::new(Notify::new());
    let to_b = Arc::new(Notify::new());
    let (a2, b2) = (to_a.clone(), to_b.clone());
    let t0 = Instant::now();
    let other = tokio::spawn(async move {
        for _ in 0..n {
            b2.notified().await;
            a2.notify_one();
        }
    });
    for _ in 0..n {
        to_b.notify_one();
        to_a.notified().await;
    }
    let rate = n as f64 / t0.elapsed().as_secs_f64();
    other.await.unwrap();
    rate
}

// Two spawned tasks wake each other n times through Notify, on the
// multi-thread runtime: its scheduler decides where each runs.
async fn mt_pingpong(n: usize) -> f64 {
    let to_a = Arc::new(Notify::new());
    let to_b = Arc::new(Notify::new());
    let (a1, b1) = (to_a.clone(), to_b.clone());
    let (a2, b2) = (to_a.clone(), to_b.clone());
    let t0 = Instant::now();
    let b = tokio::spawn(async move {
        for _ in 0..n {
            b2.notified().await;
            a2.notify_one();
        }
    });
    let a = tokio::spawn(async move {
        for _ in 0..n {
            b1.notify_one();
            a1.notified().await;
        }
    });
    a.await.unwrap();
    let rate = n as f64 / t0.elapsed().as_secs_f64();
    b.await.unwrap();
    rate
}

async fn parked_rss(n: usize) -> f64 {
    let gate = Arc::new(Notify::new());
    let parked = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let before = rss_bytes();
    for i in 0..n {
        let (g, p, d) = (gate.clone(), parked.clone(), done.clone());
        // Detached: ours keeps no handle either.
        drop(tokio::spawn(async move {
            let data = [i as u8; 64];
            let wait = g.notified();
            p.fetch_add(1, Ordering::Relaxed);
            wait.await;
            // Read the data back after the wait (std::hint::black_box
            // needs rustc 1.66; Debian's is 1.63).
            let _ = unsafe { std::ptr::read_volatile(&data) };
            d.fetch_add(1, Ordering::Relaxed);
        }));
    }
    while parked.load(Ordering::Relaxed) < n {
        tokio::task::yield_now().await;
    }
    let after = rss_bytes();
    gate.notify_waiters();
    while done.load(Ordering::Relaxed) < n {
        tokio::task::yield_now().await;
    }
    (after - before) as f64 / n as f64
}

async fn sleeps(n: usize, late: bool) -> f64 {
    let start = tokio::time::Instant::now();
    let armed = Arc::new(AtomicUsize::new(0));
    let before = rss_bytes();
    let (base, span) = if late {
        (Duration::from_millis(10), Duration::from_secs(1))
    } else {
        (Duration::from_secs(1), Duration::from_secs(1))
    };
    let mut handles = Vec::with_capacity(if late { n } else { 0 });
    for i in 0..n {
        let a = armed.clone();
        let deadline = start + base + span.mul_f64(i as f64 / n as f64);
        let h = tokio::spawn(async move {
            let s = tokio::time::sleep_until(deadline);
            a.fetch_add(1, Ordering::Relaxed);
            s.await;
            let now = tokio::time::Instant::now();
            if now < deadline {
                -1i64
            } else {
                (now - deadline).as_nanos() as i64
            }
        });
        if late {
            handles.push(h);
        } else {
            drop(h);
        }
    }
    while armed.load(Ordering::Relaxed) < n {
        tokio::task::yield_now().await;
    }
    // Polled once: each sleep is registered with the timer.
    tokio::task::yield_now().await;
    let after = rss_bytes();
    let armed_in = start.elapsed();
    if armed_in >= base {
        eprintln!("taskbench: arming took {:?}, past the first deadline ({:?}): \
                   early sleeps ran late (or already ended)", armed_in, base);
    }
    if std::env::var_os("TASKBENCH_DEBUG").is_some() {
        eprintln!("rss before {} after {}", before, after);
    }
    if !late {
        tokio::time::sleep_until(start + base + span + Duration::from_millis(50)).await;
        return (after - before) as f64 / n as f64;
    }
    let mut lateness = Vec::with_capacity(n);
    for h in handles {
        let l = h.await.unwrap();
        if l < 0 {
            eprintln!("taskbench: a sleep woke early");
            std::process::exit(1);
        }
        lateness.push(l);
    }
    lateness.sort_unstable();
    if std::env::var_os("TASKBENCH_DEBUG").is_some() {
        eprintln!("p50 {} p90 {} p99 {} max {} (us)", lateness[n / 2] / 1000,
                  lateness[n * 9 / 10] / 1000, lateness[n * 99 / 100] / 1000,
                  lateness[n - 1] / 1000);
    }
    lateness[n * 99 / 100] as f64 / 1000.0
}

// `taskbench echo PORT`: a TCP echo server on 127.0.0.1:PORT (0: any), one
// task per connection; prints "listening on PORT"; runs until killed.
async fn echo(port: u16) -> f64 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    println!("listening on {}", listener.local_addr().unwrap().port());
    use std::io::Write;
    std::io::stdout().flush().unwrap();
    loop {
        let (mut sock, _) = match listener.accept().await {
            Ok(c) => c,
            Err(_) => continue,
        };
        let _ = sock.set_nodelay(true);
        tokio::spawn(async move {
            let mut buf = [0u8; 4096];
            loop {
                let n = match sock.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                if sock.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
        });
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let bench = args.get(1).map(String::as_str).unwrap_or("");
    let n: usize = args
        .get(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(if bench == "sleep_late" { 100_000 } else { 1_000_000 });
    let port: u16 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(0);
    // TASKBENCH_WORKERS=N: the multi-thread runtime with N workers (the
    // current-thread one otherwise).
    let workers: usize = std::env::var("TASKBENCH_WORKERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let rt = if workers > 0 {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_all()
            .build()
            .unwrap()
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    };
    if bench == "fanout" || bench == "fanout_in" {
        let v = if bench == "fanout" { fanout(&rt, n) } else { fanout_in(&rt, n) };
        println!("{} {:.1}", bench, v);
        return;
    }
    let v = rt.block_on(async move {
        match bench {
            "spawn_join" => spawn_join(n).await,
            "pingpong" => pingpong(n).await,
            "parked_rss" => parked_rss(n).await,
            "sleep_rss" => sleeps(n, false).await,
            "sleep_late" => sleeps(n, true).await,
            "echo" => echo(port).await,
            "mt_spawn_join" => mt_spawn_join(n, workers.max(1)).await,
            "mt_pingpong" => mt_pingpong(n).await,
            _ => {
                eprintln!("usage: taskbench spawn_join|pingpong|parked_rss|sleep_rss|sleep_late|mt_spawn_join|mt_pingpong|fanout|fanout_in [N]\n(TASKBENCH_WORKERS=N: the multi-thread runtime)");
                std::process::exit(2);
            }
        }
    });
    println!("{} {:.1}", bench, v);
}
