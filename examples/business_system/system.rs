//! A reference business system for `bots/signal.toml`, in memory: the
//! contract of docs/src/guides/business-system.md. It notifies a new task's executor
//! through botwright's HTTP API.

use axum::extract::{Path, State};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone)]
pub struct Employee {
    pub id: String,
    /// The surname users type as the executor.
    pub surname: String,
    pub name: String,
    /// The phone number an employee registers with (Telegram's contact button).
    pub phone: String,
}

#[derive(Debug, Clone)]
pub struct Task {
    pub id: u32,
    pub description: String,
    pub executor: String,
    pub author: String,
    pub deadline: String,
    pub important: bool,
    /// The task's files: name and content.
    pub files: Vec<(String, Vec<u8>)>,
    /// A task that cannot be completed from the chat: the system needs more data.
    pub needs_data: Option<String>,
    pub done: bool,
}

pub struct Data {
    pub employees: Vec<Employee>,
    pub tasks: Vec<Task>,
    pub processes: Vec<(String, String, bool)>,
    pub started: Vec<(String, String)>,
}

#[derive(Clone)]
pub struct BusinessSystem {
    pub data: Arc<Mutex<Data>>,
    /// Where botwright's HTTP API is, and its token.
    pub botwright: String,
    pub token: String,
}

impl BusinessSystem {
    pub fn with_demo_data(botwright: String, token: String) -> BusinessSystem {
        let employee = |id: &str, surname: &str, name: &str, phone: &str| Employee {
            id: id.into(),
            surname: surname.into(),
            name: name.into(),
            phone: phone.into(),
        };
        let task = |id: u32, description: &str, executor: &str, needs: Option<&str>| Task {
            id,
            description: description.into(),
            executor: executor.into(),
            author: "Бизнес-система".into(),
            deadline: "06.02.2021 18:00".into(),
            important: false,
            files: vec![
                ("Техническое задание.pdf".into(), b"%PDF-1.4 demo".to_vec()),
                ("Схема.png".into(), b"\x89PNG demo".to_vec()),
            ],
            needs_data: needs.map(str::to_string),
            done: false,
        };
        BusinessSystem {
            data: Arc::new(Mutex::new(Data {
                employees: vec![
                    employee("e1", "Петрова", "Анна Петрова", "+7 900 000-05-01"),
                    employee("e2", "Иванов", "Иван Иванов", "+7 900 000-05-02"),
                ],
                tasks: vec![
                    task(17, "Отчёт за квартал", "e1", None),
                    task(18, "Договор с ООО Ромашка", "e1", Some("Нужно заполнить поле «Сумма»")),
                ],
                processes: vec![
                    ("contract".into(), "Согласование договора".into(), true),
                    ("trip".into(), "Командировка".into(), false),
                ],
                started: Vec::new(),
            })),
            botwright,
            token,
        }
    }

    pub fn router(self) -> Router {
        Router::new().route("/{group}/{action}", post(handle)).with_state(self)
    }

    /// Sends a notification through botwright's API (blocking HTTP on a blocking thread).
    async fn notify(&self, body: Value) {
        let url = format!("{}/api/v1/bots/signal/messages", self.botwright);
        let token = self.token.clone();
        let result = tokio::task::spawn_blocking(move || {
            ureq::post(&url)
                .header("authorization", &format!("Bearer {token}"))
                .send_json(&body)
                .map(|r| r.status().as_u16())
        })
        .await;
        if !matches!(result, Ok(Ok(202))) {
            eprintln!("business system: notification failed: {result:?}");
        }
    }
}

fn principal_id(request: &Value) -> String {
    request["user"]["principal"]["id"].as_str().unwrap_or("").to_string()
}

/// The task a request is about: the first choice of the path (the task list, or an
/// action button's value).
fn chosen(request: &Value) -> String {
    request["history"][0]["selected"].as_str().unwrap_or("").to_string()
}

/// Task texts go into HTML messages: escaped, whatever their authors typed.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// The digits of a phone number, without a leading 8 or 7 country prefix difference.
fn phone_digits(phone: &str) -> String {
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    match digits.strip_prefix('8') {
        Some(rest) if digits.len() == 11 => format!("7{rest}"),
        _ => digits,
    }
}

