//! Benchmarks behind BENCHMARKS.md: compiling generated bots, rendering a
//! template, and handling one message in the engine.

use botwright::diagnostics::SourceFile;
use botwright::engine::{Event, User, handle};
use botwright::expr::{self, Context, Value};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use indexmap::IndexMap;
use std::hint::black_box;

/// A bot of `n` records: top-level choices of ten options each (typed words and
/// templated replies), and plain replies for whatever does not fill a choice.
pub fn generated_bot(n: usize) -> String {
    let mut s = String::from("[bot]\nname = \"Gen\"\ntoken_env = \"GEN_TOKEN\"\n");
    let mut made = 0;
    let mut c = 0;
    while made + 11 <= n {
        s.push_str(&format!(
            "\n[[keyword]]\nid = \"c{c}\"\nmatch = \"choice {c}, выбор {c}\"\nchoice = \"Pick {{{{ user.name }}}}\"\n"
        ));
        for o in 0..10 {
            s.push_str(&format!(
                "\n[[keyword]]\nid = \"c{c}_o{o}\"\nparent = \"c{c}\"\nmatch = \"option {o}\"\nreply = \"You chose <b>{{{{ selected }}}}</b> in {c}\"\n"
            ));
        }
        made += 11;
        c += 1;
    }
    for r in made..n {
        s.push_str(&format!("\n[[keyword]]\nmatch = \"word {r}\"\nreply = \"Reply {r}\"\n"));
    }
    s
}

fn compile(c: &mut Criterion) {
    let mut group = c.benchmark_group("compile");
    group.sample_size(10);
    for n in [1_000, 10_000, 100_000] {
        let text = generated_bot(n);
        group.bench_with_input(BenchmarkId::from_parameter(n), &text, |b, text| {
            b.iter(|| {
                let file = SourceFile::new("gen.toml", text.clone());
                let mut d = Vec::new();
                let bot = botwright::validate::compile("gen", &file, &mut d);
                assert!(bot.is_some(), "{:?}", d.first().map(|d| &d.message));
                black_box(bot)
            })
        });
    }
    group.finish();
}

fn template(c: &mut Criterion) {
    let t = expr::parse_template(
        "Здравствуйте, {{ user.name }}! Заказ {{ vars.order }} будет {{ format(now(), 'dd.MM.yyyy') }}.",
    )
    .unwrap();
    let mut vars = IndexMap::new();
    vars.insert("user".to_string(), Value::object([("name", Value::text("Анна"))]));
    vars.insert("vars".to_string(), Value::object([("order", Value::text("№ 128"))]));
    let now = chrono::DateTime::parse_from_rfc3339("2021-02-06T14:00:00+03:00").unwrap();
    c.bench_function("render_template", |b| {
        b.iter(|| {
            let ctx = Context {
                vars: &vars,
                now,
                tz: None,
            };
            black_box(expr::render(&t, &ctx, true).unwrap())
        })
    });
}

fn engine(c: &mut Criterion) {
    let text = std::fs::read_to_string("bots/demo.toml").unwrap();
    let bot = botwright::validate::compile("demo", &SourceFile::new("demo.toml", text), &mut Vec::new()).unwrap();
    let user = User {
        id: 1,
        chat: 1,
        name: "Bench".into(),
        username: None,
    };
    let now = chrono::DateTime::parse_from_rfc3339("2021-02-06T14:00:00+03:00").unwrap();
    let mut world = botwright::store::MemoryWorld::default();
    let mut runner = botwright::algorithms::Runner::offline();
    c.bench_function("engine_keyword_reply", |b| {
        b.iter(|| black_box(handle(&bot, &mut world, &mut runner, &user, &Event::Text("А1".into()), now).unwrap()))
    });
    let mut world = botwright::store::MemoryWorld::default();
    let mut runner = botwright::algorithms::Runner::offline();
    handle(&bot, &mut world, &mut runner, &user, &Event::Text("Выбор".into()), now).unwrap();
    let press = |label: &str, out: &[botwright::engine::Outgoing]| -> String {
        out.iter()
            .find_map(|m| match &m.keyboard {
                botwright::engine::Keyboard::Inline(rows) => {
                    rows.iter().flatten().find(|b| b.label == label).map(|b| b.data.clone())
                }
                _ => None,
            })
            .unwrap()
    };
    let out = handle(&bot, &mut world, &mut runner, &user, &Event::Text("Выбор".into()), now).unwrap();
    let two = press("Вариант №2", &out);
    let out = handle(&bot, &mut world, &mut runner, &user, &Event::Button(two), now).unwrap();
    let yes = press("Да", &out);
    let out = handle(&bot, &mut world, &mut runner, &user, &Event::Button(yes), now).unwrap();
    let nested = press("Вариант 2.2", &out);
    c.bench_function("engine_nested_button", |b| {
        b.iter(|| {
            black_box(
                handle(
                    &bot,
                    &mut world,
                    &mut runner,
                    &user,
                    &Event::Button(nested.clone()),
                    now,
                )
                .unwrap(),
            )
        })
    });
}

criterion_group!(benches, compile, template, engine);
criterion_main!(benches);
