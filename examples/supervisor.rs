//! A line server whose clients live in a [`TaskGroup`], each line read under
//! a [`timeout_after`], and a `ps` of every task on request: the task
//! control that Python multitask programs did by hand.
//!
//! ```text
//! cargo run --example supervisor -- PORT [--idle SECONDS]
//! ```
//!
//! PORT 0 picks a free port; the first line printed is the address served.
//! Each client gets its lines back upper-cased; a client silent for `--idle`
//! seconds (10 by default) is told `idle, bye` and dropped. A line on stdin
//! prints the table of tasks (`TaskManager::dump`); end of stdin (Ctrl-D)
//! stops the server: the group is dropped, which cancels every client still
//! connected (their sockets close), and the server prints what it served.
//!
//! The Python it replaces, as theintencity/p2p-sip writes it: a global flag
//! that the loop polls, and `close()` on each generator to stop it.
//!
//! ```python
//! completed = False
//! clients = []
//!
//! def client(sock):
//!     while True:
//!         line = (yield multitask.readline(sock, timeout=IDLE))   # Timeout: the client is dropped
//!         yield multitask.send(sock, line.upper())
//!
//! def listener(sock):
//!     while True:
//!         conn, address = (yield multitask.accept(sock))
//!         gen = client(conn); clients.append(gen); multitask.add(gen)
//!
//! multitask.add(listener(sock))
//! while not completed:
//!     multitask.get_default_task_manager().run_next(timeout=1)
//! for gen in clients:
//!     gen.close()
//! ```
#![feature(coroutines)]

use std::cell::Cell;
use std::rc::Rc;

use multitask::net::{TcpListener, TcpStream};
use multitask::{accept, readline, sendall, timeout_after, wait, Error, Task, TaskGroup};

/// One line from `conn`, as a child task, so that `timeout_after` can cancel
/// it (with the read it waits on) when the client is idle too long.
fn next_line(conn: Rc<TcpStream>) -> Task<Vec<u8>> {
    Task::new(
        #[coroutine]
        move |_| {
            let line = wait!(readline(&*conn))?;
            Ok(line)
        },
    )
}

/// Serves one client. Its own I/O errors end it quietly: a member's error
/// would fail the whole group (and cancel the listener with it).
fn client(conn: TcpStream, idle: f64, served: Rc<Cell<usize>>) -> Task {
    let conn = Rc::new(conn);
    Task::new(
        #[coroutine]
        move |_| {
            served.set(served.get() + 1);
            loop {
                let reply = match wait!(timeout_after(idle, next_line(conn.clone()))) {
                    Ok(line) if line.is_empty() => return Ok(()), // the client hung up
                    Ok(line) => line.to_ascii_uppercase(),
                    Err(e) if e.is_timeout() => b"idle, bye\n".to_vec(),
                    Err(_) => return Ok(()),
                };
                let bye = reply == b"idle, bye\n";
                if wait!(sendall(&*conn, reply)).is_err() || bye {
                    return Ok(());
                }
            }
        },
    )
}

fn listener(sock: TcpListener, group: &TaskGroup, idle: f64, served: Rc<Cell<usize>>) -> Task {
    let clients = group.spawner();
    Task::new(
        #[coroutine]
        move |_| loop {
            let (conn, address) = wait!(accept(&sock))?;
            let name = format!("client {address}");
            clients.add(client(conn, idle, served.clone()).named(name))?;
        },
    )
}

/// Prints the task table for every line on stdin; at its end, drops the
/// group (cancelling the clients and the listener) and returns.
fn console(group: TaskGroup) -> Task {
    Task::new(
        #[coroutine]
        move |_| {
            let group = group; // owned here: dropping it ends the server
            loop {
                let line = wait!(readline(0))?;
                if line.is_empty() {
                    group.cancel();
                    return Ok(());
                }
                print!("{}", multitask::get_default_task_manager().dump());
            }
        },
    )
}

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let port: u16 = args.first().map_or(Ok(0), |p| p.parse()).map_err(Error::from)?;
    let idle: f64 = match args.iter().position(|a| a == "--idle") {
        Some(i) => args.get(i + 1).map_or(Ok(10.0), |s| s.parse()).map_err(Error::from)?,
        None => 10.0,
    };
    let sock = TcpListener::bind(("127.0.0.1", port))?;
    println!("{}", sock.local_addr()?);
    let served = Rc::new(Cell::new(0));
    let group = TaskGroup::new();
    group.add(listener(sock, &group, idle, served.clone()).named("listener"));
    multitask::add(console(group).named("console"));
    multitask::run()?;
    println!("served {} clients", served.get());
    Ok(())
}
