//! One memory budget per socket for everything it holds of incoming data:
//! the octets its connections have read and not yet decoded, the frames of
//! messages partly received, and the messages decoded and not yet taken by
//! `recv` (waiting for room, or queued in the peers' lanes). So the memory
//! a socket's peers can make it hold is flat in the number of connections:
//! one budget, plus a small allowance per connection.
//!
//! Every connection has an [`Account`]. It asks for room before each read
//! and gets back what its reads did not use, what decoding consumed
//! (headers, commands) and what the application took. The first
//! [`Budget::allowance`] octets of each account are its own (the read
//! buffer an idle connection keeps); the rest comes from the budget.
//!
//! **Max-min fair.** When the budget is spent, the accounts holding the most
//! stop getting room first: room that frees up goes to the waiting account
//! that holds the least, and a newcomer is not served ahead of a waiting
//! account that holds less. A peer that holds little is always first in
//! line for its share.
//!
//! **Always progress.** Room is handed out only up to the limit less one
//! message's worth (the *reserve*). When nothing is queued for the
//! application (so taking messages cannot free room), an account in the
//! middle of a message (part of it read, none of it deliverable yet) that
//! finds no room takes the reserve, one account at a time, and so can
//! always finish the message it has begun: without it, connections each
//! holding part of a large message could spend the whole budget and wait
//! for one another forever. While anything is queued, room comes back as
//! the application takes it, and the reserve is left alone.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use crate::queue::lock;

/// Octets of its read buffer each connection has outside the budget: what
/// an idle connection's read buffer holds at most.
pub(crate) const ALLOWANCE: usize = 16 * 1024;

/// A socket's budget (see the module docs).
#[derive(Debug)]
pub(crate) struct Budget {
    limit: usize,
    /// Kept for one account at a time to finish a message with.
    reserve: usize,
    allowance: usize,
    state: Mutex<State>,
    /// Octets of messages queued for the application (in the peers' lanes
    /// and the batch `recv` took): what taking messages can free.
    queued: AtomicUsize,
    /// What the lock guards, as far as accounts may look without it: the
    /// slot of the account that has the reserve (`usize::MAX`: none), and
    /// whether any account waits for room.
    completer: AtomicUsize,
    contended: AtomicBool,
}

#[derive(Debug, Default)]
struct State {
    /// Octets held from the budget (not from allowances).
    used: usize,
    accounts: Vec<Option<Held>>,
    free: Vec<usize>,
    /// The account using the reserve.
    completer: Option<usize>,
    /// The accounts waiting for room (those whose `wait` is set).
    waiters: Vec<usize>,
}

#[derive(Debug, Default)]
struct Held {
    /// Octets held in all.
    total: usize,
    /// Of those, from the budget (the rest is the allowance).
    from_budget: usize,
    /// Room handed to this account while it waited, not yet collected.
    granted: usize,
    /// What it waits for, if it does.
    wait: Option<Wait>,
}

#[derive(Debug)]
struct Wait {
    want: usize,
    mid_message: bool,
    waker: Waker,
}

impl Budget {
    /// A budget of `limit` octets, keeping `reserve` of them for finishing
    /// a message (at least the largest message, at most half the limit:
    /// checked by the options), and `allowance` per account beyond it.
    pub(crate) fn new(limit: usize, reserve: usize, allowance: usize) -> Arc<Budget> {
        debug_assert!(reserve <= limit);
        Arc::new(Budget {
            limit,
            reserve,
            allowance,
            state: Mutex::new(State::default()),
            queued: AtomicUsize::new(0),
            completer: AtomicUsize::new(usize::MAX),
            contended: AtomicBool::new(false),
        })
    }

    /// A new account, holding nothing.
    pub(crate) fn open(self: &Arc<Budget>) -> Account {
        let mut st = lock(&self.state);
        let held = Held::default();
        let slot = match st.free.pop() {
            Some(slot) => {
                st.accounts[slot] = Some(held);
                slot
            }
            None => {
                st.accounts.push(Some(held));
                st.accounts.len() - 1
            }
        };
        Account {
            budget: self.clone(),
            slot,
        }
    }

    /// Octets held from the budget now (allowances not counted).
    pub(crate) fn used(&self) -> usize {
        lock(&self.state).used
    }

