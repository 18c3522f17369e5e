//! The small value types that commands are made of: transaction IDs, lists, states and modes.

use std::fmt;
use std::str::FromStr;

/// A transaction ID: chosen by the client, copied into every reply (MSNP2.md §3.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct TrId(pub u32);

impl TrId {
    /// The TrID servers put in unsolicited commands (`ADD 0 RL …`).
    pub const UNSOLICITED: TrId = TrId(0);
}

impl fmt::Display for TrId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for TrId {
    type Err = ();
    /// Decimal digits only, 0 … 2^32−1 (§3.2); no sign, no spaces.
    fn from_str(s: &str) -> Result<TrId, ()> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(());
        }
        s.parse().map(TrId).map_err(|_| ())
    }
}

/// Defines a keyword enum: its wire spelling, parsing and display, in one place.
macro_rules! keywords {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $wire:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($(#[$vmeta])* $variant,)+ }

        impl $name {
            /// Every value, in the reference's order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The spelling on the wire.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $wire,)+ }
            }
        }

        impl FromStr for $name {
            type Err = ();
            /// Case-sensitive, as command parameters are.
            fn from_str(s: &str) -> Result<$name, ()> {
                match s { $($wire => Ok($name::$variant),)+ _ => Err(()) }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

keywords! {
    /// The four lists of an account (§6.1).
    List {
        /// Forward list: my contacts, whose presence I see.
        Forward = "FL",
        /// Allow list: people allowed to see me and message me.
        Allow = "AL",
        /// Block list: people who may not.
        Block = "BL",
        /// Reverse list: people who have me on their forward list (kept by the server).
        Reverse = "RL",
    }
}

keywords! {
    /// Presence states (§7.1).
    State {
        /// `NLN`: online.
        Online = "NLN",
        /// `BSY`: busy.
        Busy = "BSY",
        /// `IDL`: idle.
        Idle = "IDL",
        /// `BRB`: be right back.
        BeRightBack = "BRB",
        /// `AWY`: away.
        Away = "AWY",
        /// `PHN`: on the phone.
        OnThePhone = "PHN",
        /// `LUN`: out to lunch.
        OutToLunch = "LUN",
        /// `HDN`: signed in but appearing offline.
        Hidden = "HDN",
        /// `FLN`: offline; only ever sent by the server.
        Offline = "FLN",
    }
}

impl State {
    /// The states a user may choose with `CHG` (every state but `FLN`).
    pub const SETTABLE: &'static [State] = &[
        State::Online,
        State::Busy,
        State::Idle,
        State::BeRightBack,
        State::Away,
        State::OnThePhone,
        State::OutToLunch,
        State::Hidden,
    ];

    /// How a person reads this state.
    pub fn label(self) -> &'static str {
        match self {
            State::Online => "Online",
            State::Busy => "Busy",
            State::Idle => "Idle",
            State::BeRightBack => "Be right back",
            State::Away => "Away",
            State::OnThePhone => "On the phone",
            State::OutToLunch => "Out to lunch",
            State::Hidden => "Appear offline",
            State::Offline => "Offline",
        }
    }
}

keywords! {
    /// GTC: what the client does when someone adds me who is on neither my AL nor BL (§6.5).
    Gtc {
        /// Ask the user.
        Ask = "A",
        /// Silently allow (add to AL).
        Never = "N",
    }
}

keywords! {
    /// BLP: who may see me by default (§6.6).
    Blp {
        /// Everyone not on my block list.
        AllowAll = "AL",
        /// Only people on my allow list.
        BlockAll = "BL",
    }
}

keywords! {
    /// Acknowledgement mode of a client `MSG` (§8.7).
    AckMode {
        /// Unacknowledged: never a reply.
        Unacknowledged = "U",
        /// `NAK` if delivery failed, else nothing.
        NegativeOnly = "N",
        /// `ACK` if delivered, `NAK` if not.
        Acknowledged = "A",
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn trid_range_and_syntax() {
        assert_eq!("0".parse(), Ok(TrId(0)));
        assert_eq!("4294967295".parse(), Ok(TrId(u32::MAX)));
        assert_eq!("4294967296".parse::<TrId>(), Err(()));
        for bad in ["", "-1", "+1", "1a", " 1", "0x10"] {
            assert_eq!(bad.parse::<TrId>(), Err(()), "{bad:?}");
        }
    }

    #[test]
    fn keywords_round_trip_and_are_case_sensitive() {
        for s in State::ALL {
            assert_eq!(s.as_str().parse(), Ok(*s));
            assert_eq!(s.as_str().to_lowercase().parse::<State>(), Err(()));
        }
        for l in List::ALL {
            assert_eq!(l.to_string().parse(), Ok(*l));
        }
        assert_eq!("XL".parse::<List>(), Err(()));
        assert_eq!("a".parse::<AckMode>(), Err(()));
        assert!(!State::SETTABLE.contains(&State::Offline));
        assert_eq!(State::SETTABLE.len(), 8);
    }
}
