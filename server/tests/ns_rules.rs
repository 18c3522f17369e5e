//! The notification server's error and malformed-input rules (MSNP2.md §4–§7, §8.1, §9–§12), over TCP.

mod common;

use common::{Client, TestServer};

#[tokio::test]
async fn before_ver_anything_else_closes_silently() {
    let server = TestServer::start().await;
    for line in ["INF 1", "USR 1 MD5 I jd@hotmail.com", "FOO 1", "PNG", "ver 1 MSNP2"] {
        let mut c = Client::connect(server.ns()).await;
        c.ask_closed(line).await;
    }
    server.wait_idle().await;
}

#[tokio::test]
async fn version_negotiation() {
    let server = TestServer::start().await;
    let mut c = Client::connect(server.ns()).await;
    c.ask("VER 7 MSNP8 msnp2", "VER 7 MSNP2").await;
    // A second VER: 715, then close.
    c.send("VER 8 MSNP2").await;
    c.expect("715 8").await;
    c.expect_closed().await;

    let mut c = Client::connect(server.ns()).await;
    c.send("VER 3 MSNP8 CVR0").await;
    c.expect("VER 3 0").await;
    c.expect_closed().await;

    // VER without dialects: a known command missing parameters.
    let mut c = Client::connect(server.ns()).await;
    c.ask("VER 4", "200 4").await;
    c.ask("VER 5 MSNP2", "VER 5 MSNP2").await;
}

#[tokio::test]
async fn commands_before_login() {
    let server = TestServer::start().await;
    let mut c = Client::greeted(server.ns()).await;
    for (line, reply) in [
        ("SYN 5 0", "302 5"),
        ("CHG 6 NLN", "302 6"),
        ("ADD 7 FL a@b.cc a", "302 7"),
        ("XFR 8 SB", "302 8"),
        ("REA 9 a@b.cc x", "302 9"),
        ("FOO 10", "200 10"),
        ("BAR", "200"),
        ("chg 11 NLN", "200 11"),
        ("ILN 12 NLN a@b.cc A", "200 12"),
        ("USR 13", "200 13"),
        ("CVR 14 0x0409 win 4.0 i386 MSMSGS", "200 14"),
        (
            "CVR 15 0x0409 win 4.10 i386 MSMSGS 1.0.0863 extra",
            "CVR 15 1.0.0863 1.0.0863 1.0.0863 http://messenger.example/setup.exe http://messenger.example/",
        ),
        ("PNG", "QNG"),
        ("INF 16 extra", "INF 16 MD5"),
    ] {
        c.ask(line, reply).await;
    }
    // Empty lines are ignored; bare LF ends a line; runs of spaces separate tokens.
    c.send_raw(b"\r\n\nINF  17\n").await;
    c.expect("INF 17 MD5").await;
    // A post-login command without a usable TrID: close.
    c.ask_closed("SYN x 0").await;
}

#[tokio::test]
async fn malformed_input_closes_or_answers_200() {
    let server = TestServer::start().await;
    let mut c = Client::greeted(server.ns()).await;
    // A client MSG on the NS: its payload is read, then 200.
    c.send_raw(b"MSG 5 N 3\r\nabcINF 6\r\n").await;
    c.expect_all(&["200 5", "INF 6 MD5"]).await;
    // Known command with a bad TrID: close.
    c.ask_closed("INF x").await;

    let mut c = Client::greeted(server.ns()).await;
    c.ask_closed("MSG 5 N abc").await;
    let mut c = Client::greeted(server.ns()).await;
    c.ask_closed("MSG 5 N 1665").await;
    let mut c = Client::greeted(server.ns()).await;
    c.send_raw(b"INF 5 \xff\r\n").await;
    c.expect_closed().await;
    let mut c = Client::greeted(server.ns()).await;
    c.send_raw(&[b'A'; 2049]).await;
    c.expect_closed().await;
    // A line of exactly 2048 bytes, CRLF included, is still a line.
    let mut c = Client::greeted(server.ns()).await;
    c.send(&format!("FOO 5 {}", "x".repeat(2048 - 8))).await;
    c.expect("200 5").await;
}

