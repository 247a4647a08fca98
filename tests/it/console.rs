//! The operators' console in a real browser (chromium over WebDriver, as the
//! studio's test): an operator signs in with their token, approves a pending
//! authorization request and sends a message, and the fake Telegram receives
//! both; the sign-in survives a reload, the page offers only the operator's
//! rights, the audit log names them, and the page speaks Russian too.
//! With `BOTWRIGHT_CONSOLE_SCREENSHOT=PATH` it also saves a screenshot there.

use crate::operators::{add, pending_request};
use crate::studio::{browser, wait_script, wait_text};
use crate::support::{API_TOKEN, ApiBots, DEMO, SUPPORT, wait_for};
use fantoccini::Locator;

async fn click(client: &fantoccini::Client, css: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        if let Ok(e) = client.find(Locator::Css(css)).await
            && e.click().await.is_ok()
        {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "nothing to click at {css}");
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
}

async fn choose_bot(client: &fantoccini::Client, id: &str) {
    let script = format!(
        "const s = document.getElementById('bot'); if (!s) return false; s.value = '{id}'; \
         s.dispatchEvent(new Event('change')); return s.value === '{id}';"
    );
    wait_script(client, &script, "the bot picker").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium and chromium-driver: `.ci/run` installs them and runs this test"]
async fn an_operator_approves_a_request_and_sends_a_message_in_a_browser() {
    let s = ApiBots::start(None, &[]).await;
    let token = add(&s.db, "oleg", "operator");
    let request = pending_request(&s).await;
    // Chat 7 has talked to the demo bot, so it can be messaged by key.
    s.fake.text(DEMO, 7, "Ann", "А1");
    wait_for("the demo bot answered", || s.fake.sent(DEMO, 7).len() == 1).await;

    let (_driver, client) = browser().await;
    client.goto(&format!("{}/console/", s.api)).await.unwrap();

    // 1. Sign in with the token.
    let input = client.find(Locator::Id("token")).await.unwrap();
    input.send_keys(&token).await.unwrap();
    click(&client, "#sign-in").await;
    wait_text(&client, "#me", "who is signed in", |t| {
        t.contains("oleg") && t.contains("operator")
    })
    .await;
    // An operator is offered no operators page (admins only).
    wait_script(
        &client,
        "const b = document.querySelector('button[data-page=\"operators\"]'); return !b || b.offsetParent === null;",
        "no operators page for an operator",
    )
    .await;

    // 2. Approve the pending request in place.
    choose_bot(&client, "support").await;
    click(&client, "button[data-page=\"requests\"]").await;
    let row = format!("[data-request=\"{request}\"]");
    click(&client, &format!("{row} button.approve")).await;
    wait_text(&client, &format!("{row} .status"), "the request's new status", |t| {
        t.contains("approved")
    })
    .await;
    wait_for("the user is told they are registered", || {
        s.fake
            .sent(SUPPORT, 42)
            .last()
            .is_some_and(|t| t == "Вы зарегистрированы как ООО Ромашка.")
    })
    .await;

    // 3. Send a message to a chat by its key.
    choose_bot(&client, "demo").await;
    click(&client, "button[data-page=\"messages\"]").await;
    let key = wait_find(&client, "#compose-key").await;
    key.send_keys("7").await.unwrap();
    let text = client.find(Locator::Css("#compose-text")).await.unwrap();
    text.send_keys("Привет из консоли").await.unwrap();
    click(&client, "#compose-send").await;
    wait_text(&client, "#compose-result", "the message accepted", |t| {
        t.chars().any(|c| c.is_ascii_digit())
    })
    .await;
    wait_for("Telegram gets the message", || {
        s.fake.sent(DEMO, 7).last().is_some_and(|t| t == "Привет из консоли")
    })
    .await;

    // 4. The audit log names the operator for both.
    let url = format!("{}/api/v1/audit", s.api);
    let (status, log) =
        tokio::task::spawn_blocking(move || crate::support::http_call("GET", &url, None, Some(API_TOKEN)))
            .await
            .unwrap();
    assert_eq!(status, 200);
    let log: serde_json::Value = serde_json::from_str(&log).unwrap();
    let entries: Vec<(&str, &str, &str)> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["operator"].as_str().unwrap(),
                e["action"].as_str().unwrap(),
                e["bot"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        entries,
        [
            ("oleg", "approve auth-request", "support"),
            ("oleg", "send message", "demo")
        ],
        "{log}"
    );

    // 5. The sign-in survives a reload.
    client.refresh().await.unwrap();
    wait_text(&client, "#me", "still signed in", |t| t.contains("oleg")).await;
    if let Ok(path) = std::env::var("BOTWRIGHT_CONSOLE_SCREENSHOT") {
        click(&client, "button[data-page=\"overview\"]").await;
        wait_script(
            &client,
            "return document.querySelectorAll('#page svg').length > 0;",
            "the charts",
        )
        .await;
        std::fs::write(path, client.screenshot().await.unwrap()).unwrap();
    }

    // 6. In Russian (the switch is remembered), with no text missing from the catalogue.
    client
        .execute(
            "localStorage.setItem('botwright.lang', 'ru'); location.reload(); return true;",
            vec![],
        )
        .await
        .unwrap();
    wait_text(&client, "nav#pages", "the Russian pages", |t| t.contains("Заявки")).await;
    wait_script(
        &client,
        "return I18N.lang === 'ru' && I18N.missing.length === 0 && !document.body.innerText.includes('⟦');",
        "every text in Russian",
    )
    .await;

    // 7. Signing out forgets the token.
    click(&client, "#sign-out").await;
    wait_script(
        &client,
        "return !localStorage.getItem('botwright.console.token') && !document.getElementById('signin').hidden;",
        "signed out",
    )
    .await;
    client.close().await.unwrap();
}

async fn wait_find(client: &fantoccini::Client, css: &str) -> fantoccini::elements::Element {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        if let Ok(e) = client.find(Locator::Css(css)).await {
            return e;
        }
        assert!(std::time::Instant::now() < deadline, "no {css}");
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
}
