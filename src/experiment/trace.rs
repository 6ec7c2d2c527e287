//! Reading the nodes' traces (`runtime::trace`, one JSON object per line) back for analysis.
//!
//! Only what the measurements need is kept: time, node, event name, peer, the kind of an actor
//! message (`Propose`, `Commit`, ...), and for `status` records the view, activity and CLUEXIT.
//! Every line must parse; a bad one is an error naming the file and line (a truncated last line
//! — a node killed mid-write — is the only one tolerated, and is skipped).

use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use crate::experiment::error::ExperimentError;

/// A view as a `status` record shows it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Deserialize)]
pub struct TraceView {
    /// Transition number.
    pub seq: u32,
    /// Member names, in cluster-file order.
    pub members: Vec<String>,
}

/// The rendered node state of a `status` record.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct TraceStatus {
    /// The node's view, `None` for a non-member.
    pub view: Option<TraceView>,
    /// The node is an active member.
    pub active: bool,
    /// The node took a CLUEXIT (the rule, in words).
    #[serde(default)]
    pub cluexit: Option<String>,
}

/// One trace record, reduced.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    /// µs since the run's shared epoch.
    pub t_us: u64,
    /// The node (index in the cluster file).
    pub node: usize,
    /// Its incarnation.
    pub nonce: u64,
    /// `start`, `status`, `msg_out`, `circuit_down`, ...
    pub event: String,
    /// The peer, for events that have one.
    pub peer: Option<usize>,
    /// For `msg_in`/`msg_out`: the actor message's variant name.
    pub msg: Option<String>,
    /// For `status`: the state.
    pub status: Option<TraceStatus>,
    /// For `msg_in`/`msg_out` of lock-manager traffic: what the lock experiment needs.
    pub dlm: Option<DlmTrace>,
}

/// A lock-manager message (`{"Dlm": {"Lookup": {...}}}`), reduced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DlmTrace {
    /// `Lookup`, `Master`, `Request`, `Ast`, `Bast`, ...
    pub kind: String,
    /// The resource index, when the message names one.
    pub res: Option<u8>,
    /// The lock id (`Request`, `Ast`, `Bast`).
    pub lock: Option<u32>,
    /// `Request`: remote messages the request took to reach the master (lookup + request).
    pub hops: Option<u8>,
}

/// The lock-manager part of a serialized actor message, if it is one.
fn dlm_of(msg: &Value) -> Option<DlmTrace> {
    let (kind, body) = msg.get("Dlm")?.as_object()?.iter().next()?;
    // `Request` wraps a `Req`; the others carry their fields directly.
    let u = |key: &str| body.get(key).and_then(Value::as_u64);
    Some(DlmTrace {
        kind: kind.clone(),
        res: u("res").and_then(|r| u8::try_from(r).ok()),
        lock: u("lock").and_then(|l| u32::try_from(l).ok()),
        hops: u("hops").and_then(|h| u8::try_from(h).ok()),
    })
}

#[derive(Deserialize)]
struct Raw {
    t_us: u64,
    node: usize,
    nonce: u64,
    event: String,
    #[serde(default)]
    peer: Option<usize>,
    #[serde(default)]
    msg: Option<Value>,
    #[serde(default)]
    state: Option<Value>,
}

/// The variant name of a serialized actor message: `"NeedTransition"` or `{"Propose": {...}}`.
fn msg_kind(msg: &Value) -> Option<String> {
    match msg {
        Value::String(s) => Some(s.clone()),
        Value::Object(map) => map.keys().next().cloned(),
        _ => None,
    }
}

