//! Python's `int(str)` and `%` as upstream's parser uses them.

/// `int(text)` for base-10 strings: surrounding whitespace, an optional sign, digits with
/// single underscores between them. Values beyond `i128` saturate (upstream's integers are
/// unbounded; no field or interval comes near either bound).
pub(crate) fn py_int(text: &str) -> Option<i128> {
    let t = text.trim();
    let (negative, digits) = match t.as_bytes().first()? {
        b'+' => (false, &t[1..]),
        b'-' => (true, &t[1..]),
        _ => (false, t),
    };
    let bytes = digits.as_bytes();
    if bytes.is_empty() || !bytes[0].is_ascii_digit() || !bytes[bytes.len() - 1].is_ascii_digit() {
        return None;
    }
    let mut value: i128 = 0;
    let mut prev_underscore = false;
    for &b in bytes {
        match b {
            b'0'..=b'9' => {
                value = value
                    .saturating_mul(10)
                    .saturating_add(i128::from(b - b'0'));
                prev_underscore = false;
            }
            b'_' if !prev_underscore => prev_underscore = true,
            _ => return None,
        }
    }
    Some(if negative { -value } else { value })
}

/// Python's `a % b` (the result takes the sign of `b`); `b` must not be zero.
pub(crate) fn py_mod(a: i128, b: i128) -> i128 {
    let r = a.wrapping_rem(b);
    if r != 0 && ((r < 0) != (b < 0)) {
        r + b
    } else {
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int_follows_python() {
        assert_eq!(py_int("5"), Some(5));
        assert_eq!(py_int(" 007\t"), Some(7));
        assert_eq!(py_int("+3"), Some(3));
        assert_eq!(py_int("-3"), Some(-3));
        assert_eq!(py_int("1_000"), Some(1000));
        for bad in ["", " ", "+", "1__0", "_1", "1_", "1.5", "x", "5s", "٣"] {
            assert_eq!(py_int(bad), None, "{bad:?}");
        }
        assert_eq!(py_int(&"9".repeat(60)), Some(i128::MAX));
    }

    #[test]
    fn mod_follows_python() {
        assert_eq!(py_mod(7, 3), 1);
        assert_eq!(py_mod(-7, 3), 2);
        assert_eq!(py_mod(7, -3), -2);
        assert_eq!(py_mod(i128::MIN, -1), 0);
    }
}
