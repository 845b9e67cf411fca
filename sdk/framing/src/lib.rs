//! Framing: cutting a byte stream into the frames a format decodes, and
//! joining encoded frames back into a stream.
//!
//! Formats never see a stream, only whole frames; the connector or the
//! runtime picks the framing (a socket's `byte-delimiter`, a file's lines, a
//! length-prefixed protocol). Chunks may split a frame anywhere; the
//! [`Framer`] keeps the partial frame until the rest arrives, and refuses a
//! frame longer than its limit instead of buffering without bound.

/// Frames as the contract carries them (its `var-data`): frame `i` is
/// `data[offsets[i]..offsets[i + 1]]`. The host and the guest SDK convert
/// it to their binding's type by moving the two vectors.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VarData {
    /// `len + 1` offsets starting at 0 (empty when there are no frames).
    pub offsets: Vec<i32>,
    /// The frames back to back.
    pub data: Vec<u8>,
}

impl VarData {
    /// Number of frames.
    pub fn len(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// Whether there are no frames.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `n` copies of `value` (a constant column, e.g. a partition value
    /// repeated for each record).
    pub fn repeated(value: &[u8], n: usize) -> VarData {
        let mut data = Vec::with_capacity(value.len() * n);
        let mut offsets = Vec::with_capacity(n + 1);
        offsets.push(0);
        for _ in 0..n {
            data.extend_from_slice(value);
            offsets.push(data.len() as i32);
        }
        VarData { offsets, data }
    }
}

/// How frames are delimited in a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// Lines ending in `\n`; a `\r` before it is dropped.
    Newline,
    /// Frames ending in this byte (Flink's socket `byte-delimiter`).
    Delimiter(u8),
    /// Each frame preceded by its length as a 4-byte big-endian integer.
    LengthPrefixed,
}

/// Default cap on one frame: 16 MiB.
pub const DEFAULT_MAX_FRAME: usize = 16 << 20;

/// A frame could not be cut from the stream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FramingError {
    /// A frame is longer than the limit.
    #[error("frame at byte {offset} is longer than the {limit}-byte limit; raise the limit or check the framing")]
    TooLong {
        /// Stream offset where the frame starts.
        offset: u64,
        /// The limit in bytes.
        limit: usize,
    },
    /// The stream ended inside a length-prefixed frame.
    #[error("the stream ends inside a frame at byte {offset} ({missing} bytes missing)")]
    Truncated {
        /// Stream offset where the frame starts.
        offset: u64,
        /// Bytes still expected.
        missing: usize,
    },
}

/// Cuts a stream, fed in chunks of any size, into frames.
#[derive(Debug, Clone)]
pub struct Framer {
    framing: Framing,
    max_frame: usize,
    /// Bytes of the frame not yet complete.
    pending: Vec<u8>,
    /// Stream offset of `pending[0]`.
    offset: u64,
}

impl Framer {
    /// A framer with the default 16 MiB frame limit.
    pub fn new(framing: Framing) -> Self {
        Self::with_limit(framing, DEFAULT_MAX_FRAME)
    }

    /// A framer that refuses frames longer than `max_frame` bytes.
    pub fn with_limit(framing: Framing, max_frame: usize) -> Self {
        Framer { framing, max_frame, pending: Vec::new(), offset: 0 }
    }

    /// Stream offset of the first byte not yet returned in a frame.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Continues a stream read from `offset` on (a reader restored from a
    /// checkpoint), so offsets keep counting from the stream's start.
    pub fn set_offset(&mut self, offset: u64) {
        self.offset = offset;
    }

    /// Feeds a chunk; returns the frames it completes.
    pub fn push(&mut self, chunk: &[u8]) -> Result<VarData, FramingError> {
        let mut out = FrameBuilder::default();
        match self.framing {
            Framing::Newline => self.push_delimited(chunk, b'\n', true, &mut out)?,
            Framing::Delimiter(d) => self.push_delimited(chunk, d, false, &mut out)?,
            Framing::LengthPrefixed => self.push_prefixed(chunk, &mut out)?,
        }
        Ok(out.finish())
    }

    /// Ends the stream: a trailing frame without its delimiter is returned
    /// (as files often end without a final newline); a length-prefixed
    /// stream that stops inside a frame is an error.
    pub fn finish(&mut self) -> Result<VarData, FramingError> {
        let mut out = FrameBuilder::default();
        if !self.pending.is_empty() {
            if self.framing == Framing::LengthPrefixed {
                let missing = match self.pending.get(..4) {
                    Some(p) => 4 + u32::from_be_bytes([p[0], p[1], p[2], p[3]]) as usize - self.pending.len(),
                    None => 4 - self.pending.len(),
                };
                return Err(FramingError::Truncated { offset: self.offset, missing });
            }
            let mut frame = std::mem::take(&mut self.pending);
            if self.framing == Framing::Newline && frame.last() == Some(&b'\r') {
                frame.pop();
            }
            out.push(&frame);
            self.offset += frame.len() as u64;
        }
        Ok(out.finish())
    }

