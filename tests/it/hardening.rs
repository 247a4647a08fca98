//! `botwright run`'s listener against slow and hostile clients, webhook deliveries
//! that are not from Telegram, the memory an API body may cost, `/healthz` as it
//! starts, stops and loses its database, and the modes of the files it creates.

use crate::support::{API_TOKEN, ApiBots, Botwright, DEMO, FakeTelegram, free_port, http_call, wait_for};
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

/// A raw connection to `address` (`http://HOST:PORT` or `HOST:PORT`).
fn connect(address: &str) -> TcpStream {
    TcpStream::connect(address.trim_start_matches("http://")).unwrap()
}

/// Reads until the server closes the connection; what it sent meanwhile. Panics when the
/// connection is still open after `deadline`.
fn read_until_closed(stream: &mut TcpStream, deadline: Duration) -> Vec<u8> {
    stream.set_read_timeout(Some(deadline)).unwrap();
    let mut out = Vec::new();
    let mut buf = [0; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return out,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return out,
            Err(e) => panic!(
                "the server kept the connection open ({e}); it had sent: {:?}",
                String::from_utf8_lossy(&out)
            ),
        }
    }
}

/// One HTTP/1.1 response: the status, its headers (lower-case names, without `date`) and
/// its body. Panics when it has not come within `deadline`.
fn read_response(stream: &mut TcpStream, deadline: Duration) -> (u16, Vec<(String, String)>, String) {
    stream.set_read_timeout(Some(deadline)).unwrap();
    let mut head = Vec::new();
    let mut byte = [0; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            Ok(_) => panic!(
                "the connection closed before a response: {:?}",
                String::from_utf8_lossy(&head)
            ),
            Err(e) => panic!("no response in time ({e}): {:?}", String::from_utf8_lossy(&head)),
        }
    }
    let head = String::from_utf8(head).unwrap();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (k, v) = l.split_once(':').unwrap();
            (k.trim().to_ascii_lowercase(), v.trim().to_string())
        })
        .filter(|(k, _)| k != "date")
        .collect();
    let length = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .map_or(0, |(_, v)| v.parse().unwrap());
    let mut body = vec![0; length];
    stream.read_exact(&mut body).unwrap();
    (status, headers, String::from_utf8(body).unwrap())
}

