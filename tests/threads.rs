//! Beyond one thread: `run_in_thread` (result, panic, timeout, other tasks
//! running meanwhile), `UniversalQueue` between threads and managers (every
//! item delivered once), remote waits across `merge`, `clear` and a dropped
//! manager, `connect` to a host name, and one manager per core
//! (`SO_REUSEPORT` spreading, a core's failure reported).
//!
//! No test asserts on elapsed time; waits a bug could turn into hangs carry
//! [`GUARD`].
#![feature(coroutines)]

use std::cell::Cell;
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

mod common;
use common::GUARD;

use multitask::net::TcpListener;
use multitask::{
    accept, connect, cores, recv, run_in_thread, sendall, sleep, wait, Error, Task, TaskManager, UniversalQueue,
};

#[test]
fn run_in_thread_gives_the_result_the_panic_and_gives_up_on_timeout() {
    let dropped = Arc::new(AtomicBool::new(false));
    struct Late(Arc<AtomicBool>);
    impl Drop for Late {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    let (release, gate) = std::sync::mpsc::channel::<()>();
    let gate = Mutex::new(gate);
    let seen = Rc::new(std::cell::RefCell::new(Vec::new()));
    let log = seen.clone();
    let flag = dropped.clone();
    let tm = TaskManager::new();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            let name = wait!(run_in_thread(|| std::thread::current().name().map(str::to_string)))?;
            log.borrow_mut().push(format!("{name:?}"));
            let v = wait!(run_in_thread(|| vec![1u8, 2, 3]))?;
            log.borrow_mut().push(format!("{v:?}"));
            match wait!(run_in_thread(|| -> u32 { panic!("boom {}", 7) })) {
                Err(Error::Panic(message)) => log.borrow_mut().push(format!("panic: {message}")),
                other => log.borrow_mut().push(format!("unexpected {other:?}")),
            }
            // Blocks until released: the wait gives up first.
            let slow = run_in_thread(move || {
                gate.lock().unwrap().recv().unwrap();
                Late(flag)
            });
            match wait!(slow.timeout(0.01)) {
                Err(Error::Timeout) => log.borrow_mut().push("timeout".to_string()),
                other => log.borrow_mut().push(format!("unexpected {:?}", other.map(drop))),
            }
            release.send(()).unwrap();
            Ok(())
        },
    ));
    tm.run().unwrap();
    assert_eq!(
        *seen.borrow(),
        ["Some(\"multitask-worker\")", "[1, 2, 3]", "panic: boom 7", "timeout"]
    );
    // The worker finishes on its own and drops the result nobody waits for.
    for _ in 0..2000 {
        if dropped.load(Ordering::SeqCst) {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        dropped.load(Ordering::SeqCst),
        "the timed-out call's result was dropped by its worker"
    );
    assert_eq!(
        format!("{tm:?}"),
        "TaskManager { runnable: 0, waiting: 0, timeouts: 0 }"
    );
}

#[test]
fn fifty_tasks_keep_running_while_four_blocking_calls_run() {
    const TICKERS: usize = 50;
    let running = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let finished = Rc::new(Cell::new(0));
    let passes = Rc::new((0..TICKERS).map(|_| Cell::new(0)).collect::<Vec<_>>());
    let results = Rc::new(std::cell::RefCell::new(Vec::new()));
    let tm = TaskManager::new();
    for i in 0..4u32 {
        let (running, most, finished, results) = (running.clone(), most.clone(), finished.clone(), results.clone());
        tm.add(Task::new(
            #[coroutine]
            move |_| {
                let r = wait!(run_in_thread(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    // All four run at once: wait for the others (bounded).
                    for _ in 0..2000 {
                        if most.load(Ordering::SeqCst) == 4 {
                            break;
                        }
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    std::thread::sleep(Duration::from_millis(200));
                    running.fetch_sub(1, Ordering::SeqCst);
                    i * 10
                })
                .timeout(GUARD))?;
                results.borrow_mut().push(r);
                finished.set(finished.get() + 1);
                Ok(())
            },
        ));
    }
    for t in 0..TICKERS {
        let (finished, passes) = (finished.clone(), passes.clone());
        tm.add(Task::new(
            #[coroutine]
            move |_| {
                while finished.get() == 0 {
                    passes[t].set(passes[t].get() + 1);
                    wait!(sleep(0.01))?;
                }
                Ok(())
            },
        ));
    }
    tm.run().unwrap();
    let mut got = results.borrow().clone();
    got.sort();
    assert_eq!(got, [0, 10, 20, 30]);
    assert_eq!(most.load(Ordering::SeqCst), 4, "the four calls ran at the same time");
    // Every ticker went on passing while the calls blocked their workers
    // (a manager blocked by them would give each exactly one pass).
    let counts: Vec<usize> = passes.iter().map(Cell::get).collect();
    assert!(counts.iter().all(|&n| n >= 2), "passes per ticker: {counts:?}");
}

