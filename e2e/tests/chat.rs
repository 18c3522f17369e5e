//! Chat through the switchboard between real browser sessions, and the raw console.

use e2e::*;

/// The messages of the open chat.
const MESSAGES: &str = ".chat .messages";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_and_three_way_chats_typing_leaving_and_the_console() {
    let (bridge, _data) = start_bridge().await;
    let url = format!("http://{}/", bridge.http_addr);
    let driver = Driver::start().await;
    let (alice, bob, carol) = (driver.browser().await, driver.browser().await, driver.browser().await);
    sign_in(&alice, &url, "alice@hotmail.com", "alice").await;
    sign_in(&bob, &url, "bob@hotmail.com", "bob").await;
    sign_in(&carol, &url, "carol@hotmail.com", "carol").await;
    wait_text(&alice, &online("bob@hotmail.com"), "Bob").await;
    wait_text(&alice, &online("carol@hotmail.com"), "Carol").await;

    // Alice starts a chat with Bob; Bob's page answers the invitation at once.
    click(&alice, "button[aria-label='Chat with Bob']").await;
    wait_text(&alice, MESSAGES, "Bob joined the conversation.").await;
    wait_text(&bob, ".chat .participants", "Alice").await;
    type_into(&alice, "#chat-input-1", "Hello Bob\n").await;
    wait_text(&bob, MESSAGES, "Alice says:Hello Bob").await;

    // Typing is shown to the other side.
    type_into(&bob, "#chat-input-1", "Hi Al").await;
    wait_text(&alice, ".chat .typing", "Bob is typing").await;
    shot(&alice, "11-alice-sees-bob-typing").await;
    type_into(&bob, "#chat-input-1", "Hi Alice, lunch?\n").await;
    wait_text(&alice, MESSAGES, "Bob says:Hi Alice, lunch?").await;
    wait_gone(&alice, ".chat .typing:not(:empty)").await;
    shot(&bob, "12-two-way-chat").await;

    // Alice invites Carol: a three-way chat.
    type_into(&alice, "#chat-invite-1", "carol@hotmail.com\n").await;
    wait_text(&carol, ".chat .participants", "Alice, Bob").await;
    wait_text(&bob, MESSAGES, "joined the conversation.").await;
    type_into(&carol, "#chat-input-1", "Hello both\n").await;
    wait_text(&alice, MESSAGES, "says:Hello both").await;
    wait_text(&bob, MESSAGES, "says:Hello both").await;
    shot(&carol, "13-three-way-chat").await;
    // The inspector's default view lists every connection's lines in time order, each naming its
    // connection: the notification server's and the switchboard's together.
    wait_text(&carol, "#inspector-connection option:checked", "All connections").await;
    wait_text(&carol, ".inspector .log.all li", "NS").await;
    wait_text(&carol, ".inspector .log.all li", "SB 1").await;
    let log = carol.find(Locator::Css(".inspector .log.all")).await.unwrap().text().await.unwrap();
    let (rng, ans) = (log.find("RNG").expect("the invitation"), log.find("ANS 1").expect("the answer"));
    assert!(rng < ans, "the NS's RNG comes before the SB's ANS: {log}");

    // The raw console starts on the notification server, not on the chat.
    wait_text(&carol, "#console-target option:checked", "Notification server").await;

    // Bob types; Carol leaves: for her the chat is over, read-only, no one here or typing.
    type_into(&bob, "#chat-input-1", "and one more thing").await;
    wait_text(&carol, ".chat .typing", "Bob is typing").await;
    click(&carol, ".chat button.leave").await;
    wait_text(&carol, ".chat .participants", "This conversation has ended").await;
    wait_gone(&carol, ".chat .typing:not(:empty)").await;
    wait_gone(&carol, "#chat-input-1").await;
    wait_text(&alice, MESSAGES, "Carol ☕ left the conversation.").await;
    wait_text(&bob, MESSAGES, "Carol ☕ left the conversation.").await;

    // Bob leaves too: Alice's next message reaches nobody and is marked.
    click(&bob, ".chat button.leave").await;
    wait_text(&alice, MESSAGES, "Bob left the conversation.").await;
    wait_text(&alice, ".chat .participants", "Everyone else has left").await;
    type_into(&alice, "#chat-input-1", "Anyone there?\n").await;
    wait_text(&alice, ".chat .undelivered", "not delivered").await;
    shot(&alice, "14-undelivered").await;

    // A raw CHG typed in Bob's console changes the state Alice sees.
    type_into(&bob, "#console-line", "CHG BSY\n").await;
    wait_text(&alice, &online("bob@hotmail.com"), "(Busy)").await;
    wait_text(&bob, "#my-state option:checked", "Busy").await;
    shot(&bob, "15-raw-console").await;

    // Bob signs out, and Dave signs in on the same tab: nothing of Bob's session is left to see.
    click(&bob, "button.sign-out").await;
    wait_text(&bob, "#sign-in-title", "Sign in").await;
    assert_eq!(field_value(&bob, "#email").await, "");
    wait_gone(&bob, ".inspector .log li").await;
    type_into(&bob, "#email", "dave@hotmail.com").await;
    type_into(&bob, "#password", "dave\n").await;
    wait_text(&bob, "#me .name", "Dave").await;
    wait_text(&bob, ".inspector .log", "USR 3 MD5 I dave@hotmail.com").await;
    wait_gone(&bob, ".chats [role=tab]").await;
    let log = bob.find(Locator::Css(".inspector .log")).await.unwrap().text().await.unwrap();
    assert!(!log.contains("bob@hotmail.com") && !log.contains("alice@hotmail.com"), "{log}");
    // All connections (the default view) and the notification server's: no switchboard of Bob's is left.
    assert_eq!(bob.find_all(Locator::Css("#inspector-connection option")).await.unwrap().len(), 2);
    shot(&bob, "16-the-next-person-on-the-same-tab").await;

    for browser in [alice, bob, carol] {
        browser.close().await.unwrap();
    }
    bridge.shutdown().await;
}