/// Runs blocking socket work off the runtime's two worker threads.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_listener_closes_connections_that_send_no_headers_and_fails_stalled_bodies() {
    let s = ApiBots::start(None, &["--header-timeout", "1", "--body-timeout", "1"]).await;
    let api = s.api.clone();
    blocking(move || {
        // A connection that sends nothing at all.
        let mut silent = connect(&api);
        read_until_closed(&mut silent, Duration::from_secs(60));
        // One that begins a request and never finishes its headers.
        let mut partial = connect(&api);
        partial
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            .unwrap();
        read_until_closed(&mut partial, Duration::from_secs(60));
        // A kept-alive connection is answered, then closed when no next request comes.
        let mut kept = connect(&api);
        kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            .unwrap();
        let (status, _, body) = read_response(&mut kept, Duration::from_secs(60));
        assert_eq!((status, body.as_str()), (200, r#"{"status":"ok"}"#));
        read_until_closed(&mut kept, Duration::from_secs(60));
        // A body that stops arriving fails the request, in the error shape.
        let mut stalled = connect(&api);
        write!(
            stalled,
            "POST /api/v1/bots/demo/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {API_TOKEN}\r\n\
             Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"to\": {{\"key\""
        )
        .unwrap();
        let (status, _, body) = read_response(&mut stalled, Duration::from_secs(60));
        assert_eq!(status, 408, "{body}");
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["error"]["code"], "timeout", "{body}");
    })
    .await;
    // Requests that come whole are served as ever.
    assert_eq!(http_call("GET", &format!("{}/healthz", s.api), None, None).0, 200);
    assert_eq!(
        botwright::runtime::listener::HEADER_TIMEOUT,
        Duration::from_secs(10),
        "cli.md"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_delivery_not_from_telegram_is_refused_unread_and_alike_for_unknown_bots() {
    let s = ApiBots::start(None, &["--webhook-url", "https://bots.example.com/hook"]).await;
    let api = s.api.clone();
    // Headers that announce a 2 MB body, which never comes: the answer must not wait for it.
    let refused = |path: &'static str, secret: String| {
        let api = api.clone();
        blocking(move || {
            let mut c = connect(&api);
            write!(
                c,
                "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Telegram-Bot-Api-Secret-Token: {secret}\r\n\
                 Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                2 * 1024 * 1024
            )
            .unwrap();
            // Well inside the 30 s the listener waits for a pausing body.
            read_response(&mut c, Duration::from_secs(20))
        })
    };
    let right = botwright::telegram::webhook::secret_for(DEMO);
    let wrong_secret = refused("/hook/demo", "0".repeat(right.len())).await;
    let no_secret = refused("/hook/demo", String::new()).await;
    let unknown_bot = refused("/hook/nobody", right.clone()).await;
    let unknown_bot_no_secret = refused("/hook/nobody", String::new()).await;
    assert_eq!(wrong_secret.0, 401, "{wrong_secret:?}");
    for other in [&no_secret, &unknown_bot, &unknown_bot_no_secret] {
        assert_eq!(other, &wrong_secret, "every refusal looks the same");
    }
    // Telegram's own delivery is stored and answered.
    let mut update = crate::support::message_update(5, "Ann", "А1");
    update["update_id"] = 1.into();
    let hook = format!("{}/hook/demo", s.api);
    let status = blocking(move || {
        ureq::post(&hook)
            .header("x-telegram-bot-api-secret-token", &right)
            .header("content-type", "application/json")
            .send(update.to_string())
            .map(|r| r.status().as_u16())
            .unwrap_or(0)
    })
    .await;
    assert_eq!(status, 200);
    wait_for("the reply", || s.fake.sent(DEMO, 5).len() == 1).await;
}

/// `POST path` with `body`: (status, the body as JSON).
async fn post(s: &ApiBots, path: &str, body: String) -> (u16, Value) {
    let url = format!("{}{path}", s.api);
    let (status, text) = blocking(move || http_call("POST", &url, Some(body), Some(API_TOKEN))).await;
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

/// The peak resident memory of a process, in kB.
fn peak_rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn template_data_is_bounded_in_bytes_values_and_depth() {
    let s = ApiBots::start(None, &[]).await;
    s.fake.text(DEMO, 7, "Ann", "А1");
    wait_for("the chat talked", || s.fake.sent(DEMO, 7).len() == 1).await;
    let message = |data: Value| json!({"to": {"key": 7}, "template": "visit_reminder", "data": data}).to_string();
    let numbers = |n: usize| json!({"date": "1 мая", "items": vec![0; n]});

    // Within the limits: the object, the date, the list and 997 numbers are 1,000 values.
    let (status, body) = post(&s, "/api/v1/bots/demo/messages", message(numbers(997))).await;
    assert_eq!(status, 202, "{body}");
    wait_for("the reminder", || {
        s.fake.sent(DEMO, 7).last().is_some_and(|t| t.contains("1 мая"))
    })
    .await;
    let over = [
        ("values", message(numbers(998))),
        ("bytes", message(json!({"date": "x".repeat(64 * 1024)}))),
        (
            "depth",
            message(serde_json::from_str(&format!("{}{}", "[".repeat(33), "]".repeat(33))).unwrap()),
        ),
    ];
    for (what, body) in over {
        let (status, answer) = post(&s, "/api/v1/bots/demo/messages", body).await;
        assert_eq!(status, 400, "too many {what}: {answer}");
        assert_eq!(answer["error"]["code"], "bad_request", "{answer}");
        assert_eq!(answer["error"]["field"], "data", "too many {what}: {answer}");
    }
    let broadcast = json!({"to": {"all": true}, "template": "visit_reminder", "data": numbers(5000)}).to_string();
    let (status, answer) = post(&s, "/api/v1/bots/demo/broadcasts", broadcast).await;
    assert_eq!((status, &answer["error"]["field"]), (400, &json!("data")), "{answer}");

    // Bodies of 7 MB of `{}`, four at once, cost a few times their size, not thirty.
    let pid = s.bw.child.id();
    let before = peak_rss_kb(pid);
    let empties = vec!["{}"; 2_400_000].join(",");
    let huge = format!(r#"{{"to": {{"key": 7}}, "template": "visit_reminder", "data": [{empties}]}}"#);
    let answers = futures_of(&s, &huge, 4).await;
    let grown_mb = peak_rss_kb(pid).saturating_sub(before) / 1024;
    assert!(
        grown_mb < 256,
        "four 7 MB bodies raised the peak memory by {grown_mb} MB"
    );
    for (status, answer) in answers {
        assert_eq!((status, &answer["error"]["field"]), (400, &json!("data")), "{answer}");
    }

    // The document states the bound.
    let url = format!("{}/api/openapi.json", s.api);
    let (_, doc) = blocking(move || http_call("GET", &url, None, Some(API_TOKEN))).await;
    let doc: Value = serde_json::from_str(&doc).unwrap();
    let data = &doc["components"]["schemas"]["MessageIn"]["properties"]["data"];
    assert_eq!(
        data["maxProperties"],
        json!(botwright::limits::MAX_DATA_VALUES - 1),
        "{data}"
    );
    // `botwright send` takes the same bounds, before it opens the database.
    let fresh = s.state.path().join("never-created.db");
    let sent = std::process::Command::new(env!("CARGO_BIN_EXE_botwright"))
        .args([
            "send",
            "--bot",
            "demo",
            "--to",
            "7",
            "--template",
            "visit_reminder",
            "--bots",
        ])
        .arg(s.bots.path())
        .args(["--db", &format!("sqlite://{}", fresh.display()), "--data"])
        .arg(numbers(998).to_string())
        .output()
        .unwrap();
    assert_eq!(sent.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&sent.stderr).contains("data: has more than 1000 values"));
    assert!(!fresh.exists());
}

/// `body` posted `n` times at once as messages.
async fn futures_of(s: &ApiBots, body: &str, n: usize) -> Vec<(u16, Value)> {
    let mut tasks = Vec::new();
    for _ in 0..n {
        let url = format!("{}/api/v1/bots/demo/messages", s.api);
        let body = body.to_string();
        tasks.push(tokio::task::spawn_blocking(move || {
            http_call("POST", &url, Some(body), Some(API_TOKEN))
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        let (status, text) = t.await.unwrap();
        out.push((status, serde_json::from_str(&text).unwrap_or(Value::String(text))));
    }
    out
}

#[test]
fn data_limits_hold_at_their_edges() {
    use botwright::api::compose::parse_data;
    use botwright::limits::{MAX_DATA_BYTES, MAX_DATA_DEPTH, MAX_DATA_VALUES};
    // The list and its items.
    let list = |n: usize| format!("[{}]", vec!["1"; n].join(","));
    assert!(parse_data(&list(MAX_DATA_VALUES - 1)).is_ok());
    let e = parse_data(&list(MAX_DATA_VALUES)).unwrap_err();
    assert!(e.contains("more than 1000 values"), "{e}");
    // Keys are not values: an object of 999 members is 1,000.
    let object = |n: usize| {
        let members: Vec<String> = (0..n).map(|i| format!("\"k{i}\": null")).collect();
        format!("{{{}}}", members.join(","))
    };
    assert!(parse_data(&object(MAX_DATA_VALUES - 1)).is_ok());
    assert!(parse_data(&object(MAX_DATA_VALUES)).is_err());
    let nested = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    assert!(parse_data(&nested(MAX_DATA_DEPTH)).is_ok());
    let e = parse_data(&nested(MAX_DATA_DEPTH + 1)).unwrap_err();
    assert!(e.contains("nested deeper than 32"), "{e}");
    // A string that makes the text exactly the limit, then one byte more.
    let text = |n: usize| format!("\"{}\"", "x".repeat(n - 2));
    assert_eq!(
        parse_data(&text(MAX_DATA_BYTES)).unwrap().as_str().unwrap().len(),
        MAX_DATA_BYTES - 2
    );
    let e = parse_data(&text(MAX_DATA_BYTES + 1)).unwrap_err();
    assert!(e.contains("larger than 65536 bytes"), "{e}");
    // What it gives is the JSON, numbers and all.
    assert_eq!(
        parse_data(r#"{"a": [1, 2.5, -3, "x", true, null], "b": {}}"#).unwrap(),
        json!({"a": [1, 2.5, -3, "x", true, null], "b": {}})
    );
    assert!(parse_data("[1,").is_err());
    assert!(parse_data("1 2").is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_is_503_while_stopping_until_exit() {
    use crate::liveness::{TOKEN, bot_file, business_system};
    let (business, begun, gate) = business_system();
    let fake = FakeTelegram::start().await;
    fake.add_bot(TOKEN, 777777, "shop_bot");
    let dir = tempfile::tempdir().unwrap();
    bot_file(dir.path(), &business);
    let db = dir.path().join("state.db");
    let listen = format!("127.0.0.1:{}", free_port());
    let mut bw = Botwright::start_with(
        dir.path(),
        &format!("sqlite://{}", db.display()),
        &fake.url,
        &[("SHOP_TOKEN", TOKEN), ("BOTWRIGHT_API_TOKEN", API_TOKEN)],
        dir.path().join("log"),
        &["--listen", &listen, "--webhook-url", "https://bots.example.com/hook"],
    );
    let health = format!("http://{listen}/healthz");
    wait_for("ready", || http_call("GET", &health, None, None).0 == 200).await;
    let hook = format!("http://{listen}/hook/shop");
    let deliver = move |id: i64, text: &str| {
        let mut update = crate::support::message_update(10, "Slow", text);
        update["update_id"] = id.into();
        let hook = hook.clone();
        blocking(move || {
            ureq::post(&hook)
                .config()
                .http_status_as_error(false)
                .build()
                .header(
                    "x-telegram-bot-api-secret-token",
                    &botwright::telegram::webhook::secret_for(TOKEN),
                )
                .header("content-type", "application/json")
                .send(update.to_string())
                .map(|r| r.status().as_u16())
                .unwrap_or(0)
        })
    };
    // An update waits at the business system, so stopping takes until the gate opens.
    assert_eq!(deliver(1, "slow").await, 200);
    wait_for("the business system is called", || {
        begun.load(std::sync::atomic::Ordering::SeqCst) == 1
    })
    .await;
    bw.signal("TERM");
    wait_for("503 while stopping", || {
        let (status, body) = http_call("GET", &health, None, None);
        status == 503 && body.contains("stopping")
    })
    .await;
    // Meanwhile a delivery is refused for Telegram to repeat, and the API still answers.
    assert_eq!(deliver(2, "fast").await, 503);
    let messages = format!("http://{listen}/api/v1/bots/shop/messages");
    assert_eq!(http_call("GET", &messages, None, Some(API_TOKEN)).0, 200);
    gate.open();
    assert_eq!(bw.exit_code().await, Some(0), "{}", bw.log_text());
    // What was received was handled before the exit; the refused delivery was not taken.
    let state = rusqlite::Connection::open(&db).unwrap();
    let inbox: Vec<(i64, String)> = state
        .prepare("SELECT update_id, status FROM inbox ORDER BY update_id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(inbox, [(1, "done".to_string())]);
}

/// A TCP proxy on 127.0.0.1 to `target` whose connections can all be cut at once; after
/// the cut it accepts nothing more.
struct Proxy {
    address: std::net::SocketAddr,
    cut: std::sync::Arc<std::sync::Mutex<(bool, Vec<TcpStream>)>>,
}

impl Proxy {
    fn start(target: String) -> Proxy {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let cut = std::sync::Arc::new(std::sync::Mutex::new((false, Vec::new())));
        let streams = cut.clone();
        std::thread::spawn(move || {
            for inbound in listener.incoming() {
                let Ok(inbound) = inbound else { continue };
                let mut state = streams.lock().unwrap();
                if state.0 {
                    return;
                }
                let Ok(outbound) = TcpStream::connect(&target) else {
                    continue;
                };
                state.1.push(inbound.try_clone().unwrap());
                state.1.push(outbound.try_clone().unwrap());
                for (mut from, mut to) in [
                    (inbound.try_clone().unwrap(), outbound.try_clone().unwrap()),
                    (outbound, inbound),
                ] {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(std::net::Shutdown::Both);
                    });
                }
            }
        });
        Proxy { address, cut }
    }

    /// Closes every connection and stops accepting.
    fn cut(&self) {
        let mut state = self.cut.lock().unwrap();
        state.0 = true;
        for s in state.1.drain(..) {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
        drop(state);
        // Wakes the accepting thread, which then closes the listener.
        let _ = TcpStream::connect(self.address);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_is_503_when_the_database_cannot_be_reached() {
    let db = crate::support::postgres_db().await;
    // postgres://USER@HOST:PORT/NAME, through the proxy.
    let (scheme_user, rest) = db.split_once('@').unwrap();
    let (server, name) = rest.split_once('/').unwrap();
    let proxy = Proxy::start(server.to_string());
    let s = ApiBots::start(Some(format!("{scheme_user}@{}/{name}", proxy.address)), &[]).await;
    let health = format!("{}/healthz", s.api);
    proxy.cut();
    wait_for("503 without the database", || {
        let (status, body) = http_call("GET", &health, None, None);
        status == 503 && body.contains("database_unreachable")
    })
    .await;
}

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_sqlite_database_is_private_to_its_owner() {
    let s = ApiBots::start(None, &[]).await;
    s.fake.text(DEMO, 7, "Ann", "А1");
    wait_for("the chat talked", || s.fake.sent(DEMO, 7).len() == 1).await;
    let db = s.state.path().join("state.db");
    assert_eq!(mode(&db), 0o600, "the database made by `run`");
    // SQLite gives the files beside it the database's mode.
    for sibling in ["state.db-wal", "state.db-shm"] {
        let path = s.state.path().join(sibling);
        if path.exists() {
            assert_eq!(mode(&path), 0o600, "{sibling}");
        }
    }
    // `botwright send` on a database that does not exist yet.
    let fresh = s.state.path().join("sent.db");
    let sent = std::process::Command::new(env!("CARGO_BIN_EXE_botwright"))
        .args(["send", "--bot", "demo", "--to", "7", "--bots"])
        .arg(s.bots.path())
        .args(["--db", &format!("sqlite://{}", fresh.display()), "Привет"])
        .output()
        .unwrap();
    // The fresh database has never seen chat 7; what matters is the file it made.
    assert_eq!(sent.status.code(), Some(1), "{}", String::from_utf8_lossy(&sent.stderr));
    assert_eq!(mode(&fresh), 0o600, "the database made by `send`");
}
