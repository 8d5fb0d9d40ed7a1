//! `ssnat-bench SCENARIO COUNT`: runs the pure packet path (plan + apply) of one
//! scenario COUNT times, inside `process`, which `scripts/bench.sh` measures with
//! `valgrind --tool=callgrind --toggle-collect=*process*`. `ssnat-bench --list` lists
//! the scenarios. The packets are built once, with correct checksums; each iteration
//! starts from a fresh copy. Scenario `c-udp4-fixed` runs the C floor instead
//! (`c/floor.c`: the same rewrite as `udp4-fixed`, written as netfilter's C code
//! writes it), through a wrapper of the same shape, `process_c`.

use ssnat_core::csum;
use ssnat_core::packet::{self, AddrMap, Family, Mapping, PortMap};
use std::hint::black_box;

const SRC4: [u8; 4] = [10, 0, 1, 2];
const DST4: [u8; 4] = [10, 0, 2, 2];
const SRC6: [u8; 16] = [0x20, 1, 0xd, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
const DST6: [u8; 16] = [0x20, 1, 0xd, 0xb8, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

fn addr(v6: bool, last: u8) -> [u8; 16] {
    let mut a = [0u8; 16];
    if v6 {
        a[..4].copy_from_slice(&[0x20, 1, 0xd, 0xb8]);
        a[15] = last;
    } else {
        a[..4].copy_from_slice(&[198, 51, 100, last]);
    }
    a
}

/// A packet with valid checksums: IPv4 or IPv6 header, L4 header, `len` bytes payload.
fn build(v6: bool, proto: u8, len: usize) -> Vec<u8> {
    let hl = match proto {
        6 => 20,
        132 => 28,
        _ => 8,
    };
    let mut seg = vec![0u8; hl + len];
    seg[0..2].copy_from_slice(&5004u16.to_be_bytes());
    seg[2..4].copy_from_slice(&6000u16.to_be_bytes());
    match proto {
        6 => seg[12] = 5 << 4,
        17 => {
            let l = seg.len() as u16;
            seg[4..6].copy_from_slice(&l.to_be_bytes())
        }
        1 | 58 => {
            seg[0] = if proto == 1 { 8 } else { 128 };
            seg[1] = 0;
        }
        _ => {}
    }
    for (i, b) in seg[hl..].iter_mut().enumerate() {
        *b = i as u8;
    }
    let mut p = Vec::new();
    let (s, d): (&[u8], &[u8]) = if v6 { (&SRC6, &DST6) } else { (&SRC4, &DST4) };
    if v6 {
        p.extend_from_slice(&[0x60, 0, 0, 0]);
        p.extend_from_slice(&(seg.len() as u16).to_be_bytes());
        p.extend_from_slice(&[proto, 64]);
    } else {
        let t = (20 + seg.len()) as u16;
        p.extend_from_slice(&[0x45, 0]);
        p.extend_from_slice(&t.to_be_bytes());
        p.extend_from_slice(&[0, 1, 0x40, 0, 64, proto, 0, 0]);
    }
    p.extend_from_slice(s);
    p.extend_from_slice(d);
    if !v6 {
        let c = csum::checksum(&p);
        p[10..12].copy_from_slice(&c.to_be_bytes());
    }
    let l4 = p.len();
    p.extend_from_slice(&seg);
    // L4 checksum from scratch (SCTP: CRC32c).
    if proto == 132 {
        let c = ssnat_core::crc32c::sctp_checksum(&p[l4..]);
        p[l4 + 8..l4 + 12].copy_from_slice(&c);
    } else {
        let off = match proto {
            6 => 16,
            1 | 58 => 2,
            _ => 6,
        };
        let mut ph = Vec::new();
        if proto != 1 {
            ph.extend_from_slice(s);
            ph.extend_from_slice(d);
            ph.extend_from_slice(&[0, proto]);
            ph.extend_from_slice(&(seg.len() as u16).to_be_bytes());
        }
        let c = !csum::fold(csum::add(csum::sum(&ph), csum::sum(&p[l4..])));
        p[l4 + off..l4 + off + 2].copy_from_slice(&c.to_be_bytes());
    }
    p
}

struct Scenario {
    name: &'static str,
    v6: bool,
    proto: u8,
    map: fn(bool) -> Mapping,
}

fn fam(v6: bool) -> Family {
    if v6 {
        Family::V6
    } else {
        Family::V4
    }
}
fn fixed(v6: bool) -> Mapping {
    Mapping { family: fam(v6), addr: AddrMap::Fixed(addr(v6, 7)), ports: PortMap::new(Some((4000, 4000))), seed: 0 }
}
fn range(v6: bool) -> Mapping {
    Mapping { family: fam(v6), addr: AddrMap::Range { min: addr(v6, 10), max: addr(v6, 29) }, ports: PortMap::new(Some((4000, 4999))), seed: 1 }
}
fn prefix(v6: bool) -> Mapping {
    Mapping { family: fam(v6), addr: AddrMap::Prefix { base: addr(v6, 0), len: if v6 { 64 } else { 24 } }, ports: PortMap::new(None), seed: 0 }
}
fn port_only(v6: bool) -> Mapping {
    Mapping { family: fam(v6), addr: AddrMap::Keep, ports: PortMap::new(Some((4000, 4000))), seed: 0 }
}

/// The C floor's scenario: measured through `process_c`.
const C_FLOOR: &str = "c-udp4-fixed";

const SCENARIOS: &[Scenario] = &[
    Scenario { name: C_FLOOR, v6: false, proto: 17, map: fixed },
    Scenario { name: "udp4-fixed", v6: false, proto: 17, map: fixed },
    // `-fast`: through `packet::rewrite_fast`, the kernel's fast path, alone.
    Scenario { name: "udp4-fixed-fast", v6: false, proto: 17, map: fixed },
    Scenario { name: "tcp4-fixed-fast", v6: false, proto: 6, map: fixed },
    Scenario { name: "udp6-fixed-fast", v6: true, proto: 17, map: fixed },
    Scenario { name: "udp4-range", v6: false, proto: 17, map: range },
    Scenario { name: "udp4-prefix", v6: false, proto: 17, map: prefix },
    Scenario { name: "udp4-port-only", v6: false, proto: 17, map: port_only },
    Scenario { name: "tcp4-fixed", v6: false, proto: 6, map: fixed },
    Scenario { name: "tcp4-range", v6: false, proto: 6, map: range },
    Scenario { name: "icmp4-fixed", v6: false, proto: 1, map: fixed },
    Scenario { name: "sctp4-fixed", v6: false, proto: 132, map: fixed },
    Scenario { name: "udp6-fixed", v6: true, proto: 17, map: fixed },
    Scenario { name: "udp6-range", v6: true, proto: 17, map: range },
    Scenario { name: "udp6-prefix", v6: true, proto: 17, map: prefix },
    Scenario { name: "tcp6-fixed", v6: true, proto: 6, map: fixed },
    Scenario { name: "icmp6-fixed", v6: true, proto: 58, map: fixed },
    Scenario { name: "sctp6-fixed", v6: true, proto: 132, map: fixed },
    // UDP-Lite takes the general planner (plan + apply), not the common path.
    Scenario { name: "udplite4-fixed", v6: false, proto: 136, map: fixed },
    Scenario { name: "udplite6-fixed", v6: true, proto: 136, map: fixed },
];

/// The measured function: one packet through `packet::rewrite`, as the kernel runs it
/// on a packet whose headers are linear and writable.
#[inline(never)]
fn process(pkt: &mut [u8], map: &Mapping) -> bool {
    let len = pkt.len();
    matches!(packet::rewrite(pkt, len, map, None), packet::Outcome::Done(_))
}

/// The kernel's fast path alone (`packet::rewrite_fast`, as `ssnat_rust_fast4` and
/// `ssnat_rust_fast6` run it), for the `-fast` scenarios.
#[inline(never)]
fn process_fast(pkt: &mut [u8], map: &Mapping) -> bool {
    let len = pkt.len();
    matches!(packet::rewrite_fast(pkt, len, map, None), Some(Ok(_)))
}

extern "C" {
    /// `c/floor.c`: rewrites an IPv4/UDP packet's source to `addr:port` (network byte
    /// order); 1 if it did.
    fn ssnat_c_floor_udp4(pkt: *mut u8, len: usize, addr: u32, port: u16) -> core::ffi::c_int;
}

/// The C floor: one packet through `ssnat_c_floor_udp4`, with the mapping's fixed
/// address and port.
#[inline(never)]
fn process_c(pkt: &mut [u8], map: &Mapping) -> bool {
    let (AddrMap::Fixed(min), Some((port, _))) = (map.addr, map.ports.range()) else { return false };
    let addr = u32::from_ne_bytes([min[0], min[1], min[2], min[3]]);
    // SAFETY: `pkt` is valid for `pkt.len()` bytes of reads and writes, and the C code
    // touches no byte beyond the length it is given.
    unsafe { ssnat_c_floor_udp4(pkt.as_mut_ptr(), pkt.len(), addr, port.to_be()) == 1 }
}

/// For comparison: the same rewrite with the checksums recomputed from scratch.
#[inline(never)]
fn process_full_recompute(pkt: &mut [u8], map: &Mapping, rewrite: fn(&mut [u8], &Mapping) -> bool) -> bool {
    let ok = rewrite(pkt, map);
    let (l4, so) = if pkt[0] >> 4 == 6 { (40, 8) } else { (20, 12) };
    let n = if l4 == 40 { 32 } else { 8 };
    let mut s = csum::sum(&pkt[so..so + n]);
    s = csum::add(s, csum::sum(&pkt[l4..]));
    black_box(s);
    ok
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--list") {
        for s in SCENARIOS {
            println!("{}", s.name);
        }
        return;
    }
    let (Some(name), Some(count)) = (args.get(1), args.get(2).and_then(|c| c.parse::<usize>().ok())) else {
        eprintln!("usage: ssnat-bench SCENARIO COUNT [--full] [--payload N] | --list");
        std::process::exit(2);
    };
    let full = args.iter().any(|a| a == "--full");
    let payload = args
        .iter()
        .position(|a| a == "--payload")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(160);
    let Some(s) = SCENARIOS.iter().find(|s| s.name == name) else {
        eprintln!("ssnat-bench: no scenario {name} (see --list)");
        std::process::exit(2);
    };
    let map = (s.map)(s.v6);
    let orig = build(s.v6, s.proto, payload);
    let mut pkt = orig.clone();
    let mut ok = 0usize;
    let rewrite: fn(&mut [u8], &Mapping) -> bool = if s.name.ends_with("-fast") { process_fast } else { process };
    for _ in 0..count {
        pkt.copy_from_slice(&orig);
        ok += usize::from(if s.name == C_FLOOR {
            process_c(black_box(&mut pkt), &map)
        } else if full {
            process_full_recompute(black_box(&mut pkt), &map, rewrite)
        } else {
            rewrite(black_box(&mut pkt), &map)
        });
    }
    if s.name == C_FLOOR || s.name.starts_with("udp4-fixed") {
        // The floor must do the very rewrite SSNAT does: same bytes out.
        let mut a = orig.clone();
        let mut b = orig.clone();
        if !(process_c(&mut a, &map) && rewrite(&mut b, &map) && a == b) {
            eprintln!("ssnat-bench: the C floor and the Rust path disagree");
            std::process::exit(1);
        }
    }
    if ok != count {
        eprintln!("ssnat-bench: {name}: only {ok} of {count} packets rewritten");
        std::process::exit(1);
    }
}