    fn push_delimited(
        &mut self,
        mut chunk: &[u8],
        delimiter: u8,
        strip_cr: bool,
        out: &mut FrameBuilder,
    ) -> Result<(), FramingError> {
        while let Some(at) = memchr(delimiter, chunk) {
            let piece = &chunk[..at];
            let consumed = self.pending.len() + at + 1;
            let frame: &[u8] = if self.pending.is_empty() {
                piece
            } else {
                self.pending.extend_from_slice(piece);
                &self.pending
            };
            if frame.len() > self.max_frame {
                return Err(FramingError::TooLong { offset: self.offset, limit: self.max_frame });
            }
            let frame = if strip_cr && frame.last() == Some(&b'\r') { &frame[..frame.len() - 1] } else { frame };
            out.push(frame);
            self.pending.clear();
            self.offset += consumed as u64;
            chunk = &chunk[at + 1..];
        }
        if self.pending.len() + chunk.len() > self.max_frame {
            return Err(FramingError::TooLong { offset: self.offset, limit: self.max_frame });
        }
        self.pending.extend_from_slice(chunk);
        Ok(())
    }

    fn push_prefixed(&mut self, chunk: &[u8], out: &mut FrameBuilder) -> Result<(), FramingError> {
        self.pending.extend_from_slice(chunk);
        let mut start = 0;
        while let Some(p) = self.pending.get(start..start + 4) {
            let len = u32::from_be_bytes([p[0], p[1], p[2], p[3]]) as usize;
            if len > self.max_frame {
                return Err(FramingError::TooLong { offset: self.offset, limit: self.max_frame });
            }
            let Some(frame) = self.pending.get(start + 4..start + 4 + len) else { break };
            out.push(frame);
            start += 4 + len;
            self.offset += 4 + len as u64;
        }
        self.pending.drain(..start);
        Ok(())
    }
}

/// Joins frames into a stream with `framing` (the encoder side).
pub fn join(frames: &VarData, framing: Framing, out: &mut Vec<u8>) {
    for i in 0..frames.offsets.len().saturating_sub(1) {
        let (start, end) = (frames.offsets[i] as usize, frames.offsets[i + 1] as usize);
        let Some(frame) = frames.data.get(start..end) else { return };
        match framing {
            Framing::Newline => {
                out.extend_from_slice(frame);
                out.push(b'\n');
            }
            Framing::Delimiter(d) => {
                out.extend_from_slice(frame);
                out.push(d);
            }
            Framing::LengthPrefixed => {
                out.extend_from_slice(&(frame.len() as u32).to_be_bytes());
                out.extend_from_slice(frame);
            }
        }
    }
}

fn memchr(needle: u8, haystack: &[u8]) -> Option<usize> {
    memchr::memchr(needle, haystack)
}

#[derive(Default)]
struct FrameBuilder {
    offsets: Vec<i32>,
    data: Vec<u8>,
}

impl FrameBuilder {
    fn push(&mut self, frame: &[u8]) {
        if self.offsets.is_empty() {
            self.offsets.push(0);
        }
        self.data.extend_from_slice(frame);
        // Frames are capped far below 2 GiB per call by `max_frame` and the
        // chunk size, so the offset fits.
        self.offsets.push(i32::try_from(self.data.len()).unwrap_or(i32::MAX));
    }

    fn finish(mut self) -> VarData {
        if self.offsets.is_empty() {
            self.offsets.push(0);
        }
        VarData { offsets: self.offsets, data: self.data }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(v: &VarData) -> Vec<String> {
        v.offsets
            .windows(2)
            .map(|w| String::from_utf8_lossy(&v.data[w[0] as usize..w[1] as usize]).into_owned())
            .collect()
    }

    /// Every way of cutting the stream in two gives the same frames.
    fn all_splits(framing: Framing, stream: &[u8], want: &[&str]) {
        for cut in 0..=stream.len() {
            let mut f = Framer::new(framing);
            let mut got = frames(&f.push(&stream[..cut]).unwrap());
            got.extend(frames(&f.push(&stream[cut..]).unwrap()));
            got.extend(frames(&f.finish().unwrap()));
            assert_eq!(got, want, "cut at {cut}");
            assert_eq!(f.offset(), stream.len() as u64);
        }
    }

    #[test]
    fn newline_frames_survive_any_chunking() {
        all_splits(
            Framing::Newline,
            b"INSERT|Alice|12\r\nINSERT|Bob|5\n\nlast",
            &["INSERT|Alice|12", "INSERT|Bob|5", "", "last"],
        );
    }

    #[test]
    fn single_byte_delimiter() {
        all_splits(Framing::Delimiter(b';'), b"a;bb;;ccc;", &["a", "bb", "", "ccc"]);
    }

    #[test]
    fn length_prefixed_and_join_round_trip() {
        let input = VarData { offsets: vec![0, 3, 3, 8], data: b"abcdefgh".to_vec() };
        for framing in [Framing::LengthPrefixed, Framing::Newline, Framing::Delimiter(0)] {
            let mut stream = Vec::new();
            join(&input, framing, &mut stream);
            all_splits(framing, &stream, &["abc", "", "defgh"]);
        }
    }

    #[test]
    fn oversized_and_truncated_frames_are_errors() {
        let mut f = Framer::with_limit(Framing::Newline, 4);
        assert_eq!(f.push(b"abcd\nabc").unwrap().offsets.len(), 2);
        assert_eq!(f.push(b"de").err(), Some(FramingError::TooLong { offset: 5, limit: 4 }));

        let mut f = Framer::with_limit(Framing::LengthPrefixed, 4);
        assert_eq!(f.push(&[0, 0, 0, 9]).err(), Some(FramingError::TooLong { offset: 0, limit: 4 }));

        let mut f = Framer::new(Framing::LengthPrefixed);
        f.push(&[0, 0, 0, 3, b'a']).unwrap();
        assert_eq!(f.finish().err(), Some(FramingError::Truncated { offset: 0, missing: 2 }));
    }
}
