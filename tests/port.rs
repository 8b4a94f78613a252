//! Porting real programs: the error API (`Error::is`, `downcast_ref`,
//! `downcast`, `name`, `exception!`, `Send + Sync`), generator functions and
//! methods (`task!`), `Task::ready`, the port guide's patterns (a socket shared
//! by several tasks and closed by one, module globals, `raise StopIteration`,
//! `yield self.x()`), and the README's snippets against the code they show.
//!
//! Tests driven pass by pass (`run_next`) push `|` into their log after each
//! pass, so the log shows which pass each event happened in.
#![feature(coroutines, try_blocks)]

use std::cell::{Cell, RefCell};
use std::io;
use std::path::Path;
use std::rc::Rc;

use multitask::net::UnixStream;
use multitask::{recv, send, sendall, sleep, value, wait, Error, Task, TaskManager};

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// The event log shared by the tasks of a test.
#[derive(Clone, Default)]
struct Log(Rc<RefCell<Vec<String>>>);

impl Log {
    fn push(&self, event: impl Into<String>) {
        self.0.borrow_mut().push(event.into());
    }

    fn get(&self) -> Vec<String> {
        self.0.borrow().clone()
    }
}

/// One pass of the manager, then a `|` in the log.
fn pass(tm: &TaskManager, log: &Log) -> multitask::Result<()> {
    let result = tm.run_next(None);
    log.push("|");
    result
}

fn passes(tm: &TaskManager, log: &Log, n: usize) {
    for _ in 0..n {
        pass(tm, log).expect("run_next");
    }
}

fn nothing_left(tm: &TaskManager) -> bool {
    !tm.has_runnable() && !tm.has_io_waits() && !tm.has_timeouts()
}

multitask::task! {
    /// Logs `NAMEi` then yields (bare), for i in 1..=rounds.
    fn ticker(log: Log, name: &'static str, rounds: usize) {
        for i in 1..=rounds {
            log.push(format!("{name}{i}"));
            wait!();
        }
    }
}

/// `type(e).__name__: str(e)`, as a Python port prints an exception.
fn python(e: &Error) -> String {
    format!("{}: {e}", e.name())
}

// ---------------------------------------------------------------------------
// 1. Errors
// ---------------------------------------------------------------------------

multitask::exception!(ConnectionClosed);
multitask::exception!(
    /// A request the server cannot parse.
    pub ProtocolError(String)
);

#[test]
fn error_is_send_sync_static_and_converts_into_io_and_boxed_errors() {
    fn send_sync_static<T: Send + Sync + 'static>() {}
    send_sync_static::<Error>();

    // run().map_err(io::Error::other): the Error travels inside the io::Error.
    let tm = TaskManager::new();
    tm.add(Task::<()>::new(
        #[coroutine]
        |_| {
            wait!();
            Err(Error::msg("oops!"))
        },
    ));
    let e: io::Error = tm.run().map_err(io::Error::other).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::Other);
    assert_eq!(e.to_string(), "oops!");
    let inner = e.into_inner().unwrap().downcast::<Error>().unwrap();
    assert_eq!(python(&inner), "RuntimeError: oops!");

    // `?` into Box<dyn Error + Send + Sync>, as anyhow-style code does.
    fn boxed() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        Err(Error::Timeout)?;
        Ok(())
    }
    let e = boxed().unwrap_err();
    assert!(e.downcast_ref::<Error>().unwrap().is_timeout());
}

