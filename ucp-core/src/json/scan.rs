//! One pass over a JSON text that checks it is JSON as `serde_json` reads it into a `Value`
//! (or says which detail only `serde_json` can decide) and notes where the root object's
//! fields are; and the cheaper skipping used to walk a text already checked.
//!
//! Strings are skipped eight bytes at a time while no byte is a quote, a backslash, a
//! control character or outside ASCII (a word-at-a-time test, no `unsafe`): most of an
//! event's bytes are in strings. UTF-8 is checked there too, one sequence at a time, where a
//! byte outside ASCII stops the run: outside strings the grammar admits ASCII only, so a
//! text that passes is UTF-8 without a separate pass over it.

/// One field of the root object: byte ranges of the key (inside its quotes) and the value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Span {
    pub key_start: u32,
    pub key_end: u32,
    pub value_start: u32,
    pub value_end: u32,
}

/// What the checking pass found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// JSON as `serde_json` reads it; `spans` holds the root object's fields (none for other
    /// roots). `plain_keys`: no root key has an escape.
    Valid { object: bool, plain_keys: bool },
    /// Not JSON.
    Invalid,
    /// The grammar holds so far, but only `serde_json` can decide: a `\u` escape (lone
    /// surrogates), a number with an exponent or many digits (its range), very deep nesting
    /// (its recursion limit). The spans may be incomplete.
    Unsure,
}

/// Nesting beyond this is left to `serde_json` (whose own limit is 128).
const MAX_DEPTH: u32 = 100;
/// Integers of at most this many digits are within `serde_json`'s range for sure.
const SURE_DIGITS: usize = 18;

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// The high bit of each zero byte of `word` (read little-endian, so the first byte is the
/// lowest). A borrow can also flag a byte after a zero byte, never one before it: the
/// lowest flag is exact, which is all [`first_flagged`] reads.
fn zero_byte(word: u64) -> u64 {
    word.wrapping_sub(ONES) & !word & HIGHS
}

/// The index of the first byte whose high bit is set in `flags` (8 when none is).
fn first_flagged(flags: u64) -> usize {
    (flags.trailing_zeros() / 8) as usize
}

/// Flags for the bytes of `word` that end or interrupt a string's plain run: a quote, a
/// backslash, a control character or a byte outside ASCII (the start or part of a UTF-8
/// sequence). The lowest flag is exact.
fn string_stops(word: u64) -> u64 {
    let quote = zero_byte(word ^ (ONES * u64::from(b'"')));
    let backslash = zero_byte(word ^ (ONES * u64::from(b'\\')));
    let control = word.wrapping_sub(ONES * 0x20) & !word & HIGHS;
    quote | backslash | control | (word & HIGHS)
}

/// The length of the UTF-8 sequence whose first byte is `lead`, or `None` for a byte that
/// cannot start one (a continuation byte, or one only overlong or out-of-range sequences
/// start with).
fn utf8_width(lead: u8) -> Option<usize> {
    match lead {
        0xc2..=0xdf => Some(2),
        0xe0..=0xef => Some(3),
        0xf0..=0xf4 => Some(4),
        _ => None,
    }
}

/// Flags for the quotes and backslashes of `word` (for skipping checked strings); the
/// lowest flag is exact.
fn quotes_or_backslashes(word: u64) -> u64 {
    zero_byte(word ^ (ONES * u64::from(b'"'))) | zero_byte(word ^ (ONES * u64::from(b'\\')))
}

/// Why the checking pass stopped.
enum Stop {
    Invalid,
    Unsure,
}

/// The checking pass over `b`, appending the root object's fields to `spans`.
pub(crate) fn check(b: &[u8], spans: &mut Vec<Span>) -> Verdict {
    if u32::try_from(b.len()).is_err() {
        // Over 4 GiB the spans do not fit: serde_json decides, and nothing is indexed.
        return Verdict::Unsure;
    }
    let mut scan = Checker {
        b,
        i: 0,
        unsure: false,
    };
    match scan.document(spans) {
        Ok((object, plain_keys)) if !scan.unsure => Verdict::Valid { object, plain_keys },
        Ok(_) | Err(Stop::Unsure) => Verdict::Unsure,
        Err(Stop::Invalid) => Verdict::Invalid,
    }
}

/// One item of a checked array: where it lies, where its fields are in the list of spans,
/// and what [`Verdict::Valid`] says of it (`unsure`: only `serde_json` can decide).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Item {
    pub range: std::ops::Range<usize>,
    pub spans: std::ops::Range<usize>,
    pub object: bool,
    pub plain_keys: bool,
    pub unsure: bool,
}

