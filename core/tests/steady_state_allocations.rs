//! The core allocates nothing per command once a session has warmed up:
//! counted with a global allocator that tallies this thread's allocations.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Arc;

use ftpwire_core::listing::{FileKind, Metadata};
use ftpwire_core::server::{
    ChangeToken, CloseToken, ConnectToken, Event, LoginOutcome, LoginToken, MoveToken, OpenToken,
    Output, PassiveToken, StatToken,
};
use ftpwire_core::{Instant, ServerConfig, ServerSession};

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

const FILE: Metadata = Metadata {
    kind: FileKind::File,
    size: 1234,
    modified: Some(1_710_408_413),
    mode: 0o644,
};
const DIR: Metadata = Metadata {
    kind: FileKind::Directory,
    ..FILE
};

enum Answer {
    Login(LoginToken),
    Stat(StatToken, Metadata),
    Change(ChangeToken),
    Enter(ftpwire_core::server::DirectoryToken),
    Passive(PassiveToken),
    Open(OpenToken),
    Connect(ConnectToken),
    Move(MoveToken),
    Close(CloseToken),
}

/// A host that answers every event at once (the session runs the lines it
/// held meanwhile); returns the number of bytes transmitted.
fn run(session: &mut ServerSession, input: &[u8]) -> usize {
    let now = Instant::from_millis(5);
    let mut transmitted = 0;
    session.handle_input(now, input);
    {
        loop {
            // Take what is needed out of the event, then answer (the event borrows the session).
            let answer = match session.poll_output() {
                Output::Transmit(bytes) => {
                    transmitted += bytes.len();
                    continue;
                }
                Output::Event(Event::Login(l)) => Answer::Login(l.token),
                Output::Event(Event::Stat(s)) => {
                    let is_dir = s.path.ends_with(b"dir") || s.path == b"/";
                    Answer::Stat(s.token, if is_dir { DIR } else { FILE })
                }
                Output::Event(Event::FileChange(c)) => Answer::Change(c.token),
                Output::Event(Event::EnterDirectory(e)) => Answer::Enter(e.token),
                Output::Event(Event::OpenPassive(p)) => Answer::Passive(p.token),
                Output::Event(Event::Transfer(t)) => Answer::Open(t.token),
                Output::Event(Event::ConnectData(c)) => Answer::Connect(c.token),
                Output::Event(Event::MoveData(m)) => Answer::Move(m.token),
                Output::Event(Event::CloseData(c)) => Answer::Close(c.token),
                Output::Event(_) => continue,
                Output::Timeout(_) => break,
                Output::Closed => panic!("closed"),
            };
            match answer {
                Answer::Login(token) => {
                    session.login(token, LoginOutcome::Accepted { read_only: false })
                }
                Answer::Stat(token, metadata) => session.stat_done(token, Ok(metadata)),
                Answer::Change(token) => session.change_done(token, Ok(())),
                Answer::Enter(token) => session.directory_entered(token, Ok(())),
                Answer::Passive(token) => session.passive_opened(token, 50000, None),
                Answer::Open(token) => session.storage_opened(token, Some(1234), now),
                Answer::Connect(token) => session.data_connected(token, now),
                Answer::Move(token) => {
                    session.data_progress(&token, 1000, now);
                    session.data_moved(token, Ok(1234), now);
                }
                Answer::Close(token) => session.data_closed(token, Ok(()), now),
            }
        }
    }
    assert_eq!(session.held_input(), 0, "every line ran");
    transmitted
}

#[test]
fn commands_allocate_nothing_in_steady_state() {
    let local = "127.0.0.1:21".parse().unwrap();
    let peer = "127.0.0.1:40000".parse().unwrap();
    let mut session = ServerSession::new(
        Arc::new(ServerConfig::default()),
        local,
        peer,
        Instant::default(),
    );
    run(&mut session, b"USER alice\r\nPASS secret\r\n");
    let script: &[u8] =
        b"CWD /\r\nNOOP\r\nPWD\r\nTYPE I\r\nCWD some/dir\r\nCDUP\r\nSIZE a.txt\r\nMDTM a.txt\r\n\
        MLST a.txt\r\nFEAT\r\nSTAT\r\nSYST\r\nREST 100\r\nEPSV\r\nRETR docs/report.pdf\r\nPASV\r\n\
        STOR up/load.bin\r\nPORT 127,0,0,1,200,10\r\nLIST -la\r\nMKD new\r\nDELE old.txt\r\n\
        RNFR a\r\nRNTO b\r\nBOGUS\r\nRETR\r\n";
    // Warm-up: buffers reach their working size.
    let expected = run(&mut session, script);
    assert!(expected > 500);

    COUNTING.with(|c| c.set(true));
    let mut transmitted = 0;
    for _ in 0..200 {
        transmitted += run(&mut session, script);
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
