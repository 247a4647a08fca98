//! The messages of one bot that this instance sends, in memory: per chat in order, one
//! message per chat at a time, replies before broadcasts, and which of them belong to an
//! earlier term of the lease (`runtime::Lease`) and go back to the outbox. The sender
//! (`sender.rs`) takes from them under Telegram's limits.

use crate::store::types::OutboxMessage;
use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Instant;

/// The messages of one bot that this instance sends: per chat in order, one message per
/// chat at a time, many chats at once.
#[derive(Default)]
pub(super) struct Queues {
    pub(super) chats: HashMap<i64, VecDeque<OutboxMessage>>,
    /// Chats with a send in flight.
    pub(super) busy: HashSet<i64>,
    /// Chats that may send now (an entry may be stale; it is checked when taken): those whose
    /// next message is a reply or a single notification go first, broadcasts after them.
    pub(super) first: VecDeque<i64>,
    pub(super) ready: VecDeque<i64>,
    /// Chats waiting for their rate limit, and until when.
    pub(super) waiting: Vec<(Instant, i64)>,
    /// Chats sending a claimed message: when it is done, the chat's next message may be
    /// claimable, so the sender claims again at once.
    pub(super) claimed: HashSet<i64>,
    /// The lease term the queues are of, and the chats handed back to the outbox in it.
    pub(super) term: u64,
    pub(super) handed_back: HashSet<i64>,
}

impl Queues {
    pub(super) fn push(&mut self, m: OutboxMessage) {
        let chat = m.chat;
        let queue = self.chats.entry(chat).or_default();
        // A claim takes a chat's message only when nothing earlier waits, so ids arrive in
        // order; keeping them sorted costs nothing and guards the order anyway.
        let at = queue.iter().position(|q| q.id > m.id).unwrap_or(queue.len());
        queue.insert(at, m);
        if !self.busy.contains(&chat) {
            self.make_ready(chat);
        }
    }

    /// Queues a chat by what its next message is.
    pub(super) fn make_ready(&mut self, chat: i64) {
        match self.chats.get(&chat).and_then(VecDeque::front) {
            Some(m) if m.broadcast => self.ready.push_back(chat),
            Some(_) => self.first.push_back(chat),
            None => {}
        }
    }

    /// The next chat that may send: replies before broadcasts.
    pub(super) fn next_ready(&mut self) -> Option<i64> {
        self.first.pop_front().or_else(|| self.ready.pop_front())
    }

    /// Gives back a chat taken by [`Queues::next_ready`] that could not send yet.
    pub(super) fn put_back(&mut self, chat: i64) {
        match self.chats.get(&chat).and_then(VecDeque::front) {
            Some(m) if m.broadcast => self.ready.push_front(chat),
            _ => self.first.push_front(chat),
        }
    }

    /// A message this instance committed arrives. One committed in an earlier lease term
    /// (another instance may have taken it over), or to a chat handed back in this term, is
    /// given back to be handed back to the outbox, with what follows it in its chat: that
    /// chat's messages go by claims, in order, for the rest of the term.
    pub(super) fn arrive(&mut self, m: OutboxMessage) -> Vec<OutboxMessage> {
        if m.term == self.term && !self.handed_back.contains(&m.chat) {
            self.push(m);
            return Vec::new();
        }
        self.handed_back.insert(m.chat);
        let mut stale = Vec::new();
        if let Some(q) = self.chats.get_mut(&m.chat) {
            stale.extend(q.iter().filter(|later| later.id > m.id).cloned());
            q.retain(|earlier| earlier.id < m.id);
        }
        stale.insert(0, m);
        stale
    }

    /// A new lease term: every queued message is given back to be handed back to the outbox.
    pub(super) fn new_term(&mut self, term: u64) -> Vec<OutboxMessage> {
        self.term = term;
        self.handed_back.clear();
        let stale: Vec<OutboxMessage> = self.chats.drain().flat_map(|(_, q)| q).collect();
        self.handed_back.extend(stale.iter().map(|m| m.chat));
        stale
    }

    pub(super) fn done(&mut self, chat: i64) {
        self.busy.remove(&chat);
        if self.chats.get(&chat).is_some_and(|q| !q.is_empty()) {
            self.make_ready(chat);
        } else {
            self.chats.remove(&chat);
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.chats.values().all(VecDeque::is_empty)
    }
}

#[cfg(test)]
mod tests {
    use super::Queues;
    use crate::store::types::OutboxMessage;

    fn message(id: i64, chat: i64, broadcast: bool) -> OutboxMessage {
        OutboxMessage {
            id,
            chat,
            text: format!("m{id}"),
            keyboard: Default::default(),
            attachments: Vec::new(),
            attempts: 0,
            parts_sent: 0,
            claimed_at: String::new(),
            broadcast,
            term: 0,
        }
    }

    #[test]
    fn replies_go_before_broadcasts() {
        let mut q = Queues::default();
        for chat in 1..=3 {
            q.push(message(chat, chat, true));
        }
        q.push(message(10, 9, false));
        // The reply, though it came last, then the broadcast in its order.
        assert_eq!(q.next_ready(), Some(9));
        assert_eq!(q.next_ready(), Some(1));
        // A chat given back keeps its place at the front of its own queue.
        q.put_back(1);
        assert_eq!(q.next_ready(), Some(1));
        // A chat whose next message, after a broadcast, is a reply goes first again.
        q.busy.insert(2);
        q.push(message(20, 2, false));
        let _ = q.chats.get_mut(&2).and_then(std::collections::VecDeque::pop_front);
        q.done(2);
        q.push(message(30, 5, true));
        assert_eq!(q.next_ready(), Some(2));
    }

    fn ids(messages: &[OutboxMessage]) -> Vec<i64> {
        messages.iter().map(|m| m.id).collect()
    }

    #[test]
    fn messages_of_an_earlier_lease_term_are_handed_back_with_what_follows_them() {
        let mut q = Queues::default();
        q.new_term(1);
        let of_term = |id, chat, term| OutboxMessage {
            term,
            ..message(id, chat, false)
        };
        assert!(
            q.arrive(of_term(1, 7, 1)).is_empty(),
            "a message of this term is queued"
        );
        assert!(q.arrive(of_term(3, 7, 1)).is_empty());
        assert!(q.arrive(of_term(4, 8, 1)).is_empty());
        // Committed before the lapse that began term 1 was counted: it goes back with the
        // chat's later message, and the earlier one stays.
        assert_eq!(ids(&q.arrive(of_term(2, 7, 0))), [2, 3]);
        assert_eq!(ids(&q.chats[&7].iter().cloned().collect::<Vec<_>>()), [1]);
        // The chat goes by claims for the rest of the term, even for a message of this term.
        assert_eq!(ids(&q.arrive(of_term(5, 7, 1))), [5]);
        assert!(q.arrive(of_term(6, 8, 1)).is_empty(), "another chat is not touched");
        // A new term hands back everything queued, and starts with no chat handed back.
        let mut stale = ids(&q.new_term(2));
        stale.sort();
        assert_eq!(stale, [1, 4, 6]);
        assert!(q.is_empty());
        assert!(q.arrive(of_term(9, 9, 2)).is_empty());
        assert_eq!(
            ids(&q.arrive(of_term(10, 7, 2))),
            [10],
            "chat 7 had messages handed back at the new term"
        );
    }
}