#[tokio::test]
async fn authentication_failures_answer_911_and_close() {
    let server = TestServer::start().await;
    let cases: [&[&str]; 4] = [
        &["USR 3 MD5 I jd"],
        &["USR 3 CTP I jd@hotmail.com"],
        &["USR 3 MD5 S 8aca4d4721b726ba9cd5e3a5f601671a"],
        &["USR 3 MD5 X jd@hotmail.com"],
    ];
    for lines in cases {
        let mut c = Client::greeted(server.ns()).await;
        c.send(lines[0]).await;
        c.expect("911 3").await;
        c.expect_closed().await;
    }
    // Unknown account: a challenge all the same, then 911 at stage S.
    let mut c = Client::greeted(server.ns()).await;
    c.send("USR 3 MD5 I nobody@hotmail.com").await;
    let challenge = c.expect_prefix("USR 3 MD5 S ").await;
    c.send(&format!("USR 4 MD5 S {}", msnp::auth::md5_response(&challenge, "x"))).await;
    c.expect("911 4").await;
    c.expect_closed().await;
    // Wrong password.
    let mut c = Client::connect(server.ns()).await;
    c.authenticate("jd@hotmail.com", "hunter3").await;
    c.expect("911 4").await;
    c.expect_closed().await;
    server.wait_idle().await;
}

#[tokio::test]
async fn md5_hex_case_is_ignored_and_usr_after_login_is_207() {
    let server = TestServer::start().await;
    let mut c = Client::greeted(server.ns()).await;
    c.send("USR 3 MD5 I JD@Hotmail.com").await;
    let challenge = c.expect_prefix("USR 3 MD5 S ").await;
    let upper = msnp::auth::md5_response(&challenge, "hunter2").to_uppercase();
    // The canonical spelling of the handle is echoed.
    c.ask(&format!("USR 4 MD5 S {upper}"), "USR 4 OK jd@hotmail.com JD").await;
    c.ask("USR 5 MD5 I jd@hotmail.com", "207 5").await;
    c.ask("PNG", "QNG").await;
}

#[tokio::test]
async fn allowed_domains_restrict_sign_in() {
    let accounts = "[[account]]\nemail = \"x@example.com\"\npassword = \"pw\"\n\n[[account]]\nemail = \"y@hotmail.com\"\npassword = \"pw\"\n";
    let server = TestServer::start_with(accounts, |c| c.ns.allowed_domains = vec!["hotmail.com".into()]).await;
    let mut c = Client::connect(server.ns()).await;
    c.authenticate("x@example.com", "pw").await;
    c.expect("911 4").await;
    Client::sign_in(server.ns(), "y@hotmail.com", "pw", "y@hotmail.com").await;
}

#[tokio::test]
async fn a_second_sign_in_boots_the_first() {
    let server = TestServer::start().await;
    let mut alice = Client::online(server.ns(), "alice@hotmail.com", "alicepw", "Alice", 4).await;
    let mut bob = Client::online(server.ns(), "bob@hotmail.com", "bobpw", "Bob", 4).await;
    bob.expect("ILN 6 NLN alice@hotmail.com Alice").await;
    alice.expect("NLN NLN bob@hotmail.com Bob").await;

    let mut bob2 = Client::connect(server.ns()).await;
    bob2.authenticate("bob@hotmail.com", "bobpw").await;
    bob.expect("OUT OTH").await;
    bob.expect_closed().await;
    bob2.expect("USR 4 OK bob@hotmail.com Bob").await;
    alice.expect("FLN bob@hotmail.com").await;
    bob2.ask("SYN 5 4", "SYN 5 4").await;
    bob2.send("CHG 6 BSY").await;
    bob2.expect_all(&["CHG 6 BSY", "ILN 6 NLN alice@hotmail.com Alice"]).await;
    alice.expect("NLN BSY bob@hotmail.com Bob").await;
}

