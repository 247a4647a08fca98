//! Table-driven tests of the expression language: every operator, every
//! built-in under both names, every deadline form, values as text; and a
//! property test that no input panics or runs unbounded.

use botwright::expr::{self, Context, Value};
use chrono::DateTime;
use indexmap::IndexMap;
use proptest::prelude::*;

const NOW: &str = "2021-02-06T14:00:00+03:00";

fn eval(source: &str) -> Result<String, String> {
    let mut vars = IndexMap::new();
    vars.insert(
        "user".to_string(),
        Value::object([("name", Value::text("Ann")), ("principal", Value::Null)]),
    );
    vars.insert(
        "history".to_string(),
        Value::List(vec![Value::object([("selected", Value::text("Вариант №2"))])]),
    );
    let e = expr::parse_expression(source).map_err(|e| format!("syntax: {}", e.message))?;
    let ctx = Context {
        vars: &vars,
        now: DateTime::parse_from_rfc3339(NOW).unwrap(),
        tz: None,
    };
    expr::evaluate(&e, &ctx).map(|v| v.to_text()).map_err(|e| e.0)
}

fn check(cases: &[(&str, &str)]) {
    for (source, expected) in cases {
        assert_eq!(eval(source).as_deref(), Ok(*expected), "{source}");
    }
}

fn check_error(cases: &[(&str, &str)]) {
    for (source, fragment) in cases {
        match eval(source) {
            Err(e) => assert!(e.contains(fragment), "{source}: {e}"),
            Ok(v) => panic!("{source} gave {v}, expected an error with `{fragment}`"),
        }
    }
}

#[test]
fn operators() {
    check(&[
        ("2+2*2", "6"),
        ("(2+2)*2", "8"),
        ("7 - 10", "-3"),
        ("-3 + 1", "-2"),
        ("7 / 2", "3.5"),
        ("7 % 3", "1"),
        ("0.1 + 0.2 == 0.3", "true"),
        ("1 != 2", "true"),
        ("1 < 2", "true"),
        ("2 <= 2", "true"),
        ("3 > 4", "false"),
        ("3 >= 4", "false"),
        ("true and false", "false"),
        ("true && true", "true"),
        ("false or true", "true"),
        ("false || false", "false"),
        ("not true", "false"),
        ("!false", "true"),
        ("'a' + 'b'", "ab"),
        ("'n=' + 5", "n=5"),
        ("[1, 2] + [3]", "1, 2, 3"),
        ("if 1 > 2 then 'a' else 'b'", "b"),
        ("{a: 1}.a", "1"),
        (
            "{kind: 'partner', id: '7', name: \"ООО Ромашка\"}['name']",
            "ООО Ромашка",
        ),
        ("(split('a,b', ','))[1]", "b"),
        ("user.name", "Ann"),
        ("user.principal.name", ""),
        ("history[0].selected", "Вариант №2"),
        ("'it\\'s'", "it's"),
        ("null", ""),
        ("{a: 1, b: [true, null]}", "{\"a\":1,\"b\":[true,null]}"),
    ]);
}

#[test]
fn operator_errors() {
    check_error(&[
        ("1 / 0", "division by zero"),
        ("1 % 0", "division by zero"),
        ("1 < 'a'", "cannot compare"),
        ("-'a'", "cannot negate"),
        ("nobody", "unknown variable"),
        ("shout(1)", "unknown function"),
        ("len(1, 2)", "takes 1 argument"),
        ("1 +", "syntax"),
    ]);
}

