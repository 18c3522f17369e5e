//! Reading a socket through one buffer per thread rather than one per connection: an idle connection then
//! holds no read buffer at all. Used by the server's connections and by the bridge's.

use msnp::Decoder;

/// The buffer's size: what one read may take.
pub const SIZE: usize = 16 * 1024;

thread_local! {
    /// Where connections on this thread read their bytes before their decoder takes them.
    static SCRATCH: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0; SIZE]);
}

/// Reads what `try_read` has ready (a socket's non-blocking read) into `decoder`: how many bytes, 0 if none
/// were ready, `None` when the connection has ended.
pub fn read_into(decoder: &mut Decoder, try_read: impl FnOnce(&mut [u8]) -> std::io::Result<usize>) -> Option<usize> {
    SCRATCH.with(|scratch| {
        let mut scratch = scratch.borrow_mut();
        match try_read(&mut scratch[..]) {
            Ok(0) => None,
            Ok(n) => {
                decoder.extend(&scratch[..n]);
                Some(n)
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Some(0),
            Err(_) => None,
        }
    })
}