/// The checking pass over an array `b`, item by item, appending each item's fields to
/// `spans` at offsets from the item's start. `None` when `b` is not an array of JSON
/// values, or when only `serde_json` can say whether it is (nesting near its limit).
pub(crate) fn check_items(b: &[u8], spans: &mut Vec<Span>) -> Option<Vec<Item>> {
    let mut scan = Checker {
        b,
        i: 0,
        unsure: false,
    };
    scan.items(spans).ok()
}

struct Checker<'a> {
    b: &'a [u8],
    i: usize,
    unsure: bool,
}

impl Checker<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.peek() {
            self.i += 1;
        }
    }

    fn expect(&mut self, byte: u8) -> Result<(), Stop> {
        if self.peek() == Some(byte) {
            self.i += 1;
            Ok(())
        } else {
            Err(Stop::Invalid)
        }
    }

    /// The whole text: a value and nothing but whitespace after it. Returns whether the root
    /// is an object and whether its keys are plain (no escape, none twice).
    fn document(&mut self, spans: &mut Vec<Span>) -> Result<(bool, bool), Stop> {
        self.ws();
        let (object, plain_keys) = self.indexed_value(0, 0, spans)?;
        self.ws();
        if self.i == self.b.len() {
            Ok((object, plain_keys))
        } else {
            Err(Stop::Invalid)
        }
    }

    /// A value nested `outer` deep whose fields are noted in `spans` if it is an object,
    /// at offsets from `base` (where the text its view describes starts). Returns whether it
    /// is an object and whether its keys are plain.
    fn indexed_value(
        &mut self,
        outer: u32,
        base: usize,
        spans: &mut Vec<Span>,
    ) -> Result<(bool, bool), Stop> {
        if self.peek() != Some(b'{') {
            self.value(outer)?;
            return Ok((false, false));
        }
        let offset = |at: usize| {
            at.checked_sub(base)
                .and_then(|from_base| u32::try_from(from_base).ok())
                .ok_or(Stop::Unsure)
        };
        let first = spans.len();
        let mut plain_keys = true;
        self.i += 1;
        self.ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Ok((true, true));
        }
        loop {
            self.expect(b'"')?;
            let key_start = self.i;
            plain_keys &= !self.string()?;
            let key_end = self.i - 1;
            self.ws();
            self.expect(b':')?;
            self.ws();
            let value_start = self.i;
            self.value(outer + 1)?;
            spans.push(Span {
                key_start: offset(key_start)?,
                key_end: offset(key_end)?,
                value_start: offset(value_start)?,
                value_end: offset(self.i)?,
            });
            if !self.comma_or_close(b'}')? {
                break;
            }
        }
        let own = spans.get(first..).unwrap_or_default();
        let plain_keys =
            plain_keys && !has_repeated_key(self.b.get(base..).unwrap_or_default(), own);
        Ok((true, plain_keys))
    }

    /// The whole text: an array and nothing but whitespace after it; each item's fields go
    /// to a list of their own, at offsets from the item's start.
    fn items(&mut self, spans: &mut Vec<Span>) -> Result<Vec<Item>, Stop> {
        self.ws();
        self.expect(b'[')?;
        self.ws();
        let mut items = Vec::new();
        if self.peek() == Some(b']') {
            self.i += 1;
        } else {
            loop {
                let start = self.i;
                let first = spans.len();
                self.unsure = false;
                let (object, plain_keys) = self.indexed_value(1, start, spans)?;
                items.push(Item {
                    range: start..self.i,
                    spans: first..spans.len(),
                    object,
                    plain_keys,
                    unsure: self.unsure,
                });
                if !self.comma_or_close(b']')? {
                    break;
                }
            }
        }
        self.ws();
        if self.i == self.b.len() {
            Ok(items)
        } else {
            Err(Stop::Invalid)
        }
    }

    /// One value at `self.i`, nested `outer` deep; leaves `self.i` after it. Iterative: a
    /// deep text cannot exhaust the stack.
    fn value(&mut self, outer: u32) -> Result<(), Stop> {
        // Bit `d` set: the container at depth `d` is an object.
        let mut objects: u128 = 0;
        let mut depth: u32 = 0;
        loop {
            match self.peek() {
                Some(open @ (b'{' | b'[')) => {
                    self.i += 1;
                    self.ws();
                    let close = if open == b'{' { b'}' } else { b']' };
                    if self.peek() == Some(close) {
                        self.i += 1;
                    } else {
                        depth += 1;
                        if outer + depth > MAX_DEPTH {
                            return Err(Stop::Unsure);
                        }
                        if open == b'{' {
                            objects |= 1 << depth;
                            self.member_key()?;
                        } else {
                            objects &= !(1 << depth);
                        }
                        continue;
                    }
                }
                Some(b'"') => {
                    self.i += 1;
                    self.string()?;
                }
                Some(b'-' | b'0'..=b'9') => self.number()?,
                Some(b't') => self.literal(b"true")?,
                Some(b'f') => self.literal(b"false")?,
                Some(b'n') => self.literal(b"null")?,
                _ => return Err(Stop::Invalid),
            }
            // After a value: close containers, or go on to the next element.
            loop {
                if depth == 0 {
                    return Ok(());
                }
                let object = objects & (1 << depth) != 0;
                if self.comma_or_close(if object { b'}' } else { b']' })? {
                    if object {
                        self.member_key()?;
                    }
                    break;
                }
                depth -= 1;
            }
        }
    }

    /// After a member or an element (whitespace first): `,` and whitespace, when more
    /// follows (true), or the container's `close` (false).
    fn comma_or_close(&mut self, close: u8) -> Result<bool, Stop> {
        self.ws();
        match self.peek() {
            Some(b',') => {
                self.i += 1;
                self.ws();
                Ok(true)
            }
            Some(byte) if byte == close => {
                self.i += 1;
                Ok(false)
            }
            _ => Err(Stop::Invalid),
        }
    }

    /// `"key"`, whitespace, `:`, whitespace.
    fn member_key(&mut self) -> Result<(), Stop> {
        self.expect(b'"')?;
        self.string()?;
        self.ws();
        self.expect(b':')?;
        self.ws();
        Ok(())
    }

    /// A string's contents after its opening quote; leaves `self.i` after the closing one.
    /// Returns whether it holds an escape.
    fn string(&mut self) -> Result<bool, Stop> {
        let mut escaped = false;
        loop {
            // Plain bytes a word at a time, then straight to the first that is not.
            while let Some(word) = self.b.get(self.i..self.i + 8) {
                let word =
                    u64::from_le_bytes(<[u8; 8]>::try_from(word).map_err(|_| Stop::Invalid)?);
                let stops = string_stops(word);
                if stops != 0 {
                    self.i += first_flagged(stops);
                    break;
                }
                self.i += 8;
            }
            let byte = self.peek().ok_or(Stop::Invalid)?;
            self.i += 1;
            match byte {
                b'"' => return Ok(escaped),
                b'\\' => {
                    escaped = true;
                    let kind = self.peek().ok_or(Stop::Invalid)?;
                    self.i += 1;
                    match kind {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {}
                        b'u' => {
                            let hex = self.b.get(self.i..self.i + 4).ok_or(Stop::Invalid)?;
                            if !hex.iter().all(u8::is_ascii_hexdigit) {
                                return Err(Stop::Invalid);
                            }
                            self.i += 4;
                            // A lone surrogate is refused: serde_json decides.
                            self.unsure = true;
                        }
                        _ => return Err(Stop::Invalid),
                    }
                }
                0..=0x1f => return Err(Stop::Invalid),
                0x80..=0xff => {
                    // The whole sequence, checked as std checks UTF-8 (no overlong forms,
                    // surrogates or code points past U+10FFFF).
                    let start = self.i - 1;
                    let end = start + utf8_width(byte).ok_or(Stop::Invalid)?;
                    let sequence = self.b.get(start..end).ok_or(Stop::Invalid)?;
                    std::str::from_utf8(sequence).map_err(|_| Stop::Invalid)?;
                    self.i = end;
                }
                _ => {}
            }
        }
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
    fn number(&mut self) -> Result<(), Stop> {
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        let digits = self.i;
        match self.peek() {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(Stop::Invalid),
        }
        if self.i - digits > SURE_DIGITS {
            self.unsure = true;
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            self.some_digits()?;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            self.some_digits()?;
            self.unsure = true;
        }
        Ok(())
    }

    fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.i += 1;
        }
    }

    fn some_digits(&mut self) -> Result<(), Stop> {
        let start = self.i;
        self.digits();
        if self.i == start {
            Err(Stop::Invalid)
        } else {
            Ok(())
        }
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), Stop> {
        if self.b.get(self.i..self.i + word.len()) == Some(word) {
            self.i += word.len();
            Ok(())
        } else {
            Err(Stop::Invalid)
        }
    }
}