#[tokio::test]
async fn syn_dumps_everything_when_versions_differ() {
    let server = TestServer::start().await;
    let mut alice = Client::sign_in(server.ns(), "alice@hotmail.com", "alicepw", "Alice").await;
    alice.send("SYN 5 0").await;
    alice
        .expect_all(&[
            "SYN 5 4",
            "GTC 5 4 A",
            "BLP 5 4 AL",
            "LST 5 FL 4 1 1 bob@hotmail.com Bob",
            "LST 5 AL 4 1 1 bob@hotmail.com Bob",
            "LST 5 BL 4 0 0",
            "LST 5 RL 4 1 1 bob@hotmail.com Bob",
        ])
        .await;
    // A client "newer" than the server also gets everything (project rule).
    alice.send("SYN 6 9").await;
    alice.expect("SYN 6 4").await;
    for _ in 0..6 {
        alice.recv().await.unwrap();
    }
    alice.ask("SYN 7 x", "201 7").await;
    alice.ask("SYN 8", "200 8").await;
    alice.ask("LST 9 RL", "LST 9 RL 4 1 1 bob@hotmail.com Bob").await;
    alice.ask("LST 10 BL", "LST 10 BL 4 0 0").await;
    alice.ask("LST 11 XL", "201 11").await;
    alice.ask("LST 12", "200 12").await;
}

#[tokio::test]
async fn gtc_and_blp() {
    let server = TestServer::start().await;
    let mut alice = Client::online(server.ns(), "alice@hotmail.com", "alicepw", "Alice", 4).await;
    alice.ask("GTC 7 A", "218 7").await;
    alice.ask("GTC 8 N", "GTC 8 5 N").await;
    alice.ask("GTC 9 X", "201 9").await;
    alice.ask("GTC 10", "200 10").await;
    alice.ask("BLP 11 AL", "218 11").await;
    alice.ask("BLP 12 FL", "201 12").await;

    // Erin watches Alice (has her on FL) but is not on Alice's AL: BLP BL hides Alice from Erin only.
    let mut erin = Client::online(server.ns(), "erin@hotmail.com", "erinpw", "Erin", 0).await;
    erin.ask("ADD 7 FL alice@hotmail.com Alice", "ADD 7 FL 1 alice@hotmail.com Alice").await;
    erin.expect("ILN 7 NLN alice@hotmail.com Alice").await;
    alice.expect("ADD 0 RL 6 erin@hotmail.com Erin").await;
    let mut bob = Client::online(server.ns(), "bob@hotmail.com", "bobpw", "Bob", 4).await;
    bob.expect("ILN 6 NLN alice@hotmail.com Alice").await;
    alice.expect("NLN NLN bob@hotmail.com Bob").await;

    alice.ask("BLP 13 BL", "BLP 13 7 BL").await;
    erin.expect("FLN alice@hotmail.com").await;
    bob.expect_silence().await;
    alice.ask("BLP 14 AL", "BLP 14 8 AL").await;
    erin.expect("NLN NLN alice@hotmail.com Alice").await;
    bob.expect_silence().await;
}

#[tokio::test]
async fn add_checks_in_the_reference_order() {
    let accounts = format!(
        "{}\n[[account]]\nemail = \"full@hotmail.com\"\npassword = \"pw\"\nFL = [{{ email = \"jd@hotmail.com\" }}, {{ email = \"erin@hotmail.com\" }}]\n",
        common::ACCOUNTS
    );
    let server = TestServer::start_with(&accounts, |c| c.ns.max_list = 2).await;
    let mut alice = Client::online(server.ns(), "alice@hotmail.com", "alicepw", "Alice", 4).await;
    let long = "x".repeat(388);
    for (line, reply) in [
        ("ADD 7 FL erin@hotmail.com", "200 7"),
        ("ADD 8 XL erin@hotmail.com Erin", "201 8"),
        ("ADD 9 FL erin@ Erin", "201 9"),
        (&format!("ADD 10 FL erin@hotmail.com {long}") as &str, "209 10"),
        ("ADD 11 FL ALICE@hotmail.com Me", "201 11"),
        ("ADD 12 FL nobody@hotmail.com Nobody", "205 12"),
        ("ADD 13 FL bob@hotmail.com Bob", "215 13"),
        ("ADD 14 BL bob@hotmail.com Bob", "219 14"),
    ] {
        alice.ask(line, reply).await;
    }
    // Row 2: ADD to RL closes without a reply.
    alice.ask_closed("ADD 15 RL erin@hotmail.com Erin").await;

    let mut full = Client::online(server.ns(), "full@hotmail.com", "pw", "full@hotmail.com", 0).await;
    full.ask("ADD 7 FL alice@hotmail.com Alice", "210 7").await;
    // A name of exactly 387 bytes is fine.
    full.ask(
        &format!("ADD 8 AL alice@hotmail.com {}", "y".repeat(387)),
        &format!("ADD 8 AL 1 alice@hotmail.com {}", "y".repeat(387)),
    )
    .await;
}

