//! Memory per idle session: 100,000 users each left with an open nested
//! choice in the in-memory world, counted by a counting allocator.

use botwright::diagnostics::SourceFile;
use botwright::engine::{Event, Keyboard, User, handle};
use botwright::store::MemoryWorld;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const USERS: i64 = 100_000;

fn main() {
    let text = std::fs::read_to_string("bots/demo.toml").unwrap();
    let bot = botwright::validate::compile("demo", &SourceFile::new("demo.toml", text), &mut Vec::new()).unwrap();
    let now = chrono::DateTime::parse_from_rfc3339("2021-02-06T14:00:00+03:00").unwrap();
    let mut world = MemoryWorld::default();
    let mut runner = botwright::algorithms::Runner::offline();
    world.sessions.reserve(USERS as usize);
    let before = LIVE.load(Ordering::Relaxed);
    for id in 1..=USERS {
        let user = User {
            id,
            chat: id,
            name: format!("User {id}"),
            username: None,
        };
        // Each user stops inside the nested choice: the largest idle session of the demo.
        let out = handle(&bot, &mut world, &mut runner, &user, &Event::Text("Выбор".into()), now).unwrap();
        let data = match &out[0].keyboard {
            Keyboard::Inline(rows) => rows[1][0].data.clone(),
            _ => unreachable!("the choice has buttons"),
        };
        let out = handle(&bot, &mut world, &mut runner, &user, &Event::Button(data), now).unwrap();
        let yes = out[0].keyboard.button_data("Да").unwrap().to_string();
        handle(&bot, &mut world, &mut runner, &user, &Event::Button(yes), now).unwrap();
    }
    let used = LIVE.load(Ordering::Relaxed) - before;
    println!(
        "{USERS} idle sessions (open nested choice with history): {:.1} MB, {} bytes per session",
        used as f64 / 1_000_000.0,
        used / USERS as usize
    );
}