#[test]
fn name_is_the_python_class_name() {
    let tm = TaskManager::new();
    let log = Log::default();
    let l = log.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            // sleep(0) is the original's ValueError.
            let e = wait!(sleep(0)).unwrap_err();
            l.push(e.name());
            // A receive on a descriptor that is not open is an OSError.
            let e = wait!(recv(i32::MAX, 10)).unwrap_err();
            l.push(python(&e));
            Ok(())
        },
    ));
    tm.run().unwrap();
    assert_eq!(log.get(), ["ValueError", "OSError: [Errno 9] Bad file descriptor"]);

    tm.add(Task::<()>::new(
        #[coroutine]
        |_| {
            wait!();
            panic!("boom");
        },
    ));
    let e = tm.run().unwrap_err();
    assert_eq!(python(&e), "Panic: task panicked: boom");

    assert_eq!(Error::Timeout.name(), "Timeout");
    assert_eq!(python(&Error::Timeout), "Timeout: ");
    assert_eq!(python(&Error::msg("foo")), "RuntimeError: foo");
    assert_eq!(python(&ConnectionClosed.into()), "ConnectionClosed: ");
    assert_eq!(
        python(&ProtocolError::new("bad header").into()),
        "ProtocolError: bad header"
    );
    assert_eq!(
        python(&Error::other(std::fmt::Error)),
        "Error: an error occurred when formatting an argument"
    );
    let parse = "80x".parse::<u16>().unwrap_err();
    assert_eq!(python(&parse.into()), "ParseIntError: invalid digit found in string");
}

#[test]
fn exception_types_display_like_python_and_carry_their_name() {
    assert_eq!(ConnectionClosed::NAME, "ConnectionClosed");
    assert_eq!(ConnectionClosed.to_string(), "");
    assert_eq!(format!("{ConnectionClosed:?}"), "ConnectionClosed");

    assert_eq!(ProtocolError::NAME, "ProtocolError");
    let e = ProtocolError::new("bad header");
    assert_eq!(e.to_string(), "bad header");
    assert_eq!(e.0, "bad header");
    assert_eq!(format!("{e:?}"), r#"ProtocolError("bad header")"#);
    assert_eq!(ProtocolError::default().to_string(), "");
    assert_eq!(e.clone(), ProtocolError("bad header".to_string()));

    let source: &dyn std::error::Error = &e;
    assert!(source.source().is_none());
}

#[test]
fn is_and_downcast_ref_find_the_error_inside_other_and_io() {
    let closed = Error::from(ConnectionClosed);
    assert!(closed.is::<ConnectionClosed>());
    assert!(!closed.is::<ProtocolError>());
    assert!(!closed.is::<io::Error>());
    assert_eq!(closed.downcast_ref::<ConnectionClosed>(), Some(&ConnectionClosed));

    let protocol = Error::from(ProtocolError::new("bad header"));
    assert_eq!(protocol.downcast_ref::<ProtocolError>().unwrap().0, "bad header");

    // An io::Error is found as itself, and so is what it wraps.
    let io_wrapped = Error::from(io::Error::other(ProtocolError::new("inside")));
    assert!(io_wrapped.is::<io::Error>());
    assert_eq!(io_wrapped.downcast_ref::<ProtocolError>().unwrap().0, "inside");
    assert!(!io_wrapped.is::<ConnectionClosed>());
    let bad_fd = Error::from(io::Error::from_raw_os_error(libc::EBADF));
    assert_eq!(
        bad_fd.downcast_ref::<io::Error>().unwrap().raw_os_error(),
        Some(libc::EBADF)
    );
    assert!(!bad_fd.is::<ConnectionClosed>());

    // Variants with no error type inside are found by matching, not by type.
    for e in [Error::Timeout, Error::msg("m"), Error::Panic("p".into())] {
        assert!(!e.is::<io::Error>() && !e.is::<ConnectionClosed>(), "{e:?}");
    }

    // std::error::Error::source gives the same error.
    let source = std::error::Error::source(&protocol).unwrap();
    assert_eq!(source.to_string(), "bad header");
}

#[test]
fn downcast_gives_the_error_or_the_error_back() {
    let e = Error::from(ProtocolError::new("bad header"));
    let e = e.downcast::<ConnectionClosed>().unwrap_err();
    assert_eq!(python(&e), "ProtocolError: bad header");
    assert_eq!(e.downcast::<ProtocolError>().unwrap(), ProtocolError::new("bad header"));

    let e = Error::from(io::Error::other(ConnectionClosed));
    let e = e.downcast::<ProtocolError>().unwrap_err();
    assert!(e.is::<io::Error>());
    assert_eq!(e.downcast::<ConnectionClosed>().unwrap(), ConnectionClosed);

    let e = Error::from(io::Error::from_raw_os_error(libc::EPIPE));
    let e = e.downcast::<ConnectionClosed>().unwrap_err();
    assert_eq!(e.downcast::<io::Error>().unwrap().raw_os_error(), Some(libc::EPIPE));

    assert!(Error::Timeout.downcast::<io::Error>().unwrap_err().is_timeout());
}

#[test]
fn boxed_errors_convert_taking_known_errors_out_of_the_box() {
    type Boxed = Box<dyn std::error::Error + Send + Sync>;
    let io: Boxed = Box::new(io::Error::from_raw_os_error(libc::ECONNRESET));
    assert_eq!(
        python(&Error::from(io)),
        "OSError: [Errno 104] Connection reset by peer"
    );
    let ours: Boxed = Box::new(Error::Timeout);
    assert!(Error::from(ours).is_timeout());
    let other: Boxed = Box::new(ProtocolError::new("hidden"));
    let e = Error::from(other);
    assert_eq!(python(&e), "Exception: hidden"); // the box hides the type's name
    assert!(e.is::<ProtocolError>());
}

multitask::task! {
    fn parse_port(text: &'static str) -> u16 {
        wait!();
        text.parse::<u16>()? // `?` in the body: ParseIntError -> Error
    }

    fn read_file(path: &'static str) -> String {
        wait!();
        std::fs::read_to_string(path)? // io::Error -> Error::Io
    }

    fn raise_closed(closed: bool) -> &'static str {
        wait!();
        if closed {
            Err(ConnectionClosed)?; // raise ConnectionClosed()
        }
        "open"
    }
}

