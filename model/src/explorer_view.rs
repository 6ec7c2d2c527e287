//! What Stateright's Explorer shows for the checked model, in the terms an OpenVMS cluster
//! manager uses: node names instead of actor ids, SHOW CLUSTER statuses, lock queues laid out
//! as SDA's SHOW RESOURCE lays them out, and a sequence diagram whose events are the actions'
//! names ("cut FRA-LHR", "UK1 → FRANK1 proposal #2 ...").
//!
//! The Explorer shows [`step_report`] (our `Model::format_step`) for the selected step by
//! default and the raw `Debug` of Stateright's `ActorModelState` when "Complete State?" is
//! ticked; [`sequence_svg`] (our `Model::as_svg`) draws the path up to the selected step.
//!
//! Everything here is a pure function of the model and the states: no clock, no hash-map
//! iteration order, so the Explorer shows the same text for the same path every time.

use crate::cluster_model::{Action, ClusterModel, Fault, State};
use crate::describe::{self, names, peer_statuses};
use crate::dlm::{Lock, Resource};
use crate::node::{Msg, Phase, Timer};
use stateright::actor::{ActorModelAction, Id, Network};
use stateright::{Expectation, Model};
use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;

/// The console lines of the step `prev → next`, node by node. A node the step took down is
/// compared as the model keeps it while down ([`crate::node::NodeActor::down_state`]), so that a
/// crash prints nothing and a CLUEXIT its bugcheck line, not the loss of everything it held.
pub fn step_events(m: &ClusterModel, prev: &State, next: &State) -> Vec<String> {
    let mut events = Vec::new();
    for i in 0..m.spec.len() {
        let (p, n) = (m.node(prev, i), m.node(next, i));
        let gone = !m.alive(next, i) && m.alive(prev, i);
        let p = if gone {
            std::borrow::Cow::Owned(m.actor(i).down_state(p))
        } else {
            std::borrow::Cow::Borrowed(p)
        };
        if *p != *n {
            events.extend(describe::console_events(&m.spec, i, &p, n));
        }
    }
    events
}

/// The Explorer's text for one step: the action, the properties this step's state violates
/// (or reaches), the console lines the step caused, then [`state_report`] of the new state.
pub fn step_report(m: &ClusterModel, prev: &State, action: &Action, next: &State) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", m.describe_action(action));
    let verdicts = verdicts(m, next);
    if !verdicts.is_empty() {
        out.push('\n');
        out += &verdicts;
    }
    let events = step_events(m, prev, next);
    if !events.is_empty() {
        out += "\nConsole:\n";
        for e in events {
            let _ = writeln!(out, "  {e}");
        }
    }
    out.push('\n');
    out += &state_report(m, next);
    out
}

/// One line per property this state decides: `VIOLATED: always "no split-brain"` for an
/// invariant that fails in it, `reached: sometimes "..."` for a reachability goal it meets.
pub fn verdicts(m: &ClusterModel, s: &State) -> String {
    let mut out = String::new();
    for p in m.properties() {
        let holds = (p.condition)(m, s);
        match (&p.expectation, holds) {
            (Expectation::Always, false) => {
                let _ = writeln!(out, "VIOLATED: always \"{}\"", p.name);
            }
            (Expectation::Eventually, false) => {
                let _ = writeln!(out, "not yet: eventually \"{}\"", p.name);
            }
            (Expectation::Sometimes, true) => {
                let _ = writeln!(out, "reached: sometimes \"{}\"", p.name);
            }
            _ => {}
        }
    }
    out
}

/// A state as people read it: SHOW CLUSTER as each node sees it, what the environment did,
/// the messages in flight, the timers set, and (with lock clients) the lock manager.
pub fn state_report(m: &ClusterModel, s: &State) -> String {
    let mut out = cluster_table(m, s);
    out.push('\n');
    out += &environment(m, s);
    out += &in_flight(m, s);
    out += &timers(m, s);
    if !m.spec.clients.is_empty() {
        out.push('\n');
        out += &lock_manager(m, s);
    }
    out
}