#[test]
fn a_remote_wait_keeps_run_going_and_survives_a_merge() {
    let a = TaskManager::new();
    let b = TaskManager::new();
    let (tx, rx) = std::sync::mpsc::channel::<u32>();
    let rx = Mutex::new(rx);
    let got = Rc::new(Cell::new(0));
    let g = got.clone();
    b.add(Task::new(
        #[coroutine]
        move |_| {
            let v = wait!(run_in_thread(move || rx.lock().unwrap().recv().unwrap()).timeout(GUARD))?;
            g.set(v);
            Ok(())
        },
    ));
    b.run_next(None).unwrap(); // the task now waits in b
    assert!(b.has_io_waits());
    a.merge(&b); // its wait moves to a; the result must find it there
    assert!(a.has_io_waits());
    tx.send(42).unwrap();
    a.run().unwrap();
    assert_eq!(got.get(), 42);
    assert!(!a.has_io_waits());
}

#[test]
fn a_manager_dropped_or_cleared_while_a_call_runs_lets_the_result_go() {
    struct Counted(Arc<AtomicUsize>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let drops = Arc::new(AtomicUsize::new(0));
    for clear in [false, true] {
        let tm = TaskManager::new();
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let rx = Mutex::new(rx);
        let d = drops.clone();
        tm.add(Task::new(
            #[coroutine]
            move |_| {
                let _v = wait!(run_in_thread(move || {
                    rx.lock().unwrap().recv().unwrap();
                    Counted(d)
                }))?;
                Ok(())
            },
        ));
        tm.run_next(None).unwrap();
        if clear {
            tm.clear();
            assert!(!tm.has_io_waits());
        } else {
            drop(tm);
        }
        tx.send(()).unwrap();
    }
    for _ in 0..2000 {
        if drops.load(Ordering::SeqCst) == 2 {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(
        drops.load(Ordering::SeqCst),
        2,
        "each result dropped once, by its worker"
    );
}

#[test]
fn universal_queue_from_four_threads_into_two_managers_delivers_every_item_once() {
    const PER_THREAD: u32 = 2000;
    const GETTERS: usize = 3;
    let queue: UniversalQueue<Option<u32>> = UniversalQueue::with_maxsize(16);
    let producers: Vec<_> = (0..4u32)
        .map(|p| {
            let queue = queue.clone();
            std::thread::spawn(move || {
                for i in 0..PER_THREAD {
                    queue.put_blocking(Some(p * PER_THREAD + i));
                }
            })
        })
        .collect();
    let managers: Vec<_> = (0..2)
        .map(|m| {
            let queue = queue.clone();
            std::thread::spawn(move || {
                let got = Rc::new(std::cell::RefCell::new(Vec::new()));
                let tm = TaskManager::new();
                for g in 0..GETTERS {
                    let (queue, got) = (queue.clone(), got.clone());
                    tm.add(Task::new(
                        #[coroutine]
                        move |_| {
                            let mut tries = 0u32;
                            loop {
                                tries += 1;
                                // Short timeouts on some getters race the hand-offs.
                                let item = if (g + m).is_multiple_of(2) && tries.is_multiple_of(3) {
                                    match wait!(queue.get().timeout(0.0001)) {
                                        Err(Error::Timeout) => continue,
                                        other => other?,
                                    }
                                } else {
                                    wait!(queue.get().timeout(GUARD))?
                                };
                                match item {
                                    Some(i) => got.borrow_mut().push(i),
                                    None => return Ok(()),
                                }
                            }
                        },
                    ));
                }
                tm.run().unwrap();
                let got = got.borrow().clone();
                got
            })
        })
        .collect();
    for p in producers {
        p.join().unwrap();
    }
    for _ in 0..2 * GETTERS {
        queue.put_blocking(None); // one stop for each getter
    }
    let per_manager: Vec<Vec<u32>> = managers.into_iter().map(|m| m.join().unwrap()).collect();
    let total: usize = per_manager.iter().map(Vec::len).sum();
    let all: BTreeSet<u32> = per_manager.iter().flatten().copied().collect();
    assert_eq!(total, 4 * PER_THREAD as usize, "no item twice");
    assert_eq!(all, (0..4 * PER_THREAD).collect::<BTreeSet<_>>(), "every item");
    assert!(queue.is_empty());
}

#[test]
fn universal_queue_tasks_put_threads_get_and_timed_out_puts_are_not_delivered() {
    let queue: UniversalQueue<u32> = UniversalQueue::with_maxsize(1);
    let consumer = {
        let queue = queue.clone();
        std::thread::spawn(move || {
            let mut got = Vec::new();
            while let Ok(item) = queue.get_blocking_timeout(Duration::from_millis(500)) {
                got.push(item);
                if got.len() % 50 == 0 {
                    std::thread::sleep(Duration::from_millis(2)); // let puts time out
                }
            }
            got
        })
    };
    let put_ok = Rc::new(std::cell::RefCell::new(Vec::new()));
    let tm = TaskManager::new();
    for t in 0..4u32 {
        let (queue, put_ok) = (queue.clone(), put_ok.clone());
        tm.add(Task::new(
            #[coroutine]
            move |_| {
                for i in 0..300 {
                    let item = t * 1000 + i;
                    match wait!(queue.put(item).timeout(0.0005)) {
                        Ok(()) => put_ok.borrow_mut().push(item),
                        Err(Error::Timeout) => {}
                        Err(e) => return Err(e),
                    }
                }
                Ok(())
            },
        ));
    }
    tm.run().unwrap();
    let mut got = consumer.join().unwrap();
    let mut put = put_ok.borrow().clone();
    got.sort();
    put.sort();
    assert_eq!(got, put, "exactly the items whose put succeeded, once each");
}

#[test]
fn universal_queue_hands_over_between_two_managers_on_one_thread_and_blocking_calls() {
    let queue: UniversalQueue<&'static str> = UniversalQueue::new();
    let seen = Rc::new(std::cell::RefCell::new(Vec::new()));
    let (a, b) = (TaskManager::new(), TaskManager::new());
    let (q, s) = (queue.clone(), seen.clone());
    a.add(Task::new(
        #[coroutine]
        move |_| {
            let item = wait!(q.get().timeout(GUARD))?;
            s.borrow_mut().push(item);
            Ok(())
        },
    ));
    a.run_next(None).unwrap(); // waits
    let q = queue.clone();
    b.add(Task::new(
        #[coroutine]
        move |_| {
            wait!(q.put("from b"))?;
            Ok(())
        },
    ));
    b.run().unwrap();
    a.run().unwrap();
    assert_eq!(*seen.borrow(), ["from b"]);
    queue.put_blocking("kept");
    assert_eq!(queue.len(), 1);
    assert_eq!(queue.get_blocking(), "kept");
    assert!(queue
        .get_blocking_timeout(Duration::from_millis(1))
        .unwrap_err()
        .is_timeout());
    let full: UniversalQueue<u8> = UniversalQueue::with_maxsize(1);
    full.put_blocking(1);
    assert!(full.is_full());
    let (item, e) = full.put_blocking_timeout(2, Duration::from_millis(1)).unwrap_err();
    assert_eq!((item, e.is_timeout()), (2, true));
}

#[test]
fn a_get_on_a_queue_no_one_else_holds_fails_instead_of_hanging() {
    let tm = TaskManager::new();
    let out = Rc::new(std::cell::RefCell::new(String::new()));
    let o = out.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            let r = wait!(UniversalQueue::<u8>::new().get());
            *o.borrow_mut() = r.unwrap_err().to_string();
            Ok(())
        },
    ));
    tm.run().unwrap();
    assert_eq!(*out.borrow(), "the remote wait was abandoned: no thread will finish it");
}

