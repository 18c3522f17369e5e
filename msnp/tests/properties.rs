//! Property tests: every typed command survives encode → decode → parse unchanged, and the decoder
//! neither panics nor depends on how the bytes were split.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;
#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

use msnp::frame::MAX_CLIENT_PAYLOAD;
use msnp::ns::{self, ClientVersion, Entry, UsrStage};
use msnp::{AckMode, Blp, Decoder, ErrorCode, Frame, FrameError, Gtc, Limits, List, State, TrId, sb};
use proptest::prelude::*;

fn token() -> impl Strategy<Value = String> {
    "[A-Za-z0-9@._%+:/=-]{1,24}"
}

fn tokens(max: usize) -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(token(), 0..max)
}

fn trid() -> impl Strategy<Value = TrId> {
    any::<u32>().prop_map(TrId)
}

fn one_of<T: Copy + std::fmt::Debug + 'static>(all: &'static [T]) -> impl Strategy<Value = T> {
    prop::sample::select(all)
}

fn payload() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..=MAX_CLIENT_PAYLOAD)
}

fn ns_client() -> impl Strategy<Value = ns::ClientCommand> {
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

fn ns_server() -> impl Strategy<Value = ns::ServerCommand> {
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

fn sb_client() -> impl Strategy<Value = sb::ClientCommand> {
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

fn sb_server() -> impl Strategy<Value = sb::ServerCommand> {
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

/// Encodes, decodes with the real decoder, and returns the single frame.
fn through_the_wire(frame: &Frame, limits: Limits) -> Frame {
    let mut decoder = Decoder::new(limits);
    decoder.extend(frame.as_bytes());
    let decoded = decoder.next_frame().expect("decodes").expect("one whole frame");
    assert_eq!(decoder.buffered(), 0);
    decoded
}

/// Feeds `bytes` in the given chunk sizes and collects frames until the first error.
fn decode_in_chunks(bytes: &[u8], chunks: &[usize], limits: Limits) -> (Vec<Frame>, Option<FrameError>) {
    let mut decoder = Decoder::new(limits);
    let mut frames = Vec::new();
    let mut rest = bytes;
    let mut sizes = chunks.iter().cycle();
    loop {
        loop {
            match decoder.next_frame() {
                Ok(Some(frame)) => frames.push(frame),
                Ok(None) => break,
                Err(err) => return (frames, Some(err)),
            }
        }
        if rest.is_empty() {
            return (frames, None);
        }
        let n = (*sizes.next().unwrap_or(&1)).clamp(1, rest.len());
        decoder.extend(&rest[..n]);
        rest = &rest[n..];
    }
}

proptest! {
    #[test]
    fn ns_client_commands_round_trip(cmd in ns_client()) {
        let frame = through_the_wire(&cmd.to_frame(), Limits::SERVER);
        prop_assert_eq!(&frame, &cmd.to_frame());
        prop_assert_eq!(ns::ClientCommand::parse(&frame), Ok(cmd));
    }

    #[test]
    fn ns_server_commands_round_trip(cmd in ns_server()) {
        let frame = through_the_wire(&cmd.to_frame(), Limits::CLIENT);
        prop_assert_eq!(ns::ServerCommand::parse(&frame), Ok(cmd));
    }

    #[test]
    fn sb_client_commands_round_trip(cmd in sb_client()) {
        let frame = through_the_wire(&cmd.to_frame(), Limits::SERVER);
        prop_assert_eq!(sb::ClientCommand::parse(&frame), Ok(cmd));
    }

    #[test]
    fn sb_server_commands_round_trip(cmd in sb_server()) {
        let frame = through_the_wire(&cmd.to_frame(), Limits::CLIENT);
        prop_assert_eq!(sb::ServerCommand::parse(&frame), Ok(cmd));
    }

    #[test]
    fn a_stream_of_commands_decodes_the_same_however_it_is_split(
        cmds in prop::collection::vec(sb_client(), 1..8),
        chunks in prop::collection::vec(1..300usize, 1..16),
    ) {
        let frames: Vec<Frame> = cmds.iter().map(sb::ClientCommand::to_frame).collect();
        let wire: Vec<u8> = frames.iter().flat_map(|f| f.as_bytes().to_vec()).collect();
        let (decoded, err) = decode_in_chunks(&wire, &chunks, Limits::SERVER);
        prop_assert_eq!(err, None);
        prop_assert_eq!(decoded, frames);
    }

    #[test]
    fn the_decoder_never_panics_and_ignores_splits(
        bytes in prop::collection::vec(prop_oneof![
            4 => any::<u8>(),
            2 => Just(b'\n'),
            1 => Just(b'\r'),
            2 => Just(b' '),
            1 => prop::sample::select(b"MSG0123456789".to_vec()),
        ], 0..3000),
        chunks in prop::collection::vec(1..64usize, 1..16),
    ) {
        let whole = decode_in_chunks(&bytes, &[bytes.len().max(1)], Limits::SERVER);
        let split = decode_in_chunks(&bytes, &chunks, Limits::SERVER);
        // An over-long line may be noticed at a different frame boundary only if it is never ended;
        // with the same frames before it, the outcome must match.
        prop_assert_eq!(&whole.0, &split.0);
        prop_assert_eq!(whole.1.is_some(), split.1.is_some());
        for frame in &whole.0 {
            // Whatever was decoded parses or fails cleanly, in every role.
            let _ = ns::ClientCommand::parse(frame).map_err(|e| e.reply());
            let _ = ns::ServerCommand::parse(frame);
            let _ = sb::ClientCommand::parse(frame).map_err(|e| e.reply());
            let _ = sb::ServerCommand::parse(frame);
        }
    }
}
