//! The studio's HTTP API without a browser: files stay inside `--bots`, the
//! compiler's diagnostics, a chat saved as a transcript that `botwright test`
//! passes, transcript runs, the graph picture and the texts table.

use crate::support::{free_port, wait_for};
use serde_json::{Value, json};
use std::process::{Command, Stdio};

struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn call(method: &str, url: &str, body: Option<Value>) -> (u16, String) {
    let answer = crate::support::http_call(method, url, body.map(|b| b.to_string()), None);
    assert_ne!(answer.0, 0, "the studio answered {method} {url}");
    answer
}

fn json_of(answer: (u16, String)) -> (u16, Value) {
    (
        answer.0,
        serde_json::from_str(&answer.1).unwrap_or(Value::String(answer.1)),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_studio_api_works_on_the_bots_directory_only() {
    let root = tempfile::tempdir().unwrap();
    let bots = root.path().join("bots");
    std::fs::create_dir(&bots).unwrap();
    std::fs::copy("bots/demo.toml", bots.join("demo.toml")).unwrap();
    std::fs::copy("bots/demo.chat", bots.join("demo.chat")).unwrap();
    std::fs::write(root.path().join("secret.toml"), "outside").unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(root.path().join("secret.toml"), bots.join("link.toml")).unwrap();
    let port = free_port();
    let _studio = Child(
        Command::new(env!("CARGO_BIN_EXE_botwright"))
            .args(["studio", "--bots"])
            .arg(&bots)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{port}");
    let ready = base.clone();
    wait_for("the studio", move || {
        std::net::TcpStream::connect(ready.trim_start_matches("http://")).is_ok()
    })
    .await;
    let base2 = base.clone();
    tokio::task::spawn_blocking(move || {
        let base = base2;
        // The page is inside the binary.
        let (status, page) = call("GET", &format!("{base}/"), None);
        assert!(status == 200 && page.contains("assets/studio.js"));
        let (_, list) = json_of(call("GET", &format!("{base}/api/bots"), None));
        assert_eq!(list["bots"][0]["id"], "demo");
        assert_eq!(list["bots"][0]["name"], "Демо-бот");

        // Paths that leave the directory are refused, with a clear error, and touch nothing.
        for name in [
            "..%2Fsecret.toml",
            "link.toml",
            ".hidden.toml",
            "demo.txt",
            "sub%2Fdemo.toml",
        ] {
            let (status, body) = json_of(call("GET", &format!("{base}/api/files/{name}"), None));
            assert!(status == 403 || status == 404, "{name}: {status} {body}");
            if status == 403 {
                assert!(
                    body["error"].as_str().unwrap().contains("inside")
                        || body["error"].as_str().unwrap().contains("symbolic link"),
                    "{body}"
                );
            }
        }
        let (status, _) = call(
            "PUT",
            &format!("{base}/api/files/..%2Fescape.toml"),
            Some(json!({"text": "x"})),
        );
        assert_eq!(status, 403);
        assert_eq!(
            std::fs::read_to_string(root.path().join("secret.toml")).unwrap(),
            "outside"
        );

        // Diagnostics of the text being edited.
        let (_, checked) = json_of(call(
            "POST",
            &format!("{base}/api/check"),
            Some(json!({"name": "demo.toml", "text": "[bot]\nname = \"x\"\ntoken_env = \"X\"\nbogus = 1\n"})),
        ));
        assert_eq!(checked["ok"], false);
        assert_eq!(checked["diagnostics"][0]["code"], "E002");
        assert_eq!(
            (
                checked["diagnostics"][0]["line"].clone(),
                checked["diagnostics"][0]["column"].clone()
            ),
            (json!(4), json!(1))
        );

        // A chat, saved as a transcript that `botwright test` passes.
        let (_, chat) = json_of(call("POST", &format!("{base}/api/chats"), Some(json!({"bot": "demo"}))));
        let chat_url = format!("{base}/api/chats/{}", chat["id"]);
        let (_, r) = json_of(call("POST", &chat_url, Some(json!({"text": "Меню"}))));
        assert_eq!(r["messages"][0]["menu"][0], json!(["А1", "Расчёт"]));
        let (_, r) = json_of(call("POST", &chat_url, Some(json!({"text": "Выбор"}))));
        let index = r["messages"][0]["index"].clone();
        let (_, r) = json_of(call(
            "POST",
            &chat_url,
            Some(json!({"press": {"label": "Вариант №2", "index": index}})),
        ));
        assert_eq!(r["messages"][0]["text"], "Вы выбрали «Вариант №2». Подтвердить?");
        let (status, _) = call(
            "POST",
            &chat_url,
            Some(json!({"press": {"label": "Нет такой", "index": 0}})),
        );
        assert_eq!(status, 400);
        call("POST", &chat_url, Some(json!({"user": {"id": 2, "name": "Вера"}})));
        call(
            "POST",
            &chat_url,
            Some(json!({"registered": {"kind": "partner", "id": "7", "name": "ООО Ромашка"}})),
        );
        let (_, r) = json_of(call("POST", &chat_url, Some(json!({"attach": "@document act.pdf"}))));
        assert_eq!(r["messages"][0]["text"], "Я понимаю только текст.");
        // The business system, played from the chat's form: the bot's notifications are listed,
        // a notification's action button is pressed, a text is sent, bad input is a 400.
        let offered = json!([{"name": "visit_reminder", "fields": ["date"]}]);
        assert_eq!(chat["notifications"], offered);
        assert_eq!(list["bots"][0]["notifications"], offered);
        let (status, r) = json_of(call(
            "POST",
            &chat_url,
            Some(json!({"notify": {"name": "visit_reminder", "data": "{\"date\": \"08.02\"}"}})),
        ));
        assert_eq!(status, 200, "{r}");
        assert_eq!(r["messages"][0]["text"], "Напоминаем: визит 08.02 в 10:00.");
        assert_eq!(r["messages"][0]["buttons"], json!([["Подтвердить"]]));
        let index = r["messages"][0]["index"].clone();
        let (_, r) = json_of(call(
            "POST",
            &chat_url,
            Some(json!({"press": {"label": "Подтвердить", "index": index}})),
        ));
        assert_eq!(r["messages"][0]["text"], "Спасибо! Визит 08.02 подтверждён.");
        let (_, r) = json_of(call("POST", &chat_url, Some(json!({"send": "Визит <b>перенесён</b>"}))));
        assert_eq!(r["messages"][0]["text"], "Визит <b>перенесён</b>");
        for (bad, why) in [
            (json!({"notify": {"name": "nope", "data": "{}"}}), "visit_reminder"),
            (json!({"notify": {"name": "visit_reminder", "data": "[1]"}}), "JSON object"),
            (json!({"notify": {"name": "visit_reminder", "data": "{"}}), "visit_reminder"),
            (json!({"send": "  "}), "empty"),
        ] {
            let (status, body) = json_of(call("POST", &chat_url, Some(bad.clone())));
            assert_eq!(status, 400, "{bad}: {body}");
            assert!(body["error"].as_str().unwrap().contains(why), "{bad}: {body}");
        }
        assert!(
            r["transcript"]
                .as_str()
                .unwrap()
                .contains("@notify visit_reminder {\"date\":\"08.02\"}\n< Напоминаем: визит 08.02 в 10:00.\n< [Подтвердить]\n> [Подтвердить]\n"),
            "{}",
            r["transcript"]
        );
        let (_, saved) = json_of(call(
            "POST",
            &format!("{chat_url}/save"),
            Some(json!({"name": "from-studio"})),
        ));
        assert_eq!(saved["saved"], "from-studio.chat");
        let test = Command::new(env!("CARGO_BIN_EXE_botwright"))
            .arg("test")
            .arg(bots.join("from-studio.chat"))
            .output()
            .unwrap();
        assert!(
            test.status.success(),
            "{}\n{}",
            String::from_utf8_lossy(&test.stdout),
            saved["transcript"]
        );

        // The directory's transcripts, the graph and the texts.
        let (_, runs) = json_of(call("GET", &format!("{base}/api/transcripts"), None));
        assert_eq!(
            (runs["passed"].clone(), runs["failed"].clone()),
            (json!(2), json!(0)),
            "{runs}"
        );
        std::fs::write(bots.join("broken.chat"), "@bot demo\n> А1\n< не то\n").unwrap();
        let (_, runs) = json_of(call("GET", &format!("{base}/api/transcripts"), None));
        let broken = runs["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["file"] == "broken.chat")
            .unwrap()
            .clone();
        assert_eq!((broken["ok"].clone(), broken["line"].clone()), (json!(false), json!(3)));
        assert!(broken["message"].as_str().unwrap().contains("expected: не то"));
        let (status, svg) = call("GET", &format!("{base}/api/graph/demo"), None);
        assert!(status == 200 && svg.starts_with("<svg") && svg.contains("Вариант №1"));
        let (_, texts) = json_of(call("GET", &format!("{base}/api/texts/demo"), None));
        let rows = texts["texts"].as_array().unwrap();
        assert!(rows.len() >= 39);
        // `[bot] unknown` is the demo bot's override of `unknown`; `greeting` keeps its default.
        let row = |key: &str| rows.iter().find(|t| t["key"] == key).unwrap().clone();
        assert!(row("unknown")["override"].as_str().unwrap().contains("Напишите «Меню»"));
        assert!(
            row("greeting")["override"].is_null()
                && row("greeting")["default"].as_str().unwrap().starts_with("Здравствуйте")
        );
        // The shorthands win over `[texts]`, in the table as in the compiled bot.
        let both = "[bot]\nname = \"B\"\ntoken_env = \"B_TOKEN\"\nlanguage = \"en\"\nunknown = \"From [bot].\"\n\n\
            [texts]\nunknown = \"From [texts].\"\nauth_request = \"Request from [texts].\"\nyes = \"Sure\"\n\n\
            [auth]\nrequired = true\nresponsible = [1]\nrequest = \"Request from [auth].\"\n";
        std::fs::write(bots.join("both.toml"), both).unwrap();
        let (_, texts) = json_of(call("GET", &format!("{base}/api/texts/both"), None));
        let rows = texts["texts"].as_array().unwrap();
        let row = |key: &str| rows.iter().find(|t| t["key"] == key).unwrap().clone();
        assert_eq!(row("unknown")["override"], "From [bot].");
        assert_eq!(row("auth_request")["override"], "Request from [auth].");
        assert_eq!(row("yes")["override"], "Sure");
        assert_eq!(row("no")["default"], "No");
        let compiled = botwright::validate::compile(
            "both",
            &botwright::diagnostics::SourceFile::new("both.toml", both),
            &mut Vec::new(),
        )
        .unwrap();
        let stranger = botwright::engine::User {
            id: 7,
            chat: 7,
            name: "S".into(),
            username: None,
        };
        let out = botwright::engine::handle(&compiled, &mut botwright::store::MemoryWorld::default(), &mut botwright::algorithms::Runner::offline(), &stranger,
            &botwright::engine::Event::Text("hello".into()),
            chrono::DateTime::parse_from_rfc3339("2021-02-06T14:00:00+03:00").unwrap(),
        )
        .unwrap();
        assert_eq!(out[0].text, "Request from [auth].");
    })
    .await
    .unwrap();
}
