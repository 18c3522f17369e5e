//! The page teaches a person alone: a guest account in one click, robots that change state, answer and
//! hold a group chat, the sequence diagram, and the session downloaded and replayed without a server.

use std::path::Path;
use std::time::{Duration, Instant};

use e2e::*;

const MESSAGES: &str = ".chat .messages";

/// Waits up to 10 s for `name` to appear in `dir` (a download).
async fn downloaded(dir: &Path, name: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if std::fs::metadata(&path).is_ok_and(|m| m.len() > 0) {
            return path;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{name} was not downloaded to {}", dir.display());
}

/// Clicks the button whose text is `label` inside `scope`.
async fn press(browser: &Client, scope: &str, label: &str) {
    let xpath = format!("//*[contains(@class, '{scope}')]//button[normalize-space(.)='{label}']");
    browser.find(Locator::XPath(&xpath)).await.unwrap_or_else(|e| panic!("{label}: {e}")).click().await.unwrap();
}

/// The id of the element that has the keyboard.
async fn focused_id(browser: &Client) -> String {
    browser.active_element().await.unwrap().attr("id").await.unwrap().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_alone_learns_the_protocol() {
    let (bridge, _data) = start_bridge_with(|c| {
        c.robots = true;
        c.guests = Some(Default::default());
    })
    .await;
    let url = format!("http://{}/", bridge.http_addr);
    let downloads = tempfile::tempdir().unwrap();
    let driver = Driver::start().await;
    let me = driver.browser_downloading_to(downloads.path()).await;

    // The first visit explains itself: what this is, the demo accounts, what the inspector will show;
    // "Try it now" makes a temporary account and signs in with it at once.
    me.goto(&url).await.unwrap();
    wait_text(&me, ".intro", "watch every line of its protocol").await;
    wait_text(&me, ".sign-in .demo", "alice@hotmail.com / alice").await;
    wait_text(&me, ".inspector .empty", "appears here as it happens").await;
    wait_text(&me, ".sign-in .guest", "Try it now").await;
    shot(&me, "20-first-visit").await;
    press(&me, "sign-in", "Try it now").await;
    wait_text(&me, "#me .name", "Guest").await;
    wait_text(&me, "#me .handle", "guest-").await;

    // The mood robot changes its state and name every few seconds.
    wait_text(&me, &online("mood@hotmail.com"), "Mood").await;
    wait_text_for(&me, ".live", "Mood", Duration::from_secs(15)).await;
    shot(&me, "21-robots-online").await;

    // The echo robot types, then answers.
    click(&me, "button[aria-label^='Chat with Echo']").await;
    wait_text(&me, ".chat .participants", "In this conversation: Echo").await;
    type_into(&me, "#chat-input-1", "Hello robot\n").await;
    wait_text(&me, ".chat .typing", "is typing").await;
    wait_text(&me, MESSAGES, "You said: Hello robot").await;
    shot(&me, "22-echo-robot").await;

    // The host robot invites the chatty one: a group chat, then one leaves.
    click(&me, "button[aria-label^='Chat with Host']").await;
    wait_text(&me, ".chat .participants", "In this conversation: Host").await;
    type_into(&me, "#chat-input-2", "Hi Host\n").await;
    wait_text(&me, ".chat .participants", "Chatty").await;
    wait_text(&me, MESSAGES, "I was invited with CAL").await;
    shot(&me, "23-group-chat").await;
    wait_text_for(&me, MESSAGES, "left the conversation", Duration::from_secs(15)).await;
    wait_text(&me, ".chat .participants", "In this conversation: Host").await;
    // The chat tabs follow the ARIA tabs pattern: Left and End move to (and open) the other one.
    me.find(Locator::Css("#chat-tab-2")).await.unwrap().send_keys("\u{E012}").await.unwrap();
    wait_text(&me, "#chat-tab-1[aria-selected=true]", "Echo").await;
    assert_eq!(focused_id(&me).await, "chat-tab-1");
    me.find(Locator::Css("#chat-tab-1")).await.unwrap().send_keys("\u{E010}").await.unwrap();
    wait_text(&me, "#chat-tab-2[aria-selected=true]", "Host").await;

    // The sequence diagram: lanes, arrows, and any arrow explained.
    click(&me, "#view-diagram").await;
    wait_text(&me, ".diagram svg", "Notification server").await;
    wait_text(&me, ".diagram svg", "Switchboard (chat 2").await;
    press(&me, "diagram", "Next line").await;
    wait_text(&me, ".diagram .detail", "VER").await;
    // Clicking an arrow (the third: early ones stay put while robots add lines at the bottom). What is
    // above the diagram can change height as the robots talk, moving the arrow between WebDriver's scroll
    // and its click: a person would click again, and so does the test.
    let third = "(//*[contains(@class, 'diagram')]//*[local-name()='g' and contains(@class, 'arrow')])[3]";
    for attempt in 1.. {
        me.find(Locator::XPath(third)).await.unwrap().click().await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        let detail = me.find(Locator::Css(".diagram .detail")).await.unwrap().text().await.unwrap_or_default();
        if detail.contains("INF 2") || attempt == 5 {
            break;
        }
    }
    wait_text(&me, ".diagram .detail", "INF 2").await;
    // The arrows are in the keyboard's reach: the next line is one key away.
    let picked = me.find(Locator::Css(".diagram g.arrow.selected")).await.unwrap();
    let id = picked.attr("id").await.unwrap().unwrap();
    let n: usize = id.trim_start_matches("arrow-").parse().unwrap();
    picked.send_keys("\u{E015}").await.unwrap();
    wait_text(&me, &format!(".diagram g#arrow-{}[aria-pressed=true]", n + 1), "").await;
    let line = me.find(Locator::Css(".diagram .detail pre")).await.unwrap().text().await.unwrap();
    assert_eq!(focused_id(&me).await, format!("arrow-{}", n + 1));
    shot(&me, "24-sequence-diagram").await;
    // The same line is selected in the list of lines, taken apart field by field.
    click(&me, "#view-lines").await;
    wait_text(&me, ".inspector .log li.selected", line.lines().next().unwrap()).await;
    wait_text(&me, "table.fields", "TrID").await;
    let usr = "//*[contains(@class, 'log')]//button[contains(., 'USR 4 OK')]";
    me.find(Locator::XPath(usr)).await.unwrap().click().await.unwrap();
    wait_text(&me, "table.fields caption", "USR 4 OK").await;
    wait_text(&me, "table.fields", "Friendly name").await;
    me.execute("document.querySelector('table.fields').scrollIntoView({ block: 'end' });", vec![]).await.unwrap();
    shot(&me, "24b-field-table").await;
    click(&me, "#view-diagram").await;
    press(&me, "diagram", "Save as SVG").await;
    let svg = std::fs::read_to_string(downloaded(downloads.path(), "msnp-diagram.svg").await).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("Notification server"), "{svg}");

    // The whole session downloaded: every connection, payloads, no MD5 response.
    press(&me, "inspector", "Download").await;
    let transcript = downloaded(downloads.path(), "msnp-transcript.txt").await;
    let text = std::fs::read_to_string(&transcript).unwrap();
    assert!(text.contains("== This page -> Switchboard (chat 2") && text.contains("  | You said: Hello robot"));
    assert!(text.contains("<md5 response hidden>"), "{text}");

    // Signed out, the transcript replays without any server.
    click(&me, "button.sign-out").await;
    wait_text(&me, "#sign-in-title", "Sign in").await;
    wait_text(&me, "#lesson option:checked", "MSN Messenger 1.0 signs in and out").await;
    bridge.shutdown().await;
    let file = me.find(Locator::Css("#transcript-file")).await.unwrap();
    file.send_keys(transcript.to_str().unwrap()).await.unwrap();
    wait_text(&me, "#replay-title", "Replay: msnp-transcript.txt").await;
    wait_text(&me, ".replay .current", "VER 1 MSNP2").await;
    for _ in 0..3 {
        press(&me, "replay", "Forward").await;
    }
    wait_text(&me, ".replay .position", "Line 4 of").await;
    wait_text(&me, ".replay .current", "INF 2 MD5").await;
    press(&me, "replay", "Back").await;
    wait_text(&me, ".replay .position", "Line 3 of").await;
    // The diagram follows the replay: the line just shown is the one explained under it.
    wait_text(&me, ".diagram .detail", "INF 2").await;
    shot(&me, "25-replay").await;

    // A built-in lesson, to its end, in dark colours.
    press(&me, "replay", "Close the replay").await;
    me.find(Locator::Css("#lesson")).await.unwrap().select_by_value("chat").await.unwrap();
    press(&me, "learn", "Start").await;
    wait_text(&me, "#replay-title", "A chat through a switchboard").await;
    // A lesson tells a story: what it shows and why, a sentence per step, a summary at the end.
    wait_text(&me, ".replay .intro-lesson", "Chats do not go through the notification server").await;
    wait_text(&me, ".replay .step", "Step 1 of 6.").await;
    press(&me, "replay", "Last").await;
    wait_text(&me, ".replay .current", "OUT").await;
    wait_text(&me, ".replay .step", "Step 6 of 6.").await;
    wait_text(&me, ".replay .summary", "In short").await;
    me.find(Locator::Css("#theme")).await.unwrap().select_by_value("dark").await.unwrap();
    wait_text(&me, ".diagram svg", "Bob").await;
    shot(&me, "26-lesson-dark").await;

    // MSN Messenger 1.0's own sign-in: the client is that program, and it speaks to the server directly.
    press(&me, "replay", "Close the replay").await;
    me.find(Locator::Css("#lesson")).await.unwrap().select_by_value("signin").await.unwrap();
    press(&me, "learn", "Start").await;
    wait_text(&me, ".replay .current", "MSN Messenger 1.0 to Notification server").await;
    wait_text(&me, ".diagram svg", "MSN Messenger 1.0").await;
    let lanes = me.find(Locator::Css(".diagram svg")).await.unwrap().text().await.unwrap();
    assert!(!lanes.contains("Bridge") && !lanes.contains("This page"), "{lanes}");

    // A malformed file is refused, naming the line.
    press(&me, "replay", "Close the replay").await;
    let bad = downloads.path().join("bad.txt");
    std::fs::write(&bad, "C: VER 1 MSNP2\nthis is not a line\n").unwrap();
    me.find(Locator::Css("#transcript-file")).await.unwrap().send_keys(bad.to_str().unwrap()).await.unwrap();
    wait_text(&me, ".learn .notice", "bad.txt: Line 2: expected").await;

    me.close().await.unwrap();
}
