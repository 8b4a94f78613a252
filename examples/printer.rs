//! The first example of the original's description: two unrelated tasks
//! taking turns. The original loops forever; this port stops after ROUNDS
//! rounds (default 3).
//!
//! ```text
//! cargo run --example printer [ROUNDS]
//! ```
#![feature(coroutines)]

use multitask::{wait, Task};

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

fn main() -> multitask::Result<()> {
    let rounds = std::env::args()
        .nth(1)
        .map_or(3, |n| n.parse().expect("ROUNDS must be a number"));
    multitask::add(printer("hello", rounds));
    multitask::add(printer("goodbye", rounds));
    multitask::run()
}
