//! The everyday subset in Firefox ESR (each browser through a geckodriver of its own): two people sign in,
//! chat from the keyboard, and the contact list is complete at a second sign-in on the same tab.

use e2e::*;

const MESSAGES: &str = ".chat .messages";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_chat_and_sign_in_again_in_firefox() {
    let (bridge, _data) = start_bridge().await;
    let url = format!("http://{}/", bridge.http_addr);
    let (driver_a, driver_b) = (Driver::firefox().await, Driver::firefox().await);
    let (alice, bob) = (driver_a.browser().await, driver_b.browser().await);
    sign_in(&alice, &url, "alice@hotmail.com", "alice").await;
    sign_in(&bob, &url, "bob@hotmail.com", "bob").await;
    wait_text(&alice, &online("bob@hotmail.com"), "Bob").await;
    wait_text(&bob, &online("alice@hotmail.com"), "Alice").await;

    // Enter on "Chat with Bob", then type: the message box has the keyboard.
    let chat = alice.find(Locator::Css("button[aria-label='Chat with Bob']")).await.unwrap();
    chat.send_keys("\u{E007}").await.unwrap();
    wait_text(&alice, ".chat .participants", "In this conversation").await;
    alice.active_element().await.unwrap().send_keys(&enter("Hello from Firefox\n")).await.unwrap();
    wait_text(&bob, MESSAGES, "Alice says:Hello from Firefox").await;
    type_into(&bob, "#chat-input-1", "Hi Alice\n").await;
    wait_text(&alice, MESSAGES, "Bob says:Hi Alice").await;
    shot(&alice, "30-firefox-chat").await;

    // Bob signs out and in again on the same tab: his contacts are all there, Alice online.
    click(&bob, "button.sign-out").await;
    wait_text(&bob, "#sign-in-title", "Sign in").await;
    type_into(&bob, "#email", "bob@hotmail.com").await;
    type_into(&bob, "#password", "bob\n").await;
    wait_text(&bob, ".inspector .log", "SYN 5 5").await;
    wait_text(&bob, &online("alice@hotmail.com"), "Alice").await;
    wait_text(&bob, "#group-offline", "Offline (5)").await;
    shot(&bob, "31-firefox-second-sign-in").await;

    alice.close().await.unwrap();
    bob.close().await.unwrap();
    bridge.shutdown().await;
}
