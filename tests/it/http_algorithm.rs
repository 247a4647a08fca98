//! `http` algorithms against a real HTTP server on 127.0.0.1 started here:
//! a good answer, a slow one, a 500 and a body that is not JSON.

use botwright::diagnostics::SourceFile;
use botwright::engine::{Event, User, handle};
use botwright::store::MemoryWorld;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Serves each request by path; records every request body.
fn serve() -> (String, Arc<Mutex<Vec<String>>>) {
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let seen = bodies.clone();
    let address = crate::support::http_server(move |path, body| {
        seen.lock().unwrap().push(body.to_string());
        let (status, answer) = match path {
            "/ok" => ("200 OK", r#"{"text": "Заказ <b>№5</b> готов"}"#),
            "/options" => ("200 OK", r#"["один", {"label": "два", "value": "2"}]"#),
            "/slow" => {
                // The server, not the test, is slow: the algorithm's timeout is 300ms.
                std::thread::sleep(Duration::from_secs(3));
                ("200 OK", r#""late""#)
            }
            "/500" => ("500 Internal Server Error", r#"{"error": "boom"}"#),
            _ => ("200 OK", "this is not JSON"),
        };
        (status, answer.to_string())
    });
    (address, bodies)
}

fn bot(address: &str) -> botwright::model::CompiledBot {
    let text = format!(
        r#"
[bot]
name = "Shop"
token_env = "SHOP_TOKEN"

[[keyword]]
match = "ok"
run = "ok"

[[keyword]]
id = "pick"
match = "pick"
choice = "Pick"

[[keyword]]
parent = "pick"
match = "slow"
run = "slow"

[[keyword]]
parent = "pick"
match = "500"
run = "broken"

[[keyword]]
parent = "pick"
match = "bad"
run = "bad"

[[keyword]]
id = "opts"
match = "opts"
run = "options"

[[keyword]]
parent = "opts"
match = "*"
reply = "chose {{{{ selected }}}}"

[algorithms.ok]
http = "{address}/ok"

[algorithms.options]
http = "{address}/options"

[algorithms.slow]
http = "{address}/slow"
timeout = "300ms"

[algorithms.broken]
http = "{address}/500"

[algorithms.bad]
http = "{address}/bad"
"#
    );
    let mut diagnostics = Vec::new();
    let bot = botwright::validate::compile("shop", &SourceFile::new("shop.toml", text), &mut diagnostics);
    bot.unwrap_or_else(|| panic!("{:?}", diagnostics.iter().map(|d| &d.message).collect::<Vec<_>>()))
}

#[test]
fn http_algorithms_succeed_fail_and_time_out_cleanly() {
    let (address, bodies) = serve();
    let bot = bot(&address);
    let mut world = MemoryWorld::default();
    let mut runner = botwright::algorithms::Runner::offline();
    runner.http = true;
    let user = User {
        id: 9,
        chat: 9,
        name: "Ann".into(),
        username: Some("ann".into()),
    };
    let now = chrono::DateTime::parse_from_rfc3339("2021-02-06T14:00:00+03:00").unwrap();
    let mut send = |text: &str| -> Vec<String> {
        handle(&bot, &mut world, &mut runner, &user, &Event::Text(text.into()), now)
            .unwrap()
            .into_iter()
            .map(|m| m.text)
            .collect()
    };

    // A business system's text is sent as HTML as it wrote it.
    assert_eq!(send("ok"), ["Заказ <b>№5</b> готов"]);
    let body: serde_json::Value = serde_json::from_str(&bodies.lock().unwrap()[0]).unwrap();
    assert_eq!(body["bot"], "shop");
    assert_eq!(body["algorithm"], "ok");
    assert_eq!(body["input"], "ok");
    assert_eq!(body["user"]["name"], "Ann");
    assert_eq!(body["user"]["key"], 9);
    assert_eq!(body["user"]["principal"], serde_json::Value::Null);
    assert!(body["history"].is_array() && body["vars"].is_object());

    // A list is offered as options; the "*" option reads the chosen value.
    assert_eq!(send("opts"), ["Выберите вариант:"]);
    assert_eq!(send("два"), ["chose 2"]);

    // Failures leave the choice open: after each one the next option still works.
    assert_eq!(send("pick"), ["Pick"]);
    assert_eq!(send("slow"), ["Запрос выполняется слишком долго. Попробуйте позже."]);
    assert_eq!(send("500"), ["Не удалось выполнить запрос. Попробуйте позже."]);
    assert_eq!(send("bad"), ["Не удалось выполнить запрос. Попробуйте позже."]);
    let last: serde_json::Value = serde_json::from_str(bodies.lock().unwrap().last().unwrap()).unwrap();
    assert_eq!(last["history"][0]["selected"], "bad");
    assert_eq!(last["selected"], "bad");
}
