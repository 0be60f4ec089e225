//! zlib decompression with a cap on the inflated size, shared by the envelopes: a small
//! message must not be able to inflate into gigabytes of memory (a decompression bomb).

use std::cell::Cell;
use std::io::Read;

use flate2::read::ZlibDecoder;

use super::EnvelopeError;

/// Compressed message data that inflates to more than this many bytes (64 MiB) is a parse
/// error, whatever the envelope: the default of `options.envelope.max_inflated_size`.
pub const MAX_INFLATED_SIZE: usize = 64 * 1024 * 1024;

thread_local! {
    static LIMIT: Cell<usize> = const { Cell::new(MAX_INFLATED_SIZE) };
}

/// Runs `parse` with `bytes` as the cap on inflated envelope data (a subscription's
/// `options.envelope.max_inflated_size`; the message transports parse every message inside
/// it). Outside, the cap is [`MAX_INFLATED_SIZE`]. `0` is taken as 1 byte.
///
/// ```
/// use tomodachi::envelope::{max_inflated_size, with_max_inflated_size, MAX_INFLATED_SIZE};
///
/// assert_eq!(with_max_inflated_size(1 << 20, max_inflated_size), 1 << 20);
/// assert_eq!(max_inflated_size(), MAX_INFLATED_SIZE);
/// ```
pub fn with_max_inflated_size<R>(bytes: usize, parse: impl FnOnce() -> R) -> R {
    struct Restore(usize);
    impl Drop for Restore {
        fn drop(&mut self) {
            LIMIT.set(self.0);
        }
    }
    let _restore = Restore(LIMIT.replace(bytes.max(1)));
    parse()
}

/// The cap on inflated envelope data where it is called (see [`with_max_inflated_size`]).
pub fn max_inflated_size() -> usize {
    LIMIT.get()
}

/// zlib-decompresses `compressed`, holding at most `limit` bytes of output: the stream is read
/// in 64 KiB chunks and the output grows by doubling but never past `limit` (a plain
/// `read_to_end` would double to twice the cap before noticing). `envelope` names the envelope
/// in errors.
pub(crate) fn inflate_capped(
    compressed: &[u8],
    limit: usize,
    envelope: &str,
) -> Result<Vec<u8>, EnvelopeError> {
    const CHUNK: usize = 64 * 1024;
    let mut out: Vec<u8> = Vec::with_capacity(compressed.len().saturating_mul(4).min(limit));
    let mut chunk = vec![0u8; CHUNK];
    let mut decoder = ZlibDecoder::new(compressed);
    loop {
        let n = match decoder.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(EnvelopeError::parse(format!(
                    "{envelope} data is not a valid zlib stream: {e}"
                )))
            }
        };
        if out.len() + n > limit {
            return Err(EnvelopeError::parse(format!(
                "{envelope} compressed data inflates to more than {limit} bytes \
                 (options.envelope.max_inflated_size)"
            )));
        }
        if out.capacity() - out.len() < n {
            let target = out
                .capacity()
                .saturating_mul(2)
                .max(out.len() + n)
                .min(limit);
            out.reserve_exact(target - out.len());
        }
        out.extend_from_slice(&chunk[..n]);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use flate2::write::ZlibEncoder;
    use flate2::Compression;

    use super::*;

    fn zlib(data: &[u8]) -> Vec<u8> {
        let mut encoder = ZlibEncoder::new(Vec::new(), Compression::new(9));
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn data_within_the_cap_inflates_whole() {
        let data = vec![b'x'; 1000];
        assert_eq!(
            inflate_capped(&zlib(&data), 1000, "JsonBase").unwrap(),
            data
        );
    }

    /// A bomb (16 MiB of zeros in ~16 KiB) stops at the cap: the output buffer never grows
    /// past it.
    #[test]
    fn a_bomb_stops_at_the_cap() {
        let bomb = zlib(&vec![0u8; 16 * 1024 * 1024]);
        assert!(bomb.len() < 64 * 1024);
        let err = inflate_capped(&bomb, 1024 * 1024, "JsonBase").unwrap_err();
        assert_eq!(
            err.to_string(),
            "JsonBase compressed data inflates to more than 1048576 bytes \
             (options.envelope.max_inflated_size)"
        );
    }

    #[test]
    fn a_broken_stream_is_a_parse_error() {
        let err = inflate_capped(b"not zlib", 1024, "ProtobufBase").unwrap_err();
        assert!(err
            .to_string()
            .starts_with("ProtobufBase data is not a valid zlib stream"));
    }
}
