//! Authorization, the operators' side in the chat: a request's approve and
//! reject buttons, the kind and the name (or the `lookup` algorithm's
//! choices) of an approval, a rejection's reason.

use super::decisions::{finish_approval, finish_rejection, requester_of};
use crate::engine::buttons::Callback;
use crate::engine::session::{Found, Pending};
use crate::engine::turn::{Scope, Turn};
use crate::engine::world;
use crate::engine::{AuthRequest, AuthStatus, InlineButton, Keyboard, Principal, World, WorldError};
use crate::expr::Value;
use crate::texts::Text;

impl<'a> Turn<'a> {
    /// Buttons of the registration flow and of operators.
    pub(in crate::engine) fn auth_button(&mut self, callback: Callback) {
        self.reached(crate::engine::insights::Reached::Auth);
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
    pub(super) fn operator_request(&mut self, id: u64) -> Option<AuthRequest> {
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

    pub(super) fn ask_kind(&mut self, request: u64) {
        let Some(req) = world!(self, auth_request(request)) else {
            return;
        };
        let kinds = self.kinds();
        let rows = kinds
            .iter()
            .enumerate()
            .map(|(i, k)| {
                vec![InlineButton {
                    label: crate::engine::turn::shorten_label(k),
                    data: Callback::Kind { request, index: i }.encode(),
                }]
            })
            .collect();
        let requester = requester_of(&req);
        let vars = self.request_vars(&requester, &req.data, &[]);
        let text = self.render_text(Text::AuthChooseKind, &vars);
        self.send_to(self.user.chat, text, Keyboard::Inline(rows));
    }

    pub(super) fn ask_name(&mut self, request: u64, kind: String) {
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
                label: crate::engine::turn::shorten_label(&req.data),
                data: Callback::DefaultName { request }.encode(),
            }]])
        };
        self.send_to(self.user.chat, text, keyboard);
    }

    pub(super) fn approve(&mut self, request: u64, kind: String, name: String) {
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
    pub(super) fn lookup(&mut self, request: u64, kind: String, text: &str) {
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

    pub(super) fn offer_found(&mut self, request: u64, found: Vec<Found>) {
        let rows = found
            .iter()
            .enumerate()
            .map(|(index, f)| {
                vec![InlineButton {
                    label: crate::engine::turn::shorten_label(&f.label),
                    data: Callback::Found { request, index }.encode(),
                }]
            })
            .collect();
        self.session.pending = Some(Pending::OperatorPick { request, found });
        self.say(Text::ChooseOption, &[], Keyboard::Inline(rows));
    }

    pub(super) fn pick(&mut self, request: u64, found: &[Found], index: usize) {
        if let Some(req) = self.operator_request(request) {
            self.approve_as(req, found[index].principal.clone());
        }
    }

    /// Registers the requester as `principal` and tells both sides.
    fn approve_as(&mut self, mut req: AuthRequest, principal: Principal) {
        let now = self.now;
        if !self.decide(|world| finish_approval(world, &mut req, &principal, now)) {
            return;
        }
        let requester = requester_of(&req);
        let vars = self.request_vars(&requester, &req.data, &[]);
        let to_user = self.render_text(Text::AuthSuccess, &vars);
        let keyboard = self.success_keyboard();
        self.send_to(req.key, to_user, keyboard);
        let to_operator = self.render_text(Text::AuthResponsibleDone, &vars);
        self.send_to(self.user.chat, to_operator, Keyboard::None);
    }

    /// Writes a decision, unless the world failed earlier in the step (as `world!` does);
    /// whether it was written.
    fn decide(&mut self, decision: impl FnOnce(&mut dyn World) -> Result<(), WorldError>) -> bool {
        if self.failure.is_some() {
            return false;
        }
        let done = decision(&mut *self.world);
        self.check(done.map(|()| true))
    }

    pub(super) fn reject(&mut self, request: u64, reason: String) {
        let Some(mut req) = self.operator_request(request) else {
            return;
        };
        if !self.decide(|world| finish_rejection(world, &mut req, &reason)) {
            return;
        }
        let requester = requester_of(&req);
        let vars = self.request_vars(&requester, &req.data, &[("reason", Value::text(&reason))]);
        let to_user = self.render_text(Text::AuthRejected, &vars);
        self.send_to(req.key, to_user, Keyboard::None);
        let to_operator = self.render_text(Text::AuthResponsibleRejected, &vars);
        self.send_to(self.user.chat, to_operator, Keyboard::None);
    }
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
