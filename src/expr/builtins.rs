//! The built-in functions: their names (English and Russian) and arity.
//! Their behaviour lives in `eval.rs`.

macro_rules! builtins {
    ($($variant:ident = $en:literal, $ru:literal, $min:literal..=$max:literal, $about:literal;)*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Builtin { $($variant,)* }

        impl Builtin {
            pub const ALL: &'static [Builtin] = &[$(Builtin::$variant,)*];

            /// The function a name calls, by its English name or its Russian alias.
            /// Russian aliases match in any letter case, as 1C users write them.
            pub fn find(name: &str) -> Option<Builtin> {
                match name {
                    $($en => Some(Builtin::$variant),)*
                    _ => {
                        let lower = name.to_lowercase();
                        $(if lower == $ru.to_lowercase() { return Some(Builtin::$variant); })*
                        None
                    }
                }
            }

            pub fn english(self) -> &'static str {
                match self { $(Builtin::$variant => $en,)* }
            }

            pub fn russian(self) -> &'static str {
                match self { $(Builtin::$variant => $ru,)* }
            }

            /// The fewest and most arguments the function takes.
            pub fn arity(self) -> (usize, usize) {
                match self { $(Builtin::$variant => ($min, $max),)* }
            }

            pub fn about(self) -> &'static str {
                match self { $(Builtin::$variant => $about,)* }
            }
        }
    };
}

builtins! {
    Now = "now", "ТекущаяДата", 0..=0, "the current date-time";
    Today = "today", "Сегодня", 0..=0, "the start of the current day";
    Format = "format", "Формат", 2..=2, "a date or number formatted by a pattern";
    Deadline = "deadline", "Срок", 1..=1, "a deadline as users type it";
    Len = "len", "Длина", 1..=1, "the length of a text in characters, or of a list";
    Upper = "upper", "ВРег", 1..=1, "text in upper case";
    Lower = "lower", "НРег", 1..=1, "text in lower case";
    Trim = "trim", "СокрЛП", 1..=1, "text without surrounding white space";
    Split = "split", "Разделить", 2..=2, "text split by a separator";
    Join = "join", "Соединить", 2..=2, "a list joined into text by a separator";
    Contains = "contains", "Содержит", 2..=2, "substring or list membership";
    Number = "number", "Число", 1..=1, "text as a number";
    Text = "text", "Строка", 1..=1, "a value as text";
    Round = "round", "Окр", 1..=2, "rounding half away from zero";
    AddDays = "add_days", "ДобавитьДни", 2..=2, "a date-time moved by whole days";
}
