//! A user's crate: it depends on multitask as the README says and runs a
//! small task program. `.ci/run` compares what it prints with `expected.txt`.
#![feature(coroutines)]
// The crate's macros expand here, in a crate of the user's: none of their
// expansions may warn.
#![deny(warnings)]

use multitask::{wait, Error, Task};

// The README's printer, as written there.
fn printer(message: &'static str, rounds: usize) -> Task {
    Task::new(
        #[coroutine]
        move |_| {
            for _ in 0..rounds {
                println!("{message}");
                wait!();
            }
            Ok(())
        },
    )
}

multitask::exception!(ConnectionClosed);

multitask::task! {
    fn child(bad: bool) -> &'static str {
        if bad {
            return Err(ConnectionClosed.into());
        }
        wait!();
        "Hi, Mom!"
    }

    fn parent() {
        println!("good child says: {}", wait!(child(false))?);
        match wait!(child(true)) {
            Err(e) if e.is::<ConnectionClosed>() => println!("caught {}", e.name()),
            other => return Err(Error::msg(format!("expected ConnectionClosed, got {other:?}"))),
        }
    }
}

fn main() -> multitask::Result<()> {
    multitask::add(printer("hello", 2));
    multitask::add(printer("goodbye", 2));
    multitask::add(parent());
    multitask::run()
}
