//! The built-in texts: every message the bot itself says, with its Russian
//! and English default and the variables it may use beyond the common ones.

/// One built-in text.
#[derive(Debug)]
pub struct TextKey {
    pub key: &'static str,
    pub ru: &'static str,
    pub en: &'static str,
    /// Variables this text may use besides the ones every text may use.
    pub extra_vars: &'static [&'static str],
    pub about: &'static str,
}

/// Variables every template may use (bot-format.md, "Texts and templates").
pub const COMMON_VARS: &[&str] = &[
    "bot",
    "user",
    "input",
    "selected",
    "selected_title",
    "history",
    "vars",
    "result",
];

macro_rules! texts {
    ($($name:ident $key:literal => ($ru:literal, $en:literal, [$($var:literal),*], $about:literal);)*) => {
        pub const TEXTS: &[TextKey] = &[$(TextKey { key: $key, ru: $ru, en: $en, extra_vars: &[$($var),*], about: $about },)*];

        /// A built-in text, by name: the code names texts by these, never by a string, so a
        /// text the catalogue lacks does not compile.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Text { $($name,)* }

        impl Text {
            pub const ALL: &'static [Text] = &[$(Text::$name,)*];

            /// The key a bot file's `[texts]` uses.
            pub fn key(self) -> &'static str {
                match self { $(Text::$name => $key,)* }
            }
        }
    };
}