/// The SHOW CLUSTER matrix: one row per node, one column per node (its STATUS as the row's node
/// sees it), then the row node's own state and view.
fn cluster_table(m: &ClusterModel, s: &State) -> String {
    let spec = &m.spec;
    let w = spec
        .nodes
        .iter()
        .map(|n| n.name.len())
        .max()
        .unwrap_or(4)
        .max(7)
        + 1;
    let mut out = format!(
        "SHOW CLUSTER as each node sees it (cluster {}, EXPECTED_VOTES {}):\n",
        spec.name, spec.expected_votes
    );
    let _ = write!(out, "{:w$}", "NODE");
    for n in &spec.nodes {
        let _ = write!(out, "{:w$}", n.name);
    }
    out += "STATE\n";
    for i in 0..spec.len() {
        let n = m.node(s, i);
        let _ = write!(out, "{:w$}", spec.nodes[i].name);
        if m.alive(s, i) {
            for (_, st) in peer_statuses(spec, i, n) {
                let _ = write!(out, "{:w$}", st.as_str());
            }
        } else {
            for _ in 0..spec.len() {
                let _ = write!(out, "{:w$}", "-");
            }
        }
        let _ = writeln!(out, "{}", node_state(m, s, i));
        if m.alive(s, i) {
            let view = match n.view {
                Some(v) => format!(
                    "view {}, votes present {}",
                    describe::view(spec, &v),
                    m.actor(i).available_votes(n)
                ),
                None => "no view".to_string(),
            };
            let _ = writeln!(out, "{:w$}{view}; incarnation {}", "", n.incarnation);
        }
    }
    if let Some(d) = spec.disk_index() {
        let disk = m.node(s, d);
        let _ = writeln!(
            out,
            "{:w$}{} votes; owner {}; circuits {}",
            "QDISK",
            spec.disk_votes(),
            disk.view
                .map_or("none".to_string(), |v| describe::view(spec, &v)),
            names(spec, disk.conn)
        );
    }
    out
}

/// A node's own state in a few words: running, quorum lost, in a transition (which role and
/// number), joining, or down (crashed, CLUEXIT).
pub fn node_state(m: &ClusterModel, s: &State, i: usize) -> String {
    let spec = &m.spec;
    let n = m.node(s, i);
    let a = m.actor(i);
    if !m.alive(s, i) {
        return match n.exited {
            Some(rule) => format!("down: CLUEXIT ({})", rule.describe()),
            None => "down: crashed".to_string(),
        };
    }
    let seq = n.view.map_or(0, |v| v.seq);
    match &n.phase {
        Phase::Idle => match n.view {
            None => match n.refused {
                Some(r) => format!("not a member: joining (last request refused: {r:?})"),
                None => "not a member: joining".to_string(),
            },
            Some(_) if a.is_active(n) => "running".to_string(),
            Some(_) if a.is_quorum_hung(n) => "quorum lost: activity blocked".to_string(),
            Some(_) => "member: state transition due".to_string(),
        },
        Phase::Coordinating(c) => format!(
            "coordinating transition #{}, waiting for {}",
            c.view.seq,
            names(spec, c.waiting)
        ),
        Phase::Claiming(c) => format!(
            "coordinating transition #{}, claiming the quorum disk's votes",
            c.view.seq
        ),
        Phase::Committing { waiting } => format!(
            "committed transition #{seq}, waiting for {}",
            names(spec, *waiting)
        ),
        Phase::Locked { coordinator, view } => format!(
            "accepted {}'s proposal #{}: suspended",
            spec.actor_name(*coordinator as usize),
            view.seq
        ),
        Phase::Installed { coordinator } => format!(
            "installed view #{seq}: suspended until {} resumes it",
            spec.actor_name(*coordinator as usize)
        ),
    }
}

