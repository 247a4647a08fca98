//! The stable codes of every diagnostic kind. A code, once published, keeps
//! its meaning; new kinds get new numbers.

use super::Severity;

macro_rules! codes {
    ($($variant:ident = $code:literal, $severity:ident, $what:literal;)*) => {
        /// A diagnostic kind.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Code { $($variant,)* }

        impl Code {
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The stable code users see, such as `E001`.
            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $code,)* }
            }

            pub fn severity(self) -> Severity {
                match self { $(Code::$variant => Severity::$severity,)* }
            }

            /// One line on what this kind of problem is.
            pub fn describe(self) -> &'static str {
                match self { $(Code::$variant => $what,)* }
            }
        }
    };
}

codes! {
    TomlSyntax = "E001", Error, "the file is not valid TOML";
    UnknownKey = "E002", Error, "a key the bot format does not define";
    MissingKey = "E003", Error, "a required key is missing";
    TokenLiteral = "E004", Error, "a Telegram token written in the bot file";
    WrongType = "E005", Error, "a value of the wrong type";
    DuplicateWord = "E006", Error, "two records answer the same word in one scope";
    UnknownRecord = "E007", Error, "a reference to a record that does not exist";
    DisabledRecord = "E008", Error, "a reference to a disabled record";
    ParentNotChoice = "E009", Error, "an option whose parent is neither a choice nor a run";
    InputWithoutThen = "E010", Error, "an input step without `then`";
    ChoiceWithoutOptions = "E011", Error, "a choice with no options and no `options_from`";
    SeveralActions = "E012", Error, "a record with more than one action";
    NoAction = "E013", Error, "a record with no action";
    AliasCycle = "E014", Error, "records that hand over to each other forever";
    UnknownAlgorithm = "E015", Error, "a reference to an algorithm that does not exist";
    UnknownText = "E016", Error, "an unknown text key";
    BadHtml = "E017", Error, "HTML that Telegram would reject";
    ExprSyntax = "E018", Error, "a template or expression that does not parse";
    UnknownVariable = "E019", Error, "an expression uses a variable that does not exist there";
    UnknownFunction = "E020", Error, "an expression calls a function that does not exist";
    LabelTooLong = "E021", Error, "a button label over 64 bytes";
    TooManyOptions = "E022", Error, "a choice of over 100 options";
    AuthWithoutFallback = "E023", Error, "required authorization with no way to register";
    TextTooLong = "E024", Error, "a text longer than Telegram's 4096-character limit";
    DuplicateId = "E025", Error, "two records with one id";
    BadId = "E026", Error, "an id that is not `[a-z0-9_]+`";
    AlgorithmKind = "E027", Error, "an algorithm with none or several of `expr`, `http`, `builtin`";
    BadValue = "E028", Error, "a value outside what the key accepts";
    MisplacedKey = "E029", Error, "a key that does not apply to this kind of record";
    WrongArity = "E030", Error, "a function called with the wrong number of arguments";
    StarOutsideOption = "E031", Error, "`*` used outside an option";
    OptionWithoutMatch = "E032", Error, "an option with no words, so no button label";
    UnknownNotification = "E033", Error, "a notification without its text";
    PublicStartWord = "E034", Error, "a `public` word that is a `start` or `cancel` word";
    LeavesPublic = "E035", Error, "an `alias` or `then` that leads out of a `public` subtree";
    UrlVariable = "E036", Error, "an `http` URL that names an environment variable bot files may not read";
    TypeWithoutText = "E037", Error, "an `input` with `type` whose `accept` takes no text";
    UnknownAnswerType = "E038", Error, "an `input` `type` the bot format does not define";
    Unreachable = "W001", Warning, "a record reachable from nowhere";
    ShadowedOption = "W002", Warning, "an option after a `*` option, which can never be chosen";
    MenuWithButtons = "W003", Warning, "a menu on a record whose message already carries inline buttons";
}
