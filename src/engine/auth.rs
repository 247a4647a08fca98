//! Authorization: algorithm → scenario → responsible operators → failure,
//! and the operators' side of it.

use super::buttons::Callback;
use super::session::{Found, Pending};
use super::turn::{Scope, Turn};
use super::world;
use super::{AuthRequest, AuthStatus, InlineButton, Keyboard, Principal, User};
use crate::expr::Value;
use crate::model::normalize;
use crate::texts::Text;

impl<'a> Turn<'a> {
    /// The kinds an operator may register a user as.
    fn kinds(&self) -> &'a [String] {
        self.bot.auth.as_ref().map(|a| a.kinds.as_slice()).unwrap_or_default()
    }

    /// An unregistered user of a bot with required authorization wrote something.
    pub(super) fn auth_gate(&mut self) {
        self.reached(super::insights::Reached::Auth);
        self.session.open = None;
        if world!(self, pending_auth_request(self.user.chat)).is_some() {
            return self.say(Text::AuthPending, &[], Keyboard::None);
        }
        if self.contact_auth() {
            // The button shares the user's phone number: the registration data, with nothing to confirm.
            self.session.pending = Some(Pending::AuthData);
            let keyboard = Keyboard::Contact(self.label(Text::AuthButton));
            return self.say(Text::AuthRequest, &[], keyboard);
        }
        let button = InlineButton {
            label: self.label(Text::AuthButton),
            data: Callback::Register.encode(),
        };
        self.say(Text::AuthRequest, &[], Keyboard::Inline(vec![vec![button]]));
    }

    /// Whether the registration data is the user's shared contact (`[auth] contact`).
    pub(super) fn contact_auth(&self) -> bool {
        self.bot.auth.as_ref().is_some_and(|a| a.contact)
    }

    /// The keyboard that goes with `auth_success`: it removes the contact button.
    pub(super) fn success_keyboard(&self) -> Keyboard {
        if self.contact_auth() {
            Keyboard::RemoveMenu
        } else {
            Keyboard::None
        }
    }

    /// A contact shared while the registration data is awaited: the user's own is the data;
    /// anything else is the wrong kind and the step stays pending.
    pub(super) fn auth_contact(&mut self, attachment: Option<&super::Attachment>) {
        self.reached(super::insights::Reached::Auth);
        match attachment {
            Some(super::Attachment::Contact { phone, user_id, .. })
                if self.contact_auth() && *user_id == Some(self.user.id) =>
            {
                let phone = phone.clone();
                self.auth_chain(&phone);
            }
            _ => {
                self.session.pending = Some(Pending::AuthData);
                let expected = if self.contact_auth() {
                    [crate::model::InputKind::Contact]
                } else {
                    [crate::model::InputKind::Text]
                };
                self.wrong_kind(&expected);
            }
        }
    }

    /// The registration button was pressed (or its label typed).
    pub(super) fn register_pressed(&mut self) {
        self.reached(super::insights::Reached::Auth);
        if self.bot.auth.is_none() || world!(self, registration(self.user.chat)).is_some() {
            return self.say(Text::AuthAlready, &[], Keyboard::None);
        }
        if world!(self, pending_auth_request(self.user.chat)).is_some() {
            return self.say(Text::AuthPending, &[], Keyboard::None);
        }
        self.session.pending = Some(Pending::AuthData);
        self.say(Text::AuthEnterData, &[], Keyboard::None);
    }

    fn ask_auth_confirm(&mut self, data: &str, seq: u32) {
        let scope = Scope {
            input: Some(data.to_string()),
            ..Scope::default()
        };
        let text = self.render_text(Text::AuthConfirm, &self.scope_vars(&scope, &[]));
        let row = vec![
            InlineButton {
                label: self.label(Text::Yes),
                data: Callback::AuthConfirm { seq, yes: true }.encode(),
            },
            InlineButton {
                label: self.label(Text::No),
                data: Callback::AuthConfirm { seq, yes: false }.encode(),
            },
        ];
        self.send_to(self.user.chat, text, Keyboard::Inline(vec![row]));
    }

    /// A pending authorization step of this user (as a user or as an operator) takes the text.
    pub(super) fn auth_pending_step(&mut self, pending: Pending, text: &str, norm: &str) {
        self.reached(super::insights::Reached::Auth);
        match pending {
            Pending::AuthData if self.contact_auth() => self.auth_contact(None),
            Pending::AuthData => {
                let data = text.trim().to_string();
                let confirm = self.bot.auth.as_ref().is_none_or(|a| a.confirm);
                if confirm {
                    self.session.seq = self.session.seq.wrapping_add(1);
                    let seq = self.session.seq;
                    self.session.pending = Some(Pending::AuthConfirm {
                        data: data.clone(),
                        seq,
                    });
                    self.ask_auth_confirm(&data, seq);
                } else {
                    self.auth_chain(&data);
                }
            }
            Pending::AuthConfirm { data, seq } => {
                if norm == normalize(&self.label(Text::Yes)) {
                    self.auth_chain(&data);
                } else if norm == normalize(&self.label(Text::No)) {
                    self.reenter();
                } else {
                    self.session.pending = Some(Pending::AuthConfirm {
                        data: data.clone(),
                        seq,
                    });
                    self.ask_auth_confirm(&data, seq);
                }
            }
            Pending::OperatorKind { request } => {
                let kinds = self.kinds();
                match kinds.iter().find(|k| normalize(k) == norm) {
                    Some(kind) => self.ask_name(request, kind.clone()),
                    None => {
                        self.session.pending = Some(Pending::OperatorKind { request });
                        self.ask_kind(request);
                    }
                }
            }
            Pending::OperatorName { request, kind } => self.approve(request, kind, text.trim().to_string()),
            Pending::OperatorReason { request } => self.reject(request, text.trim().to_string()),
            Pending::OperatorLookup { request, kind } => self.lookup(request, kind, text.trim()),
            Pending::OperatorPick { request, found } => match found.iter().position(|f| normalize(&f.label) == norm) {
                Some(index) => self.pick(request, &found, index),
                None => self.offer_found(request, found),
            },
            Pending::Input { .. } | Pending::Confirm { .. } => unreachable!("handled by the step"),
        }
    }

    fn reenter(&mut self) {
        self.session.pending = Some(Pending::AuthData);
        self.say(Text::AuthReenter, &[], Keyboard::None);
    }

    /// Tries the ways of registering in order until one succeeds.
    fn auth_chain(&mut self, data: &str) {
        let Some(auth) = self.bot.auth.as_ref() else {
            return;
        };
        let scope = Scope {
            input: Some(data.to_string()),
            ..Scope::default()
        };
        if let Some(name) = &auth.algorithm
            && let Ok(value) = self.try_algorithm(name, &scope, &[])
        {
            match principal_of(&value) {
                Some(p) => {
                    world!(self, register(self.user.chat, &p, &self.user.name, self.now));
                    self.refresh_user();
                    let keyboard = self.success_keyboard();
                    return self.say(Text::AuthSuccess, &[("input", Value::text(data))], keyboard);
                }
                None => {
                    tracing::info!(bot = %self.bot.id, algorithm = %name, "authorization algorithm gave no principal")
                }
            }
        }
        if let Some(name) = &auth.scenario
            && self.try_algorithm(name, &scope, &[]).is_ok()
        {
            self.new_request(data);
            return self.say(
                Text::AuthScenarioStarted,
                &[("input", Value::text(data))],
                Keyboard::None,
            );
        }
        if !auth.responsible.is_empty() {
            let id = self.new_request(data);
            let requester = self.user.clone();
            let vars = self.request_vars(&requester, data, &[]);
            let text = self.render_text(Text::AuthRequestToResponsible, &vars);
            let row = vec![
                InlineButton {
                    label: self.label(Text::AuthApproveButton),
                    data: Callback::Approve { request: id }.encode(),
                },
                InlineButton {
                    label: self.label(Text::AuthRejectButton),
                    data: Callback::Reject { request: id }.encode(),
                },
            ];
            for &operator in &auth.responsible {
                self.send_to(operator, text.clone(), Keyboard::Inline(vec![row.clone()]));
            }
            return self.say(
                Text::AuthSentToResponsible,
                &[("input", Value::text(data))],
                Keyboard::None,
            );
        }
        self.say(Text::AuthFailed, &[("input", Value::text(data))], Keyboard::None);
    }

    fn new_request(&mut self, data: &str) -> u64 {
        world!(
            self,
            create_auth_request(AuthRequest {
                id: 0,
                key: self.user.chat,
                user_id: self.user.id,
                name: self.user.name.clone(),
                username: self.user.username.clone(),
                data: data.to_string(),
                status: AuthStatus::Pending,
                created_at: self.now,
                reason: None,
            })
        )
    }

    /// Variables of a text about a request: `user` is the requester, `input` their data.
    fn request_vars(
        &mut self,
        requester: &User,
        data: &str,
        extra: &[(&str, Value)],
    ) -> indexmap::IndexMap<String, Value> {
        let user = self.user_value(requester);
        let scope = Scope {
            input: Some(data.to_string()),
            ..Scope::default()
        };
        let mut vars = self.scope_vars(&scope, extra);
        vars.insert("user".into(), user);
        vars
    }

    /// Buttons of the registration flow and of operators.
    pub(super) fn auth_button(&mut self, callback: Callback) {
        self.reached(super::insights::Reached::Auth);
        match callback {
            Callback::Register => self.register_pressed(),
            Callback::AuthConfirm { seq, yes } => match self.session.pending.take() {
                Some(Pending::AuthConfirm { data, seq: s }) if s == seq => {
                    if yes {
                        self.auth_chain(&data);
                    } else {
                        self.reenter();
                    }
                }
                other => {
                    self.session.pending = other;
                    if world!(self, registration(self.user.chat)).is_some() {
                        self.say(Text::AuthAlready, &[], Keyboard::None);
                    } else {
                        self.say(Text::ChoiceStale, &[], Keyboard::None);
                    }
                }
            },
            Callback::Approve { request } => {
                if let Some(_req) = self.operator_request(request) {
                    let kinds = self.kinds();
                    if kinds.len() == 1 {
                        self.ask_name(request, kinds[0].clone());
                    } else {
                        self.session.pending = Some(Pending::OperatorKind { request });
                        self.ask_kind(request);
                    }
                }
            }
            Callback::Reject { request } => {
                if let Some(req) = self.operator_request(request) {
                    self.session.pending = Some(Pending::OperatorReason { request });
                    let requester = requester_of(&req);
                    let vars = self.request_vars(&requester, &req.data, &[]);
                    let text = self.render_text(Text::AuthRejectReason, &vars);
                    self.send_to(self.user.chat, text, Keyboard::None);
                }
            }
            Callback::Kind { request, index } => {
                if self.operator_request(request).is_some() {
                    let kinds = self.kinds();
                    match kinds.get(index) {
                        Some(kind) => self.ask_name(request, kind.clone()),
                        None => self.say(Text::ChoiceStale, &[], Keyboard::None),
                    }
                }
            }
            Callback::DefaultName { request } => {
                if let Some(req) = self.operator_request(request) {
                    match self.session.pending.take() {
                        Some(Pending::OperatorName { request: r, kind }) if r == request => {
                            self.approve(request, kind, req.data.clone())
                        }
                        other => {
                            self.session.pending = other;
                            self.say(Text::ChoiceStale, &[], Keyboard::None);
                        }
                    }
                }
            }
            Callback::Found { request, index } => match self.session.pending.take() {
                Some(Pending::OperatorPick { request: r, found }) if r == request && index < found.len() => {
                    self.pick(request, &found, index)
                }
                other => {
                    self.session.pending = other;
                    self.say(Text::ChoiceStale, &[], Keyboard::None);
                }
            },
            Callback::Option { .. } | Callback::Dynamic { .. } | Callback::Confirm { .. } | Callback::Action { .. } => {
                unreachable!("handled by the step")
            }
        }
    }

    /// The request an operator acts on, if this user may and it is still undecided.
    /// Otherwise tells them why and gives `None`.
    fn operator_request(&mut self, id: u64) -> Option<AuthRequest> {
        let responsible = self
            .bot
            .auth
            .as_ref()
            .is_some_and(|a| a.responsible.contains(&self.user.id));
        if !responsible {
            self.say(Text::NotAuthorized, &[], Keyboard::None);
            return None;
        }
        match world!(self, auth_request(id)) {
            Some(r) if r.status == AuthStatus::Pending => Some(r),
            Some(_) => {
                self.session.pending = None;
                self.say(Text::AuthAlreadyDecided, &[], Keyboard::None);
                None
            }
            None => {
                self.say(Text::ChoiceStale, &[], Keyboard::None);
                None
            }
        }
    }

    fn ask_kind(&mut self, request: u64) {
        let Some(req) = world!(self, auth_request(request)) else {
            return;
        };
        let kinds = self.kinds();
        let rows = kinds
            .iter()
            .enumerate()
            .map(|(i, k)| {
                vec![InlineButton {
                    label: super::turn::shorten_label(k),
                    data: Callback::Kind { request, index: i }.encode(),
                }]
            })
            .collect();
        let requester = requester_of(&req);
        let vars = self.request_vars(&requester, &req.data, &[]);
        let text = self.render_text(Text::AuthChooseKind, &vars);
        self.send_to(self.user.chat, text, Keyboard::Inline(rows));
    }

    fn ask_name(&mut self, request: u64, kind: String) {
        let Some(req) = world!(self, auth_request(request)) else {
            return;
        };
        // With `lookup`, a search text for an existing principal replaces the name.
        if self.bot.auth.as_ref().is_some_and(|a| a.lookup.is_some()) {
            let requester = requester_of(&req);
            let vars = self.request_vars(&requester, &req.data, &[("selected", Value::text(&kind))]);
            self.session.pending = Some(Pending::OperatorLookup { request, kind });
            let text = self.render_text(Text::AuthLookupPrompt, &vars);
            return self.send_to(self.user.chat, text, Keyboard::None);
        }
        self.session.pending = Some(Pending::OperatorName { request, kind });
        let requester = requester_of(&req);
        let vars = self.request_vars(&requester, &req.data, &[]);
        let text = self.render_text(Text::AuthEnterName, &vars);
        let keyboard = if req.data.is_empty() {
            Keyboard::None
        } else {
            Keyboard::Inline(vec![vec![InlineButton {
                label: super::turn::shorten_label(&req.data),
                data: Callback::DefaultName { request }.encode(),
            }]])
        };
        self.send_to(self.user.chat, text, keyboard);
    }

    fn approve(&mut self, request: u64, kind: String, name: String) {
        let Some(req) = self.operator_request(request) else {
            return;
        };
        let name = if name.is_empty() { req.data.clone() } else { name };
        let principal = Principal {
            kind,
            id: req.key.to_string(),
            name,
        };
        self.approve_as(req, principal);
    }

    /// An operator's search text: the lookup algorithm's finds are offered as buttons.
    fn lookup(&mut self, request: u64, kind: String, text: &str) {
        let Some(req) = self.operator_request(request) else {
            return;
        };
        let Some(name) = self.bot.auth.as_ref().and_then(|a| a.lookup.clone()) else {
            return self.ask_name(request, kind);
        };
        let requester = requester_of(&req);
        let user = self.user_value(&requester);
        let scope = Scope {
            input: Some(text.to_string()),
            selected: Some(kind.clone()),
            ..Scope::default()
        };
        let found = match self.try_algorithm(&name, &scope, &[("user", user)]) {
            Ok(value) => found_principals(&value, &kind),
            Err(_) => {
                self.session.pending = Some(Pending::OperatorLookup { request, kind });
                return self.say(Text::AlgorithmFailed, &[], Keyboard::None);
            }
        };
        if found.is_empty() {
            self.session.pending = Some(Pending::OperatorLookup { request, kind });
            return self.say(Text::AuthLookupEmpty, &[("input", Value::text(text))], Keyboard::None);
        }
        self.offer_found(request, found);
    }

    fn offer_found(&mut self, request: u64, found: Vec<Found>) {
        let rows = found
            .iter()
            .enumerate()
            .map(|(index, f)| {
                vec![InlineButton {
                    label: super::turn::shorten_label(&f.label),
                    data: Callback::Found { request, index }.encode(),
                }]
            })
            .collect();
        self.session.pending = Some(Pending::OperatorPick { request, found });
        self.say(Text::ChooseOption, &[], Keyboard::Inline(rows));
    }

    fn pick(&mut self, request: u64, found: &[Found], index: usize) {
        if let Some(req) = self.operator_request(request) {
            self.approve_as(req, found[index].principal.clone());
        }
    }

    /// Registers the requester as `principal` and tells both sides.
    fn approve_as(&mut self, mut req: AuthRequest, principal: Principal) {
        let done = finish_approval(self.world, &mut req, &principal, self.now);
        self.check(done);
        let requester = requester_of(&req);
        let vars = self.request_vars(&requester, &req.data, &[]);
        let to_user = self.render_text(Text::AuthSuccess, &vars);
        let keyboard = self.success_keyboard();
        self.send_to(req.key, to_user, keyboard);
        let to_operator = self.render_text(Text::AuthResponsibleDone, &vars);
        self.send_to(self.user.chat, to_operator, Keyboard::None);
    }

    fn reject(&mut self, request: u64, reason: String) {
        let Some(mut req) = self.operator_request(request) else {
            return;
        };
        req.status = AuthStatus::Rejected;
        req.reason = Some(reason.clone());
        world!(self, update_auth_request(&req));
        let requester = requester_of(&req);
        let vars = self.request_vars(&requester, &req.data, &[("reason", Value::text(&reason))]);
        let to_user = self.render_text(Text::AuthRejected, &vars);
        self.send_to(req.key, to_user, Keyboard::None);
        let to_operator = self.render_text(Text::AuthResponsibleRejected, &vars);
        self.send_to(self.user.chat, to_operator, Keyboard::None);
    }
}

