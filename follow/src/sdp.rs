// SPDX-License-Identifier: GPL-2.0
//! The media lines of an SDP body, as far as the follower needs them.
//!
//! Parsing is Mozilla's `webrtc-sdp` (the parser in Firefox), called with
//! `fail_on_warning = false`. It is WebRTC-oriented; on SIP SDP it behaves as follows
//! (each point checked by a test in `sdp/tests.rs`):
//!
//! - It requires `v=`, `o=`, `s=` and `t=` lines, a body of at least 51 bytes, and a `c=`
//!   at session level or in every `m=` section. Real SIP SDP has all of these.
//! - It refuses the whole body for any `u=`, `e=`, `p=`, `r=`, `z=` or `k=` line (legal
//!   RFC 4566 lines, rare in SIP, and `p=`/`e=` are sent by some gateways). None of them
//!   bears on media addresses, so this module drops those lines before parsing.
//! - `c=IN IP6`, session-level and media-level `c=`, several `m=` lines, port 0,
//!   `a=rtpmap`, `a=fmtp`, `a=ptime`, `a=sendonly` and the like parse as expected; unknown
//!   attributes (`a=X-nat:0`) are warnings and dropped.
//! - An `m=` line whose transport it does not know (`udptl` for T.38, `TCP/MSRP`,
//!   `UDP/BFCP`, ...) is dropped as a warning *together with nothing else*: its `c=` and
//!   `a=` lines then land in the previous `m=` section. Since offer and answer are matched
//!   by the position of their `m=` lines, this module counts the `m=` lines itself and puts
//!   such a line back as a non-RTP [`Media`], so that positions stay right.
//! - A line it knows but finds malformed (a bad `a=rtpmap`, `a=fmtp`, `a=rtcp`...) fails
//!   the whole body even with `fail_on_warning = false`: such a body gives
//!   [`Error::Parse`] and the follower keeps what it had for that side.

use std::fmt;
use std::net::IpAddr;

use webrtc_sdp::address::ExplicitlyTypedAddress;
use webrtc_sdp::attribute_type::SdpAttributeType;
use webrtc_sdp::media_type::{SdpMedia, SdpProtocolValue};
use webrtc_sdp::SdpConnection;

/// Media lines kept per SDP (and so entries per call): later `m=` lines are ignored.
pub const MAX_MEDIA: usize = 4;

/// Largest body handed to the SDP parser, in bytes.
pub const MAX_SDP: usize = 16 * 1024;

/// The direction attribute in force for one media line (RFC 4566 section 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// `a=sendrecv`, or no direction attribute.
    SendRecv,
    /// `a=sendonly` (a hold, from the side that sends it).
    SendOnly,
    /// `a=recvonly`.
    RecvOnly,
    /// `a=inactive`.
    Inactive,
}

/// One `m=` line with the connection address that applies to it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Media {
    /// The media type (`audio`, `video`, `image`...), lower case, at most 16 bytes.
    pub kind: String,
    /// The port; 0 is a rejected or disabled stream.
    pub port: u16,
    /// Whether the transport is RTP over UDP (`RTP/AVP`, `RTP/SAVP`, `RTP/AVPF`,
    /// `RTP/SAVPF`, `UDP/TLS/RTP/SAVP(F)`).
    pub rtp: bool,
    /// The media-level `c=` address, else the session-level one; `None` when neither is an
    /// IP address (an FQDN) or the transport is unknown to the parser.
    pub addr: Option<IpAddr>,
    /// The direction attribute, media level else session level.
    pub direction: Direction,
}

/// The media of one SDP body, in `m=` order, at most [`MAX_MEDIA`] of them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Sdp {
    /// The media lines.
    pub media: Vec<Media>,
}

/// Why a body was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// Over [`MAX_SDP`] bytes.
    TooLong,
    /// `webrtc-sdp` refused it; its message.
    Parse(String),
    /// The `m=` lines the parser returned do not match those in the text.
    Misaligned,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::TooLong => f.write_str("SDP body too long"),
            Error::Parse(e) => write!(f, "SDP: {e}"),
            Error::Misaligned => f.write_str("SDP: m= lines not as parsed"),
        }
    }
}

impl std::error::Error for Error {}