/// Two root keys with the same bytes (keys with escapes are not plain anyway).
fn has_repeated_key(b: &[u8], spans: &[Span]) -> bool {
    let key = |s: &Span| b.get(s.key_start as usize..s.key_end as usize);
    spans.iter().enumerate().any(|(n, later)| {
        spans[..n].iter().any(|earlier| {
            earlier.key_end - earlier.key_start == later.key_end - later.key_start
                && key(earlier) == key(later)
        })
    })
}

// ------------------------------------------------------------- walking a checked text

/// The end of the value starting at `i` (whitespace skipped) in a text already checked.
pub(crate) fn skip_value(b: &[u8], i: usize) -> Option<usize> {
    match *b.get(i)? {
        b'"' => skip_string(b, i + 1),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut at = i;
            loop {
                match *b.get(at)? {
                    b'"' => {
                        at = skip_string(b, at + 1)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth = depth.checked_sub(1)?;
                        if depth == 0 {
                            return Some(at + 1);
                        }
                    }
                    _ => {}
                }
                at += 1;
            }
        }
        _ => {
            let mut at = i;
            while let Some(c) = b.get(at) {
                if matches!(c, b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t') {
                    break;
                }
                at += 1;
            }
            Some(at)
        }
    }
}

/// After a string's opening quote: the index after its closing quote.
pub(crate) fn skip_string(b: &[u8], mut i: usize) -> Option<usize> {
    loop {
        while let Some(word) = b.get(i..i + 8) {
            let word = u64::from_le_bytes(<[u8; 8]>::try_from(word).ok()?);
            let stops = quotes_or_backslashes(word);
            if stops != 0 {
                i += first_flagged(stops);
                break;
            }
            i += 8;
        }
        match *b.get(i)? {
            b'"' => return Some(i + 1),
            b'\\' => i += 2,
            _ => i += 1,
        }
    }
}

