//! The studio's defences (cli.md, last paragraphs), one regression test per hole a
//! review demonstrated: a foreign `Host` (DNS rebinding) or `Origin`, a non-loopback
//! `--listen`, `--allow-remote`'s token, file names that are not `name.toml`/`name.chat`,
//! writes through symbolic links, a transcript's `@bot` outside the directory, and
//! unbounded conversations.

use crate::support::free_port;
use std::io::{BufRead, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A studio process, killed when the test ends, however it ends.
struct Studio {
    child: std::process::Child,
    port: u16,
}

impl Drop for Studio {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `condition` until it holds, for at most 60 s.
fn until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A bots directory (inside a temporary root) with the demo bot and its transcript.
fn bots_dir() -> (tempfile::TempDir, PathBuf) {
    let root = tempfile::tempdir().unwrap();
    let bots = root.path().join("bots");
    std::fs::create_dir(&bots).unwrap();
    std::fs::copy("bots/demo.toml", bots.join("demo.toml")).unwrap();
    std::fs::copy("bots/demo.chat", bots.join("demo.chat")).unwrap();
    (root, bots)
}

/// `botwright studio --bots DIR --listen 127.0.0.1:PORT` and `extra`, once it accepts connections.
fn start(bots: &Path, extra: &[&str], stdout: Stdio) -> Studio {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_botwright"))
        .args(["studio", "--bots"])
        .arg(bots)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(extra)
        .stdout(stdout)
        .spawn()
        .unwrap();
    let studio = Studio { child, port };
    until("the studio listens", || TcpStream::connect(("127.0.0.1", port)).is_ok());
    studio
}

/// One HTTP/1.1 request written by hand, so that `Host` and `Origin` are exactly as given:
/// (status, body).
fn raw(port: u16, method: &str, path: &str, headers: &[(&str, &str)], body: Option<&str>) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut request = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some(body) = body {
        request.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    request.push_str("\r\n");
    request.push_str(body.unwrap_or(""));
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    let answer = String::from_utf8_lossy(&answer).to_string();
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {answer:?}"));
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// The files directly in `dir`, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    names.sort();
    names
}

#[test]
fn a_foreign_host_gets_nothing_from_any_route() {
    let (_root, bots) = bots_dir();
    let studio = start(&bots, &[], Stdio::null());
    let port = studio.port;
    let evil = format!("evil.example:{port}");
    let own = format!("127.0.0.1:{port}");
    let local = format!("localhost:{port}");
    let put = Some(r#"{"text": "[bot]\nname = \"pwned\"\n"}"#);

    // DNS rebinding: the page's own name, resolved to this machine.
    for (method, path, body) in [
        ("GET", "/", None),
        ("GET", "/api/files/demo.toml", None),
        ("GET", "/api/bots", None),
        ("PUT", "/api/files/pwned.toml", put),
    ] {
        let (status, answer) = raw(port, method, path, &[("Host", &evil)], body);
        assert_eq!(status, 403, "{method} {path}: {answer}");
        assert!(!answer.contains("Демо-бот") && !answer.contains("botwright studio</title>"));
    }
    assert!(!bots.join("pwned.toml").exists());
    // No Host at all (HTTP/1.0 style) is not this machine either.
    assert_eq!(raw(port, "GET", "/api/bots", &[], None).0, 403);
    // Another port on loopback is another origin.
    assert_eq!(
        raw(
            port,
            "GET",
            "/api/bots",
            &[("Host", &format!("localhost:{}", port + 1))],
            None
        )
        .0,
        403
    );

    // This machine's names are answered.
    for host in [&own, &local, &format!("[::1]:{port}")] {
        let (status, answer) = raw(port, "GET", "/api/files/demo.toml", &[("Host", host)], None);
        assert_eq!(status, 200, "{host}: {answer}");
        assert!(answer.contains("Демо-бот"));
    }
    let (status, page) = raw(port, "GET", "/", &[("Host", &local)], None);
    assert!(status == 200 && page.contains("assets/studio.js"));
    assert_eq!(raw(port, "PUT", "/api/files/pwned.toml", &[("Host", &own)], put).0, 200);
    assert!(bots.join("pwned.toml").exists());
}

#[test]
fn a_change_from_another_origin_is_refused() {
    let (_root, bots) = bots_dir();
    let studio = start(&bots, &[], Stdio::null());
    let port = studio.port;
    let host = format!("127.0.0.1:{port}");
    let put = Some(r#"{"text": "x = 1\n"}"#);

    for origin in [
        format!("http://evil.example:{port}"),
        "http://evil.example".to_string(),
        format!("https://127.0.0.1:{port}"),
        "null".to_string(),
    ] {
        let headers = [("Host", host.as_str()), ("Origin", origin.as_str())];
        let (status, answer) = raw(port, "PUT", "/api/files/written.toml", &headers, put);
        assert_eq!(status, 403, "{origin}: {answer}");
        let (status, _) = raw(port, "POST", "/api/chats", &headers, Some(r#"{"bot": "demo"}"#));
        assert_eq!(status, 403, "{origin}");
        let (status, _) = raw(
            port,
            "POST",
            "/api/check",
            &headers,
            Some(r#"{"name": "demo.toml", "text": ""}"#),
        );
        assert_eq!(status, 403, "{origin}");
    }
    assert!(!bots.join("written.toml").exists());
    // A read is not refused for its Origin: it changes nothing, and the browser keeps the answer from the other site.
    let (status, _) = raw(
        port,
        "GET",
        "/api/bots",
        &[("Host", &host), ("Origin", "http://evil.example")],
        None,
    );
    assert_eq!(status, 200);

    // The studio's own page, and a client that sends no Origin (curl), still write.
    let (status, answer) = raw(
        port,
        "PUT",
        "/api/files/written.toml",
        &[("Host", &host), ("Origin", &format!("http://localhost:{port}"))],
        put,
    );
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = raw(
        port,
        "POST",
        "/api/chats",
        &[("Host", &host)],
        Some(r#"{"bot": "demo"}"#),
    );
    assert_eq!(status, 200, "{answer}");
    let curl = crate::support::http_call(
        "PUT",
        &format!("http://127.0.0.1:{port}/api/files/curl.toml"),
        Some(r#"{"text": "y = 2\n"}"#.to_string()),
        None,
    );
    assert_eq!(curl.0, 200, "{}", curl.1);
    assert_eq!(std::fs::read_to_string(bots.join("curl.toml")).unwrap(), "y = 2\n");
}

#[test]
fn only_plain_file_names_are_read_written_or_listed() {
    let (_root, bots) = bots_dir();
    // Files the studio did not make: a name outside the rule, and a link.
    std::fs::write(bots.join("two words.toml"), "[bot]\nname = \"x\"\n").unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(bots.join("demo.toml"), bots.join("alias.toml")).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(bots.join("demo.chat"), bots.join("alias.chat")).unwrap();
    let studio = start(&bots, &[], Stdio::null());
    let base = format!("http://127.0.0.1:{}", studio.port);
    let before = listing(&bots);

    // The demonstrated XSS: a file name carrying an attribute.
    let xss = "%22%20src%3Dx%20onerror%3D%22alert(document.domain)%22%20a%3D%22.toml";
    for name in [
        xss,
        "two%20words.toml",
        "demo.toml.bak",
        "demo.TOML",
        "d%C3%A9mo.toml",
        ".toml",
        "..%2Fup.toml",
    ] {
        let (status, answer) = crate::support::http_call(
            "PUT",
            &format!("{base}/api/files/{name}"),
            Some(r#"{"text": "x"}"#.to_string()),
            None,
        );
        assert_eq!(status, 403, "{name}: {answer}");
        let (status, _) = crate::support::http_call("GET", &format!("{base}/api/files/{name}"), None, None);
        assert_eq!(status, 403, "{name}");
    }
    assert_eq!(listing(&bots), before, "nothing was written");
    // A transcript saved under a name outside the rule is refused too.
    let (_, chat) = crate::support::http_call(
        "POST",
        &format!("{base}/api/chats"),
        Some(r#"{"bot": "demo"}"#.to_string()),
        None,
    );
    let id = serde_json::from_str::<serde_json::Value>(&chat).unwrap()["id"].clone();
    let (status, _) = crate::support::http_call(
        "POST",
        &format!("{base}/api/chats/{id}/save"),
        Some(r#"{"name": "<img src=x>"}"#.to_string()),
        None,
    );
    assert_eq!(status, 403);
    let (status, _) = crate::support::http_call(
        "POST",
        &format!("{base}/api/chats"),
        Some(r#"{"bot": "../bots/demo"}"#.to_string()),
        None,
    );
    assert_eq!(status, 403);
    assert_eq!(listing(&bots), before, "nothing was written");

    // The list shows only plain names that are not links.
    let (_, list) = crate::support::http_call("GET", &format!("{base}/api/bots"), None, None);
    let list: serde_json::Value = serde_json::from_str(&list).unwrap();
    let files: Vec<&str> = list["bots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["file"].as_str().unwrap())
        .collect();
    assert_eq!(files, ["demo.toml"]);
    let (_, runs) = crate::support::http_call("GET", &format!("{base}/api/transcripts"), None, None);
    let runs: serde_json::Value = serde_json::from_str(&runs).unwrap();
    let files: Vec<&str> = runs["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["file"].as_str().unwrap())
        .collect();
    assert_eq!(files, ["demo.chat"], "{runs}");
}

#[cfg(unix)]
#[test]
fn nothing_is_written_through_a_symbolic_link() {
    let (root, bots) = bots_dir();
    let outside = root.path().join("outside.toml");
    std::fs::write(&outside, "outside").unwrap();
    std::os::unix::fs::symlink(&outside, bots.join("link.toml")).unwrap();
    // A dangling link: following it would create a file outside the directory.
    std::os::unix::fs::symlink(root.path().join("created.toml"), bots.join("dangling.toml")).unwrap();
    std::os::unix::fs::symlink(root.path().join("created.chat"), bots.join("dangling.chat")).unwrap();
    let studio = start(&bots, &[], Stdio::null());
    let base = format!("http://127.0.0.1:{}", studio.port);

    for name in ["link.toml", "dangling.toml"] {
        let (status, answer) = crate::support::http_call(
            "PUT",
            &format!("{base}/api/files/{name}"),
            Some(r#"{"text": "through the link"}"#.to_string()),
            None,
        );
        assert_eq!(status, 403, "{name}: {answer}");
        assert!(answer.contains("symbolic link"), "{answer}");
        let (status, answer) = crate::support::http_call("GET", &format!("{base}/api/files/{name}"), None, None);
        assert_eq!(status, 403, "{name}: {answer}");
    }
    let (_, chat) = crate::support::http_call(
        "POST",
        &format!("{base}/api/chats"),
        Some(r#"{"bot": "demo"}"#.to_string()),
        None,
    );
    let id = serde_json::from_str::<serde_json::Value>(&chat).unwrap()["id"].clone();
    let (status, _) = crate::support::http_call(
        "POST",
        &format!("{base}/api/chats/{id}/save"),
        Some(r#"{"name": "dangling"}"#.to_string()),
        None,
    );
    assert_eq!(status, 403);
    assert_eq!(std::fs::read_to_string(&outside).unwrap(), "outside");
    assert!(!root.path().join("created.toml").exists());
    assert!(!root.path().join("created.chat").exists());
    assert!(
        std::fs::symlink_metadata(bots.join("dangling.toml"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

#[test]
fn a_studio_transcript_names_a_bot_of_the_directory_only() {
    let (root, bots) = bots_dir();
    // A bot outside the directory, which a transcript tries to reach.
    std::fs::copy("bots/demo.toml", root.path().join("x.toml")).unwrap();
    let transcript = std::fs::read_to_string("bots/demo.chat").unwrap();
    let reaching = transcript.replacen("@bot demo", "@bot ../x", 1);
    assert_ne!(reaching, transcript, "demo.chat names its bot with `@bot demo`");
    std::fs::write(bots.join("escape.chat"), &reaching).unwrap();
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(root.path().join("x.toml"), bots.join("linked.toml")).unwrap();
        std::fs::write(
            bots.join("linked.chat"),
            transcript.replacen("@bot demo", "@bot linked", 1),
        )
        .unwrap();
    }
    let studio = start(&bots, &[], Stdio::null());
    let (status, runs) = crate::support::http_call(
        "GET",
        &format!("http://127.0.0.1:{}/api/transcripts", studio.port),
        None,
        None,
    );
    assert_eq!(status, 200);
    let runs: serde_json::Value = serde_json::from_str(&runs).unwrap();
    let result = |file: &str| {
        runs["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["file"] == file)
            .unwrap_or_else(|| panic!("{file} in {runs}"))
            .clone()
    };
    assert_eq!(result("demo.chat")["ok"], true, "{runs}");
    let escape = result("escape.chat");
    assert_eq!(escape["ok"], false, "{runs}");
    let message = escape["message"].as_str().unwrap();
    assert!(message.contains("`@bot ../x` is not a bot of"), "{message}");
    #[cfg(unix)]
    {
        let linked = result("linked.chat");
        assert_eq!(linked["ok"], false, "{runs}");
        assert!(
            linked["message"].as_str().unwrap().contains("symbolic link"),
            "{linked}"
        );
    }

    // `botwright test` keeps relative paths: the same transcript passes there.
    let test = Command::new(env!("CARGO_BIN_EXE_botwright"))
        .arg("test")
        .arg(bots.join("escape.chat"))
        .output()
        .unwrap();
    assert!(test.status.success(), "{}", String::from_utf8_lossy(&test.stdout));
}

/// Waits (at most 60 s) for `child` to exit; kills it and fails if it does not.
fn exit_code(mut child: std::process::Child) -> (i32, String) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut stderr = String::new();
            child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
            return (status.code().unwrap_or(-1), stderr);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the studio kept running");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_non_loopback_listen_needs_allow_remote() {
    let (_root, bots) = bots_dir();
    for listen in ["0.0.0.0:0", "[::]:0"] {
        let child = Command::new(env!("CARGO_BIN_EXE_botwright"))
            .args(["studio", "--bots"])
            .arg(&bots)
            .args(["--listen", listen])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (code, stderr) = exit_code(child);
        assert_eq!(code, 2, "{listen}: {stderr}");
        assert!(
            stderr.contains("not a loopback address") && stderr.contains("--allow-remote"),
            "{stderr}"
        );
    }
    // A listen address that is not one at all: a usage error too, not a panic.
    let child = Command::new(env!("CARGO_BIN_EXE_botwright"))
        .args(["studio", "--bots"])
        .arg(&bots)
        .args(["--listen", "nonsense"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (code, stderr) = exit_code(child);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--listen nonsense"), "{stderr}");
}

#[test]
fn allow_remote_serves_the_api_with_the_printed_token_only() {
    let (_root, bots) = bots_dir();
    let mut studio = start(&bots, &["--allow-remote"], Stdio::piped());
    let port = studio.port;
    // The token is on stdout, on its own line.
    let stdout = studio.child.stdout.take().unwrap();
    let (lines, got) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let token = loop {
        let line = got
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("the studio prints its access token");
        if let Some(token) = line.strip_prefix("access token: ") {
            break token.to_string();
        }
    };
    assert!(
        token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit()),
        "{token}"
    );
    let base = format!("http://127.0.0.1:{port}");

    // Without the token, or with another, the API answers 401; the page needs none.
    let (status, answer) = crate::support::http_call("GET", &format!("{base}/api/bots"), None, None);
    assert_eq!(status, 401, "{answer}");
    assert!(answer.contains("Bearer"), "{answer}");
    assert!(!answer.contains(&token));
    // Another token: the last digit changed (never the same one).
    let wrong = format!("{}{}", &token[..63], if token.ends_with('0') { '1' } else { '0' });
    assert_eq!(
        crate::support::http_call("GET", &format!("{base}/api/bots"), None, Some(&wrong)).0,
        401
    );
    let (status, _) = crate::support::http_call(
        "PUT",
        &format!("{base}/api/files/demo.toml"),
        Some(r#"{"text": "overwritten"}"#.to_string()),
        None,
    );
    assert_eq!(status, 401);
    assert!(
        std::fs::read_to_string(bots.join("demo.toml"))
            .unwrap()
            .contains("Демо-бот")
    );
    let (status, page) = crate::support::http_call("GET", &format!("{base}/"), None, None);
    assert!(status == 200 && page.contains("assets/studio.js"));

    // With it, the API works, whatever the Host (the rule is lifted)...
    let (status, list) = crate::support::http_call("GET", &format!("{base}/api/bots"), None, Some(&token));
    assert_eq!(status, 200, "{list}");
    assert!(list.contains("demo.toml"));
    let bearer = format!("Bearer {token}");
    let (status, _) = raw(
        port,
        "GET",
        "/api/bots",
        &[("Host", "studio.lan:8700"), ("Authorization", &bearer)],
        None,
    );
    assert_eq!(status, 200);
    // ...but not the Origin rule: another site's page may not write, even with the token.
    let (status, _) = raw(
        port,
        "PUT",
        "/api/files/new.toml",
        &[
            ("Host", "studio.lan:8700"),
            ("Origin", "http://evil.example"),
            ("Authorization", &bearer),
        ],
        Some(r#"{"text": "x = 1\n"}"#),
    );
    assert_eq!(status, 403);
    assert!(!bots.join("new.toml").exists());
    let (status, _) = crate::support::http_call(
        "PUT",
        &format!("{base}/api/files/new.toml"),
        Some(r#"{"text": "x = 1\n"}"#.to_string()),
        Some(&token),
    );
    assert_eq!(status, 200);
    assert!(bots.join("new.toml").exists());
}

#[test]
fn conversations_are_capped_least_recently_used_first() {
    let (_root, bots) = bots_dir();
    let studio = start(&bots, &[], Stdio::null());
    let base = format!("http://127.0.0.1:{}", studio.port);
    let start_chat = || {
        let (status, answer) = crate::support::http_call(
            "POST",
            &format!("{base}/api/chats"),
            Some(r#"{"bot": "demo"}"#.to_string()),
            None,
        );
        assert_eq!(status, 200, "{answer}");
        serde_json::from_str::<serde_json::Value>(&answer).unwrap()["id"]
            .as_u64()
            .unwrap()
    };
    let say = |id: u64| {
        crate::support::http_call(
            "POST",
            &format!("{base}/api/chats/{id}"),
            Some(r#"{"text": "Меню"}"#.to_string()),
            None,
        )
        .0
    };
    // The studio's cap: 100 live conversations.
    let first = start_chat();
    let second = start_chat();
    let mut others = Vec::new();
    for _ in 2..100 {
        others.push(start_chat());
    }
    // All 100 are live; the first, used now, is no longer the least recently used.
    assert_eq!(say(first), 200);
    let newest = start_chat();
    assert_eq!(say(second), 404, "the least recently used conversation is forgotten");
    assert_eq!(say(first), 200);
    assert_eq!(say(newest), 200);
    assert_eq!(say(others[0]), 200);
}
