// SPDX-License-Identifier: GPL-2.0
//! `ssnat-follow`: keeps xt_SSNAT's entries in step with the SIP calls a router forwards.
//!
//! A PBX sends music on hold from one fixed RTP source port to every held caller, while the
//! provider accepts each call's RTP only from the address and port negotiated for that call
//! (symmetric RTP). `-j SSNAT --profile moh` rewrites the source of those packets
//! statelessly, by entries keyed by destination (the caller's media address and port).
//! This crate reads the SIP signalling the router copies to an NFLOG group and says which
//! entries to add and delete; `ssnatctl follow` applies them over netlink.
//!
//! - [`sip`]: a small, careful SIP message parser (start line, Call-ID, CSeq, tags,
//!   Content-Type, Content-Length, body).
//! - [`sdp`]: the media lines of an SDP body, parsed with Mozilla's `webrtc-sdp`.
//! - [`packet`]: the UDP datagram in an IPv4/IPv6 packet.
//! - [`Follower`] (module [`follower`]): the pure, deterministic call tracker.
//! - [`nflog`]: the nfnetlink_log client that feeds it.
//!
//! ```
//! use std::time::Duration;
//! use ssnat_follow::{Config, Follower};
//!
//! let mut f = Follower::new(Config {
//!     inside: vec![("10.0.0.0".parse().unwrap(), 8)],
//!     to_address: Some("203.0.113.5".parse().unwrap()),
//!     timeout: Duration::from_secs(4 * 3600),
//!     max_calls: 10_000,
//! });
//! // For each packet read from NFLOG: f.on_packet(now, payload); and now and then:
//! let actions = f.expire(Duration::from_secs(60));
//! assert!(actions.is_empty());
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod follower;
pub mod nflog;
pub mod packet;
pub mod sdp;
pub mod sip;

pub use follower::{Action, CallState, CallView, Config, DelReason, Dest, Follower, SkipReason, Stats};
