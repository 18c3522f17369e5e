//! proptest strategies for every typed command, shared by the property tests and the fuzz campaign.
#![allow(dead_code)]

use msnp::frame::MAX_CLIENT_PAYLOAD;
use msnp::ns::{self, ClientVersion, Entry, UsrStage};
use msnp::{AckMode, Blp, ErrorCode, Gtc, List, State, TrId, sb};
use proptest::prelude::*;

pub fn token() -> impl Strategy<Value = String> {
    "[A-Za-z0-9@._%+:/=-]{1,24}"
}

pub fn tokens(max: usize) -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(token(), 0..max)
}

pub fn trid() -> impl Strategy<Value = TrId> {
    any::<u32>().prop_map(TrId)
}

pub fn one_of<T: Copy + std::fmt::Debug + 'static>(all: &'static [T]) -> impl Strategy<Value = T> {
    prop::sample::select(all)
}

pub fn payload() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..=MAX_CLIENT_PAYLOAD)
}

pub fn ns_client() -> impl Strategy<Value = ns::ClientCommand> {
    use ns::ClientCommand as C;
    let version = (token(), token(), token(), token(), token(), token()).prop_map(|(a, b, c, d, e, f)| ClientVersion {
        locale: a,
        os_type: b,
        os_version: c,
        arch: d,
        library: e,
        version: f,
    });
    prop_oneof![
        (trid(), prop::collection::vec(token(), 1..4)).prop_map(|(trid, dialects)| C::Ver { trid, dialects }),
        trid().prop_map(|trid| C::Inf { trid }),
        (trid(), token(), one_of(&[UsrStage::Initial, UsrStage::Subsequent]), token())
            .prop_map(|(trid, package, stage, value)| C::Usr { trid, package, stage, value }),
        (trid(), any::<u32>()).prop_map(|(trid, version)| C::Syn { trid, version }),
        (trid(), one_of(List::ALL)).prop_map(|(trid, list)| C::Lst { trid, list }),
        (trid(), one_of(Gtc::ALL)).prop_map(|(trid, mode)| C::Gtc { trid, mode }),
        (trid(), one_of(Blp::ALL)).prop_map(|(trid, mode)| C::Blp { trid, mode }),
        (trid(), one_of(List::ALL), token(), token())
            .prop_map(|(trid, list, handle, name)| { C::Add { trid, list, handle, name } }),
        (trid(), one_of(List::ALL), token()).prop_map(|(trid, list, handle)| C::Rem { trid, list, handle }),
        (trid(), token(), token()).prop_map(|(trid, handle, name)| C::Rea { trid, handle, name }),
        (trid(), one_of(State::ALL)).prop_map(|(trid, state)| C::Chg { trid, state }),
        (trid(), version).prop_map(|(trid, client)| C::Cvr { trid, client }),
        trid().prop_map(|trid| C::Xfr { trid }),
        (trid(), tokens(5)).prop_map(|(trid, query)| C::Fnd { trid, query }),
        (trid(), token()).prop_map(|(trid, email)| C::Snd { trid, email }),
        (trid(), token()).prop_map(|(trid, service)| C::Url { trid, service }),
        Just(C::Png),
        Just(C::Out),
    ]
}

