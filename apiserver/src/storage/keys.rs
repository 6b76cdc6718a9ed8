//! Key-range helpers shared by both backends.

/// The first key after every key that starts with `prefix` (etcd's
/// "range end" for a prefix): the prefix with its last byte incremented,
/// trailing `0xff` bytes dropped. `None` when no such key exists (an empty
/// prefix, or one made only of `0xff`): the range is unbounded above.
pub(crate) fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// The first key a list should return: the prefix itself, or the key just
/// after `start_after` (`start_after + "\0"`) when that is later.
pub(crate) fn list_start(prefix: &str, start_after: Option<&str>) -> Vec<u8> {
    match start_after {
        Some(after) if after >= prefix => {
            let mut start = after.as_bytes().to_vec();
            start.push(0);
            start
        }
        _ => prefix.as_bytes().to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_increments_the_last_byte() {
        assert_eq!(
            prefix_end(b"/registry/pods/"),
            Some(b"/registry/pods0".to_vec())
        );
        assert_eq!(prefix_end(b"a\xff\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_end(b"\xff"), None);
        assert_eq!(prefix_end(b""), None);
    }

    #[test]
    fn list_start_skips_past_start_after() {
        assert_eq!(list_start("/p/", None), b"/p/".to_vec());
        assert_eq!(list_start("/p/", Some("/p/a")), b"/p/a\0".to_vec());
        assert_eq!(list_start("/p/", Some("/a")), b"/p/".to_vec());
    }
}
