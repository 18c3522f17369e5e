//! Signing in again by itself after a lost connection: attempts spaced out exponentially with jitter, so
//! that the pages a restarted server dropped do not all come back in the same second, and never given up
//! while the tab is open (a person who comes back to it finds themselves signed in).

use crate::components::signin::SignInRequest;

const FIRST_MS: f64 = 1_000.0;
const LONGEST_MS: f64 = 30_000.0;

/// Said once signed in again.
pub const RECONNECTED: &str = "The connection was lost; you are signed in again.";

/// The wait before attempt `attempt` (1, 2, …): 1 s, 2 s, 4 s … then 30 s each time, the second half of
/// it random (`random` in 0..1, "equal jitter").
pub fn delay_ms(attempt: u32, random: f64) -> f64 {
    let doublings = attempt.saturating_sub(1).min(16) as i32;
    let full = (FIRST_MS * 2f64.powi(doublings)).min(LONGEST_MS);
    full / 2.0 * (1.0 + random.clamp(0.0, 1.0))
}

/// Why the session was lost: the person is told which.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Why {
    /// The connection broke, or the server stopped answering.
    Lost,
    /// The server said it is shutting down (`OUT SSD`).
    Shutdown,
}

impl Why {
    pub fn sentence(self) -> &'static str {
        match self {
            Why::Lost => "The connection to the server was lost.",
            Why::Shutdown => "The server is shutting down for maintenance.",
        }
    }
}

/// A reconnection under way: the sign-in to repeat (its password is kept in memory only, and only for
/// this), why, and the attempts made so far.
#[derive(Debug)]
pub struct Reconnect {
    pub request: SignInRequest,
    pub why: Why,
    attempts: u32,
}

impl Reconnect {
    pub fn new(request: SignInRequest, why: Why) -> Reconnect {
        Reconnect { request, why, attempts: 0 }
    }

    /// The connection is gone (again): milliseconds until the next attempt.
    pub fn next(&mut self, random: f64) -> f64 {
        self.attempts += 1;
        delay_ms(self.attempts, random)
    }

    /// The number of the attempt that comes next (1 for the first).
    pub fn attempt(&self) -> u32 {
        self.attempts
    }

    /// What the page says while waiting, `ms_left` before the next attempt.
    pub fn countdown(&self, ms_left: f64) -> String {
        let seconds = (ms_left.max(0.0) / 1000.0).ceil();
        format!("Signing in again in {seconds} s (attempt {}).", self.attempts)
    }
}

#[cfg(test)]
mod tests {
    use msnp::State;
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn waits_double_up_to_a_ceiling_with_half_of_each_random() {
        assert_eq!([1, 2, 3].map(|a| delay_ms(a, 0.0)), [500.0, 1000.0, 2000.0]);
        assert_eq!(delay_ms(1, 0.999_999).round(), 1000.0);
        assert_eq!(delay_ms(6, 1.0), 30_000.0);
        assert_eq!(delay_ms(40, 0.0), 15_000.0);
    }

    #[test]
    fn never_gives_up_and_counts_down() {
        let request = SignInRequest {
            email: "jd@hotmail.com".into(),
            password: "hunter2".into(),
            server: String::new(),
            state: State::Busy,
            remember: false,
        };
        let mut r = Reconnect::new(request, Why::Shutdown);
        assert!(!format!("{r:?}").contains("hunter2"));
        assert_eq!(r.next(0.0), 500.0);
        assert_eq!(r.countdown(499.0), "Signing in again in 1 s (attempt 1).");
        let waits: Vec<f64> = (0..1000).map(|_| r.next(1.0)).collect();
        assert!(waits.iter().all(|ms| *ms <= 30_000.0));
        assert_eq!(waits.last(), Some(&30_000.0));
        assert_eq!(r.countdown(29_100.0), "Signing in again in 30 s (attempt 1001).");
        assert_eq!(r.why.sentence(), "The server is shutting down for maintenance.");
    }
}