    /// Grants up to `want` octets to account `slot` now, under the lock:
    /// its allowance first, then the budget, unless an account holding less
    /// waits; in the middle of a message, with nothing queued, the reserve.
    fn grant(&self, st: &mut State, slot: usize, want: usize, mid_message: bool) -> usize {
        let mine = held(st, slot).total;
        let lighter_waits = st
            .waiters
            .iter()
            .any(|&i| i != slot && held(st, i).total < mine);
        self.grant_unless(st, slot, want, mid_message, lighter_waits)
    }

    /// [`Budget::grant`], told whether a lighter account waits.
    fn grant_unless(
        &self,
        st: &mut State,
        slot: usize,
        want: usize,
        mid_message: bool,
        lighter_waits: bool,
    ) -> usize {
        let allowance = self.allowance;
        let held = held_mut(st, slot);
        let own = allowance
            .saturating_sub(held.total - held.from_budget)
            .min(want);
        held.total += own;
        let rest = want - own;
        if rest == 0 {
            return own;
        }
        let pool = self.limit - self.reserve;
        let open = if lighter_waits {
            0
        } else {
            pool.saturating_sub(st.used)
        };
        let mut from_budget = rest.min(open);
        let stuck = mid_message && self.queued.load(Ordering::Acquire) == 0;
        if from_budget == 0 && stuck && st.completer.is_none_or(|c| c == slot) {
            // The reserve, whoever else waits: nobody else may take it
            // while this account finishes its message with it.
            from_budget = rest.min(self.limit - st.used.max(pool));
            if from_budget > 0 {
                st.completer = Some(slot);
            }
        }
        st.used += from_budget;
        let held = held_mut(st, slot);
        held.total += from_budget;
        held.from_budget += from_budget;
        own + from_budget
    }

    /// Hands freed room to waiting accounts, the one holding the least
    /// first, and wakes them. One that gets nothing (the pool is spent)
    /// does not stop the others: a heavier one may be the one to finish a
    /// message with the reserve.
    fn serve(&self, st: &mut State) -> Vec<Waker> {
        let mut wake = Vec::new();
        if st.waiters.is_empty() {
            return wake;
        }
        let mut waiting = std::mem::take(&mut st.waiters);
        waiting.sort_unstable_by_key(|&slot| held(st, slot).total);
        // Whether a lighter one than the next is still waiting.
        let mut lighter_waits = false;
        for slot in waiting {
            let Some(wait) = held_mut(st, slot).wait.take() else {
                continue;
            };
            let got = self.grant_unless(st, slot, wait.want, wait.mid_message, lighter_waits);
            if got == 0 {
                held_mut(st, slot).wait = Some(wait);
                st.waiters.push(slot);
                lighter_waits = true;
                continue;
            }
            held_mut(st, slot).granted += got;
            wake.push(wait.waker);
        }
        wake
    }

    /// Makes what accounts may look at without the lock agree with `st`
    /// (under the lock, after a change).
    fn publish(&self, st: &State) {
        let completer = st.completer.unwrap_or(usize::MAX);
        self.completer.store(completer, Ordering::Release);
        self.contended
            .store(!st.waiters.is_empty(), Ordering::Release);
    }

    /// Whether some account waits for room now.
    fn is_contended(&self) -> bool {
        self.contended.load(Ordering::Acquire)
    }

    /// Stops counting `slot` as waiting.
    fn unwait(st: &mut State, slot: usize) {
        if held_mut(st, slot).wait.take().is_some() {
            st.waiters.retain(|&i| i != slot);
        }
    }
}

fn held(st: &State, slot: usize) -> &Held {
    match st.accounts.get(slot) {
        Some(Some(held)) => held,
        _ => unreachable!("an account's slot is its own until it is dropped"),
    }
}

fn held_mut(st: &mut State, slot: usize) -> &mut Held {
    match st.accounts.get_mut(slot) {
        Some(Some(held)) => held,
        _ => unreachable!("an account's slot is its own until it is dropped"),
    }
}

/// One connection's share of a [`Budget`]; gives everything back when
/// dropped.
#[derive(Debug)]
pub(crate) struct Account {
    budget: Arc<Budget>,
    slot: usize,
}

impl Account {
    /// Up to `want` octets of room now (0: none; wait with
    /// [`Account::poll_grow`]). `mid_message`: the connection is in the
    /// middle of a message, and may take the reserve to finish it when
    /// nothing is queued.
    pub(crate) fn try_grow(&self, want: usize, mid_message: bool) -> usize {
        let mut st = lock(&self.budget.state);
        let granted = std::mem::take(&mut held_mut(&mut st, self.slot).granted);
        if granted > 0 {
            return granted;
        }
        let got = self.budget.grant(&mut st, self.slot, want, mid_message);
        self.budget.publish(&st);
        got
    }

