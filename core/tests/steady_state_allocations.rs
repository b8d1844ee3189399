//! The core allocates nothing per command once a session has warmed up:
//! counted with a global allocator that tallies this thread's allocations.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use ftpwire_core::ServerConfig;
use ftpwire_core::script::{Answers, FakeHost};

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: defers every operation to the system allocator unchanged; the
// only addition is a thread-local counter, which never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            ALLOCATIONS.with(|a| a.set(a.get() + 1));
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            ALLOCATIONS.with(|a| a.set(a.get() + 1));
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The core's fake host answering every event at once (the session runs
/// the lines it held meanwhile); returns the number of bytes transmitted.
/// Its buffers (output, the last path) keep their capacity between rounds.
fn run(host: &mut FakeHost, input: &[u8]) -> usize {
    host.out.clear();
    host.send(input);
    assert!(!host.closed, "closed");
    assert_eq!(host.session.held_input(), 0, "every line ran");
    host.out.len()
}

#[test]
fn commands_allocate_nothing_in_steady_state() {
    let mut host = FakeHost::new(ServerConfig::default(), "127.0.0.1:21", "127.0.0.1:40000");
    // Every transfer reports progress before its bytes are moved.
    host.answers = Some(Answers {
        progress: Some(1000),
        ..Answers::default()
    });
    run(&mut host, b"USER alice\r\nPASS secret\r\n");
    let script: &[u8] =
        b"CWD /\r\nNOOP\r\nPWD\r\nTYPE I\r\nCWD some/dir\r\nCDUP\r\nSIZE a.txt\r\nMDTM a.txt\r\n\
        MLST a.txt\r\nFEAT\r\nSTAT\r\nSYST\r\nREST 100\r\nEPSV\r\nRETR docs/report.pdf\r\nPASV\r\n\
        STOR up/load.bin\r\nPORT 127,0,0,1,200,10\r\nLIST -la\r\nMKD new\r\nDELE old.txt\r\n\
        RNFR a\r\nRNTO b\r\nBOGUS\r\nRETR\r\n";
    // Warm-up: buffers reach their working size. They start empty (an
    // idle session holds little) and grow on first use; CWD swaps the cwd
    // and path buffers, so both take a second round to get there.
    let expected = run(&mut host, script);
    assert!(expected > 500);
    assert_eq!(run(&mut host, script), expected);

    COUNTING.with(|c| c.set(true));
    let mut transmitted = 0;
    for _ in 0..200 {
        transmitted += run(&mut host, script);
    }
    COUNTING.with(|c| c.set(false));
    assert_eq!(
        transmitted,
        expected * 200,
        "every round got the same replies"
    );
    assert_eq!(
        ALLOCATIONS.with(Cell::get),
        0,
        "allocations in steady state"
    );
}
