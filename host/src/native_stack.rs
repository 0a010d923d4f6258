//! Native stacks for host work that recurses with its input, called from a guest's fiber.
//!
//! A host call runs on the wasmtime fiber of the guest that made it: a stack of its own
//! (2 MiB by default, less what the guest used) whose bounds `stacker` does not know.
//! Parsers built on pest (every GraphQL parser in this workspace) guard their recursion by
//! measuring the stack left through `stacker`; on a fiber that measurement is wrong and
//! they fail with "stack limit reached". The store's resolver recurses once per level of
//! a document (validation stops documents deeper than 64 levels). Both run on an 8 MiB
//! native stack instead:
//!
//! - [`fresh`] maps a new stack and registers its bounds with `stacker`: for work that
//!   parses (a document's text seen for the first time).
//! - [`kept`] runs on a stack mapped once per thread and used again: for work that
//!   measures no stack (running a document already parsed). Mapping and unmapping 8 MiB
//!   for every query of a run cost, besides the calls, a TLB shootdown on every other core
//!   at each unmap (~1% of a seed build's samples, and interrupts on the other core).

use std::sync::Arc;

use async_graphql_parser::types::ExecutableDocument;

/// The room given to work moved off a fiber: any document the parser accepts (its own
/// counter stops deeper ones) and any the store validates.
const NATIVE_STACK: usize = 8 << 20;

/// Runs `work` on a freshly mapped native stack of [`NATIVE_STACK`] bytes, with its bounds
/// registered for `stacker` (and so for pest's recursion guard), unmapped afterwards.
pub fn fresh<R>(work: impl FnOnce() -> R) -> R {
    stacker::grow(NATIVE_STACK, work)
}

/// Runs `work` on this thread's kept native stack of [`NATIVE_STACK`] bytes (mapped at the
/// first call, unmapped when the thread ends). `work` must not measure the stack it runs
/// on (no parsing with pest: use [`fresh`] for that), since `stacker` is not told about
/// this one. A call made from inside `work` runs on a stack of its own; a panic in `work`
/// goes on in the caller, and the stack is kept.
pub fn kept<R>(work: impl FnOnce() -> R) -> R {
    kept::run(work)
}

/// Runs `work` on a native stack for GraphQL document `text`: given the document the
/// store's cache of parsed documents holds for it, on this thread's kept stack (nothing
/// parses it again), or `None`, on a fresh one (`work` parses it). Every caller that may
/// run a document off a guest's fiber goes through here, so that what may parse never
/// runs on a stack whose bounds pest cannot measure.
pub fn for_document<R>(text: &str, work: impl FnOnce(Option<Arc<ExecutableDocument>>) -> R) -> R {
    match infragen_store::parsed_document(text) {
        Some(parsed) => kept(|| work(Some(parsed))),
        None => fresh(|| work(None)),
    }
}

