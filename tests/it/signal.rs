//! The tasks bot end to end: the reference business system, `botwright run`
//! with its HTTP API, and a fake Bot API, together.

#[path = "../../examples/business_system/system.rs"]
mod system;

use crate::support::{Botwright, FakeTelegram, wait_for};

const TOKEN: &str = "444444:signal-token-for-tests";
const API_TOKEN: &str = "signal-api-secret";

fn last_is(fake: &FakeTelegram, chat: i64, text: &str) -> bool {
    fake.sent(TOKEN, chat).last().is_some_and(|t| t == text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_bot_against_the_reference_business_system() {
    let fake = FakeTelegram::start().await;
    fake.add_bot(TOKEN, 444444, "signal_bot");
    let api_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let bs_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let bs_url = format!("http://{}", bs_listener.local_addr().unwrap());
    let business = system::BusinessSystem::with_demo_data(format!("http://127.0.0.1:{api_port}"), API_TOKEN.into());
    let data = business.data.clone();
    tokio::spawn(async move { axum::serve(bs_listener, business.router()).await.unwrap() });

    let bots = tempfile::tempdir().unwrap();
    std::fs::copy("bots/signal.toml", bots.path().join("signal.toml")).unwrap();
    let state = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", state.path().join("state.db").display());
    let listen = format!("127.0.0.1:{api_port}");
    let env = [
        ("SIGNAL_BOT_TOKEN", TOKEN),
        ("SIGNAL_BS_URL", bs_url.as_str()),
        ("BOTWRIGHT_API_TOKEN", API_TOKEN),
    ];
    let _bw = Botwright::start_with(
        bots.path(),
        &db,
        &fake.url,
        &env,
        state.path().join("log"),
        &["--listen", &listen],
    );

    // Two employees register with their phone numbers: the business system knows them. A typed
    // surname alone registers nobody.
    fake.text(TOKEN, 503, "Пётр", "/start");
    wait_for("the contact button", || {
        fake.calls(TOKEN, "SendMessage")
            .iter()
            .any(|c| c.body["chat_id"] == 503 && c.body["reply_markup"]["keyboard"][0][0]["request_contact"] == true)
    })
    .await;
    let before = fake.sent(TOKEN, 503).len();
    fake.text(TOKEN, 503, "Пётр", "Петрова");
    wait_for("refused", || fake.sent(TOKEN, 503).len() == before + 1).await;
    assert_eq!(
        fake.sent(TOKEN, 503)[before],
        "Сейчас я жду контакт. Пришлите, пожалуйста, его."
    );
    for (chat, name, phone) in [(501, "Анна", "+7 (900) 000-05-01"), (502, "Иван", "89000000502")] {
        fake.text(TOKEN, chat, name, "/start");
        wait_for("auth request", || !fake.sent(TOKEN, chat).is_empty()).await;
        fake.push(TOKEN, crate::support::contact_update(chat, name, phone, chat));
        wait_for("registered", || {
            fake.sent(TOKEN, chat)
                .last()
                .is_some_and(|t| t.starts_with("Вы зарегистрированы как"))
        })
        .await;
    }

    // Anna's tasks: what can be done with one, details, files, completion, and a task that
    // needs more data.
    fake.text(TOKEN, 501, "Анна", "мз");
    wait_for("tasks", || last_is(&fake, 501, "Ваши задачи (2):")).await;
    fake.press(
        TOKEN,
        501,
        "Анна",
        &fake.button(TOKEN, 501, "№17 Отчёт за квартал").unwrap(),
    );
    wait_for("task menu", || last_is(&fake, 501, "Задача №17. Что сделать?")).await;
    fake.press(TOKEN, 501, "Анна", &fake.button(TOKEN, 501, "Подробнее…").unwrap());
    wait_for("details", || {
        last_is(
            &fake,
            501,
            "<b>№17 Отчёт за квартал</b>\nСрок: 06.02.2021 18:00\nВложений: 2",
        )
    })
    .await;
    fake.press(TOKEN, 501, "Анна", &fake.button(TOKEN, 501, "Вложения (2)").unwrap());
    wait_for("the files", || {
        fake.count(TOKEN, "SendDocument") == 1 && fake.count(TOKEN, "SendPhoto") == 1
    })
    .await;
    assert_eq!(fake.sent(TOKEN, 501).last().unwrap(), "Вложения задачи №17 (2):");
    fake.press(TOKEN, 501, "Анна", &fake.button(TOKEN, 501, "Выполнена").unwrap());
    wait_for("comment asked", || {
        last_is(&fake, 501, "Напишите комментарий к выполнению.")
    })
    .await;
    fake.text(TOKEN, 501, "Анна", "Готово");
    wait_for("completed", || last_is(&fake, 501, "Задача №17 выполнена.")).await;
    assert!(data.lock().unwrap().tasks.iter().any(|t| t.id == 17 && t.done));
    fake.text(TOKEN, 501, "Анна", "Задачи");
    wait_for("one task left", || last_is(&fake, 501, "Ваши задачи (1):")).await;
    fake.press(
        TOKEN,
        501,
        "Анна",
        &fake.button(TOKEN, 501, "№18 Договор с ООО Ромашка").unwrap(),
    );
    wait_for("task menu", || last_is(&fake, 501, "Задача №18. Что сделать?")).await;
    fake.text(TOKEN, 501, "Анна", "Выполнена");
    wait_for("comment asked", || {
        last_is(&fake, 501, "Напишите комментарий к выполнению.")
    })
    .await;
    fake.text(TOKEN, 501, "Анна", "Подписан");
    wait_for("needs data", || {
        last_is(
            &fake,
            501,
            "Нужно заполнить поле «Сумма» — завершите задачу в бизнес-системе.",
        )
    })
    .await;

    // A user reads and completes only their own tasks: Ivan types Anna's task's number.
    fake.text(TOKEN, 502, "Иван", "мз");
    wait_for("Ivan has none", || last_is(&fake, 502, "У вас нет открытых задач.")).await;

    // Anna gives Ivan a task with a document; its text is escaped; the business system
    // notifies him through the API, with action buttons.
    fake.text(TOKEN, 501, "Анна", "Новая задача");
    wait_for("document asked", || {
        fake.sent(TOKEN, 501)
            .last()
            .is_some_and(|t| t.starts_with("Приложите документ"))
    })
    .await;
    fake.push(TOKEN, crate::support::document_update(501, "Анна", "Смета.pdf"));
    wait_for("format asked", || {
        fake.sent(TOKEN, 501)
            .last()
            .is_some_and(|t| t.starts_with("Опишите задачу"))
    })
    .await;
    fake.text(TOKEN, 501, "Анна", "Отчёт <срочно> & точно, Иванов, 3, да");
    wait_for("created", || {
        last_is(&fake, 501, "Задача №19 создана и назначена: Иван Иванов. Вложений: 1.")
    })
    .await;
    wait_for("Ivan notified", || {
        fake.sent(TOKEN, 502)
            .last()
            .is_some_and(|t| t.starts_with("📌 Новая задача №19: <b>Отчёт &lt;срочно&gt; &amp; точно</b>"))
    })
    .await;
    let note = fake.sent(TOKEN, 502).last().unwrap().clone();
    assert!(
        note.contains("❗ Важная") && note.contains("От: Анна Петрова"),
        "{note}"
    );
    // «Подробнее…» under the notification: the details of task 19, escaped.
    fake.press(TOKEN, 502, "Иван", &fake.button(TOKEN, 502, "Подробнее…").unwrap());
    wait_for("details", || {
        fake.sent(TOKEN, 502)
            .last()
            .is_some_and(|t| t.starts_with("<b>№19 Отчёт &lt;срочно&gt; &amp; точно</b>"))
    })
    .await;
    // Anna cannot read task 19 by typing its number into her list.
    fake.text(TOKEN, 501, "Анна", "мз");
    wait_for("Anna's list", || last_is(&fake, 501, "Ваши задачи (1):")).await;
    fake.text(TOKEN, 501, "Анна", "19");
    wait_for("not hers", || last_is(&fake, 501, "Задача не найдена.")).await;
    // «Выполнена» under the notification completes task 19, even after another list.
    fake.text(TOKEN, 502, "Иван", "мз");
    wait_for("Ivan's tasks", || last_is(&fake, 502, "Ваши задачи (1):")).await;
    fake.press(TOKEN, 502, "Иван", &fake.button(TOKEN, 502, "Выполнена").unwrap());
    wait_for("comment asked", || {
        last_is(&fake, 502, "Напишите комментарий к выполнению задачи №19.")
    })
    .await;
    fake.text(TOKEN, 502, "Иван", "Сделано");
    wait_for("completed", || last_is(&fake, 502, "Задача №19 выполнена.")).await;
    assert!(data.lock().unwrap().tasks.iter().any(|t| t.id == 19 && t.done));

    // A process that starts itself, and one started by hand.
    // The list stays open (its "*" takes any text) until an option is taken or it is cancelled.
    fake.text(TOKEN, 502, "Иван", "Отмена");
    wait_for("cancelled", || last_is(&fake, 502, "Выбор отменён.")).await;
    // A task without an executor is the author's own; a line the bot cannot read is asked again.
    fake.text(TOKEN, 502, "Иван", "нз");
    wait_for("document asked", || {
        last_is(&fake, 502, "Приложите документ к задаче (файлом) или напишите «нет».")
    })
    .await;
    fake.text(TOKEN, 502, "Иван", "нет");
    wait_for("line asked", || {
        fake.sent(TOKEN, 502)
            .last()
            .is_some_and(|t| t.starts_with("Опишите задачу"))
    })
    .await;
    fake.text(TOKEN, 502, "Иван", "Проверить почту, себе, когда-нибудь");
    wait_for("asked again", || {
        fake.sent(TOKEN, 502)
            .last()
            .is_some_and(|t| t.starts_with("Не получилось разобрать"))
    })
    .await;
    fake.text(TOKEN, 502, "Иван", "Проверить почту, себе, 2");
    wait_for("own task", || last_is(&fake, 502, "Задача №20 создана для вас.")).await;
    assert!(
        data.lock()
            .unwrap()
            .tasks
            .iter()
            .any(|t| t.id == 20 && t.executor == "e2" && t.author == "Иван Иванов"),
        "Ivan's own task"
    );
    fake.text(TOKEN, 502, "Иван", "нп");
    wait_for("scenarios", || last_is(&fake, 502, "Выберите процесс")).await;
    fake.press(
        TOKEN,
        502,
        "Иван",
        &fake.button(TOKEN, 502, "Согласование договора").unwrap(),
    );
    wait_for("description asked", || {
        last_is(&fake, 502, "Опишите процесс «Согласование договора».")
    })
    .await;
    fake.text(TOKEN, 502, "Иван", "Поставка");
    wait_for("started", || {
        fake.sent(TOKEN, 502)
            .iter()
            .any(|t| t == "Создан и запущен новый процесс")
    })
    .await;
    wait_for("process notification", || {
        fake.sent(TOKEN, 502)
            .iter()
            .any(|t| t == "▶️ Запущен процесс «Согласование договора»: Поставка")
    })
    .await;
    fake.text(TOKEN, 502, "Иван", "Новый процесс");
    wait_for("scenarios", || last_is(&fake, 502, "Выберите процесс")).await;
    fake.text(TOKEN, 502, "Иван", "Командировка");
    wait_for("description asked", || {
        last_is(&fake, 502, "Опишите процесс «Командировка».")
    })
    .await;
    fake.text(TOKEN, 502, "Иван", "Казань");
    wait_for("created", || last_is(&fake, 502, "Создан новый процесс")).await;
}