#[test]
fn builtins_under_both_names() {
    let pairs = [
        ("now()", "ТекущаяДата()", "06.02.2021 14:00:00"),
        ("today()", "Сегодня()", "06.02.2021 00:00:00"),
        (
            "format(now(), 'dd.MM.yyyy HH:mm')",
            "Формат(ТекущаяДата(), 'dd.MM.yyyy HH:mm')",
            "06.02.2021 14:00",
        ),
        ("format(1234.5, '0.00')", "Формат(1234.5, '0.00')", "1234.50"),
        (
            "format(1234567.891, '# ##0.00')",
            "Формат(1234567.891, '# ##0.00')",
            "1 234 567.89",
        ),
        ("deadline('6.2')", "Срок('6.2')", "06.02.2021 18:00:00"),
        ("len('привет')", "Длина('привет')", "6"),
        ("len([1, 2, 3])", "Длина([1, 2, 3])", "3"),
        ("upper('ab')", "ВРег('ab')", "AB"),
        ("lower('АБ')", "НРег('АБ')", "аб"),
        ("trim('  x ')", "СокрЛП('  x ')", "x"),
        ("split('a;b', ';')", "Разделить('a;b', ';')", "a, b"),
        ("join(['a', 'b'], '-')", "Соединить(['a', 'b'], '-')", "a-b"),
        ("contains('abc', 'b')", "Содержит('abc', 'b')", "true"),
        ("contains([1, 2], 3)", "Содержит([1, 2], 3)", "false"),
        ("number('1 234,5')", "Число('1 234,5')", "1234.5"),
        ("text(2.50)", "Строка(2.50)", "2.5"),
        ("round(2.5, 0)", "Окр(2.5, 0)", "3"),
        ("round(-2.345, 2)", "Окр(-2.345, 2)", "-2.35"),
        (
            "add_days(today(), 3)",
            "ДобавитьДни(Сегодня(), 3)",
            "09.02.2021 00:00:00",
        ),
    ];
    for (en, ru, expected) in pairs {
        assert_eq!(eval(en).as_deref(), Ok(expected), "{en}");
        assert_eq!(eval(ru).as_deref(), Ok(expected), "{ru}");
    }
    check_error(&[("number('abc')", "is not a number"), ("split('a', '')", "separator")]);
}

#[test]
fn format_of_the_largest_numbers_with_many_decimals_does_not_panic() {
    check(&[
        (
            "format(79228162514264337593543950335, \"0.0000000000000000000000000000\")",
            "79228162514264337593543950335.0000000000000000000000000000",
        ),
        (
            "format(-79228162514264337593543950335, '# ##0.00')",
            "-79 228 162 514 264 337 593 543 950 335.00",
        ),
        (
            "format(0.0000000000000000000000000001, '0.0000000000000000000000000000')",
            "0.0000000000000000000000000001",
        ),
        ("format(0.0000000000000000000000000001, '0.00')", "0.00"),
        ("format(-0.001, '0.00')", "0.00"),
        ("format(2.5, '0')", "3"),
        ("format(1.005, '0.000000')", "1.005000"),
        ("format(12, '#,##0.0')", "12.0"),
    ]);
    check_error(&[("format(1, '0.00000000000000000000000000000')", "not a number pattern")]);
}

#[test]
fn dates_at_the_ends_of_the_calendar_are_a_clean_error() {
    use botwright::expr::{Builtin, call_builtin};
    use chrono::{FixedOffset, TimeZone};
    let vars = IndexMap::new();
    let ctx = Context {
        vars: &vars,
        now: DateTime::parse_from_rfc3339(NOW).unwrap(),
        tz: None,
    };
    let plus_ten = FixedOffset::east_opt(10 * 3600).unwrap();
    let last = plus_ten.from_utc_datetime(&chrono::DateTime::<chrono::Utc>::MAX_UTC.naive_utc());
    let first = plus_ten.from_utc_datetime(&chrono::DateTime::<chrono::Utc>::MIN_UTC.naive_utc());
    let days = |n: i64| Value::Number(n.into());
    for (function, args) in [
        (Builtin::AddDays, vec![Value::DateTime(last), days(1_000_000)]),
        (Builtin::AddDays, vec![Value::DateTime(first), days(-1_000_000)]),
        (Builtin::AddDays, vec![Value::DateTime(last), days(0)]),
        (Builtin::Format, vec![Value::DateTime(last), Value::text("dd.MM.yyyy")]),
    ] {
        let e = call_builtin(function, args, &ctx).expect_err("out of range");
        assert!(e.0.contains("out of range"), "{function:?}: {}", e.0);
    }
    let at_the_end = Context {
        now: last,
        ..ctx.clone()
    };
    for function in [Builtin::Today, Builtin::Now] {
        assert!(call_builtin(function, vec![], &at_the_end).is_ok());
    }
    assert!(call_builtin(Builtin::Deadline, vec![Value::text("6.2")], &at_the_end).is_err());
    assert_eq!(
        call_builtin(Builtin::Format, vec![Value::DateTime(first), Value::text("yyyy")], &ctx)
            .map(|v| v.to_text())
            .map_err(|e| e.0),
        Ok("-262143".to_string())
    );
}