/// Faults applied and healed, links cut now, failures not yet noticed.
fn environment(m: &ClusterModel, s: &State) -> String {
    let spec = &m.spec;
    let env = &s.history;
    let menu = m.menu();
    let listed = |bits: u32| -> Vec<String> {
        menu.iter()
            .enumerate()
            .filter(|(k, _)| bits & (1 << k) != 0)
            .map(|(_, f)| f.describe(spec))
            .collect()
    };
    let mut out = String::new();
    let applied = listed(env.applied);
    let _ = writeln!(
        out,
        "Faults: {}",
        if applied.is_empty() {
            "none".to_string()
        } else {
            applied.join(", ")
        }
    );
    let healed = listed(env.healed);
    if !healed.is_empty() || env.heal_done {
        let _ = writeln!(
            out,
            "Healed: {}",
            if env.heal_done {
                "everything".to_string()
            } else {
                healed.join(", ")
            }
        );
    }
    let mut cut = Vec::new();
    for (a, set) in env.cut.iter().enumerate() {
        for b in set.iter().filter(|&b| b > a) {
            cut.push(format!("{}-{}", spec.actor_name(a), spec.actor_name(b)));
        }
    }
    if !cut.is_empty() {
        let _ = writeln!(out, "Circuits cut: {}", cut.join(" "));
    }
    if !env.late.is_empty() {
        let v: Vec<String> = env
            .late
            .iter()
            .map(|&(a, b)| {
                format!(
                    "{} has not noticed losing {}",
                    spec.actor_name(a as usize),
                    spec.actor_name(b as usize)
                )
            })
            .collect();
        let _ = writeln!(out, "Late: {}", v.join("; "));
    }
    out
}

/// The messages in the network, in delivery order per link.
fn in_flight(m: &ClusterModel, s: &State) -> String {
    let mut out = format!("In flight: {} message(s)\n", s.network.len());
    for (src, dst, msg) in envelopes(&s.network) {
        let _ = writeln!(out, "  {}", describe::delivery(&m.spec, src, dst, &msg));
    }
    out
}

/// Every message in the network as `(src, dst, msg)`: per directed link in delivery order for
/// an ordered network (the checked model's), sorted for the others. Stateright 0.31's
/// `Network::iter_all` cannot be used: it never advances past the first message of an ordered
/// flow, and yields a repeated unordered message once too often.
pub fn envelopes(n: &Network<Msg>) -> Vec<(usize, usize, Msg)> {
    let key = |src: Id, dst: Id, m: &Msg| (usize::from(src), usize::from(dst), *m);
    let mut v: Vec<(usize, usize, Msg)> = match n {
        Network::Ordered(flows) => {
            return flows
                .iter()
                .flat_map(|(&(src, dst), q)| q.iter().map(move |m| key(src, dst, m)))
                .collect()
        }
        Network::UnorderedNonDuplicating(bag) => bag
            .iter()
            .flat_map(|(e, &count)| std::iter::repeat_n(key(e.src, e.dst, &e.msg), count))
            .collect(),
        Network::UnorderedDuplicating(set, _) => {
            set.iter().map(|e| key(e.src, e.dst, &e.msg)).collect()
        }
    };
    v.sort();
    v
}

/// The timers set on live nodes.
fn timers(m: &ClusterModel, s: &State) -> String {
    let mut parts = Vec::new();
    for (i, set) in s.timers_set.iter().enumerate() {
        if !m.alive(s, i) {
            continue;
        }
        let mut v: Vec<Timer> = set.iter().copied().collect();
        v.sort();
        for t in v {
            parts.push(format!("{} {}", m.spec.actor_name(i), timer_name(t)));
        }
    }
    if parts.is_empty() {
        "Timers: none\n".to_string()
    } else {
        format!("Timers: {}\n", parts.join(", "))
    }
}

/// A timer as an operator would name it.
pub fn timer_name(t: Timer) -> String {
    match t {
        Timer::Recnx => "RECNX timer".to_string(),
        Timer::Join => "join timer".to_string(),
        Timer::Client(k) => format!("lock client {k} timer"),
        Timer::Deadlock => "DEADLOCK_WAIT timer".to_string(),
    }
}

