//! What every ftpwire firmware for mps2-an386 shares: the heap (with its
//! high-water mark, the figure the README reports), the panic handler, and
//! the exit through semihosting that QEMU turns into its exit status.
#![no_std]

use core::alloc::{GlobalAlloc, Layout};
use core::sync::atomic::{AtomicUsize, Ordering};

use cortex_m_semihosting::debug;
use embedded_alloc::LlffHeap;
// Prints the panic message through semihosting and exits with failure.
use panic_semihosting as _;

/// The global allocator: embedded-alloc's first-fit heap, and the most it
/// ever had in use.
pub struct PeakHeap {
    heap: LlffHeap,
    peak: AtomicUsize,
}

impl PeakHeap {
    const fn empty() -> Self {
        PeakHeap {
            heap: LlffHeap::empty(),
            peak: AtomicUsize::new(0),
        }
    }

    /// Hands the heap its memory: `size` bytes from `start`.
    ///
    /// # Safety
    /// The memory is valid, unused by anything else, and handed over once
    /// (a second call panics before touching it): what
    /// [`LlffHeap::init`] requires. [`heap!`] upholds it.
    pub unsafe fn init(&self, start: usize, size: usize) {
        // SAFETY: the caller's promise, passed on.
        unsafe { self.heap.init(start, size) }
    }

    /// The most bytes in use at once since start (allocations' sizes as the
    /// allocator counts them, so alignment padding included).
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }

    /// Bytes in use now.
    pub fn used(&self) -> usize {
        self.heap.used()
    }
}

// SAFETY: every call is forwarded to embedded-alloc's heap, which upholds
// GlobalAlloc's contract; the peak is bookkeeping that never touches memory.
unsafe impl GlobalAlloc for PeakHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's promise (a non-zero size), passed on.
        let ptr = unsafe { self.heap.alloc(layout) };
        self.peak.fetch_max(self.heap.used(), Ordering::Relaxed);
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's promise (`ptr` came from `alloc` with `layout`).
        unsafe { self.heap.dealloc(ptr, layout) }
    }
}

/// The firmware's heap; [`heap!`] gives it its memory.
#[global_allocator]
pub static HEAP: PeakHeap = PeakHeap::empty();

/// Gives [`HEAP`] a static buffer of `$size` bytes (in RAM's `.bss`). Call
/// it first thing in `main`, once.
#[macro_export]
macro_rules! heap {
    ($size:expr) => {{
        static mut MEMORY: [::core::mem::MaybeUninit<u8>; $size] =
            [::core::mem::MaybeUninit::uninit(); $size];
        // SAFETY: MEMORY is private to this block, so nothing else uses it;
        // a second run of the block panics in `init` before touching it.
        unsafe { $crate::HEAP.init(&raw mut MEMORY as usize, $size) }
    }};
}

/// Ends the run: QEMU exits with status 0 when `ok`, 1 otherwise.
pub fn exit(ok: bool) -> ! {
    debug::exit(if ok {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    // Not under a debugger that implements semihosting: stop here.
    loop {
        cortex_m::asm::bkpt();
    }
}

/// The deepest the stack has been so far, in bytes: cortex-m-rt paints
/// the RAM below the stack (its `paint-stack` feature) before `main`, so the
/// lowest word that lost its paint marks the deepest frame. Searched from
/// the bottom up to the current stack pointer only: memory below it belongs
/// to no live frame, so reading it races with nothing.
pub fn stack_peak() -> usize {
    unsafe extern "C" {
        // Both from cortex-m-rt's link.x: the top of the stack (the initial
        // stack pointer) and the end of the statics.
        static _stack_start: u32;
        static _stack_end: u32;
    }
    let top = (&raw const _stack_start) as usize;
    let mut at = (&raw const _stack_end) as usize;
    let sp = cortex_m::register::msp::read() as usize;
    while at < sp {
        // SAFETY: `at` is word-aligned (link.x asserts `_stack_end % 4 == 0`)
        // and within RAM below the stack pointer: memory no Rust object
        // owns, which nothing else writes while this runs (one core, no
        // interrupts enabled).
        let word = unsafe { core::ptr::read_volatile(at as *const u32) };
        if word != cortex_m_rt::STACK_PAINT_VALUE {
            break;
        }
        at += 4;
    }
    top - at
}
