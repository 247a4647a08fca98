//! A reference business system for `bots/signal.toml`, in memory: the
//! contract of docs/business-system.md. It notifies a new task's executor
//! through botwright's HTTP API.

use axum::extract::{Path, State};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone)]
pub struct Employee {
    pub id: String,
    /// The surname users type as the executor and as registration data.
    pub surname: String,
    pub name: String,
}

#[derive(Debug, Clone)]
pub struct Task {
    pub id: u32,
    pub description: String,
    pub executor: String,
    pub author: String,
    pub deadline: String,
    pub important: bool,
    pub attachments: u32,
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
        let employee = |id: &str, surname: &str, name: &str| Employee {
            id: id.into(),
            surname: surname.into(),
            name: name.into(),
        };
        let task = |id: u32, description: &str, executor: &str, needs: Option<&str>| Task {
            id,
            description: description.into(),
            executor: executor.into(),
            author: "Бизнес-система".into(),
            deadline: "06.02.2021 18:00".into(),
            important: false,
            attachments: 2,
            needs_data: needs.map(str::to_string),
            done: false,
        };
        BusinessSystem {
            data: Arc::new(Mutex::new(Data {
                employees: vec![
                    employee("e1", "Петрова", "Анна Петрова"),
                    employee("e2", "Иванов", "Иван Иванов"),
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

fn chosen(request: &Value) -> String {
    request["history"][0]["selected"].as_str().unwrap_or("").to_string()
}

async fn handle(
    State(system): State<BusinessSystem>,
    Path((group, action)): Path<(String, String)>,
    Json(request): Json<Value>,
) -> Json<Value> {
    let answer = match (group.as_str(), action.as_str()) {
        ("employees", "find") => {
            let data = system.data.lock().unwrap();
            let input = request["input"].as_str().unwrap_or("").to_lowercase();
            match data
                .employees
                .iter()
                .find(|e| input.contains(&e.surname.to_lowercase()))
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
        ("tasks", "details") => {
            let data = system.data.lock().unwrap();
            match data.tasks.iter().find(|t| t.id.to_string() == chosen(&request)) {
                Some(t) => json!(format!(
                    "<b>№{} {}</b>\nСрок: {}\nВложений: {}",
                    t.id, t.description, t.deadline, t.attachments
                )),
                None => json!("Задача не найдена."),
            }
        }
        ("tasks", "complete") => {
            let mut data = system.data.lock().unwrap();
            match data.tasks.iter_mut().find(|t| t.id.to_string() == chosen(&request)) {
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
            let executor_name = result["executor"].as_str().unwrap_or("").to_string();
            let (task, executor) = {
                let mut data = system.data.lock().unwrap();
                let Some(executor) = data
                    .employees
                    .iter()
                    .find(|e| e.surname.eq_ignore_ascii_case(&executor_name) || e.surname == executor_name)
                    .cloned()
                else {
                    return Json(json!(format!("Исполнитель «{executor_name}» не найден.")));
                };
                let deadline = chrono::DateTime::parse_from_rfc3339(result["deadline"].as_str().unwrap_or(""))
                    .map(|d| d.format("%d.%m.%Y %H:%M").to_string())
                    .unwrap_or_default();
                let id = data.tasks.iter().map(|t| t.id).max().unwrap_or(0) + 1;
                let task = Task {
                    id,
                    description: result["description"].as_str().unwrap_or("").to_string(),
                    executor: executor.id.clone(),
                    author: request["user"]["principal"]["name"].as_str().unwrap_or("").to_string(),
                    deadline,
                    important: result["important"].as_bool().unwrap_or(false),
                    attachments: 0,
                    needs_data: None,
                    done: false,
                };
                data.tasks.push(task.clone());
                (task, executor)
            };
            system
                .notify(json!({
                    "to": {"principal": {"kind": "user", "id": executor.id}},
                    "template": "task_assigned",
                    "data": {"id": task.id, "description": task.description, "deadline": task.deadline, "important": task.important, "author": task.author},
                    "idempotency_key": format!("task-{}", task.id),
                }))
                .await;
            json!(format!("Задача №{} создана и назначена: {}.", task.id, executor.name))
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