psm::psm_stack_manipulation! {
    yes {
        mod kept {
            use std::cell::Cell;
            use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};

            thread_local! {
                /// This thread's stack, while no [`run`] on this thread is using it.
                static KEPT: Cell<Option<KeptStack>> = const { Cell::new(None) };
            }

            pub(super) fn run<R>(work: impl FnOnce() -> R) -> R {
                // `try_with`: a call from a thread-local's destructor, once this one is gone,
                // maps a stack of its own.
                let kept = KEPT.try_with(Cell::take).ok().flatten();
                let Some(stack) = kept.or_else(KeptStack::map) else {
                    // Not even 8 MiB of address space: map as `stacker` does, which
                    // reports the failure.
                    return super::fresh(work);
                };
                let (base, len) = stack.area();
                // SAFETY: `base..base + len` is a page-aligned, readable and writable
                // mapping that nothing else uses while `work` runs on it: the stack was
                // taken out of this thread's slot (a nested call finds the slot empty and
                // maps another), and `KeptStack` unmaps it only when dropped, after
                // `on_stack` returned. The callback does not unwind: the panic is caught
                // and resumed once back on the caller's stack.
                let outcome =
                    unsafe { psm::on_stack(base, len, || catch_unwind(AssertUnwindSafe(work))) };
                // Kept for the next call (replacing one a nested call kept meanwhile), or
                // unmapped when the thread's slot is gone.
                let _replaced = KEPT.try_with(|slot| slot.replace(Some(stack)));
                match outcome {
                    Ok(out) => out,
                    Err(panic) => resume_unwind(panic),
                }
            }

            /// A native stack of [`super::NATIVE_STACK`] bytes above one inaccessible
            /// guard page, so that an overflow faults rather than writes over other memory.
            struct KeptStack {
                mapping: *mut libc::c_void,
                page: usize,
            }

            impl KeptStack {
                fn map() -> Option<KeptStack> {
                    // SAFETY: `sysconf` has no preconditions.
                    let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) })
                        .ok()
                        .filter(|page| page.is_power_of_two())?;
                    let len = super::NATIVE_STACK + page;
                    // SAFETY: an anonymous private mapping at an address of the kernel's
                    // choosing aliases nothing; failure is checked below.
                    let mapping = unsafe {
                        libc::mmap(
                            std::ptr::null_mut(),
                            len,
                            libc::PROT_READ | libc::PROT_WRITE,
                            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
                            -1,
                            0,
                        )
                    };
                    if mapping == libc::MAP_FAILED {
                        return None;
                    }
                    let stack = KeptStack { mapping, page };
                    // The lowest page is the guard: the stack grows down towards it.
                    // SAFETY: the page lies inside the mapping made just above.
                    if unsafe { libc::mprotect(mapping, page, libc::PROT_NONE) } != 0 {
                        return None; // `stack` unmaps it.
                    }
                    Some(stack)
                }

                /// The usable stack: its lowest address and its length.
                fn area(&self) -> (*mut u8, usize) {
                    // SAFETY: the mapping is `page + NATIVE_STACK` bytes long.
                    let base = unsafe { self.mapping.cast::<u8>().add(self.page) };
                    (base, super::NATIVE_STACK)
                }
            }

            impl Drop for KeptStack {
                fn drop(&mut self) {
                    // SAFETY: the mapping was made by `map` with this length and nothing
                    // runs on it any more (it is only dropped outside `on_stack`).
                    unsafe { libc::munmap(self.mapping, self.page + super::NATIVE_STACK) };
                }
            }
        }
    }
    no {
        mod kept {
            pub(super) fn run<R>(work: impl FnOnce() -> R) -> R {
                super::fresh(work)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Recurses `levels` times with a 16 KiB frame each; gives the deepest frame's address.
    #[inline(never)]
    fn deep(levels: usize) -> usize {
        let frame = std::hint::black_box([0u8; 16 * 1024]);
        if levels == 0 {
            return frame.as_ptr() as usize;
        }
        std::hint::black_box(deep(levels - 1)) + std::hint::black_box(frame[0]) as usize
    }

    fn on_small_thread<R: Send + 'static>(work: impl FnOnce() -> R + Send + 'static) -> R {
        std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(work)
            .expect("thread")
            .join()
            .expect("the thread does not panic")
    }

    #[test]
    fn kept_work_has_megabytes_of_stack_on_a_thread_that_has_little() {
        // 1.5 MiB of frames at least (twice that unoptimised) on a thread of 256 KiB.
        let deepest = on_small_thread(|| kept(|| deep(96)));
        assert_ne!(deepest, 0);
    }

    #[test]
    fn the_same_stack_is_used_again_on_one_thread_and_another_for_a_nested_call() {
        let (first, second, nested, outer) = on_small_thread(|| {
            let first = kept(psm::stack_pointer) as usize;
            let second = kept(psm::stack_pointer) as usize;
            let (nested, outer) = kept(|| {
                (
                    kept(psm::stack_pointer) as usize,
                    psm::stack_pointer() as usize,
                )
            });
            (first, second, nested, outer)
        });
        assert_eq!(first, second, "the second call starts where the first did");
        assert!(
            outer.abs_diff(first) < 64 * 1024,
            "work inside `kept` runs on the kept stack"
        );
        assert!(
            nested.abs_diff(outer) > NATIVE_STACK / 2,
            "a call made inside `kept` runs on a stack of its own"
        );
    }

    #[test]
    fn a_panic_in_kept_work_reaches_the_caller_and_the_stack_is_used_again() {
        let (caught, before, after) = on_small_thread(|| {
            let before = kept(psm::stack_pointer) as usize;
            let caught = std::panic::catch_unwind(|| kept(|| panic!("inside"))).is_err();
            let after = kept(psm::stack_pointer) as usize;
            (caught, before, after)
        });
        assert!(caught);
        assert_eq!(before, after);
    }

    #[test]
    fn a_document_parsed_before_is_given_to_the_work_and_a_new_text_is_not() {
        let text = "query NativeStackProbe { NetworkDevice { count } }";
        let (given, measured) = on_small_thread(move || {
            for_document(text, |parsed| {
                (parsed.is_some(), stacker::remaining_stack())
            })
        });
        assert!(!given, "a text never parsed is parsed by the work");
        assert!(
            measured.is_some_and(|left| left > NATIVE_STACK - 64 * 1024),
            "on a stack pest can measure"
        );
        let parsed = infragen_store::parse_document(text).expect("parses");
        let given = on_small_thread(move || {
            for_document(text, |given| {
                given.is_some_and(|doc| Arc::ptr_eq(&doc, &parsed))
            })
        });
        assert!(given, "the document the cache holds");
    }

    #[test]
    fn fresh_stacks_are_measured_by_stacker() {
        let remaining = on_small_thread(|| fresh(stacker::remaining_stack));
        assert!(remaining.is_some_and(|left| left > NATIVE_STACK - 64 * 1024));
    }
}
