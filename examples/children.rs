//! The description's parent/child example, as its author meant it: the good
//! child *returns* "Hi, Mom!"; the bad child fails before its first yield.
//!
//! ```python
//! def parent():
//!     try:
//!         print 'good child says: %s' % (yield child())
//!         print 'bad child says: %s' % (yield child(bad=True))
//!     except Exception, e:
//!         print 'caught exception: %s' % e
//!
//! def child(bad=False):
//!     if bad:
//!         raise RuntimeError('oops!')
//!     raise StopIteration('Hi, Mom!')
//!     yield
//! ```
#![feature(coroutines, try_blocks)]

use multitask::{wait, Error, Task};

fn parent() -> Task {
    Task::new(
        #[coroutine]
        |_| {
            let result: multitask::Result<()> = try {
                println!("good child says: {}", wait!(child(false))?);
                println!("bad child says: {}", wait!(child(true))?);
            };
            if let Err(e) = result {
                println!("caught exception: {e}");
            }
            Ok(())
        },
    )
}

fn child(bad: bool) -> Task<&'static str> {
    Task::new(
        #[coroutine]
        move |_| {
            if bad {
                return Err(Error::msg("oops!"));
            }
            if false {
                wait!(); // unreachable, as in the original: it only makes this a coroutine
            }
            Ok("Hi, Mom!")
        },
    )
}

fn main() -> multitask::Result<()> {
    multitask::add(parent());
    multitask::run()
}