#[tokio::test]
async fn adding_and_removing_a_contact_tells_them() {
    let server = TestServer::start().await;
    let mut jd = Client::online(server.ns(), "jd@hotmail.com", "hunter2", "JD", 0).await;
    let mut erin = Client::online(server.ns(), "erin@hotmail.com", "erinpw", "Erin", 0).await;
    // The canonical spelling is stored and echoed; ILN follows because Erin is visible to JD.
    jd.send("ADD 7 FL ERIN@hotmail.com Erin%20E").await;
    jd.expect_all(&["ADD 7 FL 1 erin@hotmail.com Erin%20E", "ILN 7 NLN erin@hotmail.com Erin"]).await;
    erin.expect("ADD 0 RL 1 jd@hotmail.com JD").await;
    // JD now watches Erin.
    erin.ask("CHG 7 LUN", "CHG 7 LUN").await;
    jd.expect("NLN LUN erin@hotmail.com Erin").await;
    // Storing a custom name for a contact (nobody is told).
    jd.ask("REA 8 erin@hotmail.com Erin%20W", "REA 8 2 erin@hotmail.com Erin%20W").await;
    jd.ask("REA 9 nobody@hotmail.com X", "216 9").await;
    jd.ask(&format!("REA 10 erin@hotmail.com {}", "z".repeat(388)), "209 10").await;
    jd.ask("REA 11 erin@hotmail.com", "200 11").await;
    jd.ask("LST 12 FL", "LST 12 FL 2 1 1 erin@hotmail.com Erin%20W").await;
    erin.expect_silence().await;

    jd.ask("REM 13 FL erin@hotmail.com", "REM 13 FL 3 erin@hotmail.com").await;
    erin.expect("REM 0 RL 2 jd@hotmail.com").await;
    // JD no longer watches Erin.
    erin.ask("CHG 8 NLN", "CHG 8 NLN").await;
    jd.expect_silence().await;
    jd.ask("REM 14 FL erin@hotmail.com", "216 14").await;
    jd.ask("REM 15 XL erin@hotmail.com", "201 15").await;
    jd.ask("REM 16 FL", "200 16").await;
    jd.ask("REM 17 FL erin", "201 17").await;
    jd.ask_closed("REM 18 RL erin@hotmail.com").await;
    // Erin's list version counted both changes made to her by the server.
    erin.send("SYN 9 0").await;
    erin.expect("SYN 9 2").await;
}

#[tokio::test]
async fn blocking_and_unblocking_a_watcher() {
    let server = TestServer::start().await;
    let mut alice = Client::online(server.ns(), "alice@hotmail.com", "alicepw", "Alice", 4).await;
    let mut bob = Client::online(server.ns(), "bob@hotmail.com", "bobpw", "Bob", 4).await;
    bob.expect("ILN 6 NLN alice@hotmail.com Alice").await;
    alice.expect("NLN NLN bob@hotmail.com Bob").await;

    alice.ask("REM 7 AL bob@hotmail.com", "REM 7 AL 5 bob@hotmail.com").await;
    bob.expect_silence().await; // BLP AL: still visible
    alice.ask("ADD 8 BL bob@hotmail.com Bob", "ADD 8 BL 6 bob@hotmail.com Bob").await;
    bob.expect("FLN alice@hotmail.com").await;
    alice.ask("CHG 9 BSY", "CHG 9 BSY").await;
    bob.expect_silence().await;
    // Hidden or blocked, Alice still sees Bob's presence.
    bob.ask("CHG 7 AWY", "CHG 7 AWY").await;
    alice.expect("NLN AWY bob@hotmail.com Bob").await;
    alice.ask("REM 10 BL bob@hotmail.com", "REM 10 BL 7 bob@hotmail.com").await;
    bob.expect("NLN BSY alice@hotmail.com Alice").await;
}

