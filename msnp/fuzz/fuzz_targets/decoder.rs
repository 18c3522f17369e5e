//! Feeds arbitrary bytes, split at fuzzer-chosen points, to the decoder and every parser.
#![no_main]

use libfuzzer_sys::fuzz_target;
use msnp::{Decoder, Limits, ns, sb};

fuzz_target!(|data: &[u8]| {
    // The first byte picks the chunk size, so splits are explored too.
    let Some((&chunk, bytes)) = data.split_first() else { return };
    let mut decoder = Decoder::new(Limits::SERVER);
    for piece in bytes.chunks(usize::from(chunk).max(1)) {
        decoder.extend(piece);
        while let Ok(Some(frame)) = decoder.next_frame() {
            let _ = ns::ClientCommand::parse(&frame).map_err(|e| e.reply());
            let _ = ns::ServerCommand::parse(&frame);
            let _ = sb::ClientCommand::parse(&frame).map_err(|e| e.reply());
            let _ = sb::ServerCommand::parse(&frame);
        }
    }
});
