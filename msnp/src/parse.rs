//! What can be wrong with a command line, and the reply a server owes for it (MSNP2.md §11).

use std::str::FromStr;

use thiserror::Error;

use crate::{ErrorCode, Frame, TrId};

/// Why a frame is not a valid command. [`ParseError::reply`] gives the error line a server sends, or
/// `None` when the rules say to close the connection instead.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// Not a command of this protocol and direction (wrong case included): `200` (§11 rule 4).
    #[error("unknown command {name:?}")]
    Unknown {
        /// The first token of the line.
        name: String,
        /// The second token, if it is a valid TrID.
        trid: Option<TrId>,
    },
    /// A known command whose TrID is missing or not a number in range: close (§11 rule 5).
    #[error("{name} without a valid transaction id")]
    BadTrId {
        /// The command name.
        name: String,
    },
    /// A known command with too few parameters: `200` (§11 rule 6).
    #[error("{name} is missing parameters")]
    MissingParams {
        /// The command name.
        name: String,
        /// The command's TrID, if it has one.
        trid: Option<TrId>,
    },
    /// A parameter with a bad value: the command's specific code (§11 rule 7).
    #[error("{name} has an invalid parameter ({code})")]
    InvalidParam {
        /// The command name.
        name: String,
        /// The command's TrID.
        trid: TrId,
        /// The code the reply carries, usually `201`.
        code: ErrorCode,
    },
    /// A violation after which the connection is closed without a reply (e.g. a bad MSG ack letter).
    #[error("{name}: {reason}")]
    Violation {
        /// The command name.
        name: String,
        /// What was wrong, for logs.
        reason: &'static str,
    },
}

impl ParseError {
    /// The error line to send back, or `None` if the connection must be closed.
    pub fn reply(&self) -> Option<Frame> {
        let (code, trid) = match self {
            ParseError::Unknown { trid, .. } | ParseError::MissingParams { trid, .. } => {
                (ErrorCode::SyntaxError, *trid)
            }
            ParseError::InvalidParam { trid, code, .. } => (*code, Some(*trid)),
            ParseError::BadTrId { .. } | ParseError::Violation { .. } => return None,
        };
        Some(error_frame(code, trid))
    }

    /// The TrID of the offending command, when it had a usable one.
    pub fn trid(&self) -> Option<TrId> {
        match self {
            ParseError::Unknown { trid, .. } | ParseError::MissingParams { trid, .. } => *trid,
            ParseError::InvalidParam { trid, .. } => Some(*trid),
            ParseError::BadTrId { .. } | ParseError::Violation { .. } => None,
        }
    }
}

/// An error reply: exactly `<code> <trid>`, or `<code>` without a usable TrID (§3.6).
pub fn error_frame(code: ErrorCode, trid: Option<TrId>) -> Frame {
    match trid {
        Some(trid) => Frame::command(format!("{code} {trid}")),
        None => Frame::command(code.to_string()),
    }
}

/// Parses an error reply line (`911 5`, or `911`).
pub(crate) fn parse_error_line(frame: &Frame) -> Option<(ErrorCode, Option<TrId>)> {
    let mut tokens = frame.tokens();
    let code = tokens.next().filter(|t| crate::error::is_error_token(t))?;
    let trid = tokens.next().and_then(|t| t.parse().ok());
    Some((ErrorCode::from_code(code.parse().ok()?), trid))
}

/// Walks the parameters of one command line, producing the right [`ParseError`] for each failure.
#[derive(Debug)]
pub(crate) struct Args<'a> {
    name: &'a str,
    tokens: Vec<&'a str>,
    pos: usize,
    trid: Option<TrId>,
}

impl<'a> Args<'a> {
    /// Starts after the command name.
    pub(crate) fn new(frame: &'a Frame) -> Args<'a> {
        let tokens: Vec<&str> = frame.tokens().collect();
        Args { name: tokens.first().copied().unwrap_or(""), tokens, pos: 1, trid: None }
    }

    pub(crate) fn name(&self) -> &'a str {
        self.name
    }

    /// The unknown-command error for this line: carries the second token as TrID if it is one.
    pub(crate) fn unknown(&self) -> ParseError {
        let trid = self.tokens.get(1).and_then(|t| t.parse().ok());
        ParseError::Unknown { name: self.name.to_owned(), trid }
    }

    /// Reads the TrID.
    pub(crate) fn trid(&mut self) -> Result<TrId, ParseError> {
        let trid = self
            .tokens
            .get(self.pos)
            .and_then(|t| t.parse().ok())
            .ok_or_else(|| ParseError::BadTrId { name: self.name.to_owned() })?;
        self.pos += 1;
        self.trid = Some(trid);
        Ok(trid)
    }

    /// Fails with `MissingParams` unless at least `n` parameters remain.
    pub(crate) fn require(&self, n: usize) -> Result<(), ParseError> {
        if self.tokens.len() - self.pos < n {
            return Err(ParseError::MissingParams { name: self.name.to_owned(), trid: self.trid });
        }
        Ok(())
    }

    /// The next parameter.
    pub(crate) fn text(&mut self) -> Result<&'a str, ParseError> {
        self.require(1)?;
        self.pos += 1;
        Ok(self.tokens[self.pos - 1])
    }

    /// The next parameter, owned.
    pub(crate) fn string(&mut self) -> Result<String, ParseError> {
        self.text().map(str::to_owned)
    }

    /// The next parameter as a keyword or number; a bad value is `code`.
    pub(crate) fn value<T: FromStr>(&mut self, code: ErrorCode) -> Result<T, ParseError> {
        let token = self.text()?;
        token.parse().map_err(|_| self.invalid(code))
    }

    /// The next parameter as a decimal number (digits only); a bad value is `code`.
    pub(crate) fn number(&mut self, code: ErrorCode) -> Result<u32, ParseError> {
        let token = self.text()?;
        token.parse::<TrId>().map(|n| n.0).map_err(|_| self.invalid(code))
    }

    /// All remaining parameters.
    pub(crate) fn rest(&mut self) -> Vec<String> {
        let rest = self.tokens[self.pos..].iter().map(|t| (*t).to_owned()).collect();
        self.pos = self.tokens.len();
        rest
    }

    pub(crate) fn invalid(&self, code: ErrorCode) -> ParseError {
        match self.trid {
            Some(trid) => ParseError::InvalidParam { name: self.name.to_owned(), trid, code },
            None => ParseError::Violation { name: self.name.to_owned(), reason: "invalid parameter" },
        }
    }

    pub(crate) fn violation(&self, reason: &'static str) -> ParseError {
        ParseError::Violation { name: self.name.to_owned(), reason }
    }
}
