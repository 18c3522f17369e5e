//! Scrolled lists that follow what arrives (a conversation's messages, the inspector's lines) unless the
//! person scrolled up to read.

/// How near the end (in pixels) still counts as being at the end.
const AT_END_PX: i32 = 24;

/// Whether `list` shows its last item.
pub fn at_end(list: &web_sys::Element) -> bool {
    list.scroll_top() + list.client_height() >= list.scroll_height() - AT_END_PX
}

/// Scrolls `list` to its last item.
pub fn to_end(list: &web_sys::Element) {
    list.set_scroll_top(list.scroll_height());
}
