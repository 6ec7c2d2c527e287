//! The lock clients' script language (the `script` of a `[[client]]` table in the cluster file).
//!
//! One request per line, words separated by blanks, case-insensitive keywords:
//!
//! ```text
//! enq     RES MODE [NOQUEUE] [VALBLK]          new lock on RES ($ENQ)
//! convert RES MODE [NOQUEUE] [VALBLK] [QUECVT] convert this client's lock on RES ($ENQ CONVERT)
//! deq     RES [VALBLK]                         release this client's lock on RES ($DEQ)
//! ```
//!
//! `RES` is a resource name (1–31 letters, digits, `_`, `$`, `.`, `-`); `MODE` one of NL CR
//! CW PR PW EX. A client holds at most one lock per resource: `enq` needs no lock on RES,
//! `convert` and `deq` need one (checked statically, line by line).
//!
//! **Sublocks** (C.5): `PARENT/SUB` names the sub-resource `SUB` under `PARENT` (e.g. `DB/REC1`,
//! at any depth: `DB/REC1/F`). `enq DB/REC1 …` takes a sublock under the client's own lock on
//! `DB` (its `$ENQ` parid), so the client must hold a lock on the parent at that line, and may
//! not `deq` a lock while it holds sublocks under it (SS$_SUBLOCKS; both checked statically).
//! If the parent lock is not granted when the line runs (its `enq` was refused or chosen as a
//! deadlock victim) the line is skipped (SS$_PARNOTGRANT). Every resource of a tree has the
//! root's directory node and master: only the root name is hashed and looked up, and a sublock
//! request goes straight to the master its parent lock knows. With `VALBLK`, a grant reads
//! the value block; a conversion down from PW or EX, or a `deq` from PW or EX, writes it — the
//! value written is `[node + 1, client + 1, line + 1, 0, ...]` so every write is distinct.
//! A client runs its script once, one request at a time, waiting for each completion ($ENQW);
//! if an `enq` is refused (NOQUEUE) or its request is chosen as a deadlock victim, later lines on
//! that resource are skipped (a conversion chosen as victim keeps its old mode, and the script
//! goes on). The `[[client]]` table may set `deadlock_priority` (default 0; the lowest priority
//! on a wait-for cycle is the victim).

use super::mode::{Flags, Mode};
use serde::{Deserialize, Serialize};

/// A request kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Op {
    /// `$ENQ` of a new lock at this mode.
    Enq(Mode),
    /// `$ENQ CONVERT` to this mode.
    Cvt(Mode),
    /// `$DEQ`.
    Deq,
}

/// One script line, parsed (the resource still by name).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ScriptLine {
    /// The request.
    pub op: Op,
    /// Root resource name, upper-cased.
    pub res: String,
    /// Flags (VALBLK, NOQUEUE, QUECVT).
    pub flags: Flags,
}

/// Parses one script line; the error says what is wrong.
pub fn parse_line(line: &str) -> Result<ScriptLine, String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let Some((verb, rest)) = words.split_first() else {
        return Err("empty line".into());
    };
    let verb = verb.to_ascii_lowercase();
    let Some((res, rest)) = rest.split_first() else {
        return Err(format!("`{verb}` needs a resource name"));
    };
    let res_ok = (1..=31).contains(&res.len())
        && res.split('/').all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_$.-".contains(c))
        });
    if !res_ok {
        return Err(format!(
            "{res:?} is not a resource name (1-31 letters, digits, _ $ . -; / between a \
             parent and a sub-resource)"
        ));
    }
    let (op, rest) = match verb.as_str() {
        "enq" | "convert" => {
            let Some((mode, rest)) = rest.split_first() else {
                return Err(format!("`{verb}` needs a lock mode (NL CR CW PR PW EX)"));
            };
            let mode: Mode = mode
                .parse()
                .map_err(|e: super::ParseModeError| e.to_string())?;
            (
                if verb == "enq" {
                    Op::Enq(mode)
                } else {
                    Op::Cvt(mode)
                },
                rest,
            )
        }
        "deq" => (Op::Deq, rest),
        _ => {
            return Err(format!(
                "unknown request `{verb}` (expected enq, convert or deq)"
            ))
        }
    };
    let mut flags = Flags::NONE;
    for w in rest {
        let f = match (w.to_ascii_uppercase().as_str(), op) {
            ("VALBLK", _) => Flags::VALBLK,
            ("NOQUEUE", Op::Enq(_) | Op::Cvt(_)) => Flags::NOQUEUE,
            ("QUECVT", Op::Cvt(_)) => Flags::QUECVT,
            (other, _) => return Err(format!("flag `{other}` is not allowed on `{verb}`")),
        };
        flags = flags | f;
    }
    Ok(ScriptLine {
        op,
        res: res.to_ascii_uppercase(),
        flags,
    })
}
