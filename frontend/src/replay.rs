//! Stepping through a transcript without a server: a downloaded one, or one of the built-in lessons.

use crate::log::Direction;
use crate::transcript::{self, Connection, Transcript};

/// A built-in lesson: a transcript from MSNP2.md's section 13.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lesson {
    pub id: &'static str,
    pub title: &'static str,
    pub text: &'static str,
}

pub const LESSONS: [Lesson; 3] = [
    Lesson { id: "signin", title: "MSN Messenger 1.0 signs in and out", text: include_str!("../lessons/signin.txt") },
    Lesson { id: "presence", title: "Two people see each other", text: include_str!("../lessons/presence.txt") },
    Lesson { id: "chat", title: "A chat through a switchboard", text: include_str!("../lessons/chat.txt") },
];

/// A transcript being stepped through: the first `shown` lines have happened.
#[derive(Clone, Debug, PartialEq)]
pub struct Replay {
    pub title: String,
    transcript: Transcript,
    shown: usize,
}

impl Replay {
    /// Opens `text`, showing its first line.
    pub fn open(title: &str, text: &str) -> Result<Replay, transcript::ParseError> {
        Ok(Replay { title: title.to_owned(), transcript: transcript::parse(text)?, shown: 1 })
    }

    pub fn lesson(lesson: &Lesson) -> Replay {
        Replay::open(lesson.title, lesson.text).expect("the lessons are tested")
    }

    /// Lines shown, and in all.
    pub fn position(&self) -> (usize, usize) {
        (self.shown, self.transcript.steps.len())
    }

    /// Moves `by` lines (negative: back), staying between the first line and the last.
    pub fn step(&mut self, by: isize) {
        self.shown = self.shown.saturating_add_signed(by).clamp(1, self.transcript.steps.len());
    }

    /// Jumps to the first line, or to the last.
    pub fn go_to_end(&mut self, end: bool) {
        self.shown = if end { self.transcript.steps.len() } else { 1 };
    }

    /// The connections as they were at this point, explained.
    pub fn connections(&self) -> Vec<Connection> {
        self.transcript.replay(self.shown)
    }

    /// The line just shown: who sent it to whom, the line, and what it means.
    pub fn current(&self, connections: &[Connection]) -> Option<(String, String, String)> {
        let step = self.transcript.steps.get(self.shown.checked_sub(1)?)?;
        let c = connections.get(step.connection)?;
        // The line shown last is the last of its connection's log.
        let line = c.log.last()?;
        let way = match step.direction {
            Direction::Sent => format!("{} to {}", c.client, c.server),
            Direction::Received => format!("{} to {}", c.server, c.client),
        };
        Some((way, line.shown_text().into_owned(), line.note.clone()))
    }
}

#[cfg(test)]
mod tests {
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn every_lesson_reads_and_every_line_of_it_is_understood() {
        for lesson in &LESSONS {
            let mut r = Replay::lesson(lesson);
            r.go_to_end(true);
            let (shown, total) = r.position();
            assert!(total >= 15 && shown == total, "{}: {total} lines", lesson.id);
            for c in r.connections() {
                for l in c.log.iter() {
                    assert!(!l.note.contains("Not understood"), "{}: {} — {}", lesson.id, l.text, l.note);
                }
            }
        }
    }

    #[test]
    fn steps_forward_and_back_within_the_transcript() {
        let mut r = Replay::lesson(&LESSONS[0]);
        assert_eq!(r.position(), (1, 15));
        let (way, line, note) = r.current(&r.connections()).unwrap();
        assert_eq!((way.as_str(), line.as_str()), ("MSN Messenger 1.0 to Notification server", "VER 139 MSNP2 CVR0"));
        assert!(note.contains("MSNP2"), "{note}");
        r.step(-3);
        assert_eq!(r.position().0, 1);
        r.step(5);
        assert_eq!(r.connections()[0].log.len(), 6);
        let (way, line, note) = r.current(&r.connections()).unwrap();
        assert_eq!(
            (way.as_str(), line.as_str()),
            ("Notification server to MSN Messenger 1.0", "USR 141 MD5 S 1013928519.693957190")
        );
        assert!(note.contains("challenge"), "{note}");
        r.step(100);
        assert_eq!(r.position(), (15, 15));
    }

    #[test]
    fn the_chat_lesson_has_two_people_and_both_servers() {
        let r = Replay::lesson(&LESSONS[2]);
        let labels: Vec<String> = r.connections().iter().map(Connection::label).collect();
        assert_eq!(
            labels,
            [
                "Alice -> Notification server",
                "Alice -> Switchboard",
                "Bob -> Notification server",
                "Bob -> Switchboard"
            ]
        );
    }
}