/// Every live node's lock-manager state: the resources it masters, with their three queues as
/// SDA's SHOW RESOURCE prints them, and its processes' locks.
fn lock_manager(m: &ClusterModel, s: &State) -> String {
    let spec = &m.spec;
    let mut out = "Lock manager:\n".to_string();
    for i in 0..spec.len() {
        if !m.alive(s, i) {
            continue;
        }
        let d = &m.node(s, i).dlm;
        let _ = writeln!(
            out,
            "  {}: rebuild for view #{} {}",
            spec.nodes[i].name,
            d.epoch,
            if d.rebuilt { "complete" } else { "in progress" }
        );
        for (res, r) in &d.mastered {
            out += &resource_text(m, *res, i, r);
        }
        for l in &d.locks {
            let _ = write!(
                out,
                "    process lock {:08X} on {}: {}",
                l.id.0,
                resource_name(m, l.res),
                l.granted
                    .map_or("not granted".to_string(), |md| format!("{md}"))
            );
            if let Some(p) = &l.pending {
                let _ = write!(out, ", pending {:?} ({:?})", p.op, p.stage);
            }
            if l.blocking {
                out += ", blocking AST received";
            }
            out.push('\n');
        }
    }
    out
}

fn resource_name(m: &ClusterModel, res: u8) -> String {
    m.spec
        .resources
        .get(res as usize)
        .cloned()
        .unwrap_or_else(|| format!("#{res}"))
}

/// One resource as SDA's SHOW RESOURCE lists it, with each lock's owner appended.
pub fn resource_text(m: &ClusterModel, res: u8, master: usize, r: &Resource) -> String {
    let (vb, valid) = r.value_block();
    let mut out = format!(
        "    Resource {}  master {}  value block {} {}\n",
        resource_name(m, res),
        m.spec.actor_name(master),
        vb.0.iter().map(|b| format!("{b:02X}")).collect::<String>(),
        if valid { "(valid)" } else { "(invalid)" }
    );
    for (title, queue) in [
        ("Granted", r.granted()),
        ("Conversion", r.converting()),
        ("Waiting", r.waiting()),
    ] {
        let _ = writeln!(
            out,
            "      {title} queue (Lock ID / Gr mode / Rq mode / owner):"
        );
        if queue.is_empty() {
            out += "        *** EMPTY QUEUE ***\n";
        }
        for l in queue {
            out += &lock_line(m, l);
        }
    }
    out
}

fn lock_line(m: &ClusterModel, l: &Lock) -> String {
    let mode = |md: Option<crate::dlm::Mode>| md.map_or("--".to_string(), |x| format!("{x}"));
    format!(
        "        {:08X}  {:<2}  {:<2}  {} process {}\n",
        l.id.0,
        mode(l.granted_mode),
        mode(l.requested_mode),
        m.spec.actor_name(l.owner.node as usize),
        l.owner.process
    )
}

// ----- the sequence diagram -----

const ROW_PX: usize = 30;
const LABEL_PX: usize = 520;

