//! Numeric error codes (MSNP2.md §10): `<code> <trid>` replies, with what each means to a person.

use std::fmt;

/// Defines the code list once: numeric value, the draft's name, and a plain-words meaning.
macro_rules! codes {
    ($($variant:ident = $num:literal, $draft:literal, $meaning:literal;)+) => {
        /// An MSNP2 error code. Codes this list does not know (other servers, later dialects) are kept
        /// as [`ErrorCode::Other`].
        ///
        /// ```
        /// use msnp::ErrorCode;
        ///
        /// let code = ErrorCode::from_code(911);
        /// assert_eq!(code, ErrorCode::AuthenticationFailed);
        /// assert_eq!(code.draft_name(), "ERR_AUTHENTICATION_FAILED");
        /// assert_eq!(code.meaning(), "Wrong e-mail address or password.");
        /// assert_eq!(ErrorCode::from_code(540), ErrorCode::Other(540));
        /// ```
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $(#[doc = $meaning] $variant,)+
            /// A code not in the MSNP2 list.
            Other(u16),
        }

        impl ErrorCode {
            /// Every code the reference lists, in numeric order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)+];

            /// The code with this number; [`ErrorCode::Other`] for one the list does not know.
            pub fn from_code(code: u16) -> ErrorCode {
                match code {
                    $($num => ErrorCode::$variant,)+
                    other => ErrorCode::Other(other),
                }
            }

            /// The number, e.g. `911`.
            pub fn code(self) -> u16 {
                match self {
                    $(ErrorCode::$variant => $num,)+
                    ErrorCode::Other(code) => code,
                }
            }

            /// The draft's name, e.g. `ERR_AUTHENTICATION_FAILED`.
            pub fn draft_name(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $draft,)+
                    ErrorCode::Other(_) => "",
                }
            }

            /// What the code means, in words a person can act on.
            pub fn meaning(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $meaning,)+
                    ErrorCode::Other(_) => "The server reported an error this client does not know.",
                }
            }
        }
    };
}

codes! {
    SyntaxError = 200, "ERR_SYNTAX_ERROR", "The server did not understand the command (unknown command or missing parameters).";
    InvalidParameter = 201, "ERR_INVALID_PARAMETER", "A parameter of the command was not valid.";
    InvalidUser = 205, "ERR_INVALID_USER", "There is no account with that e-mail address.";
    FqdnMissing = 206, "ERR_FQDN_MISSING", "The address lacks a domain.";
    AlreadyLoggedIn = 207, "ERR_ALREADY_LOGIN", "You are already signed in on this connection.";
    InvalidUsername = 208, "ERR_INVALID_USERNAME", "That is not a valid e-mail address.";
    InvalidFriendlyName = 209, "ERR_INVALID_FRIENDLY_NAME", "That name is not allowed (empty, too long, or with forbidden characters).";
    ListFull = 210, "ERR_LIST_FULL", "The list is full.";
    AlreadyThere = 215, "ERR_ALREADY_THERE", "That person is already there (on the list, or in the conversation).";
    NotOnList = 216, "ERR_NOT_ON_LIST", "That person is not on the list.";
    NotOnline = 217, "ERR_NOT_ONLINE", "That person is offline or not accepting instant messages.";
    AlreadyInMode = 218, "ERR_ALREADY_IN_THE_MODE", "That setting already has this value.";
    AlreadyInOppositeList = 219, "ERR_ALREADY_IN_OPPOSITE_LIST", "A person cannot be both allowed and blocked.";
    SwitchboardFailed = 280, "ERR_SWITCHBOARD_FAILED", "No conversation server is available right now.";
    NotifyXfrFailed = 281, "ERR_NOTIFY_XFR_FAILED", "Transfer to another notification server failed.";
    RequiredFieldsMissing = 300, "ERR_REQUIRED_FIELDS_MISSING", "Required fields are missing.";
    NotLoggedIn = 302, "ERR_NOT_LOGGED_IN", "You must sign in first.";
    InternalServer = 500, "ERR_INTERNAL_SERVER", "The server had an internal error.";
    DbServer = 501, "ERR_DB_SERVER", "The server's database failed.";
    FileOperation = 510, "ERR_FILE_OPERATION", "A file operation on the server failed.";
    MemoryAlloc = 520, "ERR_MEMORY_ALLOC", "The server ran out of memory.";
    ServerBusy = 600, "ERR_SERVER_BUSY", "The server is busy; try again later.";
    ServerUnavailable = 601, "ERR_SERVER_UNAVAILABLE", "The server is unavailable; try again later.";
    PeerNsDown = 602, "ERR_PEER_NS_DOWN", "Another notification server is down.";
    DbConnect = 603, "ERR_DB_CONNECT", "The server cannot reach its database.";
    ServerGoingDown = 604, "ERR_SERVER_GOING_DOWN", "The server is going down.";
    CreateConnection = 707, "ERR_CREATE_CONNECTION", "The server could not create a connection.";
    BlockingWrite = 711, "ERR_BLOCKING_WRITE", "A write on the server would block.";
    SessionOverload = 712, "ERR_SESSION_OVERLOAD", "The session is overloaded.";
    UserTooActive = 713, "ERR_USER_TOO_ACTIVE", "Too many requests; slow down.";
    TooManySessions = 714, "ERR_TOO_MANY_SESSIONS", "Too many sessions.";
    NotExpected = 715, "ERR_NOT_EXPECTED", "That command was not expected now.";
    BadFriendFile = 717, "ERR_BAD_FRIEND_FILE", "The contact list on the server is corrupt.";
    AuthenticationFailed = 911, "ERR_AUTHENTICATION_FAILED", "Wrong e-mail address or password.";
    NotAllowedWhenOffline = 913, "ERR_NOT_ALLOWED_WHEN_OFFLINE", "Not allowed while you appear offline.";
    NotAcceptingNewUsers = 920, "ERR_NOT_ACCEPTING_NEW_USERS", "The server is not accepting new users.";
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code())
    }
}

/// True when `token` looks like an error reply's first token: exactly three ASCII digits.
pub fn is_error_token(token: &str) -> bool {
    token.len() == 3 && token.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn every_code_round_trips_and_is_explained() {
        assert_eq!(ErrorCode::ALL.len(), 36);
        for code in ErrorCode::ALL {
            assert_eq!(ErrorCode::from_code(code.code()), *code);
            assert!(code.draft_name().starts_with("ERR_"));
            assert!(code.meaning().ends_with('.'));
        }
        assert_eq!(ErrorCode::from_code(911), ErrorCode::AuthenticationFailed);
        assert_eq!(ErrorCode::from_code(540), ErrorCode::Other(540));
        assert_eq!(ErrorCode::Other(540).code(), 540);
    }
}