pub fn ns_server() -> impl Strategy<Value = ns::ServerCommand> {
    use ns::ServerCommand as S;
    let lst = (trid(), one_of(List::ALL), any::<u32>(), 1..1000u32, token(), token()).prop_map(
        |(trid, list, version, total, handle, name)| S::Lst {
            trid,
            list,
            version,
            item: total / 2 + 1,
            total,
            entry: Some(Entry { handle, name }),
        },
    );
    let empty_lst = (trid(), one_of(List::ALL), any::<u32>()).prop_map(|(trid, list, version)| S::Lst {
        trid,
        list,
        version,
        item: 0,
        total: 0,
        entry: None,
    });
    let cvr = (trid(), token(), token(), token(), token(), token()).prop_map(|(trid, a, b, c, d, e)| S::Cvr {
        trid,
        recommended: a,
        recommended2: b,
        minimum: c,
        download_url: d,
        info_url: e,
    });
    let rng =
        (token(), token(), token(), token(), token()).prop_map(|(session_id, address, cookie, caller, caller_name)| {
            S::Rng { session_id, address, cookie, caller, caller_name }
        });
    prop_oneof![
        (trid(), token()).prop_map(|(trid, dialect)| S::Ver { trid, dialect }),
        (trid(), prop::collection::vec(token(), 1..3)).prop_map(|(trid, packages)| S::Inf { trid, packages }),
        (trid(), token().prop_filter("OK is the other form", |p| p != "OK"), token())
            .prop_map(|(trid, package, challenge)| S::UsrChallenge { trid, package, challenge }),
        (trid(), token(), token()).prop_map(|(trid, handle, name)| S::UsrOk { trid, handle, name }),
        (trid(), any::<u32>()).prop_map(|(trid, version)| S::Syn { trid, version }),
        (trid(), any::<u32>(), one_of(Gtc::ALL)).prop_map(|(trid, version, mode)| S::Gtc { trid, version, mode }),
        (trid(), any::<u32>(), one_of(Blp::ALL)).prop_map(|(trid, version, mode)| S::Blp { trid, version, mode }),
        lst,
        empty_lst,
        (trid(), one_of(List::ALL), any::<u32>(), token(), token())
            .prop_map(|(trid, list, version, handle, name)| S::Add { trid, list, version, handle, name }),
        (trid(), one_of(List::ALL), any::<u32>(), token()).prop_map(|(trid, list, version, handle)| S::Rem {
            trid,
            list,
            version,
            handle
        }),
        (trid(), any::<u32>(), token(), token()).prop_map(|(trid, version, handle, name)| S::Rea {
            trid,
            version,
            handle,
            name
        }),
        (trid(), one_of(State::ALL)).prop_map(|(trid, state)| S::Chg { trid, state }),
        (trid(), one_of(State::ALL), token(), token())
            .prop_map(|(trid, state, handle, name)| { S::Iln { trid, state, handle, name } }),
        (one_of(State::ALL), token(), token()).prop_map(|(state, handle, name)| S::Nln { state, handle, name }),
        token().prop_map(|handle| S::Fln { handle }),
        cvr,
        (trid(), token()).prop_map(|(trid, address)| S::XfrNs { trid, address }),
        (trid(), token(), token()).prop_map(|(trid, address, cookie)| S::XfrSb { trid, address, cookie }),
        rng,
        (token(), token(), payload()).prop_map(|(sender, sender_name, payload)| S::Msg {
            sender,
            sender_name,
            payload
        }),
        prop::option::of(token()).prop_map(|reason| S::Out { reason }),
        Just(S::Qng),
        (trid(), tokens(4)).prop_map(|(trid, results)| S::Fnd { trid, results }),
        (trid(), token()).prop_map(|(trid, result)| S::Snd { trid, result }),
        (trid(), token(), token()).prop_map(|(trid, url, login_url)| S::Url { trid, url, login_url }),
        (100..1000u16, prop::option::of(trid()))
            .prop_map(|(code, trid)| S::Error { code: ErrorCode::from_code(code), trid }),
    ]
}

pub fn sb_client() -> impl Strategy<Value = sb::ClientCommand> {
    use sb::ClientCommand as C;
    prop_oneof![
        (trid(), token(), token()).prop_map(|(trid, handle, cookie)| C::Usr { trid, handle, cookie }),
        (trid(), token()).prop_map(|(trid, handle)| C::Cal { trid, handle }),
        (trid(), token(), token(), token()).prop_map(|(trid, handle, cookie, session_id)| C::Ans {
            trid,
            handle,
            cookie,
            session_id
        }),
        (trid(), one_of(AckMode::ALL), payload()).prop_map(|(trid, ack, payload)| C::Msg { trid, ack, payload }),
        Just(C::Out),
    ]
}

pub fn sb_server() -> impl Strategy<Value = sb::ServerCommand> {
    use sb::ServerCommand as S;
    prop_oneof![
        (trid(), token(), token()).prop_map(|(trid, handle, name)| S::UsrOk { trid, handle, name }),
        (trid(), token()).prop_map(|(trid, session_id)| S::CalRinging { trid, session_id }),
        (trid(), any::<u32>(), any::<u32>(), token(), token()).prop_map(|(trid, index, total, handle, name)| S::Iro {
            trid,
            index,
            total,
            handle,
            name
        }),
        trid().prop_map(|trid| S::AnsOk { trid }),
        (token(), token()).prop_map(|(handle, name)| S::Joi { handle, name }),
        token().prop_map(|handle| S::Bye { handle }),
        (token(), token(), payload()).prop_map(|(sender, sender_name, payload)| S::Msg {
            sender,
            sender_name,
            payload
        }),
        trid().prop_map(|trid| S::Ack { trid }),
        trid().prop_map(|trid| S::Nak { trid }),
        (100..1000u16, prop::option::of(trid()))
            .prop_map(|(code, trid)| S::Error { code: ErrorCode::from_code(code), trid }),
    ]
}
