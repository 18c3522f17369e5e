//! Two real browser sessions (headless Chromium through chromedriver) use the built app, served by a real
//! bridge with its embedded server. Screenshots of each step go to target/e2e-screenshots/.

use std::net::SocketAddr;

use e2e::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_people_sign_in_see_each_other_and_sign_out() {
    let (bridge, _data) = start_bridge().await;
    let addr: SocketAddr = bridge.http_addr;
    let url = format!("http://{addr}/");
    let driver = Driver::start().await;
    let alice = driver.browser().await;
    let bob = driver.browser().await;

    // Alice signs in; the page measures how long it took.
    sign_in(&alice, &url, "alice@hotmail.com", "alice").await;
    wait_text(&alice, "#me .name", "Alice").await;
    // The page notes it once online (after SYN and the first CHG), a moment after the name shows.
    let contacts = "section.contacts[data-sign-in-ms]";
    wait_gone(&alice, "section.contacts:not([data-sign-in-ms])").await;
    let ms = alice.find(Locator::Css(contacts)).await.unwrap().attr("data-sign-in-ms").await.unwrap().unwrap();
    let ms: u32 = ms.parse().unwrap_or_else(|_| panic!("not a number of milliseconds: {ms:?}"));
    println!("sign-in to online over loopback: {ms} ms");
    wait_text(&alice, &offline("bob@hotmail.com"), "Bob").await;
    wait_text(&alice, ".inspector .log", "USR 4 MD5 S").await;
    shot(&alice, "01-alice-signed-in").await;

    // Bob signs in: each sees the other online.
    sign_in(&bob, &url, "bob@hotmail.com", "bob").await;
    wait_text(&bob, &online("alice@hotmail.com"), "Alice").await;
    wait_text(&alice, &online("bob@hotmail.com"), "Bob").await;
    wait_text(&alice, ".live", "Bob is now Online").await;
    shot(&alice, "02-alice-sees-bob-online").await;

    // Bob changes state and name.
    bob.find(Locator::Css("#my-state")).await.unwrap().select_by_value("AWY").await.unwrap();
    wait_text(&alice, &online("bob@hotmail.com"), "(Away)").await;
    type_into(&bob, "#my-name", "Bobby B\n").await;
    wait_text(&alice, &online("bob@hotmail.com"), "Bobby B").await;
    wait_text(&bob, "#me .name", "Bobby B").await;
    shot(&bob, "03-bob-away-and-renamed").await;

    // Alice blocks Bob: she disappears for him; unblocks: she is back.
    alice.find(Locator::Css("button[aria-label='Block Bobby B']")).await.unwrap().click().await.unwrap();
    wait_text(&bob, &offline("alice@hotmail.com"), "Alice").await;
    wait_text(&alice, &online("bob@hotmail.com"), "blocked").await;
    shot(&alice, "04-alice-blocked-bob").await;
    shot(&bob, "05-bob-sees-alice-offline").await;
    alice.find(Locator::Css("button[aria-label='Unblock Bobby B']")).await.unwrap().click().await.unwrap();
    wait_text(&bob, &online("alice@hotmail.com"), "Alice").await;

    // Both sign out.
    bob.find(Locator::Css("button.sign-out")).await.unwrap().click().await.unwrap();
    wait_text(&bob, "#sign-in-title", "Sign in").await;
    wait_text(&alice, &offline("bob@hotmail.com"), "Bob").await;
    alice.find(Locator::Css("button.sign-out")).await.unwrap().click().await.unwrap();
    wait_text(&alice, "#sign-in-title", "Sign in").await;
    wait_gone(&alice, "section.contacts").await;
    shot(&alice, "06-signed-out").await;

    // A wrong password says so.
    sign_in(&alice, &url, "alice@hotmail.com", "wrong").await;
    wait_text(&alice, ".sign-in .notice[role=alert]", "Wrong e-mail address or password.").await;
    assert_eq!(field_value(&alice, "#password").await, "");
    assert_eq!(field_value(&alice, "#email").await, "alice@hotmail.com");
    // The failure did not tick "Remember my e-mail address": only the person does.
    let remember = alice.find(Locator::Css("#remember")).await.unwrap();
    assert_eq!(remember.prop("checked").await.unwrap().as_deref(), Some("false"));
    shot(&alice, "07-wrong-password").await;

    // The same page on a phone-sized screen.
    bob.set_window_size(390, 844).await.unwrap();
    sign_in(&bob, &url, "bob@hotmail.com", "bob").await;
    wait_text(&bob, "#me .name", "Bobby B").await;
    shot(&bob, "08-phone").await;

    alice.close().await.unwrap();
    bob.close().await.unwrap();
    bridge.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_connection_signs_in_again_by_itself_in_the_same_state() {
    let (bridge, _data) = start_bridge().await;
    let addr = bridge.http_addr;
    let url = format!("http://{addr}/");
    let driver = Driver::start().await;
    let alice = driver.browser().await;
    sign_in(&alice, &url, "alice@hotmail.com", "alice").await;
    wait_text(&alice, "#me .name", "Alice").await;
    alice.find(Locator::Css("#my-state")).await.unwrap().select_by_value("BSY").await.unwrap();
    wait_text(&alice, ".inspector .log", "your state is now Busy").await;

    // The bridge and its server go away: the page says it will try again, and does, with backoff.
    bridge.shutdown().await;
    wait_text(&alice, ".reconnecting", "The connection to the server was lost.").await;
    wait_text(&alice, ".reconnecting .countdown", "Signing in again in").await;
    shot(&alice, "09-reconnecting").await;
    // "Try now" does not wait for the countdown: before the fourth attempt the page waits 4 to 8 s, but the
    // next attempt starts (and fails, for now) as soon as the button is pressed.
    wait_text_for(&alice, ".reconnecting .countdown", "(attempt 4)", std::time::Duration::from_secs(15)).await;
    click(&alice, ".reconnecting button.try-now").await;
    wait_text_for(&alice, ".reconnecting .countdown", "(attempt 5)", std::time::Duration::from_millis(1500)).await;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let (again, _data) = start_bridge_with(|c| c.listen = addr).await;
    wait_text_for(&alice, "main .notice", "you are signed in again", std::time::Duration::from_secs(40)).await;
    wait_text(&alice, "#my-state option:checked", "Busy").await;
    wait_text(&alice, ".inspector .log", "CHG 6 BSY").await;
    // Signed in again with the lists the page saved: every contact is there.
    wait_text(&alice, ".inspector .log", "SYN 5 5").await;
    wait_text(&alice, &offline("bob@hotmail.com"), "Bob").await;
    wait_text(&alice, "#group-offline", "Offline (6)").await;
    shot(&alice, "10-signed-in-again").await;

    alice.close().await.unwrap();
    again.shutdown().await;
}

/// The contact list, read from the page: (online, offline) handles.
async fn listed(browser: &Client) -> (Vec<String>, Vec<String>) {
    let mut groups = Vec::new();
    for group in ["online", "offline"] {
        let mut handles = Vec::new();
        let css = format!("section[aria-labelledby=group-{group}] li[data-handle]");
        for li in browser.find_all(Locator::Css(&css)).await.unwrap() {
            handles.push(li.attr("data-handle").await.unwrap().unwrap());
        }
        groups.push(handles);
    }
    let offline = groups.pop().unwrap();
    (groups.pop().unwrap(), offline)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_contact_list_is_complete_at_the_second_sign_in_on_one_tab() {
    let (bridge, _data) = start_bridge().await;
    let url = format!("http://{}/", bridge.http_addr);
    let driver = Driver::start().await;
    let (carol, bob) = (driver.browser().await, driver.browser().await);
    sign_in(&bob, &url, "bob@hotmail.com", "bob").await;
    wait_text(&bob, "#me .name", "Bob").await;

    // The first sign-in downloads the lists (SYN 0 5) and the page saves them.
    sign_in(&carol, &url, "carol@hotmail.com", "carol").await;
    wait_text(&carol, &online("bob@hotmail.com"), "Bob").await;
    wait_text(&carol, "#group-offline", "Offline (5)").await;
    let first = listed(&carol).await;

    // Signed out and in again on the same tab, without reloading it: nothing changed, so nothing is
    // downloaded (SYN 5 5), and every contact is listed with its state all the same.
    click(&carol, "button.sign-out").await;
    wait_text(&carol, "#sign-in-title", "Sign in").await;
    type_into(&carol, "#email", "carol@hotmail.com").await;
    type_into(&carol, "#password", "carol\n").await;
    wait_text(&carol, ".inspector .log", "SYN 5 5").await;
    wait_text(&carol, &online("bob@hotmail.com"), "Bob").await;
    wait_text(&carol, "#group-offline", "Offline (5)").await;
    assert_eq!(listed(&carol).await, first);
    assert_eq!(first.0, ["bob@hotmail.com"]);
    shot(&carol, "06b-second-sign-in").await;

    carol.close().await.unwrap();
    bob.close().await.unwrap();
    bridge.shutdown().await;
}
