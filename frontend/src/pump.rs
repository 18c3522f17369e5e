//! Driving a sans-IO client machine (msnp's notification server or switchboard client): what it wants sent
//! and what it has to say are taken out until it has nothing more, since handling an event may make it
//! queue a frame (the invitation sent once a switchboard lets us in, say).

use msnp::Frame;

/// Takes frames (`transmit`) and events (`event`) out of the machine in `owner` until both are drained,
/// handing each frame to `sent` and each event to `heard`.
pub fn pump<O, E>(
    owner: &mut O,
    transmit: impl Fn(&mut O) -> Option<Frame>,
    event: impl Fn(&mut O) -> Option<E>,
    sent: impl Fn(&mut O, Frame),
    heard: impl Fn(&mut O, E),
) {
    loop {
        let mut moved = false;
        while let Some(frame) = transmit(owner) {
            sent(owner, frame);
            moved = true;
        }
        while let Some(e) = event(owner) {
            heard(owner, e);
            moved = true;
        }
        if !moved {
            return;
        }
    }
}