/// The index of the first byte at or after `i` that is not whitespace.
pub(crate) fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\n' | b'\r' | b'\t') = b.get(i) {
        i += 1;
    }
    i
}

/// One member of an object in a checked text: its key (inside the quotes) and value.
pub(crate) struct Member {
    pub key: std::ops::Range<usize>,
    pub value: std::ops::Range<usize>,
}

/// The members of the object starting at `i` in a checked text.
pub(crate) fn members(b: &[u8], i: usize) -> Members<'_> {
    let at = if b.get(i) == Some(&b'{') {
        Some(skip_ws(b, i + 1))
    } else {
        None
    };
    Members { b, at }
}

/// Iterator of [`members`].
pub(crate) struct Members<'a> {
    b: &'a [u8],
    at: Option<usize>,
}

impl Iterator for Members<'_> {
    type Item = Member;

    fn next(&mut self) -> Option<Member> {
        let b = self.b;
        let at = self.at.take()?;
        if b.get(at) != Some(&b'"') {
            return None; // `}`: the end
        }
        let key_end = skip_string(b, at + 1)?;
        let colon = skip_ws(b, key_end);
        let value_start = skip_ws(b, colon + 1);
        let value_end = skip_value(b, value_start)?;
        let next = skip_ws(b, value_end);
        if b.get(next) == Some(&b',') {
            self.at = Some(skip_ws(b, next + 1));
        }
        Some(Member {
            key: at + 1..key_end - 1,
            value: value_start..value_end,
        })
    }
}

/// The elements of the array starting at `i` in a checked text: `(start, end)`.
pub(crate) fn elements(b: &[u8], i: usize) -> impl Iterator<Item = (usize, usize)> + '_ {
    let mut at = if b.get(i) == Some(&b'[') {
        Some(skip_ws(b, i + 1))
    } else {
        None
    };
    std::iter::from_fn(move || {
        let start = at.take()?;
        if b.get(start) == Some(&b']') {
            return None;
        }
        let end = skip_value(b, start)?;
        let next = skip_ws(b, end);
        if b.get(next) == Some(&b',') {
            at = Some(skip_ws(b, next + 1));
        }
        Some((start, end))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The word-at-a-time tests find the first byte a byte-by-byte look finds, whatever
        /// follows it.
        #[test]
        fn the_first_flagged_byte_is_the_first_stop(
            // Mostly printable ASCII, so stops fall anywhere in the word or nowhere.
            bytes in proptest::array::uniform8(prop_oneof![6 => 0x20u8..0x7f, 1 => any::<u8>()]),
        ) {
            let word = u64::from_le_bytes(bytes);
            let stop = |b: &u8| matches!(b, b'"' | b'\\' | 0..=0x1f | 0x80..=0xff);
            let naive = bytes.iter().position(stop).unwrap_or(8);
            prop_assert_eq!(first_flagged(string_stops(word)), naive);
            let naive = bytes.iter().position(|b| matches!(b, b'"' | b'\\')).unwrap_or(8);
            prop_assert_eq!(first_flagged(quotes_or_backslashes(word)), naive);
        }
    }
}
