//! Callback data of inline buttons: short (always within Telegram's 64
//! bytes), versioned by the definition hash, and never trusted: every field
//! is checked against the bot and the session before it is acted on.

/// What a button press asks for, once decoded.
#[derive(Debug, Clone, PartialEq)]
pub enum Callback {
    /// A static option, by record index, of the message shown with `seq`.
    Option {
        hash: String,
        seq: u32,
        record: usize,
    },
    /// Item `index` of the dynamic list offered with `seq`.
    Dynamic {
        hash: String,
        seq: u32,
        index: usize,
    },
    /// Yes or no to the confirmation offered with `seq`.
    Confirm {
        hash: String,
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
            Callback::Option { hash, seq, record } => format!("{hash}:o:{seq}:{record}"),
            Callback::Dynamic { hash, seq, index } => format!("{hash}:d:{seq}:{index}"),
            Callback::Confirm { hash, seq, yes } => {
                format!("{hash}:{}:{seq}", if *yes { "y" } else { "n" })
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
        let hash_ok = |h: &str| h.len() == 8 && h.bytes().all(|b| b.is_ascii_hexdigit());
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
            [h, "o", seq, r] if hash_ok(h) => Callback::Option {
                hash: h.to_string(),
                seq: u32::try_from(num(seq)?).ok()?,
                record: usize::try_from(num(r)?).ok()?,
            },
            [h, "d", seq, i] if hash_ok(h) => Callback::Dynamic {
                hash: h.to_string(),
                seq: u32::try_from(num(seq)?).ok()?,
                index: usize::try_from(num(i)?).ok()?,
            },
            [h, yn @ ("y" | "n"), seq] if hash_ok(h) => Callback::Confirm {
                hash: h.to_string(),
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
                hash: "0123abcd".into(),
                seq: u32::MAX,
                record: usize::MAX,
            },
            Callback::Dynamic {
                hash: "0123abcd".into(),
                seq: u32::MAX,
                index: usize::MAX,
            },
            Callback::Confirm {
                hash: "0123abcd".into(),
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
