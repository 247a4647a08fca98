//! Authorization, the user's side: the gate of a closed bot, the shared
//! contact, the registration data, and the chain algorithm → scenario →
//! responsible operators → failure. `operators.rs` is the operators' side in
//! the chat, `decisions.rs` what both sides and the HTTP API decide alike.

mod decisions;
mod operators;

pub use decisions::{DecisionError, approve_request, finish_approval, reject_request};

use super::buttons::Callback;
use super::session::Pending;
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
