//! Diagnostic: where do the states come from? Explores a check configuration depth-first for a
//! time budget and counts unique states by the kind of action that first reached them, plus how
//! many live actors had something to do and whether an environment action (fault, heal, reboot)
//! was enabled, and by *phase*: each node's transition phase and transition number, with the
//! environment's heal/reboot record. Prints tables; not a test.
//!
//! `cargo run --release -p vmsc-model --example state_census -- SCENARIO FAULTS HEAL SECONDS [SET]`
//!
//! Without SET it explores `vmsc check`'s model (up to FAULTS faults at any time; HEAL = `heal`
//! heals any fault at any moment). With SET, a comma-separated fault set as `whatif` names it
//! (`"cut FRA-LHR,cut FRA-ORD"`), it explores `vmsc whatif`'s model: those faults at once, then
//! (HEAL = `heal`) everything healed once the cluster settled.
use stateright::actor::ActorModelAction;
use stateright::Model;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use vmsc_model::cluster_model::{fingerprint, Action, ClusterModel, Fault, State};
use vmsc_model::config::ClusterSpec;
use vmsc_model::whatif::{check_model, whatif_model, Variant};

fn kind(a: &Action) -> String {
    match a {
        Action::Actor(ActorModelAction::Deliver { msg, .. }) => {
            let d = format!("{msg:?}");
            let k: String = d.chars().take_while(|c| c.is_alphanumeric()).collect();
            format!("deliver {k}")
        }
        Action::Actor(ActorModelAction::Timeout(_, t)) => format!("timer {t:?}"),
        Action::Actor(_) => "actor other".into(),
        Action::Fault(_) | Action::FaultSet => "fault".into(),
        Action::Heal(_) | Action::HealAll => "heal".into(),
        Action::Reboot(_) => "reboot".into(),
        Action::LateNotice(..) => "late notice".into(),
    }
}

/// Each node's phase and transition number (`-` for a non-member), then heals and reboots.
fn phase(s: &State) -> String {
    let nodes: Vec<String> = s
        .actor_states
        .iter()
        .map(|n| {
            let p = format!("{:?}", n.phase);
            let p: String = p.chars().take_while(|c| c.is_alphanumeric()).collect();
            match &n.view {
                Some(v) => format!("{p} #{}", v.seq),
                None => format!("{p} -"),
            }
        })
        .collect();
    let h = &s.history;
    format!(
        "{}; healed {}, rebooted {:?}",
        nodes.join(", "),
        h.heal_done || h.healed != 0,
        h.rebooted
    )
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let path = args
        .get(1)
        .cloned()
        .unwrap_or("specs/scenarios/seed.toml".into());
    let faults: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(2);
    let heal = args.get(3).is_some_and(|s| s == "heal");
    let secs: u64 = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(30);
    let spec = Arc::new(ClusterSpec::load(std::path::Path::new(&path)).expect("scenario"));
    let m: ClusterModel = match args.get(5) {
        Some(set) => {
            let menu = Fault::menu(&spec);
            let set = set
                .split(',')
                .map(|d| {
                    menu.iter()
                        .find(|f| f.describe(&spec) == d.trim())
                        .unwrap_or_else(|| panic!("no fault {d:?} in the menu"))
                        .clone()
                })
                .collect();
            whatif_model(spec, set, heal, Variant::Correct)
        }
        None => check_model(spec, faults, heal, Variant::Correct),
    };
    let mut phases: BTreeMap<String, usize> = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut seen = std::collections::HashSet::new();
    let mut by_kind: BTreeMap<String, usize> = BTreeMap::new();
    let mut awake_hist: BTreeMap<usize, usize> = BTreeMap::new();
    let mut env_enabled = 0usize;
    let mut faults_left = 0usize;
    let mut stack = Vec::new();
    for s in m.init_states() {
        seen.insert(fingerprint(&s));
        stack.push(s);
    }
    let mut acts = Vec::new();
    let n = m.spec.actors_len();
    while let Some(s) = stack.pop() {
        if Instant::now() > deadline {
            break;
        }
        acts.clear();
        m.actions(&s, &mut acts);
        let mut awake = vec![false; n];
        let mut env = false;
        for a in &acts {
            match a {
                Action::Actor(ActorModelAction::Deliver { dst, .. }) => {
                    awake[usize::from(*dst)] = true
                }
                Action::Actor(ActorModelAction::Timeout(id, _)) => awake[usize::from(*id)] = true,
                Action::Fault(_) => {
                    env = true;
                }
                _ => env = true,
            }
        }
        if acts.iter().any(|a| matches!(a, Action::Fault(_))) {
            faults_left += 1;
        }
        if env {
            env_enabled += 1;
        }
        *awake_hist
            .entry(awake.iter().filter(|x| **x).count())
            .or_default() += 1;
        for a in acts.drain(..) {
            let k = kind(&a);
            let Some(next) = m.next_state(&s, a) else {
                continue;
            };
            if !m.within_boundary(&next) {
                continue;
            }
            if seen.insert(fingerprint(&next)) {
                *by_kind.entry(k).or_default() += 1;
                *phases.entry(phase(&next)).or_default() += 1;
                stack.push(next);
            }
        }
    }
    let total = seen.len();
    println!(
        "{path}, {faults} faults, heal {heal}: {total} unique states in {secs} s (complete: {})",
        stack.is_empty()
    );
    println!("| first reached by | states | share |\n|---|---|---|");
    let mut v: Vec<_> = by_kind.into_iter().collect();
    v.sort_by_key(|(_, c)| std::cmp::Reverse(*c));
    for (k, c) in v {
        println!("| {k} | {c} | {:.1} % |", 100.0 * c as f64 / total as f64);
    }
    println!("\n| phase (per node: phase #seq; environment) | states | share |\n|---|---|---|");
    let mut v: Vec<_> = phases.into_iter().collect();
    v.sort_by_key(|(_, c)| std::cmp::Reverse(*c));
    for (k, c) in v.iter().take(15) {
        println!("| {k} | {c} | {:.1} % |", 100.0 * *c as f64 / total as f64);
    }
    let expanded: usize = awake_hist.values().sum();
    println!(
        "\nexpanded {expanded}; env action enabled in {:.1} %, a fault still enabled in {:.1} %",
        100.0 * env_enabled as f64 / expanded as f64,
        100.0 * faults_left as f64 / expanded as f64
    );
    println!("| live actors with an enabled delivery/timer | states |\n|---|---|");
    for (k, c) in awake_hist {
        println!("| {k} | {c} |");
    }
}