/// Registers the requester and marks the request approved (also used by the HTTP API).
pub fn finish_approval(
    world: &mut dyn super::World,
    req: &mut AuthRequest,
    principal: &Principal,
    now: chrono::DateTime<chrono::FixedOffset>,
) -> Result<(), super::WorldError> {
    world.register(req.key, principal, &req.name, now)?;
    req.status = AuthStatus::Approved;
    world.update_auth_request(req)
}

/// What the lookup algorithm found: a list of `{label, value}` (registered as `{kind, id:
/// value, name: label}`) or of principals `{kind, id, name}` (registered as they are).
fn found_principals(value: &Value, kind: &str) -> Vec<Found> {
    let Value::List(items) = value else {
        return Vec::new();
    };
    let text = |v: &Value, k: &str| match v.member(k) {
        Value::Null => None,
        other => Some(other.to_text()),
    };
    items
        .iter()
        .filter_map(|item| match (text(item, "id"), text(item, "value")) {
            (Some(id), _) => {
                let name = text(item, "name").unwrap_or_else(|| id.clone());
                Some(Found {
                    label: text(item, "label").unwrap_or_else(|| name.clone()),
                    principal: Principal {
                        kind: text(item, "kind").unwrap_or_else(|| kind.to_string()),
                        id,
                        name,
                    },
                })
            }
            (None, Some(value)) => {
                let label = text(item, "label").unwrap_or_else(|| value.clone());
                Some(Found {
                    label: label.clone(),
                    principal: Principal {
                        kind: kind.to_string(),
                        id: value,
                        name: label,
                    },
                })
            }
            (None, None) => None,
        })
        .collect()
}