/// The transports `webrtc-sdp` knows (its `parse_protocol_token`); an `m=` line with any
/// other is dropped by it.
fn known_transport(proto: &str) -> bool {
    const KNOWN: [&str; 11] = [
        "RTP/AVP",
        "RTP/AVPF",
        "RTP/SAVP",
        "RTP/SAVPF",
        "TCP/DTLS/RTP/SAVP",
        "TCP/DTLS/RTP/SAVPF",
        "UDP/TLS/RTP/SAVP",
        "UDP/TLS/RTP/SAVPF",
        "DTLS/SCTP",
        "UDP/DTLS/SCTP",
        "TCP/DTLS/SCTP",
    ];
    KNOWN.iter().any(|k| k.eq_ignore_ascii_case(proto))
}

fn ip_of(c: &Option<SdpConnection>) -> Option<IpAddr> {
    match c.as_ref()?.address {
        ExplicitlyTypedAddress::Ip(ip) => Some(ip),
        ExplicitlyTypedAddress::Fqdn { .. } => None,
    }
}

fn direction(get: impl Fn(SdpAttributeType) -> bool) -> Option<Direction> {
    if get(SdpAttributeType::Sendonly) {
        Some(Direction::SendOnly)
    } else if get(SdpAttributeType::Recvonly) {
        Some(Direction::RecvOnly)
    } else if get(SdpAttributeType::Inactive) {
        Some(Direction::Inactive)
    } else if get(SdpAttributeType::Sendrecv) {
        Some(Direction::SendRecv)
    } else {
        None
    }
}

/// Parses an SDP body (RFC 4566/8866) into its first [`MAX_MEDIA`] media lines.
pub fn parse(body: &[u8]) -> Result<Sdp, Error> {
    if body.len() > MAX_SDP {
        return Err(Error::TooLong);
    }
    let text = String::from_utf8_lossy(body);
    let text: String = text
        .lines()
        .filter(|l| {
            let t = l.trim_start().as_bytes();
            !(t.len() >= 2 && t[1] == b'=' && b"uUeEpPrRzZkK".contains(&t[0]))
        })
        .flat_map(|l| [l, "\r\n"])
        .collect();
    let session = webrtc_sdp::parse_sdp(&text, false).map_err(|e| Error::Parse(e.to_string()))?;
    let session_addr = ip_of(&session.connection);
    let session_dir = direction(|t| session.get_attribute(t).is_some());

    // The m= lines as written: (media type, port, transport).
    let raw = text.lines().filter_map(|l| {
        let l = l.trim().strip_prefix("m=")?;
        let mut it = l.split_whitespace();
        let kind = it.next().unwrap_or_default();
        let port = it.next().unwrap_or_default();
        let port = port.split('/').next().unwrap_or_default().parse::<u16>().unwrap_or(0);
        let kind: String = kind.chars().take(16).collect::<String>().to_ascii_lowercase();
        Some((kind, port, it.next().unwrap_or_default().to_string()))
    });
    let mut parsed = session.media.iter();
    let mut media = Vec::new();
    for (kind, port, proto) in raw {
        let m = if known_transport(&proto) {
            let p: &SdpMedia = parsed.next().ok_or(Error::Misaligned)?;
            if u32::from(port) != p.get_port() {
                return Err(Error::Misaligned);
            }
            let rtp = matches!(
                p.get_proto(),
                SdpProtocolValue::RtpAvp
                    | SdpProtocolValue::RtpAvpf
                    | SdpProtocolValue::RtpSavp
                    | SdpProtocolValue::RtpSavpf
                    | SdpProtocolValue::UdpTlsRtpSavp
                    | SdpProtocolValue::UdpTlsRtpSavpf
            );
            let dir = direction(|t| p.get_attribute(t).is_some());
            Media {
                kind,
                port,
                rtp,
                addr: ip_of(p.get_connection()).or(session_addr),
                direction: dir.or(session_dir).unwrap_or(Direction::SendRecv),
            }
        } else {
            Media { kind, port, rtp: false, addr: None, direction: Direction::SendRecv }
        };
        if media.len() < MAX_MEDIA {
            media.push(m);
        }
    }
    if parsed.next().is_some() {
        return Err(Error::Misaligned);
    }
    Ok(Sdp { media })
}

#[cfg(test)]
mod tests;