/// Parses trace text; `path` labels errors.
///
/// # Errors
/// [`ExperimentError::Trace`] for a line that is not a trace record (except a cut-off last line).
pub fn parse(path: &Path, text: &str) -> Result<Vec<Record>, ExperimentError> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let raw: Raw = match serde_json::from_str(line) {
            Ok(raw) => raw,
            // A node killed while writing leaves a cut-off last line without a newline.
            Err(_) if i + 1 == lines.len() && !text.ends_with('\n') => break,
            Err(e) => {
                return Err(ExperimentError::Trace {
                    path: path.to_path_buf(),
                    line: i + 1,
                    message: e.to_string(),
                })
            }
        };
        let status = match (&raw.event[..], raw.state) {
            ("status", Some(state)) => {
                Some(
                    serde_json::from_value(state).map_err(|e| ExperimentError::Trace {
                        path: path.to_path_buf(),
                        line: i + 1,
                        message: format!("status state: {e}"),
                    })?,
                )
            }
            _ => None,
        };
        out.push(Record {
            t_us: raw.t_us,
            node: raw.node,
            nonce: raw.nonce,
            msg: raw.msg.as_ref().and_then(msg_kind),
            dlm: raw.msg.as_ref().and_then(dlm_of),
            event: raw.event,
            peer: raw.peer,
            status,
        });
    }
    Ok(out)
}

/// Reads one trace file.
///
/// # Errors
/// [`ExperimentError::Io`] if it cannot be read, [`ExperimentError::Trace`] for a bad line.
pub fn load(path: &Path) -> Result<Vec<Record>, ExperimentError> {
    let text = std::fs::read_to_string(path).map_err(|source| ExperimentError::Io {
        path: path.to_path_buf(),
        what: "cannot read the trace",
        source,
    })?;
    parse(path, &text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_runtime_format() {
        let text = r#"{"t_us":3972,"node":0,"nonce":17,"event":"start","restored":false}
{"t_us":7227,"node":0,"nonce":17,"event":"circuit_up","peer":2,"peer_nonce":19}
{"t_us":162959,"node":0,"nonce":17,"event":"msg_out","peer":1,"seq":7,"hold_us":5,"msg":{"Propose":{"base":null}}}
{"t_us":1527445,"node":0,"nonce":17,"event":"msg_in","peer":1,"seq":36,"msg":"NeedTransition"}
{"t_us":169186,"node":0,"nonce":17,"event":"status","state":{"active":false,"cluexit":null,"connections":["UK1"],"quorate":true,"view":{"members":["FRANK1","UK1"],"quorum":3,"seq":1}}}
{"t_us":1691"#;
        let records = parse(Path::new("F.jsonl"), text).expect("parses");
        assert_eq!(records.len(), 5);
        assert_eq!(records[1].peer, Some(2));
        assert_eq!(records[2].msg.as_deref(), Some("Propose"));
        assert_eq!(records[3].msg.as_deref(), Some("NeedTransition"));
        let status = records[4].status.as_ref().expect("status");
        assert_eq!(status.view.as_ref().map(|v| v.seq), Some(1));
        assert!(!status.active);
        assert_eq!(records[2].dlm, None);
    }

    #[test]
    fn reads_lock_manager_messages() {
        let text = r#"{"t_us":1,"node":3,"nonce":1,"event":"msg_out","peer":0,"seq":9,"hold_us":48790,"msg":{"Dlm":{"Request":{"res":2,"lock":1076887553,"op":{"Enq":"PR"},"flags":0,"write":null,"hops":2}}}}
{"t_us":2,"node":3,"nonce":1,"event":"msg_out","peer":1,"seq":9,"hold_us":48790,"msg":{"Dlm":{"Lookup":{"epoch":5,"res":2}}}}
"#;
        let records = parse(Path::new("F.jsonl"), text).expect("parses");
        assert_eq!(records[0].msg.as_deref(), Some("Dlm"));
        assert_eq!(
            records[0].dlm,
            Some(DlmTrace {
                kind: "Request".into(),
                res: Some(2),
                lock: Some(1_076_887_553),
                hops: Some(2)
            })
        );
        let lookup = records[1].dlm.as_ref().expect("lookup");
        assert_eq!(
            (lookup.kind.as_str(), lookup.res, lookup.lock),
            ("Lookup", Some(2), None)
        );
    }

    #[test]
    fn a_bad_line_names_file_and_line() {
        let err = parse(Path::new("F.jsonl"), "{\"t_us\":1}\n{}\n").unwrap_err();
        assert!(err.to_string().starts_with("F.jsonl:1: "), "{err}");
    }
}