texts! {
    Greeting "greeting" => ("Здравствуйте! Я {{ bot.name }}. {{ bot.description }}", "Hello! I am {{ bot.name }}. {{ bot.description }}", [], "the answer to a start word");
    Unknown "unknown" => ("Не понимаю запрос «{{ input }}». Попробуйте иначе.", "I do not understand “{{ input }}”. Please try again.", [], "the reply to a request nothing matched");
    Yes "yes" => ("Да", "Yes", [], "the label of the yes button");
    No "no" => ("Нет", "No", [], "the label of the no button");
    ChoiceConfirm "choice_confirm" => ("Вы выбрали «{{ selected }}». Подтвердить?", "You chose “{{ selected }}”. Confirm?", [], "asks to confirm an option of a choice with `confirm`");
    ChoiceCancelled "choice_cancelled" => ("Выбор отменён.", "Choice cancelled.", [], "answers a cancel word when nothing but a choice was pending");
    ChoiceStale "choice_stale" => ("Эта кнопка устарела. Начните заново.", "This button is out of date. Please start again.", [], "answers a press of an out-of-date or unknown button");
    AlgorithmFailed "algorithm_failed" => ("Не удалось выполнить запрос. Попробуйте позже.", "The request failed. Please try later.", [], "an algorithm failed");
    AlgorithmTimeout "algorithm_timeout" => ("Запрос выполняется слишком долго. Попробуйте позже.", "The request took too long. Please try later.", [], "an algorithm did not answer in time");
    EmptyResult "empty_result" => ("Нет данных.", "Nothing found.", [], "an algorithm returned nothing");
    CodeError "code_error" => ("Ошибка: {{ error }}", "Error: {{ error }}", ["error"], "a typed expression failed to evaluate");
    AuthAlreadyDecided "auth_already_decided" => ("Эта заявка уже рассмотрена.", "This request has already been decided.", [], "an operator decides a request another operator already decided");
    UnsupportedMessage "unsupported_message" => ("Я понимаю только текст.", "I only understand text.", [], "a message with no text");
    TooManyRequests "too_many_requests" => ("Слишком много сообщений. Подождите минуту.", "Too many messages. Please wait a minute.", [], "a user sent more than 20 messages in 60 seconds");
    InputCancelled "input_cancelled" => ("Ввод отменён.", "Input cancelled.", [], "a cancel word while an input or authorization step was pending");
    AuthRequest "auth_request" => ("Чтобы пользоваться ботом, нужно зарегистрироваться.", "You need to register to use this bot.", [], "an unregistered user wrote to a bot with required authorization");
    AuthButton "auth_button" => ("Зарегистрироваться", "Register", [], "the label of the registration button");
    AuthEnterData "auth_enter_data" => ("Введите данные для регистрации (например, ФИО и организацию).", "Enter your registration data (for example, your name and company).", [], "asks for the registration data");
    AuthConfirm "auth_confirm" => ("Вы ввели: «{{ input }}». Всё верно?", "You entered: “{{ input }}”. Is that right?", [], "asks to confirm the registration data");
    AuthReenter "auth_reenter" => ("Введите данные ещё раз.", "Please enter your data again.", [], "the user said the data was wrong");
    AuthSuccess "auth_success" => ("Вы зарегистрированы как {{ user.principal.name }}.", "You are registered as {{ user.principal.name }}.", [], "the user is registered");
    AuthPending "auth_pending" => ("Ваша заявка на регистрацию рассматривается.", "Your registration request is being reviewed.", [], "an unregistered user with a pending request wrote");
    AuthSentToResponsible "auth_sent_to_responsible" => ("Заявка отправлена ответственному. Ожидайте решения.", "Your request was sent to an operator. Please wait.", [], "the request went to the responsible operators");
    AuthScenarioStarted "auth_scenario_started" => ("Заявка на регистрацию принята в работу.", "Your registration request is being processed.", [], "an authorization process was started elsewhere");
    AuthFailed "auth_failed" => ("Не удалось зарегистрировать вас.", "Registration failed.", [], "no way of registering succeeded");
    AuthRejected "auth_rejected" => ("В регистрации отказано: {{ reason }}", "Registration rejected: {{ reason }}", ["reason"], "an operator rejected the request");
    AuthAlready "auth_already" => ("Вы уже зарегистрированы.", "You are already registered.", [], "a registered user pressed an old registration button");
    AuthRequestToResponsible "auth_request_to_responsible" => ("Заявка на регистрацию от {{ user.name }} ({{ user.key }}): {{ input }}", "Registration request from {{ user.name }} ({{ user.key }}): {{ input }}", [], "what a responsible operator receives");
    AuthApproveButton "auth_approve_button" => ("Одобрить", "Approve", [], "the label of the operator's approve button");
    AuthRejectButton "auth_reject_button" => ("Отклонить", "Reject", [], "the label of the operator's reject button");
    AuthChooseKind "auth_choose_kind" => ("Выберите вид пользователя для {{ user.name }}.", "Choose the kind of user for {{ user.name }}.", [], "asks an approving operator for the kind");
    AuthEnterName "auth_enter_name" => ("Введите имя пользователя (по умолчанию «{{ input }}»).", "Enter the user's name (default “{{ input }}”).", [], "asks an approving operator for the name");
    AuthRejectReason "auth_reject_reason" => ("Укажите причину отказа.", "Give the reason for rejecting.", [], "asks a rejecting operator for the reason");
    AuthResponsibleDone "auth_responsible_done" => ("Пользователь {{ user.name }} зарегистрирован.", "User {{ user.name }} is registered.", [], "tells the operator the user is registered");
    AuthResponsibleRejected "auth_responsible_rejected" => ("Заявка {{ user.name }} отклонена.", "The request of {{ user.name }} is rejected.", ["reason"], "tells the operator the request is rejected");
    NotAuthorized "not_authorized" => ("Вы не можете рассматривать заявки этого бота.", "You may not decide requests of this bot.", [], "someone who is not a responsible operator pressed an operator's button");
    InputWrongKind "input_wrong_kind" => ("Сейчас я жду {{ expected }}. Пришлите, пожалуйста, его.", "I am waiting for {{ expected }}. Please send that.", ["expected"], "a message of a kind the pending input does not accept (`expected` lists the kinds it does)");
    AuthLookupPrompt "auth_lookup_prompt" => ("Введите текст для поиска: {{ selected }}", "Type a search text: {{ selected }}", [], "asks an approving operator for a search text for the `lookup` algorithm (`selected` is the chosen kind)");
    AuthLookupEmpty "auth_lookup_empty" => ("Ничего не найдено по «{{ input }}». Введите другой текст.", "Nothing found for “{{ input }}”. Type another text.", [], "the `lookup` algorithm found nothing for the operator's search text");
    InputInvalid "input_invalid" => ("Не могу принять ответ «{{ input }}». Попробуйте ещё раз.", "I cannot take “{{ input }}” as the answer. Please try again.", [], "an `input` answer that its `type` cannot read or its `check` refuses (`input` is the text as typed); the step stays pending");
    InputGaveUp "input_gave_up" => ("Слишком много неверных ответов. Начните заново.", "Too many wrong answers. Please start again.", [], "the `attempts`-th refused answer in a row to an `input`: nothing is pending any more");
    ChooseOption "choose_option" => ("Выберите вариант:", "Choose an option:", [], "the title of options an algorithm returns without a text of its own");
}

/// The built-in text for `key`, if there is one.
pub fn find(key: &str) -> Option<&'static TextKey> {
    TEXTS.iter().find(|t| t.key == key)
}

impl TextKey {
    pub fn default_for(&self, language: crate::Language) -> &'static str {
        match language {
            crate::Language::Ru => self.ru,
            crate::Language::En => self.en,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_names_and_the_table_agree() {
        assert_eq!(Text::ALL.len(), TEXTS.len());
        for (name, entry) in Text::ALL.iter().zip(TEXTS) {
            assert_eq!(name.key(), entry.key);
        }
    }

    #[test]
    fn a_compiled_bot_has_every_text() {
        let file = crate::diagnostics::SourceFile::new(
            "t.toml".to_string(),
            "[bot]\nname = \"T\"\ntoken_env = \"T_TOKEN\"\n[[keyword]]\nmatch = \"a\"\nreply = \"b\"\n".to_string(),
        );
        let bot = crate::validate::compile("t", &file, &mut Vec::new()).expect("compiles");
        for &t in Text::ALL {
            // Panics when a text has no template.
            let _ = bot.text(t);
        }
    }
}