#[test]
fn question_mark_in_a_task_body_converts_std_and_user_errors() {
    let log = Log::default();
    let l = log.clone();
    let tm = TaskManager::new();
    tm.add(Task::new(
        #[coroutine]
        static move |_| {
            for text in ["8080", "80x", "70000"] {
                match wait!(parse_port(text)) {
                    Ok(port) => l.push(format!("port {port}")),
                    Err(e) if e.is::<std::num::ParseIntError>() => l.push(python(&e)),
                    Err(e) => return Err(e),
                }
            }
            let e = wait!(read_file("/nonexistent/multitask-port")).unwrap_err();
            l.push(python(&e));
            l.push(wait!(raise_closed(false))?);
            let e = wait!(raise_closed(true)).unwrap_err();
            l.push(format!("{} {}", python(&e), e.is::<ConnectionClosed>()));
            Ok(())
        },
    ));
    tm.run().unwrap();
    assert_eq!(
        log.get(),
        [
            "port 8080",
            "ParseIntError: invalid digit found in string",
            "ParseIntError: number too large to fit in target type",
            "OSError: [Errno 2] No such file or directory",
            "open",
            "ConnectionClosed:  true",
        ]
    );
}

#[test]
fn try_block_takes_std_errors_converted_with_map_err() {
    let log = Log::default();
    let l = log.clone();
    let tm = TaskManager::new();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            for text in ["8080", "80x"] {
                // try:
                //     port = int(text)
                //     yield multitask.sleep(0.001)
                // except Exception, e:
                //     print '%s: %s' % (type(e).__name__, e)
                let result: multitask::Result<u16> = try {
                    let port = text.parse::<u16>().map_err(Error::from)?;
                    wait!(sleep(0.001))?;
                    port
                };
                match result {
                    Ok(port) => l.push(format!("port {port}")),
                    Err(e) => l.push(python(&e)),
                }
            }
            let result: multitask::Result<Vec<u8>> = try { std::fs::read("/nonexistent").map_err(Error::from)? };
            l.push(python(&result.unwrap_err()));
            fn format_fails() -> Result<(), std::fmt::Error> {
                Err(std::fmt::Error)
            }
            let result: multitask::Result<()> = try { format_fails().map_err(Error::other)? };
            l.push(python(&result.unwrap_err()));
            Ok(())
        },
    ));
    tm.run().unwrap();
    assert_eq!(
        log.get(),
        [
            "port 8080",
            "ParseIntError: invalid digit found in string",
            "OSError: [Errno 2] No such file or directory",
            "Error: an error occurred when formatting an argument",
        ]
    );
}

