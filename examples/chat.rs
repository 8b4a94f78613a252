//! A line-based chat server: every line a client sends goes to every other
//! client. Sockets, queues and timeouts together, the way a real program uses
//! them:
//!
//! - a `listener` task accepts connections;
//! - per client, a `reader` task reads lines (with an idle timeout: a client
//!   silent for too long is dropped) and broadcasts them, and a `writer` task
//!   takes lines from the client's own bounded `Queue` and sends them;
//! - a client too slow to keep up with its queue misses lines rather than
//!   stalling everyone (the broadcast `put` has a timeout).
//!
//! ```text
//! cargo run --example chat -- [PORT] [IDLE_SECONDS]
//! ```
//! Then connect with `nc 127.0.0.1 PORT` from two terminals.
#![feature(coroutines)]

use multitask::net::{TcpListener, TcpStream};
use std::cell::RefCell;
use std::io::Write;
use std::rc::Rc;

use multitask::{accept, readline, send, wait, Error, Queue, Task};

/// A client's outgoing lines; `None` tells its writer to stop.
type Outbox = Queue<Option<Rc<Vec<u8>>>>;

/// Everyone connected: (client id, outbox).
type Clients = Rc<RefCell<Vec<(usize, Outbox)>>>;

fn listener(sock: TcpListener, idle: f64) -> Task {
    Task::new(
        #[coroutine]
        move |_| {
            let clients: Clients = Rc::default();
            for id in 1.. {
                let (conn, address) = wait!(accept(&sock))?;
                eprintln!("client {id} connected from {address}");
                let conn = Rc::new(conn);
                let outbox = Queue::with_maxsize(100);
                clients.borrow_mut().push((id, outbox.clone()));
                multitask::add(writer(conn.clone(), outbox.clone()));
                multitask::add(reader(id, conn, clients.clone(), idle));
            }
            Ok(())
        },
    )
}

fn reader(id: usize, conn: Rc<TcpStream>, clients: Clients, idle: f64) -> Task {
    Task::new(
        #[coroutine]
        move |_| {
            let outcome: multitask::Result<()> = loop {
                let line = match wait!(readline(&*conn).timeout(idle)) {
                    Ok(line) if line.is_empty() => break Ok(()), // the client left
                    Ok(line) => Rc::new(format!("{id}: {}", String::from_utf8_lossy(&line)).into_bytes()),
                    Err(Error::Timeout) => break Err(Error::Timeout),
                    Err(e) => break Err(e),
                };
                let others: Vec<Outbox> = clients
                    .borrow()
                    .iter()
                    .filter(|(other, _)| *other != id)
                    .map(|(_, q)| q.clone())
                    .collect();
                for outbox in others {
                    // A client whose outbox stays full for a second misses this line.
                    let _ = wait!(outbox.put(Some(line.clone())).timeout(1));
                }
            };
            eprintln!(
                "client {id} leaves: {}",
                outcome.as_ref().map_or_else(|e| e.to_string(), |_| "bye".into())
            );
            let mine = clients
                .borrow()
                .iter()
                .find(|(other, _)| *other == id)
                .map(|(_, q)| q.clone());
            clients.borrow_mut().retain(|(other, _)| *other != id);
            if let Some(outbox) = mine {
                if outcome.as_ref().is_err_and(Error::is_timeout) {
                    wait!(outbox.put(Some(Rc::new(b"idle too long, bye\n".to_vec()))))?;
                }
                wait!(outbox.put(None))?;
            }
            Ok(())
        },
    )
}

fn writer(conn: Rc<TcpStream>, outbox: Outbox) -> Task {
    Task::new(
        #[coroutine]
        move |_| {
            while let Some(line) = wait!(outbox.get())? {
                let mut sent = 0;
                while sent < line.len() {
                    sent += wait!(send(&*conn, &line[sent..]))?;
                }
            }
            conn.shutdown(std::net::Shutdown::Both).ok();
            Ok(())
        },
    )
}

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let port: u16 = args.next().map_or(0, |p| p.parse().expect("PORT must be a number"));
    let idle: f64 = args
        .next()
        .map_or(300.0, |s| s.parse().expect("IDLE_SECONDS must be a number"));
    let sock = TcpListener::bind(("127.0.0.1", port))?;
    println!("{}", sock.local_addr()?);
    std::io::stdout().flush()?;
    multitask::add(listener(sock, idle));
    while let Err(e) = multitask::run() {
        eprintln!("task failed: {e}");
    }
    Ok(())
}