    /// [`Account::try_grow`], or wait for room: `cx` is woken once room
    /// has been set aside for this account (kept for it even if this poll's
    /// future is dropped, until the next poll or the account's end).
    pub(crate) fn poll_grow(
        &self,
        want: usize,
        mid_message: bool,
        cx: &mut Context<'_>,
    ) -> Poll<usize> {
        let mut st = lock(&self.budget.state);
        let held = held_mut(&mut st, self.slot);
        let mut granted = std::mem::take(&mut held.granted);
        if granted == 0 {
            granted = self.budget.grant(&mut st, self.slot, want, mid_message);
        }
        let ready = if granted > 0 {
            Budget::unwait(&mut st, self.slot);
            Poll::Ready(granted)
        } else {
            let wait = Wait {
                want,
                mid_message,
                waker: cx.waker().clone(),
            };
            if held_mut(&mut st, self.slot).wait.replace(wait).is_none() {
                st.waiters.push(self.slot);
            }
            Poll::Pending
        };
        self.budget.publish(&st);
        ready
    }

    /// Gives back `n` octets (to the budget first, then to the allowance).
    pub(crate) fn shrink(&self, n: usize) {
        if n == 0 {
            return;
        }
        let mut st = lock(&self.budget.state);
        let held = held_mut(&mut st, self.slot);
        debug_assert!(n <= held.total, "gave back more than it held");
        let n = n.min(held.total);
        let from_budget = n.min(held.from_budget);
        held.total -= n;
        held.from_budget -= from_budget;
        st.used -= from_budget;
        let wake = if from_budget > 0 {
            self.budget.serve(&mut st)
        } else {
            Vec::new()
        };
        self.budget.publish(&st);
        drop(st);
        for waker in wake {
            waker.wake();
        }
    }

    /// `n` octets this account holds are now queued for the application.
    pub(crate) fn queued(&self, n: usize) {
        self.budget.queued.fetch_add(n, Ordering::AcqRel);
    }

    /// `n` octets this account held queued for the application have left
    /// the socket (taken, or replaced under conflate): they go back.
    pub(crate) fn dequeued(&self, n: usize) {
        if n == 0 {
            return;
        }
        self.budget.queued.fetch_sub(n, Ordering::AcqRel);
        self.shrink(n);
    }

    /// Takes `n` octets whatever the budget says: what is already in memory
    /// and has to be counted (a routing id put in front of a message).
    pub(crate) fn force(&self, n: usize) {
        let mut st = lock(&self.budget.state);
        st.used += n;
        let held = held_mut(&mut st, self.slot);
        held.total += n;
        held.from_budget += n;
    }

    /// The message this account was finishing with the reserve is done: the
    /// reserve may go to another (once what it holds is given back).
    pub(crate) fn completed(&self) {
        // Nearly always another's, or none: no lock for that.
        if self.budget.completer.load(Ordering::Acquire) != self.slot {
            return;
        }
        let mut st = lock(&self.budget.state);
        if st.completer != Some(self.slot) {
            return;
        }
        st.completer = None;
        // Another account may be waiting to finish its message with it.
        let wake = self.budget.serve(&mut st);
        self.budget.publish(&st);
        drop(st);
        for waker in wake {
            waker.wake();
        }
    }

    /// Whether some account waits for room now (then room not used is
    /// better given back at once).
    pub(crate) fn is_contended(&self) -> bool {
        self.budget.is_contended()
    }

    /// Octets this account holds.
    pub(crate) fn held(&self) -> usize {
        held(&lock(&self.budget.state), self.slot).total
    }
}