// ---------------------------------------------------------------------------
// 2. Generator functions: task!
// ---------------------------------------------------------------------------

fn long_form_printer(log: Log, message: &'static str, rounds: usize) -> Task {
    Task::new(
        #[coroutine]
        move |_| {
            for _ in 0..rounds {
                log.push(message);
                wait!();
            }
            Ok(())
        },
    )
}

multitask::task! {
    fn printer(log: Log, message: &'static str, rounds: usize) {
        for _ in 0..rounds {
            log.push(message);
            wait!();
        }
    }
}

#[test]
fn task_macro_runs_exactly_as_the_long_form() {
    let short = Log::default();
    let tm = TaskManager::new();
    tm.add(printer(short.clone(), "hello", 3));
    tm.add(printer(short.clone(), "goodbye", 3));
    passes(&tm, &short, 4);
    assert!(nothing_left(&tm));

    let long = Log::default();
    let tm = TaskManager::new();
    tm.add(long_form_printer(long.clone(), "hello", 3));
    tm.add(long_form_printer(long.clone(), "goodbye", 3));
    passes(&tm, &long, 4);

    let expected = [
        "hello", "goodbye", "|", "hello", "goodbye", "|", "hello", "goodbye", "|", "|",
    ];
    assert_eq!(short.get(), expected);
    assert_eq!(long.get(), expected);
}

multitask::task! {
    // def return_many():
    //     yield
    //     raise StopIteration(2, 3)
    fn return_many() -> (i32, i32) {
        wait!();
        (2, 3)
    }

    // def first_over(limit, values):
    //     for v in values:
    //         yield
    //         if v > limit:
    //             raise StopIteration(v)    # Python 3.7+: return v
    //     raise RuntimeError('none over %d' % limit)
    fn first_over(limit: i32, values: Vec<i32>) -> i32 {
        for v in values {
            wait!();
            if v > limit {
                return Ok(v);
            }
        }
        return Err(Error::msg(format!("none over {limit}")));
    }

    // def server():
    //     while True:
    //         request = (yield q.get())
    //         if request is None:
    //             break
    //         log(request)
    fn consumer(log: Log, queue: multitask::Queue<Option<&'static str>>) {
        loop {
            let Some(request) = wait!(queue.get())? else {
                break;
            };
            log.push(request);
        }
        log.push("consumer done");
    }

    /// Attributes and doc comments pass through, and so does a visibility.
    #[must_use]
    pub(crate) fn documented() -> &'static str {
        "documented"
    }
}

#[test]
fn task_macro_return_values_early_returns_and_break() {
    let log = Log::default();
    let l = log.clone();
    let queue = multitask::Queue::with_contents([Some("a"), Some("b"), None, Some("never")], 0);
    let q = queue.clone();
    let tm = TaskManager::new();
    tm.add(consumer(log.clone(), q));
    tm.add(Task::new(
        #[coroutine]
        static move |_| {
            l.push(format!("{:?}", wait!(return_many())?));
            l.push(format!("{:?}", wait!(first_over(2, vec![1, 3, 5]))));
            l.push(format!("{}", wait!(first_over(9, vec![1, 3])).unwrap_err()));
            l.push(wait!(documented())?);
            Ok(())
        },
    ));
    tm.run().unwrap();
    assert_eq!(
        log.get(),
        [
            "a",
            "b",
            "consumer done",
            "(2, 3)",
            "Ok(3)",
            "none over 9",
            "documented"
        ]
    );
    assert_eq!(queue.len(), 1); // "never" was never taken
}

multitask::task! {
    // def gather(socks):
    //     data = ''
    //     for s in socks:
    //         data += (yield multitask.recv(s, 1024))
    //     raise StopIteration(data)
    fn gather(socks: Vec<UnixStream>) -> Vec<u8> {
        let mut data = Vec::new();
        for s in &socks {
            data.extend(wait!(recv(s, 1024))?); // `socks` and `data` borrowed across the yield
        }
        data
    }
}

