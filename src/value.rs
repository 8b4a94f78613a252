//! `Value`: what a `yield` gives back, with its type erased.
//!
//! # Why not just `Box<dyn Any>`
//!
//! Every resumed task receives a value whose type only the yielding line
//! knows (an item, a byte count, received bytes, a child's result), so the
//! manager carries it type-erased. A `Box<dyn Any>` costs an allocation for
//! every non-empty value: two per echo request (the bytes received, the count
//! sent), one per item passed through a `Queue<u64>`. The commonest values
//! are therefore held inline: `()`, `Vec<u8>` (bytes), and the plain numbers,
//! `bool` and `char` (counts, queue items); anything else is boxed. Which one
//! a `T` is gets decided by `TypeId`s the compiler knows, so `Value::new` and
//! `Value::downcast` compile to the one branch that applies, with no `unsafe`.

use std::any::Any;
use std::fmt;

/// What a task is resumed with: the value of its `yield` expression.
///
/// Tasks written in the raw form receive it directly
/// (`let input: Input = yield op;`); [`wait!`](crate::wait) turns it into the
/// operation's typed result.
pub type Input = crate::error::Result<Value>;

/// A value handed to or returned by a task, with its type erased.
///
/// ```
/// use multitask::Value;
///
/// let v = Value::new(vec![1u8, 2, 3]);
/// assert!(v.is::<Vec<u8>>());
/// assert_eq!(v.downcast::<Vec<u8>>().unwrap(), [1, 2, 3]);
/// assert_eq!(Value::new("text").downcast::<&str>().unwrap(), "text");
/// assert!(Value::new(7u64).downcast::<i32>().is_err()); // the Value comes back
/// ```
pub struct Value(Repr);

/// Moves `value` out as a `U` if `T` is `U` (decided at compile time).
fn cast<T: 'static, U: 'static>(value: T) -> Result<U, T> {
    let mut slot = Some(value);
    match (&mut slot as &mut dyn Any).downcast_mut::<Option<U>>() {
        Some(as_u) => Ok(as_u.take().expect("filled above")),
        None => Err(slot.expect("filled above")),
    }
}

/// Defines the representation with one variant per type held inline, and the
/// conversions, which try each inline type in turn (every try but the right
/// one compiles away).
macro_rules! inline_values {
    ($($variant:ident($t:ty)),* $(,)?) => {
        enum Repr {
            Unit,
            Bytes(Vec<u8>),
            Boxed(Box<dyn Any>),
            $($variant($t),)*
        }

        impl Value {
            /// Erases `value`'s type.
            pub fn new<T: 'static>(value: T) -> Value {
                let value = match cast::<T, ()>(value) {
                    Ok(()) => return Value(Repr::Unit),
                    Err(value) => value,
                };
                let value = match cast::<T, Vec<u8>>(value) {
                    Ok(bytes) => return Value(Repr::Bytes(bytes)),
                    Err(value) => value,
                };
                $(let value = match cast::<T, $t>(value) {
                    Ok(inline) => return Value(Repr::$variant(inline)),
                    Err(value) => value,
                };)*
                Value(Repr::Boxed(Box::new(value)))
            }

            /// The value as a `T`, or the `Value` back if it is not one.
            #[inline]
            pub fn downcast<T: 'static>(self) -> Result<T, Value> {
                match self.0 {
                    Repr::Unit => cast::<(), T>(()).map_err(|()| Value(Repr::Unit)),
                    Repr::Bytes(bytes) => cast::<Vec<u8>, T>(bytes).map_err(|b| Value(Repr::Bytes(b))),
                    Repr::Boxed(boxed) => boxed.downcast::<T>().map(|b| *b).map_err(|b| Value(Repr::Boxed(b))),
                    $(Repr::$variant(inline) => cast::<$t, T>(inline).map_err(|v| Value(Repr::$variant(v))),)*
                }
            }

            /// A reference to the value as a `T`, if it is one.
            pub fn downcast_ref<T: 'static>(&self) -> Option<&T> {
                match &self.0 {
                    Repr::Unit => <dyn Any>::downcast_ref::<T>(&()),
                    Repr::Bytes(bytes) => <dyn Any>::downcast_ref::<T>(bytes),
                    Repr::Boxed(boxed) => boxed.as_ref().downcast_ref::<T>(),
                    $(Repr::$variant(inline) => <dyn Any>::downcast_ref::<T>(inline),)*
                }
            }

            /// True if the value is a `T`.
            pub fn is<T: 'static>(&self) -> bool {
                match &self.0 {
                    Repr::Unit => <dyn Any>::is::<T>(&()),
                    Repr::Bytes(bytes) => <dyn Any>::is::<T>(bytes),
                    Repr::Boxed(boxed) => boxed.as_ref().is::<T>(),
                    $(Repr::$variant(inline) => <dyn Any>::is::<T>(inline),)*
                }
            }
        }

        impl fmt::Debug for Value {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match &self.0 {
                    Repr::Unit => f.write_str("Value(())"),
                    Repr::Bytes(bytes) => write!(f, "Value({bytes:?})"),
                    Repr::Boxed(_) => f.write_str("Value(..)"),
                    $(Repr::$variant(inline) => write!(f, "Value({inline:?})"),)*
                }
            }
        }
    };
}

inline_values!(
    Usize(usize),
    Isize(isize),
    U64(u64),
    I64(i64),
    U32(u32),
    I32(i32),
    F64(f64),
    Bool(bool),
    Char(char),
);

impl Value {
    /// Used by [`wait!()`](crate::wait): drops what a bare yield was resumed
    /// with, `()` as a rule, without a call to the drop glue for it.
    #[doc(hidden)]
    #[inline(always)]
    pub fn __discard(input: Input) {
        if matches!(input, Ok(Value(Repr::Unit))) {
            std::mem::forget(input); // nothing to drop
        } else {
            drop(input);
        }
    }

    /// `()`: what a bare `yield` and most waits give back.
    pub(crate) fn unit() -> Value {
        Value(Repr::Unit)
    }

    /// A queue's item: as [`new`](Value::new), but a `()` item is boxed (a
    /// zero-sized box, which allocates nothing), so that a task handed one
    /// is told from a task woken with nothing ([`is_nothing`](Value::is_nothing)):
    /// a `timeout_after` deadline must not take an item away.
    pub(crate) fn item<T: 'static>(value: T) -> Value {
        match cast::<T, ()>(value) {
            Ok(()) => Value(Repr::Boxed(Box::new(()))),
            Err(value) => Value::new(value),
        }
    }

    /// True for the `()` of a bare yield or a wake that gives nothing (not
    /// for a `()` [`item`](Value::item)).
    pub(crate) fn is_nothing(&self) -> bool {
        matches!(self.0, Repr::Unit)
    }
}
