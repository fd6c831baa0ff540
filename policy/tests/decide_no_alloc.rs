//! `Matcher::decide` is the proxy's hot path: it must not allocate. A counting global allocator
//! (this test binary only) checks that over hosts that hit every table and miss them all.

#[path = "support/m365.rs"]
mod m365;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use breakout_policy::{canonical_host, Matcher};

struct Counting;

thread_local! {
    // Const-initialised, no destructor: touching it never allocates.
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded unchanged to the system allocator; the counter is a
// thread-local `Cell` that needs no allocation.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn decide_does_not_allocate() {
    let (tenant, shared, _) = m365::tenant();
    let m = Matcher::compile(&tenant, &shared).expect("compiles");
    let hosts: Vec<_> = [
        "outlook.office365.com",
        "contoso.sharepoint.com",
        "autodiscover.contoso.onmicrosoft.com",
        "xcdn.onenote.net",
        "cdn.odc.officeapps.live.com",
        "a.b.c.d.e.f.g.unlisted.example",
        "40.96.1.2",
        "8.8.8.8",
        "[2603:1006::1]",
    ]
    .iter()
    .map(|h| canonical_host(h).expect("host").into_owned())
    .collect();

    let before = ALLOCATIONS.with(Cell::get);
    assert!(before > 0, "the counter sees this thread's allocations");
    let mut directs = 0;
    for host in &hosts {
        for port in [443, 80, 8080] {
            directs += usize::from(m.decide(host, port).action.kind() == "direct");
        }
    }
    let allocations = ALLOCATIONS.with(Cell::get) - before;
    assert_eq!(allocations, 0, "decide allocated");
    assert_eq!(directs, 9, "three direct hosts on three ports");
}
