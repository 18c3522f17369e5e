//! What the server keeps per connection, alike for the notification server and the switchboard: the phase
//! it is in and, until it has signed in, the time by which it must.

use std::collections::HashMap;
use std::time::Duration;

/// Identifies one client connection (unique across both listeners).
pub type ConnId = u64;

#[derive(Debug)]
pub(crate) struct Conn<P> {
    pub(crate) phase: P,
    /// Closed when reached; `None` once signed in (or closed).
    pub(crate) deadline: Option<Duration>,
}

impl<P> Conn<P> {
    /// A new connection in `phase` that must sign in by `deadline`.
    pub(crate) fn new(phase: P, deadline: Duration) -> Conn<P> {
        Conn { phase, deadline: Some(deadline) }
    }

    /// Signed in: `phase` from now on, and no deadline.
    pub(crate) fn admit(&mut self, phase: P) {
        self.phase = phase;
        self.deadline = None;
    }

    /// Puts the connection in `closed`, returning the phase it was in.
    pub(crate) fn close(&mut self, closed: P) -> P {
        self.deadline = None;
        std::mem::replace(&mut self.phase, closed)
    }
}

/// The connections whose deadline has passed.
pub(crate) fn overdue<P>(conns: &HashMap<ConnId, Conn<P>>, now: Duration) -> Vec<ConnId> {
    conns.iter().filter(|(_, c)| c.deadline.is_some_and(|d| d <= now)).map(|(id, _)| *id).collect()
}

/// The earliest deadline.
pub(crate) fn next_deadline<P>(conns: &HashMap<ConnId, Conn<P>>) -> Option<Duration> {
    conns.values().filter_map(|c| c.deadline).min()
}
