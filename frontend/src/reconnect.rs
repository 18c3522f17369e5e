//! Signing in again by itself after a lost connection: attempts spaced out exponentially with jitter, so
//! that the pages a restarted server dropped do not all come back in the same second.

use crate::components::signin::SignInRequest;

/// Attempts before the page gives up and leaves it to the person.
pub const MAX_ATTEMPTS: u32 = 8;
const FIRST_MS: f64 = 1_000.0;
const LONGEST_MS: f64 = 30_000.0;

/// Said once signed in again.
pub const RECONNECTED: &str = "The connection was lost; you are signed in again.";

/// The wait before attempt `attempt` (1, 2, …): 1 s, 2 s, 4 s … at most 30 s, the second half of it
/// random (`random` in 0..1, "equal jitter").
pub fn delay_ms(attempt: u32, random: f64) -> f64 {
    let doublings = attempt.saturating_sub(1).min(16) as i32;
    let full = (FIRST_MS * 2f64.powi(doublings)).min(LONGEST_MS);
    full / 2.0 * (1.0 + random.clamp(0.0, 1.0))
}

/// A reconnection under way: the sign-in to repeat (its password is kept in memory only, and only for
/// this) and the attempts made so far.
#[derive(Debug)]
pub struct Reconnect {
    pub request: SignInRequest,
    attempts: u32,
}

/// What to do next.
#[derive(Debug, PartialEq)]
pub enum Next {
    /// Try again after this many milliseconds; tell the person this.
    Wait { ms: f64, notice: String },
    /// Stop; tell the person this.
    GiveUp(String),
}

impl Reconnect {
    pub fn new(request: SignInRequest) -> Reconnect {
        Reconnect { request, attempts: 0 }
    }

    /// The connection is gone (again): when to try next, or that it is time to stop.
    pub fn next(&mut self, random: f64) -> Next {
        if self.attempts >= MAX_ATTEMPTS {
            return Next::GiveUp(format!(
                "The connection to the server was lost and {MAX_ATTEMPTS} attempts to sign in again failed. \
                 Sign in when the server is back."
            ));
        }
        self.attempts += 1;
        let ms = delay_ms(self.attempts, random);
        let notice = format!(
            "The connection to the server was lost. Signing in again in {} s (attempt {} of {MAX_ATTEMPTS})…",
            (ms / 1000.0).ceil(),
            self.attempts
        );
        Next::Wait { ms, notice }
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
    fn gives_up_after_the_last_attempt() {
        let request = SignInRequest {
            email: "jd@hotmail.com".into(),
            password: "hunter2".into(),
            server: String::new(),
            state: State::Busy,
            remember: false,
        };
        let mut r = Reconnect::new(request);
        assert!(!format!("{r:?}").contains("hunter2"));
        let waits: Vec<Next> = (0..MAX_ATTEMPTS).map(|_| r.next(0.0)).collect();
        assert!(matches!(&waits[0], Next::Wait { ms, notice } if *ms == 500.0 && notice.contains("attempt 1 of 8")));
        assert!(waits.iter().all(|w| matches!(w, Next::Wait { notice, .. } if !notice.contains("hunter2"))));
        assert!(matches!(r.next(0.0), Next::GiveUp(notice) if notice.contains("8 attempts")));
    }
}
