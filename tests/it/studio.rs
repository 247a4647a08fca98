//! The studio in a real browser: Debian's chromium driven through WebDriver
//! (chromium-driver, with fantoccini). `.ci/run` installs both and runs this
//! test; `BOTWRIGHT_CHROMEDRIVER` names the driver (default `chromedriver`).
//! With `BOTWRIGHT_STUDIO_SCREENSHOT=PATH` it also saves a screenshot there.

use crate::support::{free_port, wait_for};
use fantoccini::{ClientBuilder, Locator, key::Key};
use hyper_util::client::legacy::connect::HttpConnector;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A child process killed when the test ends, however it ends.
pub(crate) struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn up(address: &str) -> bool {
    std::net::TcpStream::connect(address).is_ok()
}

/// The text of every element matching `css`, joined.
pub(crate) async fn text_of(client: &fantoccini::Client, css: &str) -> String {
    let mut out = String::new();
    for e in client.find_all(Locator::Css(css)).await.unwrap_or_default() {
        out.push_str(&e.text().await.unwrap_or_default());
        out.push('\n');
    }
    out
}

/// Waits (at most 30 s) until the text of `css` satisfies `ok`.
pub(crate) async fn wait_text(client: &fantoccini::Client, css: &str, what: &str, ok: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = text_of(client, css).await;
        if ok(&text) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; {css} shows: {text}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn click_button(client: &fantoccini::Client, css: &str, label: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        for b in client.find_all(Locator::Css(css)).await.unwrap_or_default() {
            if b.text().await.unwrap_or_default() == label {
                b.click().await.unwrap();
                return;
            }
        }
        assert!(Instant::now() < deadline, "no button [{label}] ({css})");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// A chromedriver process and a headless chromium session on it.
pub(crate) async fn browser() -> (Child, fantoccini::Client) {
    let driver_port = free_port();
    let driver = std::env::var("BOTWRIGHT_CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
    let driver_process = Child(
        Command::new(driver)
            .arg(format!("--port={driver_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver runs (install chromium-driver)"),
    );
    let driver_address = format!("127.0.0.1:{driver_port}");
    wait_for("the driver", || up(&driver_address)).await;
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({"args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,860"]}),
    );
    // A prompt waits for the test to answer it.
    caps.insert("unhandledPromptBehavior".into(), serde_json::json!("ignore"));
    // chromedriver listens on loopback: plain HTTP, no TLS back end to build.
    let client = ClientBuilder::new(HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://{driver_address}"))
        .await
        .expect("a browser session");
    (driver_process, client)
}

/// Waits (at most 30 s) until `script` returns `true` in the page.
pub(crate) async fn wait_script(client: &fantoccini::Client, script: &str, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if client.execute(script, vec![]).await.ok() == Some(serde_json::Value::Bool(true)) {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium and chromium-driver: `.ci/run` installs them and runs this test"]
async fn an_analyst_edits_chats_and_saves_a_transcript_in_a_browser() {
    let bots = tempfile::tempdir().unwrap();
    std::fs::copy("bots/demo.toml", bots.path().join("demo.toml")).unwrap();
    // A bot whose name is markup: the page shows it as text and runs nothing.
    std::fs::write(
        bots.path().join("xss.toml"),
        "[bot]\nname = \"<img src=x onerror=\\\"document.title='pwned'\\\">\"\n",
    )
    .unwrap();
    let studio_address = format!("127.0.0.1:{}", free_port());
    let _studio = Child(
        Command::new(env!("CARGO_BIN_EXE_botwright"))
            .args(["studio", "--bots"])
            .arg(bots.path())
            .args(["--listen", &studio_address])
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for("the studio", || up(&studio_address)).await;
    let (_driver, client) = browser().await;

    // 1. The studio opens with the bot list and the demo bot in the editor.
    client.goto(&format!("http://{studio_address}/")).await.unwrap();
    wait_text(&client, "#bots li", "the bot list", |t| t.contains("demo.toml")).await;
    wait_text(&client, "#status", "the first check", |t| t.contains("no problems")).await;
    let list = text_of(&client, "#bots li").await;
    assert!(list.contains("<img src=x onerror="), "{list}");
    assert!(client.find_all(Locator::Css("#bots img")).await.unwrap().is_empty());
    assert_eq!(client.title().await.unwrap(), "botwright studio");

    // 2. Typing an error shows its code, underlined in place. The editor is CodeMirror:
    // the cursor goes to the end through its API, keys go to its input textarea.
    let to_end = "const cm = document.querySelector('#edit .CodeMirror').CodeMirror; \
                  cm.focus(); cm.setCursor(cm.lastLine(), cm.getLine(cm.lastLine()).length);";
    client.execute(to_end, vec![]).await.unwrap();
    let editor = client.find(Locator::Css("#edit .CodeMirror textarea")).await.unwrap();
    let typed = "\n[bot2]";
    editor.send_keys(typed).await.unwrap();
    let diagnostics = wait_text(&client, "#diagnostics", "the error's code", |t| t.contains("E002")).await;
    assert!(diagnostics.contains("bot2"), "{diagnostics}");
    let marks = client
        .find_all(Locator::Css("#edit .CodeMirror-lint-mark"))
        .await
        .unwrap();
    assert_eq!(marks.len(), 1);
    assert_eq!(marks[0].prop("textContent").await.unwrap().as_deref(), Some("bot2"));
    assert_eq!(
        client
            .find_all(Locator::Css("#edit .CodeMirror-lint-marker-error"))
            .await
            .unwrap()
            .len(),
        1
    );
    // The hidden textarea keeps the text too.
    wait_script(
        &client,
        "return document.getElementById('editor').value.endsWith('\\n[bot2]');",
        "the textarea in step with the editor",
    )
    .await;
    // A click on the diagnostic explains its code (in the page's language) in the help panel.
    client
        .find(Locator::Css("#diagnostics li"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&client, "#code-help", "the code's explanation", |t| {
        t.contains("E002") && t.contains("not part of the bot file format")
    })
    .await;
    // The click moved the cursor to the error: back to the end for the backspaces.
    client.execute(to_end, vec![]).await.unwrap();

    // 3. Fixing it clears the diagnostics.
    let backspaces: String = std::iter::repeat_n(char::from(Key::Backspace), typed.chars().count()).collect();
    editor.send_keys(&backspaces).await.unwrap();
    wait_text(&client, "#status", "no problems again", |t| {
        t.starts_with("no problems")
    })
    .await;
    assert!(text_of(&client, "#diagnostics li").await.trim().is_empty());

    // 4. A chat: «Выбор», [Вариант №1], [Да], and the reply.
    click_button(&client, "nav .tab", "Chat").await;
    let input = client.find(Locator::Id("chat-input")).await.unwrap();
    input.send_keys("Выбор").await.unwrap();
    input.send_keys(&char::from(Key::Enter).to_string()).await.unwrap();
    click_button(&client, ".ib", "Вариант №1").await;
    click_button(&client, ".ib", "Да").await;
    wait_text(&client, "#messages", "the reply", |t| {
        t.contains("Выбрали \"Вариант №1\"")
    })
    .await;

    // The business system's side: the bot's notification from the form, its action button
    // pressed, and a text.
    wait_script(
        &client,
        "return [...document.querySelectorAll('#notify-name option')].map(o => o.value).join() === 'visit_reminder';",
        "the bot's notifications in the form",
    )
    .await;
    // Its data starts with the fields the notification uses.
    wait_script(
        &client,
        r#"return document.getElementById('notify-data').value === '{"date":""}';"#,
        "the notification's data fields",
    )
    .await;
    let data = client.find(Locator::Id("notify-data")).await.unwrap();
    data.clear().await.unwrap();
    data.send_keys(r#"{"date": "08.02"}"#).await.unwrap();
    click_button(&client, "#notify", "Send").await;
    wait_text(&client, "#messages", "the notification", |t| {
        t.contains("Напоминаем: визит 08.02 в 10:00.")
    })
    .await;
    click_button(&client, ".ib", "Подтвердить").await;
    wait_text(&client, "#messages", "the action's reply", |t| {
        t.contains("Спасибо! Визит 08.02 подтверждён.")
    })
    .await;
    client
        .find(Locator::Id("business-text"))
        .await
        .unwrap()
        .send_keys("Визит <b>перенесён</b>")
        .await
        .unwrap();
    click_button(&client, "#business-send", "Send").await;
    wait_text(&client, "#messages .bot", "the business system's text", |t| {
        t.contains("Визит перенесён")
    })
    .await;

    if let Ok(path) = std::env::var("BOTWRIGHT_STUDIO_SCREENSHOT") {
        let png = client.screenshot().await.unwrap();
        std::fs::write(path, png).unwrap();
    }

    // 5. Saved as a transcript, which `botwright test` passes.
    client
        .find(Locator::Id("transcript-name"))
        .await
        .unwrap()
        .send_keys("studio-choice")
        .await
        .unwrap();
    click_button(&client, "#save-transcript", "Save").await;
    wait_text(&client, "#chat-status", "saved", |t| {
        t.contains("saved studio-choice.chat")
    })
    .await;

    // 6. The graph is a picture; the texts are a table.
    click_button(&client, "nav .tab", "Graph").await;
    wait_script(
        &client,
        "const i = document.querySelector('#graph img'); return !!i && i.complete && i.naturalWidth > 0;",
        "the graph picture",
    )
    .await;
    click_button(&client, "nav .tab", "Texts").await;
    wait_text(&client, "#texts td", "the texts table", |t| t.contains("greeting")).await;
    assert_eq!(client.title().await.unwrap(), "botwright studio");

    // 7. A bot message's HTML keeps Telegram's tags only, without attributes, and
    // http(s)/tg links only.
    let rebuilt = client
        .execute(
            r#"return telegramHtml('<b onclick="x()">b</b><img src=x onerror="alert(1)"><a href="javascript:alert(1)">j</a><a href=" https://example.org/?q=1">h</a><script>alert(2)</script><i>i</i>\n<svg><a href="tg://x">s</a></svg>').innerHTML;"#,
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        rebuilt.as_str().unwrap(),
        "<b>b</b><a>j</a><a href=\"https://example.org/?q=1\" target=\"_blank\" rel=\"noopener noreferrer\">h</a>alert(2)<i>i</i><br>s"
    );
    // 8. In Russian (the switch is remembered in localStorage): every word comes from
    // the catalogue, none is missing.
    client
        .execute(
            "localStorage.setItem('botwright.lang', 'ru'); location.reload();",
            vec![],
        )
        .await
        .unwrap();
    wait_text(&client, "nav .tab", "the Russian tabs", |t| t.contains("Редактор")).await;
    wait_text(&client, "#status", "the first check in Russian", |t| {
        t.contains("ошибок нет")
    })
    .await;
    wait_script(
        &client,
        "return I18N.lang === 'ru' && I18N.missing.length === 0 && !document.body.innerText.includes('⟦');",
        "no missing texts",
    )
    .await;
    assert_eq!(client.title().await.unwrap(), "Студия botwright");

    client.close().await.unwrap();
    let transcript = bots.path().join("studio-choice.chat");
    let text = std::fs::read_to_string(&transcript).unwrap();
    assert!(text.contains("> [Вариант №1]") && text.contains("@now "), "{text}");
    let test = Command::new(env!("CARGO_BIN_EXE_botwright"))
        .arg("test")
        .arg(&transcript)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&test.stdout);
    assert!(
        test.status.success() && out.contains("1 passed, 0 failed"),
        "{out}\n{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium and chromium-driver: `.ci/run` installs them and runs this test"]
async fn a_remote_studio_page_asks_for_the_token_once() {
    use std::io::BufRead;
    let bots = tempfile::tempdir().unwrap();
    std::fs::copy("bots/demo.toml", bots.path().join("demo.toml")).unwrap();
    let studio_address = format!("127.0.0.1:{}", free_port());
    let mut studio = Child(
        Command::new(env!("CARGO_BIN_EXE_botwright"))
            .args(["studio", "--allow-remote", "--bots"])
            .arg(bots.path())
            .args(["--listen", &studio_address])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    // Read on a thread of its own, which keeps reading: the studio's stdout stays open.
    let stdout = studio.0.stdout.take().unwrap();
    let (tell, told) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let mut tell = Some(tell);
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(token) = line.strip_prefix("access token: ")
                && let Some(tell) = tell.take()
            {
                let _ = tell.send(token.to_string());
            }
        }
    });
    let token = tokio::time::timeout(Duration::from_secs(60), told)
        .await
        .expect("the studio prints its access token in time")
        .expect("the studio prints its access token");
    wait_for("the studio", || up(&studio_address)).await;
    let (_driver, client) = browser().await;
    client.goto(&format!("http://{studio_address}/")).await.unwrap();

    // The page's first API call gets 401: it asks for the token, and sends it from then on.
    let deadline = Instant::now() + Duration::from_secs(30);
    while client.get_alert_text().await.is_err() {
        assert!(Instant::now() < deadline, "the page never asked for the token");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    client.send_alert_text(&token).await.unwrap();
    client.accept_alert().await.unwrap();
    wait_text(&client, "#bots li", "the bot list", |t| t.contains("demo.toml")).await;
    wait_text(&client, "#status", "the first check", |t| t.contains("no problems")).await;
    click_button(&client, "nav .tab", "Graph").await;
    wait_script(
        &client,
        "const i = document.querySelector('#graph img'); return !!i && i.complete && i.naturalWidth > 0;",
        "the graph picture, fetched with the token",
    )
    .await;

    // Asked once: a reload keeps the token for the session.
    client.refresh().await.unwrap();
    wait_text(&client, "#bots li", "the bot list again", |t| t.contains("demo.toml")).await;
    assert!(client.get_alert_text().await.is_err(), "asked again");
    client.close().await.unwrap();
}