/// A `principal` in an algorithm's result, if it has a usable one.
fn principal_of(value: &Value) -> Option<Principal> {
    let p = value.member("principal");
    let field = |k: &str| match p.member(k) {
        Value::Null => None,
        v => Some(v.to_text()),
    };
    Some(Principal {
        kind: field("kind")?,
        id: field("id")?,
        name: field("name").unwrap_or_default(),
    })
}

/// Why a request cannot be decided.
#[derive(Debug, Clone, PartialEq)]
pub enum DecisionError {
    NotFound,
    AlreadyDecided,
    World(super::WorldError),
}

impl From<super::WorldError> for DecisionError {
    fn from(e: super::WorldError) -> DecisionError {
        DecisionError::World(e)
    }
}

fn requester_of(req: &AuthRequest) -> User {
    User {
        id: req.user_id,
        chat: req.key,
        name: req.name.clone(),
        username: req.username.clone(),
    }
}

/// Approves a pending request from outside the chat (the HTTP API), exactly as an operator would:
/// the user is registered and gets `auth_success`.
pub fn approve_request(
    bot: &crate::model::CompiledBot,
    world: &mut dyn super::World,
    id: u64,
    principal: &Principal,
    now: chrono::DateTime<chrono::FixedOffset>,
) -> Result<Vec<super::Outgoing>, DecisionError> {
    let mut req = world.auth_request(id)?.ok_or(DecisionError::NotFound)?;
    if req.status != AuthStatus::Pending {
        return Err(DecisionError::AlreadyDecided);
    }
    finish_approval(world, &mut req, principal, now)?;
    let data = [("input", Value::text(&req.data))];
    let mut message =
        super::turn::message_for(bot, world, &requester_of(&req), bot.text(Text::AuthSuccess), &data, now)?;
    if bot.auth.as_ref().is_some_and(|a| a.contact) {
        // `auth_success` removes the contact button.
        message.keyboard = Keyboard::RemoveMenu;
    }
    Ok(vec![message])
}

/// Rejects a pending request from outside the chat: the user gets `auth_rejected` with the reason.
pub fn reject_request(
    bot: &crate::model::CompiledBot,
    world: &mut dyn super::World,
    id: u64,
    reason: &str,
    now: chrono::DateTime<chrono::FixedOffset>,
) -> Result<Vec<super::Outgoing>, DecisionError> {
    let mut req = world.auth_request(id)?.ok_or(DecisionError::NotFound)?;
    if req.status != AuthStatus::Pending {
        return Err(DecisionError::AlreadyDecided);
    }
    req.status = AuthStatus::Rejected;
    req.reason = Some(reason.to_string());
    world.update_auth_request(&req)?;
    let vars = [("input", Value::text(&req.data)), ("reason", Value::text(reason))];
    Ok(vec![super::turn::message_for(
        bot,
        world,
        &requester_of(&req),
        bot.text(Text::AuthRejected),
        &vars,
        now,
    )?])
}
