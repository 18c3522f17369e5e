//! Raw-console commands waiting for their reply. Some servers answer nothing at all to a command they do
//! not know (`shared/protocol/INTEROP.md`), so the page stops waiting after a while and says so.

use msnp::{Frame, TrId};

/// How long a raw command may go unanswered.
pub const TIMEOUT_MS: f64 = 10_000.0;

/// Commands sent from the raw console, by TrID, with the line and when it went out.
#[derive(Debug, Default)]
pub struct Waiting(Vec<(TrId, String, f64)>);

impl Waiting {
    /// `line` went out as request `trid` (unsolicited ones expect no reply).
    pub fn sent(&mut self, trid: TrId, line: &str, now_ms: f64) {
        if trid != TrId::UNSOLICITED {
            self.0.push((trid, line.trim().to_owned(), now_ms));
        }
    }

    /// A line arrived: it answers the request whose TrID it carries.
    pub fn received(&mut self, frame: &Frame) {
        if let Some(trid) = frame.tokens().nth(1).and_then(|t| t.parse::<TrId>().ok()) {
            self.0.retain(|(t, ..)| *t != trid);
        }
    }

    /// What to tell the person about requests unanswered for [`TIMEOUT_MS`]; they are no longer waited for.
    pub fn overdue(&mut self, now_ms: f64) -> Vec<String> {
        let (late, waiting) = std::mem::take(&mut self.0).into_iter().partition(|(.., at)| now_ms - at >= TIMEOUT_MS);
        self.0 = waiting;
        late.into_iter()
            .map(|(_, line, _)| {
                format!(
                    "No reply to `{line}` within {} s: this server ignores commands it does not know (the \
                     project's server answers 200).",
                    TIMEOUT_MS / 1000.0
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn unanswered_commands_are_given_up_on_answered_ones_are_not() {
        let mut w = Waiting::default();
        w.sent(TrId(9), "ZZZ 9 hello", 0.0);
        w.sent(TrId(10), "INF 10", 0.0);
        w.sent(TrId::UNSOLICITED, "PNG", 0.0);
        w.received(&Frame::command("INF 10 MD5"));
        assert!(w.overdue(9_999.0).is_empty());
        let late = w.overdue(10_000.0);
        assert_eq!(late.len(), 1);
        assert!(late[0].starts_with("No reply to `ZZZ 9 hello` within 10 s"), "{}", late[0]);
        assert!(w.overdue(20_000.0).is_empty());
    }
}