#[tokio::test]
async fn chg_rules_and_initial_presence_when_hidden() {
    let server = TestServer::start().await;
    let mut bob = Client::online(server.ns(), "bob@hotmail.com", "bobpw", "Bob", 4).await;
    let mut alice = Client::sign_in(server.ns(), "alice@hotmail.com", "alicepw", "Alice").await;
    alice.ask("SYN 5 4", "SYN 5 4").await;
    // Before the first CHG Alice is invisible and receives no presence.
    bob.ask("CHG 7 BRB", "CHG 7 BRB").await;
    alice.expect_silence().await;
    alice.ask("XFR 6 SB", "913 6").await;
    // First CHG, hidden: still the ILNs; nobody sees Alice.
    alice.send("CHG 7 HDN").await;
    alice.expect_all(&["CHG 7 HDN", "ILN 7 BRB bob@hotmail.com Bob"]).await;
    bob.expect_silence().await;
    alice.ask("XFR 8 SB", "913 8").await;
    alice.ask("XFR 9 NS", "201 9").await;
    alice.ask("CHG 10 FLN", "201 10").await;
    alice.ask("CHG 11 XYZ", "201 11").await;
    alice.ask("CHG 12", "200 12").await;
    // Later CHGs produce no ILNs; the same state again is echoed and nobody is told.
    alice.ask("CHG 13 PHN", "CHG 13 PHN").await;
    bob.expect("NLN PHN alice@hotmail.com Alice").await;
    alice.ask("CHG 14 PHN", "CHG 14 PHN").await;
    bob.expect_silence().await;
    // A hidden user who renames notifies nobody.
    alice.ask("CHG 15 HDN", "CHG 15 HDN").await;
    bob.expect("FLN alice@hotmail.com").await;
    alice.ask("REA 16 alice@hotmail.com Ally", "REA 16 5 alice@hotmail.com Ally").await;
    alice.ask_closed("OUT").await;
    bob.expect_silence().await;
}

#[tokio::test]
async fn directory_and_web_commands() {
    let server = TestServer::start().await;
    let mut jd = Client::online(server.ns(), "jd@hotmail.com", "hunter2", "JD", 0).await;
    jd.ask("FND 7 fname=a lname=b city=* state=* country=*", "FND 7 0 0").await;
    jd.ask("SND 8 friend@example.com", "SND 8 OK").await;
    jd.ask("URL 9 INBOX", "URL 9 / http://messenger.example/").await;
    jd.ask("SND 10", "200 10").await;
    // Trailing parameters of later dialects are ignored.
    jd.ask("CHG 11 NLN 0", "CHG 11 NLN").await;
    // After OUT nothing is processed, even in the same packet.
    jd.send_raw(b"OUT\r\nCHG 12 BSY\r\n").await;
    jd.expect_closed().await;
}

#[tokio::test]
async fn shutdown_sends_out_ssd() {
    let mut server = TestServer::start().await;
    let mut jd = Client::online(server.ns(), "jd@hotmail.com", "hunter2", "JD", 0).await;
    let mut greeted = Client::greeted(server.ns()).await;
    server.running.take().unwrap().shutdown().await;
    jd.expect("OUT SSD").await;
    jd.expect_closed().await;
    greeted.expect("OUT SSD").await;
    greeted.expect_closed().await;
}

#[tokio::test]
async fn removing_a_contact_whose_account_is_gone() {
    // An imported list may name someone without an account (or one since removed).
    let accounts = "[[account]]\nemail = \"jd@hotmail.com\"\npassword = \"hunter2\"\nname = \"JD\"\nversion = 2\n\
                    FL = [{ email = \"zed@hotmail.com\", name = \"Zed\" }]\n";
    let server = TestServer::start_with(accounts, |_| {}).await;
    let mut jd = Client::online(server.ns(), "jd@hotmail.com", "hunter2", "JD", 2).await;
    jd.ask("REM 7 FL zed@hotmail.com", "REM 7 FL 3 zed@hotmail.com").await;
    jd.ask("REM 8 FL zed@hotmail.com", "216 8").await;
}
