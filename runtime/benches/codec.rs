//! Wire-format benchmark: which serde format should carry the envelope?
//!
//! Encodes and decodes a representative cluster message (an envelope header around a DLM / CNXMAN
//! style message enum) with `serde_json`, `postcard` and `bincode` 2 (`config::standard()`, varint
//! integers), and prints nanoseconds per operation and bytes per message. The last block measures
//! the crate's real [`vmsc_runtime::Envelope`] codec, which uses the winner (postcard).
//!
//! Run: `cargo bench -p vmsc-runtime --bench codec` (release). `cargo test --benches` runs it with
//! a small iteration count so it keeps compiling and working.

use std::hint::black_box;
use std::time::Instant;

use serde::{de::DeserializeOwned, Deserialize, Serialize};
use vmsc_runtime::{BootNonce, Envelope, NodeIndex};

/// A message enum shaped like the protocol's: small control messages, a lock request with a
/// resource name, and a membership proposal with a member list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
enum BenchMsg {
    Ack {
        seq: u64,
    },
    LockRequest {
        resource: String,
        mode: u8,
        lock_id: u64,
        flags: u32,
        parent: Option<u64>,
    },
    Grant {
        lock_id: u64,
        mode: u8,
        value_block: Option<[u8; 16]>,
    },
    Proposal {
        epoch: u64,
        coordinator: u16,
        members: Vec<(u16, u64)>,
        votes: u16,
    },
}

/// Mirrors the runtime envelope's fields, so every format pays for the same header.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct BenchEnvelope {
    version: u16,
    src: u16,
    dst: u16,
    nonce: u64,
    seq: u64,
    msg_seq: u64,
    msg: BenchMsg,
}

/// One codec under test: a name and an encode/decode pair.
struct Codec {
    name: &'static str,
    encode: fn(&BenchEnvelope) -> Vec<u8>,
    decode: fn(&[u8]) -> BenchEnvelope,
}

fn main() {
    // `cargo test --benches` passes no `--bench`; keep that run short.
    let iterations: u32 = if std::env::args().any(|a| a == "--bench") {
        200_000
    } else {
        1_000
    };
    let samples = samples();
    let codecs = [
        Codec {
            name: "serde_json",
            encode: json_encode,
            decode: json_decode,
        },
        Codec {
            name: "postcard",
            encode: postcard_encode,
            decode: postcard_decode,
        },
        Codec {
            name: "bincode2",
            encode: bincode_encode,
            decode: bincode_decode,
        },
    ];
    println!("iterations per cell: {iterations}");
    println!(
        "{:<11} {:<12} {:>6} {:>11} {:>11}",
        "format", "message", "bytes", "enc ns/op", "dec ns/op"
    );
    for codec in &codecs {
        for (label, envelope) in &samples {
            let bytes = (codec.encode)(envelope);
            assert_eq!(
                &(codec.decode)(&bytes),
                envelope,
                "{} round trip",
                codec.name
            );
            let encode_ns = time_ns(iterations, || {
                black_box((codec.encode)(black_box(envelope)));
            });
            let decode_ns = time_ns(iterations, || {
                black_box((codec.decode)(black_box(&bytes)));
            });
            println!(
                "{:<11} {:<12} {:>6} {:>11.0} {:>11.0}",
                codec.name,
                label,
                bytes.len(),
                encode_ns,
                decode_ns
            );
        }
    }
    runtime_envelope(iterations, &samples);
}

/// Measures the crate's own envelope codec (magic + version prefix, then postcard).
fn runtime_envelope(iterations: u32, samples: &[(&'static str, BenchEnvelope)]) {
    for (label, sample) in samples {
        let envelope = Envelope::message(
            NodeIndex::new(sample.src),
            NodeIndex::new(sample.dst),
            BootNonce::new(sample.nonce),
            (sample.seq, sample.msg_seq),
            sample.msg.clone(),
        );
        let bytes = envelope.encode().expect("sample fits in a datagram");
        let encode_ns = time_ns(iterations, || {
            black_box(black_box(&envelope).encode().expect("sample fits"));
        });
        let decode_ns = time_ns(iterations, || {
            black_box(Envelope::<BenchMsg>::decode(black_box(&bytes), 8).expect("valid"));
        });
        println!(
            "{:<11} {:<12} {:>6} {:>11.0} {:>11.0}",
            "Envelope",
            label,
            bytes.len(),
            encode_ns,
            decode_ns
        );
    }
}

fn samples() -> Vec<(&'static str, BenchEnvelope)> {
    let header = |msg| BenchEnvelope {
        version: 1,
        src: 3,
        dst: 5,
        nonce: 1_763_760_000_123_456, // microseconds since the epoch, as boot nonces are
        seq: 12_345,
        msg_seq: 12_001,
        msg,
    };
    vec![
        ("ack", header(BenchMsg::Ack { seq: 12_344 })),
        (
            "lock_req",
            header(BenchMsg::LockRequest {
                resource: "SYS$SYSDEVICE:[000000]INDEXF.SYS".to_string(),
                mode: 5,
                lock_id: 0x0001_0042,
                flags: 0x0000_0401,
                parent: Some(0x0001_0001),
            }),
        ),
        (
            "grant",
            header(BenchMsg::Grant {
                lock_id: 0x0001_0042,
                mode: 5,
                value_block: Some([7; 16]),
            }),
        ),
        (
            "proposal",
            header(BenchMsg::Proposal {
                epoch: 42,
                coordinator: 1,
                members: (0..8)
                    .map(|i| (i, 1_763_760_000_000_000 + u64::from(i)))
                    .collect(),
                votes: 8,
            }),
        ),
    ]
}

/// Mean nanoseconds per call of `f` over `iterations` calls (after a short warm-up).
fn time_ns(iterations: u32, mut f: impl FnMut()) -> f64 {
    for _ in 0..iterations / 10 {
        f();
    }
    let start = Instant::now();
    for _ in 0..iterations {
        f();
    }
    start.elapsed().as_nanos() as f64 / f64::from(iterations)
}

fn json_encode(e: &BenchEnvelope) -> Vec<u8> {
    serde_json::to_vec(e).expect("json encodes plain data")
}

fn json_decode(b: &[u8]) -> BenchEnvelope {
    decode_or_panic(serde_json::from_slice(b))
}

fn postcard_encode(e: &BenchEnvelope) -> Vec<u8> {
    postcard::to_stdvec(e).expect("postcard encodes plain data")
}

fn postcard_decode(b: &[u8]) -> BenchEnvelope {
    decode_or_panic(postcard::from_bytes(b))
}

fn bincode_encode(e: &BenchEnvelope) -> Vec<u8> {
    bincode::serde::encode_to_vec(e, bincode::config::standard()).expect("bincode encodes")
}

fn bincode_decode(b: &[u8]) -> BenchEnvelope {
    decode_or_panic(
        bincode::serde::decode_from_slice(b, bincode::config::standard()).map(|(e, _)| e),
    )
}

fn decode_or_panic<T: DeserializeOwned, E: std::fmt::Debug>(r: Result<T, E>) -> T {
    r.expect("benchmark input was produced by the same codec")
}