impl Drop for Account {
    /// The connection and what it held are gone: all of it goes back.
    fn drop(&mut self) {
        let mut st = lock(&self.budget.state);
        let Some(held) = st.accounts[self.slot].take() else {
            return;
        };
        st.used -= held.from_budget;
        if held.wait.is_some() {
            st.waiters.retain(|&i| i != self.slot);
        }
        if st.completer == Some(self.slot) {
            st.completer = None;
        }
        st.free.push(self.slot);
        let wake = self.budget.serve(&mut st);
        self.budget.publish(&st);
        drop(st);
        for waker in wake {
            waker.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;

    use super::*;

    /// A waker that counts its wakes.
    #[derive(Default)]
    struct Counter(AtomicUsize);

    impl Wake for Counter {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn waker() -> (Arc<Counter>, Waker) {
        let counter = Arc::new(Counter::default());
        (counter.clone(), Waker::from(counter))
    }

    #[test]
    fn the_allowance_comes_first_then_the_budget_up_to_the_reserve() {
        let budget = Budget::new(100, 20, 10);
        let a = budget.open();
        assert_eq!(a.try_grow(5, false), 5, "allowance");
        assert_eq!(budget.used(), 0);
        assert_eq!(a.try_grow(50, false), 50, "5 allowance, 45 budget");
        assert_eq!(budget.used(), 45);
        assert_eq!(a.try_grow(50, false), 35, "up to limit - reserve");
        assert_eq!(a.try_grow(1, false), 0);
        assert_eq!(a.held(), 90);
        a.shrink(30);
        assert_eq!(budget.used(), 50, "given back to the budget first");
        assert_eq!(a.held(), 60);
        drop(a);
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn the_reserve_goes_to_one_account_in_the_middle_of_a_message() {
        let budget = Budget::new(100, 30, 0);
        let (a, b) = (budget.open(), budget.open());
        assert_eq!(a.try_grow(70, false), 70);
        assert_eq!(b.try_grow(10, false), 0, "not completing");
        assert_eq!(b.try_grow(10, true), 10, "the reserve");
        assert_eq!(a.try_grow(10, true), 0, "b has the reserve");
        b.completed();
        assert_eq!(a.try_grow(40, true), 20, "the rest of the reserve");
        assert_eq!(budget.used(), 100);
    }

    #[test]
    fn freed_room_goes_to_the_waiting_account_that_holds_the_least() {
        let budget = Budget::new(100, 0, 0);
        let (heavy, light, other) = (budget.open(), budget.open(), budget.open());
        assert_eq!(heavy.try_grow(60, false), 60);
        assert_eq!(light.try_grow(10, false), 10);
        assert_eq!(other.try_grow(30, false), 30);
        let (heavy_woken, heavy_waker) = waker();
        let (light_woken, light_waker) = waker();
        let mut cx = Context::from_waker(&heavy_waker);
        assert!(heavy.poll_grow(20, false, &mut cx).is_pending());
        let mut cx = Context::from_waker(&light_waker);
        assert!(light.poll_grow(20, false, &mut cx).is_pending());
        // A newcomer holding more than a waiter is not served ahead of it.
        other.shrink(30);
        assert_eq!(
            light_woken.0.load(Ordering::SeqCst),
            1,
            "the light one first"
        );
        assert_eq!(
            heavy_woken.0.load(Ordering::SeqCst),
            1,
            "then the heavy one"
        );
        let mut cx = Context::from_waker(&light_waker);
        assert_eq!(light.poll_grow(20, false, &mut cx), Poll::Ready(20));
        let mut cx = Context::from_waker(&heavy_waker);
        assert_eq!(heavy.poll_grow(20, false, &mut cx), Poll::Ready(10));
        assert_eq!(budget.used(), 100);
        // Room that frees up goes to a waiter before anyone who asks later.
        assert!(heavy.poll_grow(5, false, &mut cx).is_pending());
        assert_eq!(other.try_grow(1, false), 0, "budget spent");
        light.shrink(5);
        assert_eq!(
            other.try_grow(5, false),
            0,
            "the freed room went to the waiter"
        );
        assert_eq!(heavy.try_grow(5, false), 5);
    }

    #[test]
    fn room_set_aside_for_a_waiter_is_kept_for_it() {
        let budget = Budget::new(50, 0, 0);
        let (a, b) = (budget.open(), budget.open());
        assert_eq!(a.try_grow(50, false), 50);
        let (_, w) = waker();
        let mut cx = Context::from_waker(&w);
        assert!(b.poll_grow(10, false, &mut cx).is_pending());
        a.shrink(20);
        // Set aside for b: another account cannot take it ...
        let c = budget.open();
        assert_eq!(c.try_grow(10, false), 10, "what b did not ask for is free");
        assert_eq!(c.try_grow(10, false), 0);
        // ... and b collects it even without polling again.
        assert_eq!(b.try_grow(10, false), 10);
        drop(b);
        assert_eq!(budget.used(), 40);
    }
}