#[test]
fn task_macro_holds_borrows_across_yields() {
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        let (a, b) = UnixStream::pair().unwrap();
        ours.push(a);
        theirs.push(b);
    }
    let log = Log::default();
    let l = log.clone();
    let tm = TaskManager::new();
    tm.add(Task::new(
        #[coroutine]
        static move |_| {
            for (i, s) in theirs.iter().enumerate().rev() {
                wait!(sendall(s, format!("<{i}>")))?;
            }
            Ok(())
        },
    ));
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            let data = wait!(gather(ours))?;
            l.push(String::from_utf8(data).unwrap());
            Ok(())
        },
    ));
    tm.run().unwrap();
    assert_eq!(log.get(), ["<0><1><2>"]);
}

#[test]
fn static_coroutine_refcell_borrow_across_a_yield_fails_in_the_other_task() {
    // What std's RefCell says when borrowed while mutably borrowed.
    let expected = std::panic::catch_unwind(|| {
        let cell = RefCell::new(0);
        let _held = cell.borrow_mut();
        let _ = *cell.borrow();
    })
    .unwrap_err();
    let expected = match (expected.downcast_ref::<String>(), expected.downcast_ref::<&str>()) {
        (Some(s), _) => s.clone(),
        (_, Some(s)) => s.to_string(),
        _ => panic!("a panic message"),
    };

    multitask::task! {
        fn holder(log: Log, state: Rc<RefCell<Vec<i32>>>) {
            // The receiver is borrowed before the argument yields: the RefMut
            // is alive while the task waits.
            state.borrow_mut().push(wait!(value(1))?);
            log.push("holder pushed");
        }

        fn reader(log: Log, state: Rc<RefCell<Vec<i32>>>) {
            log.push("reader starts");
            let n = state.borrow().len(); // panics: `holder` holds the RefMut
            log.push(format!("reader read {n}"));
        }
    }

    let log = Log::default();
    let state = Rc::new(RefCell::new(Vec::new()));
    let tm = TaskManager::new();
    tm.add(holder(log.clone(), state.clone()));
    tm.add(reader(log.clone(), state.clone()));
    let e = pass(&tm, &log).unwrap_err();
    assert_eq!(e.name(), "Panic");
    match e {
        Error::Panic(message) => assert_eq!(message, expected),
        other => panic!("expected a panic, got {other:?}"),
    }
    passes(&tm, &log, 1);
    assert_eq!(log.get(), ["reader starts", "|", "holder pushed", "|"]);
    assert_eq!(*state.borrow(), [1]);
    assert!(nothing_left(&tm));
}

// ---------------------------------------------------------------------------
// 3. A class whose methods are generators
// ---------------------------------------------------------------------------

/// class Connection(object):
///     def __init__(self, sock):
///         self.sock, self.buffer, self.lines = sock, '', 0
///     def readline(self):
///         while '\n' not in self.buffer:
///             data = (yield multitask.recv(self.sock, 1024))
///             if not data:
///                 raise ConnectionClosed()
///             self.buffer += data
///         line, self.buffer = self.buffer.split('\n', 1)
///         self.lines += 1
///         raise StopIteration(line)
///     def greeting(self):
///         return 'line %d' % self.lines
///     def serve(self):
///         while True:
///             line = (yield self.readline())
///             reply = (yield self.greeting())
///             yield multitask.send(self.sock, '%s: %s\n' % (reply, line))
struct Connection {
    sock: UnixStream,
    buffer: RefCell<Vec<u8>>,
    lines: Cell<usize>,
}

impl Connection {
    fn new(sock: UnixStream) -> Rc<Connection> {
        Rc::new(Connection {
            sock,
            buffer: RefCell::new(Vec::new()),
            lines: Cell::new(0),
        })
    }

    /// Not a generator: `yield self.greeting()` hands the value straight back.
    fn greeting(&self) -> String {
        format!("line {}", self.lines.get())
    }

