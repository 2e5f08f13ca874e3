//! A store's head (its last global position), watched without an async runtime: the store holds
//! the [`HeadSender`], subscriptions and projection runners hold a [`Head`] and wait for it to
//! move. The store contract names no tokio type, so it builds without one.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

#[derive(Default)]
struct State {
    position: u64,
    /// Bumped by every publish, so a waiter sees a publish even of the same position.
    version: u64,
    closed: bool,
    /// Waiting futures, by id.
    waiting: Vec<(u64, Waker)>,
    next_id: u64,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is a few integers: a panic elsewhere cannot leave it half-written.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The store's side: publishes each new head. Dropping it closes every [`Head`].
pub struct HeadSender {
    shared: Arc<Shared>,
}

impl HeadSender {
    /// A head at `position`.
    pub fn new(position: u64) -> Self {
        let shared = Arc::new(Shared::default());
        shared.lock().position = position;
        Self { shared }
    }

    /// Sets the head to `position` and wakes everyone waiting.
    pub fn publish(&self, position: u64) {
        let waiting = {
            let mut state = self.shared.lock();
            // Never back: two publishers (a writer and a listener) may tell of one commit late.
            state.position = state.position.max(position);
            state.version += 1;
            std::mem::take(&mut state.waiting)
        };
        for (_, waker) in waiting {
            waker.wake();
        }
    }

    /// A watcher of the head, which has seen the current position.
    pub fn subscribe(&self) -> Head {
        let seen = self.shared.lock().version;
        Head {
            shared: Arc::clone(&self.shared),
            seen,
        }
    }
}

impl Drop for HeadSender {
    fn drop(&mut self) {
        let waiting = {
            let mut state = self.shared.lock();
            state.closed = true;
            std::mem::take(&mut state.waiting)
        };
        for (_, waker) in waiting {
            waker.wake();
        }
    }
}

/// A watcher of a store's head: the last global position, and a wait for the next one.
#[derive(Clone)]
pub struct Head {
    shared: Arc<Shared>,
    seen: u64,
}

/// The store is gone: its head will not move again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the store was closed")]
pub struct Closed;

impl Head {
    /// The last global position (0 when the store is empty).
    pub fn position(&self) -> u64 {
        self.shared.lock().position
    }

    /// Marks the current head as seen, so [`changed`](Self::changed) waits for a later one, and
    /// returns it.
    pub fn mark_seen(&mut self) -> u64 {
        let state = self.shared.lock();
        self.seen = state.version;
        state.position
    }

    /// Waits until the head moves past what this watcher has seen (then marks it seen), or the
    /// store is closed.
    pub fn changed(&mut self) -> Changed<'_> {
        Changed {
            head: self,
            id: None,
        }
    }
}

/// What [`Head::changed`] returns.
pub struct Changed<'h> {
    head: &'h mut Head,
    /// Its entry among the waiting, once it waits.
    id: Option<u64>,
}

impl Future for Changed<'_> {
    type Output = Result<(), Closed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let mut state = this.head.shared.lock();
        if state.version != this.head.seen {
            this.head.seen = state.version;
            return Poll::Ready(Ok(()));
        }
        if state.closed {
            return Poll::Ready(Err(Closed));
        }
        let id = match this.id {
            Some(id) => id,
            None => {
                state.next_id += 1;
                let id = state.next_id;
                this.id = Some(id);
                id
            }
        };
        match state.waiting.iter_mut().find(|(known, _)| *known == id) {
            Some((_, waker)) => waker.clone_from(cx.waker()),
            None => state.waiting.push((id, cx.waker().clone())),
        }
        Poll::Pending
    }
}

impl Drop for Changed<'_> {
    fn drop(&mut self) {
        // A wait given up (a `select!` that took another branch) leaves no waker behind.
        if let Some(id) = self.id {
            self.head
                .shared
                .lock()
                .waiting
                .retain(|(known, _)| *known != id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;

    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn poll(future: &mut Changed<'_>, waker: &Waker) -> Poll<Result<(), Closed>> {
        Pin::new(future).poll(&mut Context::from_waker(waker))
    }

    #[test]
    fn a_watcher_wakes_for_each_publish_and_sees_the_close() {
        let sender = HeadSender::new(3);
        let mut head = sender.subscribe();
        assert_eq!(head.position(), 3);
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(Arc::clone(&count));
        {
            let mut changed = head.changed();
            assert!(poll(&mut changed, &waker).is_pending());
            assert!(poll(&mut changed, &waker).is_pending());
            sender.publish(5);
            assert_eq!(count.0.load(Ordering::SeqCst), 1);
            assert_eq!(poll(&mut changed, &waker), Poll::Ready(Ok(())));
        }
        assert_eq!(head.mark_seen(), 5);
        // Seen: the next wait is for a later publish, even of the same position.
        sender.publish(5);
        assert_eq!(poll(&mut head.changed(), &waker), Poll::Ready(Ok(())));
        let mut changed = head.changed();
        assert!(poll(&mut changed, &waker).is_pending());
        drop(sender);
        assert_eq!(poll(&mut changed, &waker), Poll::Ready(Err(Closed)));
    }

    #[test]
    fn an_abandoned_wait_leaves_no_waker() {
        let sender = HeadSender::new(0);
        let mut head = sender.subscribe();
        let waker = Waker::from(Arc::new(Count(AtomicUsize::new(0))));
        for _ in 0..3 {
            assert!(poll(&mut head.changed(), &waker).is_pending());
        }
        assert!(sender.shared.lock().waiting.is_empty());
    }
}
