//! The module docstring's example: a parent prints what four children give back.
//!
//! ```python
//! def parent():
//!     print (yield return_none())
//!     print (yield return_one())
//!     print (yield return_many())
//!     try:
//!         yield raise_exception()
//!     except Exception, e:
//!         print 'caught exception: %s' % e
//! ```
#![feature(coroutines)]

use multitask::{wait, Error, Task};

fn parent() -> Task {
    Task::new(
        #[coroutine]
        |_| {
            println!("{:?}", wait!(return_none())?);
            println!("{:?}", wait!(return_one())?);
            println!("{:?}", wait!(return_many())?);
            if let Err(e) = wait!(raise_exception()) {
                println!("caught exception: {e}");
            }
            Ok(())
        },
    )
}

/// Python's `None` prints as `None`; so does Rust's.
fn return_none() -> Task<Option<()>> {
    Task::new(
        #[coroutine]
        |_| {
            wait!();
            Ok(None)
        },
    )
}

fn return_one() -> Task<i32> {
    Task::new(
        #[coroutine]
        |_| {
            wait!();
            Ok(1)
        },
    )
}

/// `raise StopIteration(2, 3)`: a tuple.
fn return_many() -> Task<(i32, i32)> {
    Task::new(
        #[coroutine]
        |_| {
            wait!();
            Ok((2, 3))
        },
    )
}

fn raise_exception() -> Task {
    Task::new(
        #[coroutine]
        |_| {
            wait!();
            Err(Error::msg("foo"))
        },
    )
}

fn main() -> multitask::Result<()> {
    multitask::add(parent());
    multitask::run()
}