/// The Explorer's sequence diagram of a path: a lifeline per node (and the quorum disk), an
/// arrow per delivery from the step that sent the message, a dot per timer, a red line across
/// the ends of every link a fault cut, a red cross where a node crashed or took a CLUEXIT, and
/// a green mark where something was healed. Each event is labelled with the action's name.
pub fn sequence_svg(m: &ClusterModel, path: &[(State, Option<Action>)]) -> String {
    let spec = &m.spec;
    let actors = spec.actors_len();
    let name_px = (0..actors)
        .map(|i| spec.actor_name(i).len() * 10)
        .max()
        .unwrap_or(0);
    let col_px = name_px.max(100);
    let x = |i: usize| i * col_px;
    let y = |t: usize| t * ROW_PX;
    let steps = path.len().saturating_sub(1);
    let (w, h) = (x(actors.saturating_sub(1)) + LABEL_PX, y(steps) + ROW_PX);
    let mut svg = format!(
        "<svg version='1.1' baseProfile='full' width='{}' height='{}' viewBox='-20 -20 {} {}' \
         xmlns='http://www.w3.org/2000/svg' class='vmsc-sequence'>\
         <defs><marker class='svg-event-shape' id='arrow' markerWidth='12' markerHeight='10' \
         refX='12' refY='5' orient='auto'><polygon points='0 0, 12 5, 0 10' /></marker></defs>\n",
        w + 40,
        h + 40,
        w + 40,
        h + 40
    );
    for i in 0..actors {
        let _ = writeln!(
            svg,
            "<line x1='{0}' y1='0' x2='{0}' y2='{1}' class='svg-actor-timeline' />\
             <text x='{0}' y='0' class='svg-actor-label'>{2}</text>",
            x(i),
            y(steps),
            xml(spec.actor_name(i))
        );
    }
    // Send times of the messages in flight, per (src, dst, msg), oldest first.
    let mut sent: BTreeMap<(usize, usize, Msg), VecDeque<usize>> = BTreeMap::new();
    let mut labels = String::new();
    for (t0, pair) in path.windows(2).enumerate() {
        let t = t0 + 1;
        let (prev, next) = (&pair[0].0, &pair[1].0);
        let Some(action) = &pair[0].1 else { continue };
        let label = xml(&m.describe_action(action));
        // The label goes right of the rightmost lifeline, on the event's row.
        let _ = writeln!(
            labels,
            "<text x='{}' y='{}' class='svg-event-label'>{label}</text>",
            x(actors - 1) + 20,
            y(t) + 5
        );
        let delivered = match action {
            Action::Actor(ActorModelAction::Deliver { src, dst, msg }) => {
                let (s, d) = (usize::from(*src), usize::from(*dst));
                let from = sent
                    .get_mut(&(s, d, *msg))
                    .and_then(|q| q.pop_front())
                    .unwrap_or(0);
                let _ = writeln!(
                    svg,
                    "<line x1='{}' y1='{}' x2='{}' y2='{}' marker-end='url(#arrow)' \
                     class='svg-event-line' />",
                    x(s),
                    y(from),
                    x(d),
                    y(t)
                );
                Some((s, d, *msg))
            }
            Action::Actor(ActorModelAction::Timeout(id, _)) => {
                dot(&mut svg, x(usize::from(*id)), y(t));
                None
            }
            Action::LateNotice(a, _) => {
                dot(&mut svg, x(*a as usize), y(t));
                None
            }
            Action::Fault(k) => {
                fault_marks(&mut svg, &m.menu()[*k as usize], t, &x, &y, "#e05050");
                None
            }
            Action::FaultSet => {
                for f in m.menu() {
                    fault_marks(&mut svg, f, t, &x, &y, "#e05050");
                }
                None
            }
            Action::Heal(k) => {
                fault_marks(&mut svg, &m.menu()[*k as usize], t, &x, &y, "#50c050");
                None
            }
            Action::HealAll => {
                for f in m.menu() {
                    fault_marks(&mut svg, f, t, &x, &y, "#50c050");
                }
                None
            }
            Action::Reboot(i) => {
                ring(&mut svg, x(*i as usize), y(t), "#50c050");
                None
            }
            Action::Actor(_) => None,
        };
        // A node that took its CLUEXIT in this step.
        for i in next.history.cluexit.minus(prev.history.cluexit).iter() {
            cross(&mut svg, x(i), y(t));
        }
        track_sends(&mut sent, prev, next, delivered, t);
    }
    svg += &labels;
    svg += "</svg>";
    svg
}