    multitask::task! {
        fn readline(self: Rc<Self>) -> String {
            while !self.buffer.borrow().contains(&b'\n') {
                let data = wait!(recv(&self.sock, 1024))?;
                if data.is_empty() {
                    return Err(ConnectionClosed.into());
                }
                self.buffer.borrow_mut().extend(data); // borrowed after the wait, not across it
            }
            let mut buffer = self.buffer.borrow_mut();
            let end = buffer.iter().position(|&b| b == b'\n').unwrap();
            let line: Vec<u8> = buffer.drain(..=end).collect();
            self.lines.set(self.lines.get() + 1);
            String::from_utf8_lossy(&line[..end]).into_owned()
        }

        fn serve(self: Rc<Self>) {
            loop {
                let line = wait!(self.clone().readline())?;
                let reply = wait!(value(self.greeting()))?;
                wait!(sendall(&self.sock, format!("{reply}: {line}\n")))?;
            }
        }
    }
}

#[test]
fn class_whose_methods_are_generators() {
    let (ours, theirs) = UnixStream::pair().unwrap();
    let conn = Connection::new(ours);
    let log = Log::default();
    let l = log.clone();
    let tm = TaskManager::new();
    tm.add(conn.clone().serve());
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            wait!(sendall(&theirs, "hello\nwor"))?;
            wait!(sleep(0.01))?;
            wait!(sendall(&theirs, "ld\n"))?;
            let mut replies = Vec::new();
            while replies.iter().filter(|&&b| b == b'\n').count() < 2 {
                let data = wait!(recv(&theirs, 1024))?;
                replies.extend(data);
            }
            l.push(String::from_utf8(replies).unwrap());
            Ok(()) // `theirs` closes: the server's readline raises ConnectionClosed
        },
    ));
    let e = tm.run().unwrap_err();
    assert_eq!(log.get(), ["line 1: hello\nline 2: world\n"]);
    assert!(e.is::<ConnectionClosed>());
    assert_eq!(conn.lines.get(), 2);
    assert!(nothing_left(&tm));
}

// ---------------------------------------------------------------------------
// 4. Task::ready, and `yield self.x()` of a plain value
// ---------------------------------------------------------------------------

#[test]
fn task_ready_returns_at_once_and_costs_a_child_hop() {
    // The Python equivalent: def ready(v): raise StopIteration(v); yield
    fn generator_returning_at_once(v: i32) -> Task<i32> {
        Task::new(
            #[coroutine]
            move |_| {
                if false {
                    wait!();
                }
                Ok(v)
            },
        )
    }

    let mut logs = Vec::new();
    for ready in [true, false] {
        let log = Log::default();
        let l = log.clone();
        let tm = TaskManager::new();
        tm.add(Task::new(
            #[coroutine]
            move |_| {
                l.push("p1");
                let child = if ready {
                    Task::ready(7)
                } else {
                    generator_returning_at_once(7)
                };
                let got = wait!(child)?;
                l.push(format!("p got {got}"));
                Ok(())
            },
        ));
        tm.add(ticker(log.clone(), "o", 4));
        passes(&tm, &log, 5);
        assert!(nothing_left(&tm));
        logs.push(log.get());
    }
    let expected = ["p1", "o1", "|", "o2", "|", "p got 7", "o3", "|", "o4", "|", "|"];
    assert_eq!(logs[0], expected);
    assert_eq!(logs[1], expected);

    // Any type, as a top-level task too.
    let tm = TaskManager::new();
    tm.add(Task::ready(String::from("ignored")));
    tm.run().unwrap();
    assert!(nothing_left(&tm));
}

#[test]
fn yield_of_a_plain_value_comes_back_after_one_pass() {
    let (ours, _theirs) = UnixStream::pair().unwrap();
    let conn = Connection::new(ours);
    conn.lines.set(4);
    let log = Log::default();
    let l = log.clone();
    let tm = TaskManager::new();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            l.push("p1");
            // reply = (yield self.greeting()), greeting not a generator
            let reply = wait!(value(conn.greeting()))?;
            l.push(reply);
            Ok(())
        },
    ));
    tm.add(ticker(log.clone(), "o", 3));
    passes(&tm, &log, 4);
    assert_eq!(log.get(), ["p1", "o1", "|", "line 4", "o2", "|", "o3", "|", "|"]);
}

// ---------------------------------------------------------------------------
// 5. A socket shared by several tasks, closed by one
// ---------------------------------------------------------------------------

type Shared = Rc<RefCell<Option<UnixStream>>>;

