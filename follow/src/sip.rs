// SPDX-License-Identifier: GPL-2.0
//! Just enough of a SIP (RFC 3261) message parser for following calls.
//!
//! What the follower needs from a message is its start line (method or status code), the
//! dialog's Call-ID, the CSeq (number and method), the From and To tags, the Content-Type,
//! and the body, cut at Content-Length. Everything else (Via, Contact, routing,
//! authentication) is skipped over without interpretation.
//!
//! `rsip` (crates.io) was evaluated and not used: it knows no compact header forms (`i:`,
//! `l:`, `c:`...), gives the rest of the buffer as the body whatever Content-Length says,
//! has no folding, and has not been released since 2022 (old `uuid`, `sha2`, `bstr`).
//!
//! The parser works on bytes, allocates only for the values it returns, never panics and
//! refuses, with an [`Error`], a message over [`MAX_MESSAGE`] bytes or with more than
//! [`MAX_HEADERS`] header lines, an unparsable start line, a missing or repeated and
//! contradicting Call-ID, CSeq or Content-Length, and a body shorter than its
//! Content-Length. Accepted: header names in any case and in compact form, any amount of
//! blanks around the colon, folded (continued) header lines, bare LF line ends, several
//! messages in one buffer (see [`parse`]'s `consumed`).

use std::fmt;

/// Largest message accepted, in bytes (a UDP datagram can hold no more).
pub const MAX_MESSAGE: usize = 64 * 1024;
/// Largest number of header lines accepted in one message.
pub const MAX_HEADERS: usize = 256;
/// Longest Call-ID accepted, in bytes.
pub const MAX_CALL_ID: usize = 256;

/// Why a message was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// Empty input, or only line ends.
    Empty,
    /// Over [`MAX_MESSAGE`] bytes.
    TooLong,
    /// Over [`MAX_HEADERS`] header lines.
    TooManyHeaders,
    /// The header section does not end (no empty line).
    Unterminated,
    /// The first line is neither a request line nor a status line of SIP/2.0.
    BadStartLine,
    /// A header line without a colon, with an empty or invalid name, or a continuation
    /// line before any header.
    BadHeader,
    /// No Call-ID, or one that is empty, too long or not visible ASCII.
    BadCallId,
    /// No CSeq, or one that is not `number method`.
    BadCSeq,
    /// A Content-Length that is not a number, or two that differ.
    BadContentLength,
    /// The body is shorter than Content-Length says.
    Truncated,
    /// A header that must appear once appears twice with different values.
    Conflict,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Error::Empty => "empty message",
            Error::TooLong => "message too long",
            Error::TooManyHeaders => "too many header lines",
            Error::Unterminated => "header section not terminated",
            Error::BadStartLine => "bad start line",
            Error::BadHeader => "bad header line",
            Error::BadCallId => "missing or bad Call-ID",
            Error::BadCSeq => "missing or bad CSeq",
            Error::BadContentLength => "bad Content-Length",
            Error::Truncated => "body shorter than Content-Length",
            Error::Conflict => "conflicting repeated header",
        };
        f.write_str(s)
    }
}

impl std::error::Error for Error {}

/// The first line of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartLine {
    /// `METHOD Request-URI SIP/2.0`; the method as written (methods are case-sensitive).
    Request {
        /// The method, e.g. `INVITE`.
        method: String,
        /// The Request-URI, as written.
        uri: String,
    },
    /// `SIP/2.0 code reason`.
    Response {
        /// The status code, 100 to 699.
        code: u16,
    },
}

/// The parts of a SIP message the follower uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message<'a> {
    /// Request or response line.
    pub start: StartLine,
    /// The Call-ID (`Call-ID` or `i`).
    pub call_id: String,
    /// The CSeq number.
    pub cseq: u32,
    /// The CSeq method: for a response, the method of the request it answers.
    pub cseq_method: String,
    /// The tag parameter of From (`f`), if any.
    pub from_tag: Option<String>,
    /// The tag parameter of To (`t`), if any.
    pub to_tag: Option<String>,
    /// The media type of Content-Type (`c`), lower case, without parameters.
    pub content_type: Option<String>,
    /// The Content-Encoding (`e`) if any, lower case.
    pub content_encoding: Option<String>,
    /// The number of Via (`v`) header values.
    pub vias: usize,
    /// The body: Content-Length bytes, or the rest of the input without one.
    pub body: &'a [u8],
}

impl Message<'_> {
    /// The method if this is a request.
    pub fn method(&self) -> Option<&str> {
        match &self.start {
            StartLine::Request { method, .. } => Some(method),
            StartLine::Response { .. } => None,
        }
    }

    /// The status code if this is a response.
    pub fn status(&self) -> Option<u16> {
        match self.start {
            StartLine::Request { .. } => None,
            StartLine::Response { code } => Some(code),
        }
    }

    /// Whether the body is an SDP body (Content-Type `application/sdp`, not encoded).
    /// A body without a Content-Type is taken as SDP when it starts with `v=`.
    pub fn has_sdp(&self) -> bool {
        if self.body.iter().all(|b| b.is_ascii_whitespace()) {
            return false;
        }
        if let Some(e) = &self.content_encoding {
            if e != "identity" {
                return false;
            }
        }
        match &self.content_type {
            Some(t) => t == "application/sdp",
            None => self.body.starts_with(b"v="),
        }
    }
}