/// Records the messages a step added to the network (with their send time) and forgets those
/// it removed without delivering them (lost on a cut circuit or a crash).
fn track_sends(
    sent: &mut BTreeMap<(usize, usize, Msg), VecDeque<usize>>,
    prev: &State,
    next: &State,
    delivered: Option<(usize, usize, Msg)>,
    t: usize,
) {
    let count = |s: &State| {
        let mut c: BTreeMap<(usize, usize, Msg), usize> = BTreeMap::new();
        for k in envelopes(&s.network) {
            *c.entry(k).or_default() += 1;
        }
        c
    };
    let mut before = count(prev);
    if let Some(k) = delivered {
        if let Some(n) = before.get_mut(&k) {
            *n = n.saturating_sub(1);
        }
    }
    let after = count(next);
    for (k, &b) in &before {
        let a = after.get(k).copied().unwrap_or(0);
        if a < b {
            if let Some(q) = sent.get_mut(k) {
                for _ in 0..(b - a) {
                    q.pop_front();
                }
            }
        }
    }
    for (k, &a) in &after {
        let b = before.get(k).copied().unwrap_or(0);
        for _ in b..a {
            sent.entry(*k).or_default().push_back(t);
        }
    }
}

fn fault_marks(
    svg: &mut String,
    f: &Fault,
    t: usize,
    x: &dyn Fn(usize) -> usize,
    y: &dyn Fn(usize) -> usize,
    color: &str,
) {
    match f {
        Fault::Cut { pairs, .. } => {
            for &(a, b) in pairs {
                let _ = writeln!(
                    svg,
                    "<line x1='{}' y1='{2}' x2='{}' y2='{2}' stroke='{color}' stroke-width='3' \
                     stroke-dasharray='6 4' class='vmsc-fault' />",
                    x(a as usize),
                    x(b as usize),
                    y(t)
                );
            }
        }
        Fault::Crash(i) if color == "#e05050" => cross(svg, x(*i as usize), y(t)),
        Fault::Crash(i) => ring(svg, x(*i as usize), y(t), color),
    }
}

fn dot(svg: &mut String, x: usize, y: usize) {
    let _ = writeln!(
        svg,
        "<circle cx='{x}' cy='{y}' r='8' class='svg-event-shape' />"
    );
}

fn ring(svg: &mut String, x: usize, y: usize, color: &str) {
    let _ = writeln!(
        svg,
        "<circle cx='{x}' cy='{y}' r='9' fill='none' stroke='{color}' stroke-width='3' />"
    );
}

fn cross(svg: &mut String, x: usize, y: usize) {
    let (a, b) = (x.saturating_sub(8), x + 8);
    let (c, d) = (y.saturating_sub(8), y + 8);
    let _ = writeln!(
        svg,
        "<path d='M{a} {c} L{b} {d} M{a} {d} L{b} {c}' stroke='#e05050' stroke-width='3' \
         class='vmsc-crash' />"
    );
}

/// Escapes text for SVG.
fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\'', "&apos;")
}

/// `Model::format_step` for [`ClusterModel`]: the step's report, or `None` if the action is
/// not enabled.
pub fn format_step(m: &ClusterModel, prev: &State, action: Action) -> Option<String> {
    let next = m.next_state(prev, action.clone())?;
    Some(step_report(m, prev, &action, &next))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster_model::Fault;
    use crate::config::{ClusterSpec, SEED_TOPOLOGY_TOML};
    use crate::whatif::{whatif_model, Variant};
    use std::sync::Arc;

    /// A crash prints the peers' lost connections and nothing for the crashed node, although the
    /// model forgets what the node held (`DownNodes::Forget`).
    #[test]
    fn a_crash_prints_only_the_peers_lost_connections() {
        let spec = Arc::new(ClusterSpec::parse("t", SEED_TOPOLOGY_TOML).unwrap());
        let m = whatif_model(spec.clone(), vec![Fault::Crash(1)], false, Variant::Correct);
        let init = m.init_states().remove(0);
        let next = m.next_state(&init, Action::FaultSet).unwrap();
        assert!(!m.alive(&next, 1));
        assert_eq!(
            step_events(&m, &init, &next),
            ["FRANK1", "UK1", "CHIC1", "CHIC2"]
                .map(|_| "%CNXMAN, Lost connection to system FRANK2".to_string())
        );
    }
}
