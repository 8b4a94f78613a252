//! What [`connect`](crate::connect) takes: an address that is known at once
//! (an IP address and a port), or a host name, looked up on a worker thread.
//!
//! # Why a trait of our own
//!
//! `std::net::ToSocketAddrs` turns a host name into addresses by calling the
//! system resolver, which blocks: a lookup in a task would stop every task of
//! its manager for as long as DNS takes. [`ConnectAddr`] is implemented for
//! the same types, but says first whether the address is already numeric: if
//! so, `connect` goes on without blocking as before; if it is a host name,
//! the lookup and the connection are made on a worker thread of
//! [`run_in_thread`](crate::run_in_thread)'s pool (every address the name
//! has is tried, as `std::net::TcpStream::connect` does), and the task gets
//! the crate's own stream back.

use std::any::Any;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use crate::op::{Input, Op};
use crate::value::Value;

/// An address as [`ConnectAddr::resolve`] finds it.
///
/// ```
/// use multitask::{ConnectAddr, Resolved};
///
/// match ("127.0.0.1", 80).resolve() {
///     Resolved::Now(Ok(addrs)) => assert_eq!(addrs[0].to_string(), "127.0.0.1:80"),
///     other => panic!("{other:?}"),
/// }
/// ```
#[derive(Debug)]
pub enum Resolved {
    /// Known without a lookup (or malformed: the error).
    Now(io::Result<Vec<SocketAddr>>),
    /// A host name and a port: to look up on a worker thread.
    Host(String, u16),
}

/// Anything [`connect`](crate::connect) can connect to: the types of
/// `std::net::ToSocketAddrs`, where a host name (`("example.com", 80)`,
/// `"localhost:8080"`) is looked up on a worker thread, never in the manager.
///
/// ```
/// use multitask::{ConnectAddr, Resolved};
///
/// assert!(matches!("127.0.0.1:80".resolve(), Resolved::Now(Ok(_))));
/// assert!(matches!(("localhost", 80).resolve(), Resolved::Host(h, 80) if h == "localhost"));
/// assert!(matches!("no port".resolve(), Resolved::Now(Err(_))));
/// ```
pub trait ConnectAddr {
    /// The addresses, or the host name to look up.
    fn resolve(&self) -> Resolved;
}

fn host_port(host: &str, port: u16) -> Resolved {
    match host.parse::<IpAddr>() {
        Ok(ip) => Resolved::Now(Ok(vec![SocketAddr::new(ip, port)])),
        Err(_) => Resolved::Host(host.to_string(), port),
    }
}

impl ConnectAddr for str {
    fn resolve(&self) -> Resolved {
        if let Ok(addr) = self.parse::<SocketAddr>() {
            return Resolved::Now(Ok(vec![addr]));
        }
        let invalid = || {
            Resolved::Now(Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "invalid socket address",
            )))
        };
        let Some((host, port)) = self.rsplit_once(':') else {
            return invalid();
        };
        match port.parse::<u16>() {
            Ok(port) => host_port(host, port),
            Err(_) => invalid(),
        }
    }
}

impl ConnectAddr for String {
    fn resolve(&self) -> Resolved {
        self.as_str().resolve()
    }
}

impl ConnectAddr for (&str, u16) {
    fn resolve(&self) -> Resolved {
        host_port(self.0, self.1)
    }
}

impl ConnectAddr for (String, u16) {
    fn resolve(&self) -> Resolved {
        host_port(&self.0, self.1)
    }
}

impl ConnectAddr for [SocketAddr] {
    fn resolve(&self) -> Resolved {
        Resolved::Now(Ok(self.to_vec()))
    }
}

impl<T: ConnectAddr + ?Sized> ConnectAddr for &T {
    fn resolve(&self) -> Resolved {
        (**self).resolve()
    }
}

/// The numeric address types.
macro_rules! numeric {
    ($($t:ty),*) => {$(
        impl ConnectAddr for $t {
            fn resolve(&self) -> Resolved {
                Resolved::Now(std::net::ToSocketAddrs::to_socket_addrs(self).map(Iterator::collect))
            }
        }
    )*};
}
numeric!(
    SocketAddr,
    SocketAddrV4,
    SocketAddrV6,
    (IpAddr, u16),
    (Ipv4Addr, u16),
    (Ipv6Addr, u16)
);

/// `connect` to a host name: the lookup and the (blocking) connection on a
/// worker thread; the stream becomes the crate's own on the manager's thread.
pub(crate) fn connect_host(host: String, port: u16) -> Op<crate::net::TcpStream> {
    crate::blocking::remote_call::<crate::net::TcpStream>(
        move || {
            let stream = std::net::TcpStream::connect((host.as_str(), port))?;
            Ok(Box::new(stream) as Box<dyn Any + Send>)
        },
        own_stream,
    )
}

/// The worker's std stream as the crate's own (non-blocking, registered on
/// first wait): done on the manager's thread, whose fd table it joins.
fn own_stream(value: Box<dyn Any + Send>) -> Input {
    match value.downcast::<std::net::TcpStream>() {
        Ok(stream) => Ok(Value::new(crate::net::TcpStream::from(*stream))),
        Err(_) => Err(crate::error::Error::invalid("connect: the worker gave no stream")),
    }
}
