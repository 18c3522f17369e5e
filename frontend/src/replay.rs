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

/// What a lesson tells around its lines, from its `#>` comments (which a transcript reader skips):
/// `#> intro: …` what it shows and why, `#> at 5.000s: …` a step beginning with the line at that time,
/// `#> summary: …` what to take away.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Story {
    pub intro: String,
    /// Each step's start (milliseconds) and its sentence, in time order.
    pub steps: Vec<(u32, String)>,
    pub summary: String,
}

impl Story {
    pub fn parse(text: &str) -> Story {
        let mut story = Story::default();
        for line in text.lines().filter_map(|l| l.strip_prefix("#>")) {
            let Some((key, sentence)) = line.split_once(':') else { continue };
            let sentence = sentence.trim().to_owned();
            match key.trim() {
                "intro" => story.intro = sentence,
                "summary" => story.summary = sentence,
                at => {
                    let seconds = at.strip_prefix("at ").and_then(|t| t.trim_end_matches('s').parse::<f64>().ok());
                    if let Some(seconds) = seconds {
                        story.steps.push(((seconds * 1000.0).round() as u32, sentence));
                    }
                }
            }
        }
        story.steps.sort_by_key(|(at, _)| *at);
        story
    }
}

/// A transcript being stepped through: the first `shown` lines have happened.
#[derive(Clone, Debug, PartialEq)]
pub struct Replay {
    pub title: String,
    transcript: Transcript,
    shown: usize,
    /// A lesson's story (empty for a downloaded transcript).
    pub story: Story,
}

impl Replay {
    /// Opens `text`, showing its first line.
    pub fn open(title: &str, text: &str) -> Result<Replay, transcript::ParseError> {
        Ok(Replay { title: title.to_owned(), transcript: transcript::parse(text)?, shown: 1, story: Story::default() })
    }

    pub fn lesson(lesson: &Lesson) -> Replay {
        let mut replay = Replay::open(lesson.title, lesson.text).expect("the lessons are tested");
        replay.story = Story::parse(lesson.text);
        replay
    }

    /// The step of the story the line just shown belongs to: its number (from 1), how many there are,
    /// and its sentence.
    pub fn story_step(&self) -> Option<(usize, usize, &str)> {
        let at = self.transcript.steps.get(self.shown.checked_sub(1)?)?.at_ms;
        let index = self.story.steps.iter().rposition(|(start, _)| *start <= at)?;
        Some((index + 1, self.story.steps.len(), self.story.steps[index].1.as_str()))
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
    fn every_lesson_tells_a_story_in_steps_from_its_first_line_to_its_last() {
        for lesson in &LESSONS {
            let mut r = Replay::lesson(lesson);
            assert!(!r.story.intro.is_empty() && !r.story.summary.is_empty(), "{}", lesson.id);
            assert!(r.story.steps.len() >= 3, "{}: {:?}", lesson.id, r.story.steps);
            assert_eq!(r.story_step().map(|(n, _, _)| n), Some(1), "{}: the first line opens step 1", lesson.id);
            r.go_to_end(true);
            let (n, of, _) = r.story_step().unwrap();
            assert_eq!(n, of, "{}: the last line is in the last step", lesson.id);
        }
        let mut r = Replay::lesson(&LESSONS[0]);
        r.step(4);
        assert!(r.story_step().unwrap().2.contains("challenge"), "{:?}", r.story_step());
        // A downloaded transcript has no story.
        let plain = Replay::open("t", "== Notification server\n+0.000s C: VER 1 MSNP2 CVR0\n").unwrap();
        assert_eq!((plain.story_step(), plain.story.intro.as_str()), (None, ""));
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