#[test]
fn connect_to_a_host_name_resolves_on_a_worker() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let tm = TaskManager::new();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            let (conn, _) = wait!(accept(&listener).timeout(GUARD))?;
            let data = wait!(recv(&conn, 100).timeout(GUARD))?;
            wait!(sendall(&conn, data))?;
            Ok(())
        },
    ));
    let reply = Rc::new(std::cell::RefCell::new(Vec::new()));
    let r = reply.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            let conn = wait!(connect(("localhost", port)).timeout(GUARD))?;
            wait!(sendall(&conn, "by name"))?;
            let got = wait!(recv(&conn, 100).timeout(GUARD))?;
            *r.borrow_mut() = got;
            let bad = wait!(connect("localhost:notaport"));
            assert_eq!(bad.unwrap_err().to_string(), "invalid socket address");
            Ok(())
        },
    ));
    tm.run().unwrap();
    assert_eq!(*reply.borrow(), b"by name");
}

#[test]
fn two_managers_on_one_reuseport_address_both_serve() {
    const CONNECTIONS: usize = 64;
    let first = cores::bind_reuseport("127.0.0.1:0").unwrap();
    let addr = first.local_addr().unwrap();
    let first = Mutex::new(Some(first));
    // Each core serves until it has seen the stop byte, counting connections.
    let served = Arc::new(AtomicUsize::new(0));
    let started = Arc::new(AtomicUsize::new(0));
    let (s, st) = (served.clone(), started.clone());
    let server = std::thread::spawn(move || {
        cores::run(2, move |core| {
            let std_listener = match core {
                0 => first.lock().unwrap().take().expect("core 0 takes the first listener"),
                _ => cores::bind_reuseport(addr)?,
            };
            st.fetch_add(1, Ordering::SeqCst);
            let listener = TcpListener::from(std_listener);
            let served = s.clone();
            Ok(Task::new(
                #[coroutine]
                move |_| {
                    let mut mine = 0usize;
                    loop {
                        let (conn, _) = wait!(accept(&listener).timeout(GUARD))?;
                        let data = wait!(recv(&conn, 16).timeout(GUARD))?;
                        if data == b"stop" {
                            return Ok(mine);
                        }
                        wait!(sendall(&conn, data))?;
                        mine += 1;
                        served.fetch_add(1, Ordering::SeqCst);
                    }
                },
            ))
        })
    });
    while started.load(Ordering::SeqCst) < 2 {
        std::thread::sleep(Duration::from_millis(1));
    }
    for i in 0..CONNECTIONS {
        let mut c = std::net::TcpStream::connect(addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        c.write_all(format!("{i:02}").as_bytes()).unwrap();
        let mut reply = [0u8; 2];
        c.read_exact(&mut reply).unwrap();
        assert_eq!(&reply, format!("{i:02}").as_bytes());
    }
    // Stop both: a stop per core, sent until each core has had its own
    // (connections are spread by hash, so keep sending until both ended).
    let mut stops = 0;
    while !server.is_finished() && stops < 1000 {
        if let Ok(mut c) = std::net::TcpStream::connect(addr) {
            let _ = c.write_all(b"stop");
            stops += 1;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let per_core = server.join().unwrap().unwrap();
    assert_eq!(per_core.iter().sum::<usize>(), CONNECTIONS);
    assert_eq!(served.load(Ordering::SeqCst), CONNECTIONS);
    assert!(per_core.iter().all(|&n| n > 0), "both managers served: {per_core:?}");
}

#[test]
fn a_cores_failure_is_reported_and_other_task_errors_go_to_the_hook() {
    let errors = Arc::new(Mutex::new(Vec::new()));
    let e = errors.clone();
    let result = cores::Cores::new(2)
        .on_error(move |core, error| e.lock().unwrap().push(format!("{core}: {error}")))
        .run(|core| {
            Ok(Task::<u32>::new(
                #[coroutine]
                move |_| {
                    // A top-level task of this core that fails: to the hook.
                    multitask::add(Task::<()>::new(
                        #[coroutine]
                        move |_| Err(Error::msg(format!("client of core {core}"))),
                    ));
                    wait!(sleep(0.01))?;
                    match core {
                        1 => Err(Error::msg("core 1 failed")),
                        _ => Ok(7),
                    }
                },
            ))
        });
    assert_eq!(result.unwrap_err().to_string(), "core 1 failed");
    for _ in 0..2000 {
        if errors.lock().unwrap().len() == 2 {
            break; // core 0 may still be running: the first error returns at once
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut seen = errors.lock().unwrap().clone();
    seen.sort();
    assert_eq!(seen, ["0: client of core 0", "1: client of core 1"]);
    assert_eq!(cores::run(3, |core| Ok(Task::ready(core * 2))).unwrap(), [0, 2, 4]);
    let panicked = cores::run(1, |_| -> multitask::Result<Task<()>> { panic!("factory panic") });
    assert_eq!(panicked.unwrap_err().to_string(), "task panicked: factory panic");
}

/// A task cancelled after its remote wait's result came (a `UniversalQueue`
/// item handed to it from a plain thread), before its manager took the
/// result in: it is dropped when `cancel` returns, and never resumes.
#[test]
fn a_cancel_after_a_remote_result_came_still_ends_the_task() {
    let tm = TaskManager::new();
    let q: UniversalQueue<u32> = UniversalQueue::new();
    let resumed = Rc::new(Cell::new(false));
    let (q2, r) = (q.clone(), resumed.clone());
    let handle = tm.add(Task::new(
        #[coroutine]
        move |_| {
            let item = wait!(q2.get())?;
            r.set(true);
            Ok(item)
        },
    ));
    tm.run_next(Some(Duration::ZERO)).unwrap(); // the getter waits
    let putter = q.clone();
    std::thread::spawn(move || putter.put_blocking(7)).join().unwrap(); // handed to its wait
    handle.cancel();
    assert!(handle.is_cancelled());
    assert_eq!(tm.tasks().len(), 0);
    tm.run().unwrap();
    assert!(!resumed.get());
    assert_eq!(q.len(), 0, "the item went with the cancelled task's wait");
}

/// True once every thread has finished, given 30 s: a thread a lost wake-up
/// left blocked fails the test instead of hanging it.
fn all_finish<T>(threads: &[std::thread::JoinHandle<T>]) -> bool {
    let start = std::time::Instant::now();
    while threads.iter().any(|t| !t.is_finished()) && start.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(10));
    }
    threads.iter().all(|t| t.is_finished())
}

/// Two threads blocked in `put_blocking` on a full queue of size 1, and
/// three tasks getting: every getter gets an item and both threads return.
/// (A thread's item handed straight to a task getter leaves the room it was
/// woken for: the wake-up is passed on to the other thread.)
#[test]
fn threads_blocked_in_put_blocking_all_get_room() {
    let q: UniversalQueue<u32> = UniversalQueue::with_maxsize(1);
    q.put_blocking(0);
    let producers: Vec<_> = (1..=2)
        .map(|i| {
            let q = q.clone();
            std::thread::spawn(move || q.put_blocking(i))
        })
        .collect();
    std::thread::sleep(Duration::from_millis(100)); // both wait on the full queue
    let tm = TaskManager::new();
    let got = Rc::new(std::cell::RefCell::new(Vec::new()));
    for _ in 0..3 {
        let (q, got) = (q.clone(), got.clone());
        tm.add(Task::<()>::new(
            #[coroutine]
            move |_| {
                // Bounded, so that a lost wake-up fails the test instead of hanging it.
                let item = wait!(q.get().timeout(10)).map_err(|e| e.to_string());
                got.borrow_mut().push(item);
                Ok(())
            },
        ));
    }
    tm.run().unwrap();
    // A lost wake-up leaves a thread blocked for ever beside the room.
    assert!(all_finish(&producers), "a thread still waits: {:?}", got.borrow());
    for p in producers {
        p.join().unwrap();
    }
    let mut items: Vec<u32> = got.borrow().iter().map(|r| *r.as_ref().unwrap()).collect();
    items.sort();
    assert_eq!(items, [0, 1, 2]);
    assert_eq!(q.len(), 0);
}

/// Two threads blocked in `get_blocking` on an empty queue of size 1, and
/// two tasks putting (the second waits on the full queue): both threads get
/// an item. (A thread that takes one moves the waiting task's item in: the
/// wake-up for it is passed on to the other thread.)
#[test]
fn threads_blocked_in_get_blocking_all_get_an_item() {
    let q: UniversalQueue<u32> = UniversalQueue::with_maxsize(1);
    let getters: Vec<_> = (0..2)
        .map(|_| {
            let q = q.clone();
            std::thread::spawn(move || q.get_blocking())
        })
        .collect();
    std::thread::sleep(Duration::from_millis(100)); // both wait on the empty queue
    let tm = TaskManager::new();
    for i in 1..=2 {
        let q = q.clone();
        tm.add(Task::<()>::new(
            #[coroutine]
            move |_| {
                wait!(q.put(i).timeout(10))?;
                Ok(())
            },
        ));
    }
    tm.run().unwrap();
    // A lost wake-up leaves a thread blocked for ever beside an item.
    assert!(
        all_finish(&getters),
        "a thread still waits, {} item(s) in the queue",
        q.len()
    );
    let mut items: Vec<u32> = getters.into_iter().map(|g| g.join().unwrap()).collect();
    items.sort();
    assert_eq!(items, [1, 2]);
}
