//! Callback data of inline buttons: short (always within Telegram's 64
//! bytes), stamped with the fingerprint of the record whose buttons they are,
//! and never trusted: every field is checked against the bot and the session
//! before it is acted on.
//!
//! The buttons of a choice are `FP:o:SEQ:N` (option N of the choice's options,
//! counted in file order from 0), `FP:d:SEQ:N` (item N of the list an algorithm
//! offered) and `FP:y:SEQ` / `FP:n:SEQ` (its confirmation), where FP is the first
//! [`STAMP`] hex digits of the choice record's fingerprint and SEQ numbers the
//! message in the user's session. None names a record by its position in the
//! file: a reload that adds or moves other records moves no button.

/// How many hex digits of the fingerprint of its record a button carries.
pub const STAMP: usize = 8;

/// What a button press asks for, once decoded.
#[derive(Debug, Clone, PartialEq)]
pub enum Callback {
    /// Static option `option` (its position among the choice's options) of the message
    /// shown with `seq`.
    Option {
        fingerprint: String,
        seq: u32,
        option: usize,
    },
    /// Item `index` of the dynamic list offered with `seq`.
    Dynamic {
        fingerprint: String,
        seq: u32,
        index: usize,
    },
    /// Yes or no to the confirmation offered with `seq`.
    Confirm {
        fingerprint: String,
        seq: u32,
        yes: bool,
    },
    /// Yes or no to the registration data offered with `seq`.
    AuthConfirm {
        seq: u32,
        yes: bool,
    },
    /// The registration button.
    Register,
    Approve {
        request: u64,
    },
    Reject {
        request: u64,
    },
    /// The `index`th principal kind for a request.
    Kind {
        request: u64,
        index: usize,
    },
    /// The entered data accepted as the name.
    DefaultName {
        request: u64,
    },
    /// The `index`th principal the lookup found for a request.
    Found {
        request: u64,
        index: usize,
    },
    /// A notification's action button: its record and value are kept by the runtime under `id`.
    Action {
        id: u64,
    },
}

impl Callback {
    pub fn encode(&self) -> String {
        let s = match self {
            Callback::Option {
                fingerprint,
                seq,
                option,
            } => format!("{fingerprint}:o:{seq}:{option}"),
            Callback::Dynamic {
                fingerprint,
                seq,
                index,
            } => format!("{fingerprint}:d:{seq}:{index}"),
            Callback::Confirm { fingerprint, seq, yes } => {
                format!("{fingerprint}:{}:{seq}", if *yes { "y" } else { "n" })
            }
            Callback::AuthConfirm { seq, yes } => {
                format!("a:{}:{seq}", if *yes { "y" } else { "n" })
            }
            Callback::Register => "a:r".to_string(),
            Callback::Approve { request } => format!("a:ap:{request}"),
            Callback::Reject { request } => format!("a:rj:{request}"),
            Callback::Kind { request, index } => format!("a:k:{request}:{index}"),
            Callback::DefaultName { request } => format!("a:nm:{request}"),
            Callback::Found { request, index } => format!("a:lk:{request}:{index}"),
            Callback::Action { id } => format!("x:{id}"),
        };
        debug_assert!(
            s.len() <= crate::limits::MAX_CALLBACK,
            "callback data over 64 bytes: {s}"
        );
        s
    }

    /// Decodes callback data; anything malformed is `None` (a forged or foreign button).
    pub fn decode(data: &str) -> Option<Callback> {
        if data.len() > crate::limits::MAX_CALLBACK {
            return None;
        }
        let parts: Vec<&str> = data.split(':').collect();
        let num = |s: &str| -> Option<u64> {
            (!s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit()))
                .then(|| s.parse().ok())
                .flatten()
        };
        let stamp_ok = |h: &str| h.len() == STAMP && h.bytes().all(|b| b.is_ascii_hexdigit());
        Some(match parts.as_slice() {
            ["a", "r"] => Callback::Register,
            ["x", id] => Callback::Action { id: num(id)? },
            ["a", yn @ ("y" | "n"), seq] => Callback::AuthConfirm {
                seq: u32::try_from(num(seq)?).ok()?,
                yes: *yn == "y",
            },
            ["a", "ap", id] => Callback::Approve { request: num(id)? },
            ["a", "rj", id] => Callback::Reject { request: num(id)? },
            ["a", "k", id, i] => Callback::Kind {
                request: num(id)?,
                index: usize::try_from(num(i)?).ok()?,
            },
            ["a", "nm", id] => Callback::DefaultName { request: num(id)? },
            ["a", "lk", id, i] => Callback::Found {
                request: num(id)?,
                index: usize::try_from(num(i)?).ok()?,
            },
            [h, "o", seq, o] if stamp_ok(h) => Callback::Option {
                fingerprint: h.to_string(),
                seq: u32::try_from(num(seq)?).ok()?,
                option: usize::try_from(num(o)?).ok()?,
            },
            [h, "d", seq, i] if stamp_ok(h) => Callback::Dynamic {
                fingerprint: h.to_string(),
                seq: u32::try_from(num(seq)?).ok()?,
                index: usize::try_from(num(i)?).ok()?,
            },
            [h, yn @ ("y" | "n"), seq] if stamp_ok(h) => Callback::Confirm {
                fingerprint: h.to_string(),
                seq: u32::try_from(num(seq)?).ok()?,
                yes: *yn == "y",
            },
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Callback;

    #[test]
    fn round_trips_and_fits() {
        let all = [
            Callback::Option {
                fingerprint: "0123abcd".into(),
                seq: u32::MAX,
                option: usize::MAX,
            },
            Callback::Dynamic {
                fingerprint: "0123abcd".into(),
                seq: u32::MAX,
                index: usize::MAX,
            },
            Callback::Confirm {
                fingerprint: "0123abcd".into(),
                seq: 7,
                yes: false,
            },
            Callback::AuthConfirm { seq: 3, yes: true },
            Callback::Register,
            Callback::Approve { request: u64::MAX },
            Callback::Reject { request: 1 },
            Callback::Kind {
                request: u64::MAX,
                index: usize::MAX,
            },
            Callback::DefaultName { request: 9 },
            Callback::Action { id: u64::MAX },
            Callback::Found {
                request: u64::MAX,
                index: usize::MAX,
            },
        ];
        for c in all {
            let data = c.encode();
            assert!(data.len() <= 64, "{data}");
            assert_eq!(Callback::decode(&data), Some(c));
        }
    }

    #[test]
    fn rejects_forgeries() {
        for bad in [
            "",
            "x",
            "zzzzzzzz:o:1",
            "0123abcd:o:-1",
            "0123abcd:o:1",
            "0123abcd:o:1:-1",
            "0123abcd:o:",
            "a:ap:1:2",
            "x:",
            "x:1:2",
            "x:-1",
            "0123abcd:q:1",
            &"9".repeat(65),
        ] {
            assert_eq!(Callback::decode(bad), None, "{bad}");
        }
    }
}
