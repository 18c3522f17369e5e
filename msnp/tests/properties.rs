//! Property tests: every typed command survives encode → decode → parse unchanged, and the decoder
//! neither panics nor depends on how the bytes were split.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;
#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

use msnp::ns;
use msnp::{Decoder, Frame, FrameError, Limits, sb};
use proptest::prelude::*;

mod strategies;

use strategies::*;

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