#[test]
fn deadline_forms() {
    check(&[
        ("deadline('06.02 14:00')", "06.02.2021 14:00:00"),
        ("deadline('06.02 13:00')", "06.02.2022 13:00:00"),
        ("deadline('06.02.21 14:00')", "06.02.2021 14:00:00"),
        ("deadline('06.02.2021 14:00')", "06.02.2021 14:00:00"),
        ("deadline('6.2 14:00')", "06.02.2021 14:00:00"),
        ("deadline('6.2')", "06.02.2021 18:00:00"),
        ("deadline('5.2')", "05.02.2022 18:00:00"),
        ("deadline('0')", "06.02.2021 18:00:00"),
        ("deadline('3')", "09.02.2021 18:00:00"),
        ("deadline(' 10.03 ')", "10.03.2021 18:00:00"),
    ]);
    for bad in [
        "deadline('завтра')",
        "deadline('31.02')",
        "deadline('6.2 25:00')",
        "deadline('1.2.3')",
        "deadline('')",
        "deadline('6.2 14:0')",
    ] {
        match eval(bad) {
            Err(e) => assert!(e.contains("06.02 14:00") && e.contains("number of days"), "{bad}: {e}"),
            Ok(v) => panic!("{bad} gave {v}"),
        }
    }
}

#[test]
fn deep_nesting_is_a_clean_error() {
    let deep = format!("{}1{}", "(".repeat(50_000), ")".repeat(50_000));
    assert!(eval(&deep).is_err());
    let deep = format!("{}1{}", "(".repeat(20_000), ")".repeat(20_000));
    assert!(eval(&deep).unwrap_err().contains("nests deeper"));
    let ifs = "if true then ".repeat(2_000) + "1" + &" else 2".repeat(2_000);
    assert!(eval(&ifs).unwrap_err().contains("nests deeper"));
    let negs = format!("{}1", "-".repeat(50_000));
    assert!(eval(&negs).is_err());
    let long_chain = vec!["1"; 200].join("+");
    assert_eq!(eval(&long_chain).as_deref(), Ok("200"));
    let too_long_chain = vec!["1"; 5_000].join("+");
    assert!(eval(&too_long_chain).unwrap_err().contains("too complex"));
}

#[test]
fn sizes_are_bounded() {
    // An empty separator is refused rather than exploding a text into characters.
    assert!(eval("join(split('aaaaaaaaaa', ''), ',')").is_err());
    // Doubling a text past the text bound is an evaluation error that names the bound.
    let mut s = String::from("'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'");
    let mut doublings = 0;
    while 50usize << doublings <= botwright::expr::eval::MAX_TEXT {
        s = format!("({s}) + ({s})");
        doublings += 1;
    }
    let err = eval(&s).expect_err("a text over the bound must be an error");
    assert!(err.contains("text") || err.contains("long"), "unexpected error: {err}");
    // Just under the bound the same construction evaluates.
    let mut ok = String::from("'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'");
    for _ in 0..doublings - 1 {
        ok = format!("({ok}) + ({ok})");
    }
    assert_eq!(
        eval(&format!("len({ok})")).unwrap(),
        (50usize << (doublings - 1)).to_string()
    );
    // Lists are bounded too: 16,384 items from splitting a 32 KB text.
    let mut pairs = String::from("'a,'");
    for _ in 0..14 {
        pairs = format!("({pairs}) + ({pairs})");
    }
    assert!(eval(&format!("len(split({pairs}, ','))")).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, .. ProptestConfig::default() })]

    #[test]
    fn no_input_panics(source in "[-+*/%()\\[\\]{}<>=!&|,.:'\"a-zа-я0-9 ]{0,80}") {
        let _ = eval(&source);
        let _ = expr::parse_template(&format!("x {{{{ {source} }}}} y"));
    }

    #[test]
    fn arithmetic_is_exact(a in -1_000_000i64..1_000_000, b in 1i64..1000, c in 0u32..1000) {
        let sum = eval(&format!("{a} + {b}")).unwrap();
        prop_assert_eq!(sum, (a + b).to_string());
        // Multiplying then dividing by the same number gives the number back exactly.
        let back = eval(&format!("({a} * {b}) / {b} == {a}")).unwrap();
        prop_assert_eq!(back, "true");
        // Decimal fractions add without binary rounding: a + c/1000 has exactly c thousandths.
        let fraction = eval(&format!("{a} + {c} / 1000 - {a}")).unwrap();
        let expected = rust_decimal::Decimal::new(c as i64, 3).normalize().to_string();
        prop_assert_eq!(fraction, expected);
        let tenth = eval(&format!("0.1 * {b} == {b} / 10")).unwrap();
        prop_assert_eq!(tenth, "true");
    }
}
