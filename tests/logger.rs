//! Finding 2 of issue 9: a `log` logger that calls the manager. Every record
//! the crate (and mio under it) emits must come when the manager's state is
//! not borrowed. A test binary of its own: the logger is global.
#![feature(coroutines)]

use std::cell::RefCell;
use std::os::unix::net::UnixStream;

use multitask::{readable, sleep, wait, Error, Queue, Task};

struct CallsTheManager;

thread_local! {
    static RECORDS: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

impl log::Log for CallsTheManager {
    fn enabled(&self, _: &log::Metadata) -> bool {
        // User code: it may ask the manager anything.
        let _ = multitask::get_default_task_manager().has_runnable();
        true
    }

    fn log(&self, record: &log::Record) {
        let tm = multitask::get_default_task_manager();
        let _ = (tm.has_runnable(), tm.has_io_waits(), tm.has_timeouts());
        let text = format!("{} {}", record.level(), record.args());
        let _ = RECORDS.try_with(|r| r.borrow_mut().push(text.clone()));
        if text.contains("the logger panics on this") {
            panic!("a logger that panics");
        }
    }

    fn flush(&self) {}
}

static LOGGER: CallsTheManager = CallsTheManager;

/// Installs the logger, once for the whole binary (its tests run on threads of one process).
fn install() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        log::set_logger(&LOGGER).unwrap();
        log::set_max_level(log::LevelFilter::Trace);
    });
}

#[test]
fn a_logger_that_calls_the_manager_sees_every_record_outside_its_borrow() {
    install();
    let (_a, b) = UnixStream::pair().unwrap();
    multitask::add(Task::<()>::new(
        #[coroutine]
        move |_| {
            let child: Task<i32> = Task::new(
                #[coroutine]
                |_| {
                    wait!();
                    Ok(7)
                },
            );
            assert_eq!(wait!(child)?, 7);
            wait!(sleep(0.001))?;
            assert!(wait!(Queue::<()>::new().get().timeout(0.001)).unwrap_err().is_timeout());
            assert!(wait!(readable(&b).timeout(0.001)).unwrap_err().is_timeout());
            Err(Error::msg("top-level error"))
        },
    ));
    let error = multitask::run().unwrap_err();
    assert_eq!(error.to_string(), "top-level error");
    let records = RECORDS.with(|r| r.take());
    let expected = [
        "TRACE task added",
        "TRACE child task started, depth 2",
        "TRACE sleeper woken",
        "DEBUG queue wait timed out",
        "DEBUG task failed: top-level error",
    ];
    for line in expected {
        assert!(records.iter().any(|r| r == line), "{line:?} missing from {records:#?}");
    }
    assert!(records
        .iter()
        .any(|r| r.starts_with("DEBUG wait on fd ") && r.ends_with(" timed out")));
}

/// An error whose `Display` panics.
#[derive(Debug)]
struct BadDisplay;

impl std::fmt::Display for BadDisplay {
    fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        panic!("Display of BadDisplay")
    }
}

impl std::error::Error for BadDisplay {}

/// The manager logs a failed task's error with its `Display`, which is the
/// user's: one that panics is caught there, the record says so, and `run`
/// returns the error.
#[test]
fn a_failed_tasks_error_whose_display_panics_is_logged_and_returned() {
    install();
    let tm = multitask::TaskManager::new();
    tm.add(Task::<()>::new(
        #[coroutine]
        |_| {
            wait!();
            Err(Error::other(BadDisplay))
        },
    ));
    let error = tm.run().unwrap_err();
    assert!(error.is::<BadDisplay>());
    let records = RECORDS.with(|r| r.take());
    assert!(
        records.contains(&"DEBUG task failed, and its error's Display panicked: Display of BadDisplay".to_string()),
        "{records:?}"
    );
}

/// A panic that unwinds out of a `run` a task called (a logger that
/// panics), caught by that task, leaves the `run_next` around it to its one
/// pass: it runs on for the count of tasks it made at its start (as the
/// original's step 3 does: `t`, which the nested `run` ran once, runs again),
/// and the tasks queued meanwhile run in the next `run_next`.
#[test]
fn a_run_next_around_a_task_whose_nested_run_unwound_runs_one_pass() {
    install();
    let tm = multitask::TaskManager::new();
    let lines = std::rc::Rc::new(RefCell::new(Vec::new()));
    let (m, l) = (tm.clone(), lines.clone());
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            m.add(Task::<()>::new(
                #[coroutine]
                |_| Err(Error::msg("the logger panics on this")),
            ));
            let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| m.run())).is_err();
            l.borrow_mut().push(format!("x: inner run unwound: {unwound}"));
            wait!();
            l.borrow_mut().push("x2".to_string());
            Ok(())
        },
    ));
    let l = lines.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            for i in 1..=3 {
                l.borrow_mut().push(format!("t{i}"));
                wait!();
            }
            Ok(())
        },
    ));
    for _ in 0..4 {
        tm.run_next(None).unwrap();
        lines.borrow_mut().push("|".to_string());
    }
    assert_eq!(
        *lines.borrow(),
        ["t1", "x: inner run unwound: true", "t2", "|", "x2", "t3", "|", "|", "|"]
    );
}