/// Whether the open chat's message list shows its newest message.
async fn at_newest(browser: &Client) -> bool {
    let script = "const l = document.querySelector('.chat .messages');
                  return l.scrollTop + l.clientHeight >= l.scrollHeight - 24;";
    browser.execute(script, vec![]).await.unwrap().as_bool().unwrap()
}

/// The id of the element that has the keyboard.
async fn focused(browser: &Client) -> String {
    browser.active_element().await.unwrap().attr("id").await.unwrap().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_started_and_answered_from_the_keyboard_follows_new_messages() {
    let (bridge, _data) = start_bridge().await;
    let url = format!("http://{}/", bridge.http_addr);
    let driver = Driver::start().await;
    let (alice, bob) = (driver.browser().await, driver.browser().await);
    sign_in(&alice, &url, "alice@hotmail.com", "alice").await;
    sign_in(&bob, &url, "bob@hotmail.com", "bob").await;
    wait_text(&alice, &online("bob@hotmail.com"), "Bob").await;

    // Alice presses Enter on "Chat with Bob": the conversation opens with the keyboard in its message
    // box, so typing and Enter send, with no Tab-hunting.
    let chat = alice.find(Locator::Css("button[aria-label='Chat with Bob']")).await.unwrap();
    chat.send_keys("\u{E007}").await.unwrap();
    // She types at once, maybe before Bob has joined: the message waits for him rather than being lost.
    wait_text(&alice, ".chat", "Message").await;
    assert_eq!(focused(&alice).await, "chat-input-1");
    alice.active_element().await.unwrap().send_keys(&enter("Hello from the keyboard\n")).await.unwrap();
    wait_text(&bob, MESSAGES, "Alice says:Hello from the keyboard").await;
    // Bob was doing nothing else: the invitation's message box has his keyboard, and he answers.
    assert_eq!(focused(&bob).await, "chat-input-1");
    bob.active_element().await.unwrap().send_keys(&enter("Hi Alice\n")).await.unwrap();
    wait_text(&alice, MESSAGES, "Bob says:Hi Alice").await;

    // A long conversation: Alice's list stays at the newest message.
    for n in 1..=40 {
        type_into(&bob, "#chat-input-1", &format!("line {n}\n")).await;
    }
    wait_text(&alice, MESSAGES, "Bob says:line 40").await;
    assert!(at_newest(&alice).await, "the list follows new messages");
    // Scrolled up to read, she stays there; a button says there is more, and takes her down.
    alice.execute("document.querySelector('.chat .messages').scrollTop = 0;", vec![]).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    type_into(&bob, "#chat-input-1", "one more\n").await;
    wait_text(&alice, MESSAGES, "Bob says:one more").await;
    wait_text(&alice, ".chat button.new-messages", "New messages").await;
    assert!(!at_newest(&alice).await, "reading older messages is not interrupted");
    shot(&alice, "17-new-messages").await;
    click(&alice, ".chat button.new-messages").await;
    wait_gone(&alice, ".chat button.new-messages").await;
    assert!(at_newest(&alice).await);

    alice.close().await.unwrap();
    bob.close().await.unwrap();
    bridge.shutdown().await;
}