/// The header names the parser looks at.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Name {
    CallId,
    CSeq,
    From,
    To,
    ContentType,
    ContentLength,
    ContentEncoding,
    Via,
    Other,
}

fn name_of(raw: &[u8]) -> Name {
    let is = |s: &str| raw.eq_ignore_ascii_case(s.as_bytes());
    if is("call-id") || is("i") {
        Name::CallId
    } else if is("cseq") {
        Name::CSeq
    } else if is("from") || is("f") {
        Name::From
    } else if is("to") || is("t") {
        Name::To
    } else if is("content-type") || is("c") {
        Name::ContentType
    } else if is("content-length") || is("l") {
        Name::ContentLength
    } else if is("content-encoding") || is("e") {
        Name::ContentEncoding
    } else if is("via") || is("v") {
        Name::Via
    } else {
        Name::Other
    }
}

/// RFC 3261 `token` characters.
fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b)
}

fn trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t' | b'\r' | b'\n', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t' | b'\r' | b'\n'] = s {
        s = rest;
    }
    s
}

/// Splits `buf` at the first line end (CRLF or LF): the line without it, and the rest.
fn split_line(buf: &[u8]) -> Option<(&[u8], &[u8])> {
    let nl = buf.iter().position(|&b| b == b'\n')?;
    let line = &buf[..nl];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    Some((line, &buf[nl + 1..]))
}

fn parse_start(line: &[u8]) -> Result<StartLine, Error> {
    let s = std::str::from_utf8(line).map_err(|_| Error::BadStartLine)?;
    let mut parts = s.split([' ', '\t']).filter(|p| !p.is_empty());
    let first = parts.next().ok_or(Error::BadStartLine)?;
    if first.eq_ignore_ascii_case("SIP/2.0") {
        let code = parts.next().ok_or(Error::BadStartLine)?;
        if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::BadStartLine);
        }
        let code: u16 = code.parse().map_err(|_| Error::BadStartLine)?;
        if !(100..=699).contains(&code) {
            return Err(Error::BadStartLine);
        }
        return Ok(StartLine::Response { code });
    }
    let uri = parts.next().ok_or(Error::BadStartLine)?;
    let version = parts.next().ok_or(Error::BadStartLine)?;
    if parts.next().is_some()
        || !version.eq_ignore_ascii_case("SIP/2.0")
        || first.len() > 32
        || !first.bytes().all(is_token)
    {
        return Err(Error::BadStartLine);
    }
    Ok(StartLine::Request { method: first.to_string(), uri: uri.to_string() })
}

/// The `tag` parameter of a From or To value: the parameters after the name-addr's `>`,
/// or after the addr-spec when there are no angle brackets.
fn tag_of(value: &[u8]) -> Option<String> {
    let params = match value.iter().rposition(|&b| b == b'>') {
        Some(i) => &value[i + 1..],
        None => value,
    };
    for p in params.split(|&b| b == b';').skip(usize::from(!params.starts_with(b";"))) {
        let mut kv = p.splitn(2, |&b| b == b'=');
        let k = trim(kv.next().unwrap_or_default());
        if k.eq_ignore_ascii_case(b"tag") {
            let v = trim(kv.next().unwrap_or_default());
            return (!v.is_empty()).then(|| String::from_utf8_lossy(v).into_owned());
        }
    }
    None
}

/// Sets `slot` to `v`, or checks that it already holds the same value.
fn set_once<T: PartialEq>(slot: &mut Option<T>, v: T) -> Result<(), Error> {
    match slot {
        Some(old) if *old != v => Err(Error::Conflict),
        Some(_) => Ok(()),
        None => {
            *slot = Some(v);
            Ok(())
        }
    }
}