multitask::task! {
    fn shared_reader(log: Log, name: &'static str, sock: Shared) {
        // data = (yield multitask.recv(sock, 1024)); the borrow ends before the wait
        match wait!(recv(sock.borrow().as_ref().expect("still open"), 1024)) {
            Ok(data) => log.push(format!("{name} got {data:?}")),
            Err(e) => log.push(format!("{name}: {}", python(&e))),
        }
    }

    fn closer(log: Log, sock: Shared) {
        log.push("closing");
        drop(sock.borrow_mut().take()); // sock.close()
        log.push("closed");
    }
}

#[test]
fn socket_closed_by_one_task_wakes_every_waiter_with_ebadf() {
    let (ours, _theirs) = UnixStream::pair().unwrap();
    let sock: Shared = Rc::new(RefCell::new(Some(ours)));
    let log = Log::default();
    let tm = TaskManager::new();
    tm.add(shared_reader(log.clone(), "r1", sock.clone()));
    tm.add(shared_reader(log.clone(), "r2", sock.clone()));
    tm.add(closer(log.clone(), sock.clone())); // the readers are waiting by now
    passes(&tm, &log, 2);
    assert_eq!(
        log.get(),
        [
            "closing",
            "closed",
            "|",
            "r1: OSError: [Errno 9] Bad file descriptor",
            "r2: OSError: [Errno 9] Bad file descriptor",
            "|",
        ]
    );
    assert!(sock.borrow().is_none());
    assert!(nothing_left(&tm));
}

#[test]
fn socket_shared_through_an_rc_closes_when_its_last_task_is_done() {
    let (ours, theirs) = UnixStream::pair().unwrap();
    let ours = Rc::new(ours);
    let log = Log::default();
    let tm = TaskManager::new();
    let (l, sock) = (log.clone(), ours.clone());
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            wait!(send(&sock, "ping"))?;
            l.push("sender done");
            Ok(())
        },
    ));
    let (l, sock) = (log.clone(), ours);
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            let reply = wait!(recv(&sock, 1024))?;
            l.push(format!("receiver got {}", String::from_utf8_lossy(&reply)));
            Ok(())
        },
    ));
    let l = log.clone();
    tm.add(Task::new(
        #[coroutine]
        move |_| {
            let request = wait!(recv(&theirs, 1024))?;
            l.push(format!("peer got {}", String::from_utf8_lossy(&request)));
            wait!(send(&theirs, "pong"))?;
            let eof = wait!(recv(&theirs, 1024))?; // both tasks are done: the Rc's socket closed
            l.push(format!("peer got {eof:?}"));
            Ok(())
        },
    ));
    tm.run().unwrap();
    assert_eq!(
        log.get(),
        ["sender done", "peer got ping", "receiver got pong", "peer got []"]
    );
}

// ---------------------------------------------------------------------------
// 6. Module globals
// ---------------------------------------------------------------------------

// clients = 0
// names = []
thread_local! {
    static CLIENTS: Cell<usize> = const { Cell::new(0) };
    static NAMES: RefCell<Vec<&'static str>> = const { RefCell::new(Vec::new()) };
}

multitask::task! {
    // def client(name):
    //     global clients
    //     clients += 1
    //     names.append(name)
    //     yield
    //     clients -= 1
    fn client(log: Log, name: &'static str) {
        CLIENTS.set(CLIENTS.get() + 1);
        NAMES.with_borrow_mut(|names| names.push(name));
        wait!();
        log.push(format!("{name} sees {} clients", CLIENTS.get()));
        CLIENTS.set(CLIENTS.get() - 1);
    }
}

#[test]
fn module_globals_as_thread_locals() {
    let log = Log::default();
    let tm = TaskManager::new();
    for name in ["ann", "bob", "cy"] {
        tm.add(client(log.clone(), name));
    }
    tm.run().unwrap();
    assert_eq!(
        log.get(),
        ["ann sees 3 clients", "bob sees 2 clients", "cy sees 1 clients"]
    );
    assert_eq!(CLIENTS.get(), 0);
    assert_eq!(NAMES.with_borrow(|names| names.clone()), ["ann", "bob", "cy"]);
}