/// The requesting user's own task, if `id` is one: a user reads and completes only their own.
fn own_task<'a>(data: &'a mut Data, request: &Value, id: &str) -> Option<&'a mut Task> {
    let me = principal_id(request);
    data.tasks
        .iter_mut()
        .find(|t| t.id.to_string() == id && t.executor == me && !me.is_empty())
}

async fn handle(
    State(system): State<BusinessSystem>,
    Path((group, action)): Path<(String, String)>,
    Json(request): Json<Value>,
) -> Json<Value> {
    let answer = match (group.as_str(), action.as_str()) {
        ("employees", "find") => {
            // The registration data is the user's own phone number; a surname alone never
            // registers anyone.
            let data = system.data.lock().unwrap();
            let phone = phone_digits(request["input"].as_str().unwrap_or(""));
            match data
                .employees
                .iter()
                .find(|e| !phone.is_empty() && phone_digits(&e.phone) == phone)
            {
                Some(e) => json!({"principal": {"kind": "user", "id": e.id, "name": e.name}}),
                None => json!({"text": "not an employee"}),
            }
        }
        ("employees", "lookup") => {
            // An operator's search text: every employee whose surname or name contains it.
            let data = system.data.lock().unwrap();
            let text = request["input"].as_str().unwrap_or("").trim().to_lowercase();
            let found: Vec<Value> = data
                .employees
                .iter()
                .filter(|e| {
                    !text.is_empty()
                        && (e.surname.to_lowercase().contains(&text) || e.name.to_lowercase().contains(&text))
                })
                .map(|e| json!({"kind": "user", "id": e.id, "name": e.name}))
                .collect();
            Value::Array(found)
        }
        ("tasks", "list") => {
            let data = system.data.lock().unwrap();
            let me = principal_id(&request);
            let mine: Vec<Value> = data
                .tasks
                .iter()
                .filter(|t| t.executor == me && !t.done)
                .map(|t| json!({"label": format!("№{} {}", t.id, t.description), "value": t.id.to_string()}))
                .collect();
            if mine.is_empty() {
                json!("У вас нет открытых задач.")
            } else {
                json!({"text": format!("Ваши задачи ({}):", mine.len()), "choices": mine})
            }
        }
        ("tasks", "menu") => {
            let mut data = system.data.lock().unwrap();
            match own_task(&mut data, &request, &chosen(&request)) {
                Some(t) => {
                    let mut choices = vec![
                        json!({"label": "Подробнее…", "value": "details"}),
                        json!({"label": "Выполнена", "value": "done"}),
                    ];
                    if !t.files.is_empty() {
                        choices.push(json!({"label": format!("Вложения ({})", t.files.len()), "value": "files"}));
                    }
                    json!({"text": format!("Задача №{}. Что сделать?", t.id), "choices": choices})
                }
                None => json!("Задача не найдена."),
            }
        }
        ("tasks", "details") => {
            let mut data = system.data.lock().unwrap();
            match own_task(&mut data, &request, &chosen(&request)) {
                Some(t) => json!(format!(
                    "<b>№{} {}</b>\nСрок: {}\nВложений: {}",
                    t.id,
                    escape(&t.description),
                    t.deadline,
                    t.files.len()
                )),
                None => json!("Задача не найдена."),
            }
        }
        ("tasks", "files") => {
            use base64::Engine;
            let mut data = system.data.lock().unwrap();
            match own_task(&mut data, &request, &chosen(&request)) {
                Some(t) if t.files.is_empty() => json!(format!("У задачи №{} нет вложений.", t.id)),
                Some(t) => json!({
                    "text": format!("Вложения задачи №{} ({}):", t.id, t.files.len()),
                    "attachments": t.files.iter().map(|(name, content)| json!({
                        "name": name,
                        "content_base64": base64::engine::general_purpose::STANDARD.encode(content),
                    })).collect::<Vec<_>>(),
                }),
                None => json!("Задача не найдена."),
            }
        }
        ("tasks", "complete") => {
            let mut data = system.data.lock().unwrap();
            match own_task(&mut data, &request, &chosen(&request)) {
                Some(t) if t.needs_data.is_some() => json!(format!(
                    "{} — завершите задачу в бизнес-системе.",
                    t.needs_data.clone().unwrap_or_default()
                )),
                Some(t) => {
                    t.done = true;
                    json!(format!("Задача №{} выполнена.", t.id))
                }
                None => json!("Задача не найдена."),
            }
        }
        ("tasks", "create") => {
            let result = &request["result"];
            // No executor: the author's own task.
            let executor_name = result["executor"].as_str().map(str::to_string);
            let author_id = request["user"]["principal"]["id"].as_str().unwrap_or("").to_string();
            let (task, executor) = {
                let mut data = system.data.lock().unwrap();
                let found = data
                    .employees
                    .iter()
                    .find(|e| match &executor_name {
                        Some(name) => e.surname.eq_ignore_ascii_case(name) || &e.surname == name,
                        None => e.id == author_id && !author_id.is_empty(),
                    })
                    .cloned();
                let Some(executor) = found else {
                    return Json(json!(format!(
                        "Исполнитель «{}» не найден.",
                        escape(executor_name.as_deref().unwrap_or(""))
                    )));
                };
                let deadline = chrono::DateTime::parse_from_rfc3339(result["deadline"].as_str().unwrap_or(""))
                    .map(|d| d.format("%d.%m.%Y %H:%M").to_string())
                    .unwrap_or_default();
                let id = data.tasks.iter().map(|t| t.id).max().unwrap_or(0) + 1;
                // The document the author attached (an `accept` answer): kept by its name; the
                // file itself stays in Telegram under its `file_id`.
                let document = &request["vars"]["document"];
                let files = match document["type"].as_str() {
                    Some("document") => vec![(
                        document["name"].as_str().unwrap_or("document").to_string(),
                        format!("Telegram file {}", document["file_id"].as_str().unwrap_or("")).into_bytes(),
                    )],
                    _ => Vec::new(),
                };
                let task = Task {
                    id,
                    description: result["description"].as_str().unwrap_or("").to_string(),
                    executor: executor.id.clone(),
                    author: request["user"]["principal"]["name"].as_str().unwrap_or("").to_string(),
                    deadline,
                    important: result["important"].as_bool().unwrap_or(false),
                    files,
                    needs_data: None,
                    done: false,
                };
                data.tasks.push(task.clone());
                (task, executor)
            };
            if executor.id == author_id {
                return Json(json!(format!("Задача №{} создана для вас.", task.id)));
            }
            system
                .notify(json!({
                    "to": {"principal": {"kind": "user", "id": executor.id}},
                    "template": "task_assigned",
                    "data": {"id": task.id, "description": task.description, "deadline": task.deadline, "important": task.important, "author": task.author},
                    "idempotency_key": format!("task-{}", task.id),
                }))
                .await;
            let files = if task.files.is_empty() {
                String::new()
            } else {
                format!(" Вложений: {}.", task.files.len())
            };
            json!(format!(
                "Задача №{} создана и назначена: {}.{files}",
                task.id,
                escape(&executor.name)
            ))
        }
        ("processes", "list") => {
            let data = system.data.lock().unwrap();
            Value::Array(
                data.processes
                    .iter()
                    .map(|(id, label, _)| json!({"label": label, "value": id}))
                    .collect(),
            )
        }
        ("processes", "start") => {
            let (automatic, scenario) = {
                let mut data = system.data.lock().unwrap();
                let Some((_, label, automatic)) = data
                    .processes
                    .iter()
                    .find(|(id, _, _)| *id == chosen(&request))
                    .cloned()
                else {
                    return Json(json!("Процесс не найден."));
                };
                let description = request["vars"]["description"].as_str().unwrap_or("").to_string();
                data.started.push((label.clone(), description));
                (automatic, label)
            };
            if automatic {
                let description = request["vars"]["description"].clone();
                system
                    .notify(json!({"to": {"key": request["user"]["key"]}, "template": "process_started", "data": {"scenario": scenario, "description": description}}))
                    .await;
                json!("Создан и запущен новый процесс")
            } else {
                json!("Создан новый процесс")
            }
        }
        _ => return Json(json!({"unknown": format!("{group}/{action}")})),
    };
    Json(answer)
}