fn header(name: Name, value: &[u8], h: &mut Headers) -> Result<(), Error> {
    match name {
        Name::CallId => {
            let v = trim(value);
            if v.is_empty() || v.len() > MAX_CALL_ID || !v.iter().all(|b| b.is_ascii_graphic()) {
                return Err(Error::BadCallId);
            }
            // Checked ASCII above.
            set_once(&mut h.call_id, String::from_utf8_lossy(v).into_owned())?;
        }
        Name::CSeq => {
            let s = std::str::from_utf8(trim(value)).map_err(|_| Error::BadCSeq)?;
            let mut it = s.split([' ', '\t']).filter(|p| !p.is_empty());
            let n = it.next().ok_or(Error::BadCSeq)?;
            let m = it.next().ok_or(Error::BadCSeq)?;
            if it.next().is_some()
                || n.len() > 10
                || !n.bytes().all(|b| b.is_ascii_digit())
                || m.len() > 32
                || !m.bytes().all(is_token)
            {
                return Err(Error::BadCSeq);
            }
            let n: u32 = n.parse().map_err(|_| Error::BadCSeq)?;
            set_once(&mut h.cseq, (n, m.to_string()))?;
        }
        Name::From => set_once(&mut h.from, tag_of(value))?,
        Name::To => set_once(&mut h.to, tag_of(value))?,
        Name::ContentType => {
            let v = trim(value.split(|&b| b == b';').next().unwrap_or_default());
            let v = String::from_utf8_lossy(v).to_ascii_lowercase();
            set_once(&mut h.content_type, v.split_whitespace().collect::<String>())?;
        }
        Name::ContentLength => {
            let v = trim(value);
            if v.is_empty() || v.len() > 10 || !v.iter().all(|b| b.is_ascii_digit()) {
                return Err(Error::BadContentLength);
            }
            let n = v.iter().fold(0u64, |n, &d| n * 10 + u64::from(d - b'0'));
            let n = usize::try_from(n).map_err(|_| Error::BadContentLength)?;
            if h.content_length.is_some_and(|old| old != n) {
                return Err(Error::BadContentLength);
            }
            h.content_length = Some(n);
        }
        Name::ContentEncoding => {
            let v = String::from_utf8_lossy(trim(value)).to_ascii_lowercase();
            set_once(&mut h.content_encoding, v)?;
        }
        Name::Via => {
            // Each comma outside quotes and brackets separates one more value; counting
            // them is all the follower does with Via.
            h.vias += 1 + value.iter().filter(|&&b| b == b',').count();
        }
        Name::Other => {}
    }
    Ok(())
}

#[derive(Default)]
struct Headers {
    call_id: Option<String>,
    cseq: Option<(u32, String)>,
    from: Option<Option<String>>,
    to: Option<Option<String>>,
    content_type: Option<String>,
    content_length: Option<usize>,
    content_encoding: Option<String>,
    vias: usize,
}

/// Parses the first message in `buf`. Leading line ends (keep-alives) are skipped.
///
/// Returns the message and the number of bytes of `buf` it took, so that a buffer that
/// holds several messages back to back (each with a Content-Length) can be walked. Over
/// UDP (RFC 3261 section 18.3) the bytes after Content-Length are to be discarded, and a
/// message without Content-Length takes the rest of the datagram.
pub fn parse(buf: &[u8]) -> Result<(Message<'_>, usize), Error> {
    let start_len = buf.len();
    let mut rest = buf;
    while let [b'\r' | b'\n', r @ ..] = rest {
        rest = r;
    }
    if rest.is_empty() {
        return Err(Error::Empty);
    }
    if rest.len() > MAX_MESSAGE {
        return Err(Error::TooLong);
    }
    let (first, mut rest) = split_line(rest).ok_or(Error::Unterminated)?;
    let start = parse_start(first)?;

    let mut h = Headers::default();
    let mut lines = 0usize;
    // The header being gathered: its name and value, continuation lines joined with one
    // space (so a Call-ID folded across lines is refused: a Call-ID has no blanks).
    let mut current: Option<(Name, Vec<u8>)> = None;
    loop {
        let (line, r) = split_line(rest).ok_or(Error::Unterminated)?;
        rest = r;
        if let [b' ' | b'\t', ..] = line {
            // A continuation of the previous header line (obsolete folding).
            let (_, v) = current.as_mut().ok_or(Error::BadHeader)?;
            if v.len() + line.len() > MAX_MESSAGE {
                return Err(Error::TooLong);
            }
            v.push(b' ');
            v.extend_from_slice(trim(line));
            continue;
        }
        if let Some((name, v)) = current.take() {
            header(name, &v, &mut h)?;
        }
        if line.is_empty() {
            break;
        }
        lines += 1;
        if lines > MAX_HEADERS {
            return Err(Error::TooManyHeaders);
        }
        let colon = line.iter().position(|&b| b == b':').ok_or(Error::BadHeader)?;
        let name = trim(&line[..colon]);
        if name.is_empty() || !name.iter().copied().all(is_token) {
            return Err(Error::BadHeader);
        }
        let name = name_of(name);
        if name != Name::Other {
            current = Some((name, line[colon + 1..].to_vec()));
        }
    }

    let call_id = h.call_id.ok_or(Error::BadCallId)?;
    let (cseq, cseq_method) = h.cseq.ok_or(Error::BadCSeq)?;
    let (body, body_end) = match h.content_length {
        Some(n) if n > rest.len() => return Err(Error::Truncated),
        Some(n) => (&rest[..n], start_len - rest.len() + n),
        None => (rest, start_len),
    };
    let msg = Message {
        start,
        call_id,
        cseq,
        cseq_method,
        from_tag: h.from.flatten(),
        to_tag: h.to.flatten(),
        content_type: h.content_type,
        content_encoding: h.content_encoding,
        vias: h.vias,
        body,
    };
    Ok((msg, body_end))
}

#[cfg(test)]
mod tests;