// ---------------------------------------------------------------------------
// 7. The README shows the code it says it shows
// ---------------------------------------------------------------------------

fn read(path: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The crate docs of src/lib.rs, as Markdown (the `//!` lines, unprefixed).
fn crate_docs() -> String {
    read("src/lib.rs")
        .lines()
        .filter_map(|line| line.strip_prefix("//!"))
        .map(|line| line.strip_prefix(' ').unwrap_or(line))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The code blocks (fenced with ```) after the heading `heading` and before the
/// next heading of any level, each with its fence's info string.
fn blocks_after(markdown: &str, heading: &str) -> Vec<(String, Vec<String>)> {
    let mut lines = markdown
        .lines()
        .skip_while(|l| l.trim_start_matches('#').trim() != heading);
    assert!(lines.next().is_some(), "no heading {heading:?}");
    let mut blocks = Vec::new();
    let mut current: Option<(String, Vec<String>)> = None;
    for line in lines {
        match (&mut current, line.strip_prefix("```")) {
            (None, Some(info)) => current = Some((info.to_string(), Vec::new())),
            (Some(_), Some(_)) => blocks.push(current.take().unwrap()),
            (Some((_, body)), None) => body.push(line.to_string()),
            (None, None) if line.starts_with('#') => break,
            (None, None) => {}
        }
    }
    blocks
}

/// The one Rust block after `heading` (not the Python one).
fn rust_block(markdown: &str, heading: &str, fence: &str) -> Vec<String> {
    let blocks: Vec<_> = blocks_after(markdown, heading)
        .into_iter()
        .filter(|(info, _)| info == fence)
        .collect();
    assert_eq!(blocks.len(), 1, "one ```{fence} block after {heading:?}");
    blocks.into_iter().next().unwrap().1
}

#[test]
fn readme_printer_is_the_crate_docs_printer() {
    let readme = rust_block(&read("README.md"), "Two tasks (`cargo run --example printer`)", "rust");
    let docs = blocks_after(&crate_docs(), "Two tasks")
        .into_iter()
        .find(|(info, _)| info.is_empty())
        .expect("a Rust block after # Two tasks")
        .1;
    assert_eq!(readme, docs);
    assert!(readme.contains(&"fn printer(message: &'static str, rounds: usize) -> Task {".to_string()));
}

#[test]
fn readme_server_is_the_echo_server_example_and_the_crate_docs_server() {
    let readme = rust_block(
        &read("README.md"),
        "A server (`cargo run --release --example echo_server -- 0`)",
        "rust,no_run",
    );
    let docs = rust_block(&crate_docs(), "A server", "no_run");
    assert_eq!(readme, docs);

    // Every line is the example's, in its order, but a line that says where
    // it differs from the example.
    let example = read("examples/echo_server.rs");
    let mut example_lines = example.lines();
    for line in readme.iter().filter(|l| !l.is_empty()) {
        if line.contains("// examples/echo_server.rs:") {
            continue;
        }
        assert!(
            example_lines.any(|e| e == line),
            "README line not in examples/echo_server.rs (in order): {line:?}"
        );
    }
    for needed in [
        "    while let Err(e) = multitask::run() {",
        "            wait!(sendall(&sock, response))?;",
    ] {
        assert!(readme.contains(&needed.to_string()), "{needed:?}");
    }
}

#[test]
fn readme_dependency_line_is_the_downstream_crates() {
    let readme = read("README.md");
    let path_line = r#"multitask = { package = "multitask-coro", path = "../multitask" }"#;
    assert!(readme.lines().any(|l| l == path_line), "README: {path_line}");
    let downstream = read("tests/downstream/Cargo.toml");
    let downstream_line = path_line.replace("../multitask", "../..");
    assert!(
        downstream.lines().any(|l| l == downstream_line),
        "tests/downstream/Cargo.toml: {downstream_line}"
    );
    assert_eq!(
        read("tests/downstream/rust-toolchain.toml"),
        "[toolchain]\nchannel = \"nightly\"\n"
    );
    assert!(read("tests/downstream/src/main.rs").contains("\n#![feature(coroutines)]\n"));
}
