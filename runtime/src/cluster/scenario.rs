//! The scenario file: a timed list of faults `vmsc run` injects into a running cluster.
//!
//! ```toml
//! description = "cut Frankfurt-London once the cluster has formed"   # optional
//!
//! [[step]]
//! after = "settled"      # or: at_ms = 2000 (cluster time since the nodes were launched)
//! action = "cut"         # cut | heal | crash | reboot
//! link = "FRA-LHR"       # cut/heal: two regions (every link between them) or two nodes
//! one_way = true         # cut only, optional: drop FRA -> LHR only (the first named side sends)
//!
//! [[step]]
//! after = "settled"
//! action = "crash"       # crash/reboot name a node
//! node = "UK1"
//! ```
//!
//! Steps run in file order. A step waits for its time (`at_ms`, divided by `--time-scale` like
//! every cluster duration; a time already past runs at once) or for the cluster to settle
//! (`after = "settled"`), then acts. Exactly one of `at_ms` and `after` is required.
//!
//! Parsing is strict: unknown keys are errors, and every error names the file, the step (as
//! `step[i]`, counting from 0 like the cluster file's `node[i]`) and the field, e.g.
//! `bad.scenario.toml: step[1].link: "FRA-XYZ": XYZ is not a region or node of cluster OCICLU`.
//! Links and nodes are resolved against the cluster file when the scenario is loaded, so a
//! scenario that does not fit the cluster is rejected before any node starts.

use std::path::Path;
use std::time::Duration;

use vmsc_model::config::{ClusterSpec, LinkEnds, LinkError};

/// A scenario error: the file, the field (`step[1].action`, or `line 3` for syntax) and what is
/// wrong.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{file}: {field}: {message}")]
pub struct ScenarioError {
    /// The file.
    pub file: String,
    /// The field path.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

/// When a step runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum When {
    /// Once the cluster has settled after the previous step.
    AfterSettled,
    /// At this cluster time after launch.
    At(Duration),
}

/// A link named in a scenario, resolved to directed node pairs `(from, to)` (node indices in the
/// cluster file); `from` is on the first-named side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    /// As written, normalised to upper case (`FRA-LHR`).
    pub label: String,
    /// Every node pair the link covers.
    pub pairs: Vec<(usize, usize)>,
}

/// What a step does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Crash a node (it stays down until a reboot step).
    Crash {
        /// The node's index.
        node: usize,
    },
    /// Cut a link at both ends; `one_way` drops only the first-named side's datagrams to the
    /// second.
    Cut {
        /// The link.
        link: Link,
        /// Only one direction.
        one_way: bool,
    },
    /// Restore a link (both directions).
    Heal {
        /// The link.
        link: Link,
    },
    /// Reboot a node (crash it first if it is running).
    Reboot {
        /// The node's index.
        node: usize,
    },
}

/// One step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// Position in the file, from 0.
    pub index: usize,
    /// When it runs.
    pub when: When,
    /// What it does.
    pub action: Action,
}

/// A validated scenario.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scenario {
    /// The file it came from.
    pub file: String,
    /// The optional description.
    pub description: Option<String>,
    /// The steps, in order.
    pub steps: Vec<Step>,
}

const STEP_KEYS: [&str; 6] = ["at_ms", "after", "action", "link", "node", "one_way"];

/// Longest `at_ms` accepted: one day.
const AT_MS_MAX: i64 = 86_400_000;

impl Scenario {
    /// Reads and validates a scenario file against `spec`.
    ///
    /// # Errors
    ///
    /// [`ScenarioError`] naming the file, step and field.
    pub fn load(path: &Path, spec: &ClusterSpec) -> Result<Self, ScenarioError> {
        Ok(Self::load_with_sections(path, spec, &[])?.0)
    }

    /// [`Scenario::load`] for a file that may also hold the top-level tables named in
    /// `sections` (e.g. `vmsc experiment`'s `[load]`), which are returned unparsed for the
    /// caller to validate. A file with one of them may have no `[[step]]`.
    ///
    /// # Errors
    ///
    /// [`ScenarioError`] naming the file, step and field.
    pub fn load_with_sections(
        path: &Path,
        spec: &ClusterSpec,
        sections: &[&str],
    ) -> Result<(Self, toml::Table), ScenarioError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
            file: file.clone(),
            field: "file".into(),
            message: format!("cannot read: {e}"),
        })?;
        Self::parse_with_sections(&file, &text, spec, sections)
    }

    /// Parses and validates scenario text; `file` labels errors.
    ///
    /// # Errors
    ///
    /// [`ScenarioError`] naming the file, step and field.
    pub fn parse(file: &str, text: &str, spec: &ClusterSpec) -> Result<Self, ScenarioError> {
        Ok(Self::parse_with_sections(file, text, spec, &[])?.0)
    }

    /// [`Scenario::parse`] with extra top-level tables allowed (see
    /// [`Scenario::load_with_sections`]); returns them by name.
    ///
    /// # Errors
    ///
    /// [`ScenarioError`] naming the file, step and field; a named section that is not a table.
    pub fn parse_with_sections(
        file: &str,
        text: &str,
        spec: &ClusterSpec,
        sections: &[&str],
    ) -> Result<(Self, toml::Table), ScenarioError> {
        let err = |field: &str, message: String| ScenarioError {
            file: file.into(),
            field: field.into(),
            message,
        };
        let table: toml::Table = toml::from_str(text).map_err(|e| {
            let line = e.span().map_or(0, |s| {
                text[..s.start.min(text.len())].matches('\n').count() + 1
            });
            err(&format!("line {line}"), e.message().trim().to_string())
        })?;
        let mut description = None;
        let mut steps = Vec::new();
        let mut extra = toml::Table::new();
        for (key, value) in &table {
            match key.as_str() {
                "description" => match value.as_str() {
                    Some(d) => description = Some(d.to_string()),
                    None => return Err(err("description", "must be a string".into())),
                },
                "step" => {
                    let Some(array) = value.as_array() else {
                        return Err(err("step", "must be an array of tables ([[step]])".into()));
                    };
                    for (index, item) in array.iter().enumerate() {
                        let Some(step) = item.as_table() else {
                            return Err(err(&format!("step[{index}]"), "must be a table".into()));
                        };
                        steps.push(parse_step(index, step, spec).map_err(|(field, message)| {
                            err(
                                &format!(
                                    "step[{index}]{}",
                                    if field.is_empty() {
                                        String::new()
                                    } else {
                                        format!(".{field}")
                                    }
                                ),
                                message,
                            )
                        })?);
                    }
                }
                other if sections.contains(&other) => {
                    let Some(section) = value.as_table() else {
                        return Err(err(other, format!("must be a table ([{other}])")));
                    };
                    extra.insert(other.to_string(), toml::Value::Table(section.clone()));
                }
                other => {
                    let mut expected = vec!["description".to_string(), "[[step]]".into()];
                    expected.extend(sections.iter().map(|s| format!("[{s}]")));
                    let last = expected.pop().unwrap_or_default();
                    return Err(err(
                        other,
                        format!("unknown field (expected {} or {last})", expected.join(", ")),
                    ));
                }
            }
        }
        if steps.is_empty() && extra.is_empty() {
            return Err(err("step", "at least one [[step]] is required".into()));
        }
        Ok((
            Self {
                file: file.into(),
                description,
                steps,
            },
            extra,
        ))
    }
}

type FieldError = (String, String);

fn parse_step(index: usize, step: &toml::Table, spec: &ClusterSpec) -> Result<Step, FieldError> {
    let fail = |field: &str, message: String| (field.to_string(), message);
    if let Some(key) = step.keys().find(|k| !STEP_KEYS.contains(&k.as_str())) {
        return Err(fail(
            key,
            format!("unknown field (expected one of {})", STEP_KEYS.join(", ")),
        ));
    }
    let when = match (step.get("at_ms"), step.get("after")) {
        (Some(_), Some(_)) => {
            return Err(fail("after", "give either at_ms or after, not both".into()))
        }
        (None, None) => {
            return Err(fail(
                "at_ms",
                "missing: give at_ms = N or after = \"settled\"".into(),
            ))
        }
        (Some(at), None) => match at.as_integer() {
            Some(ms) if (0..=AT_MS_MAX).contains(&ms) => When::At(Duration::from_millis(ms as u64)),
            Some(ms) => {
                return Err(fail(
                    "at_ms",
                    format!("{ms} is out of range 0..={AT_MS_MAX}"),
                ))
            }
            None => {
                return Err(fail(
                    "at_ms",
                    format!("{at} is not an integer number of milliseconds"),
                ))
            }
        },
        (None, Some(after)) => match after.as_str() {
            Some("settled") => When::AfterSettled,
            _ => return Err(fail("after", format!("{after} is not \"settled\""))),
        },
    };
    let text = |key: &str| -> Result<Option<&str>, FieldError> {
        match step.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_str()
                .map(Some)
                .ok_or_else(|| fail(key, format!("{v} is not a string"))),
        }
    };
    let one_way = match step.get("one_way") {
        None => None,
        Some(v) => Some(
            v.as_bool()
                .ok_or_else(|| fail("one_way", format!("{v} is not true or false")))?,
        ),
    };
    let Some(action) = text("action")? else {
        return Err(fail(
            "action",
            "missing: one of cut, heal, crash, reboot".into(),
        ));
    };
    let action = match action {
        "cut" | "heal" => {
            if step.contains_key("node") {
                return Err(fail(
                    "node",
                    format!("a {action} step names a link, not a node"),
                ));
            }
            let Some(link) = text("link")? else {
                return Err(fail(
                    "link",
                    format!(
                        "missing: a {action} step needs link = \"A-B\" (two regions or two nodes)"
                    ),
                ));
            };
            let link = resolve_link(link, spec).map_err(|m| fail("link", m))?;
            if action == "cut" {
                Action::Cut {
                    link,
                    one_way: one_way.unwrap_or(false),
                }
            } else if one_way.is_some() {
                return Err(fail(
                    "one_way",
                    "heal restores both directions; one_way applies to cut only".into(),
                ));
            } else {
                Action::Heal { link }
            }
        }
        "crash" | "reboot" => {
            for key in ["link", "one_way"] {
                if step.contains_key(key) {
                    return Err(fail(
                        key,
                        format!("a {action} step names a node, not a link"),
                    ));
                }
            }
            let Some(name) = text("node")? else {
                return Err(fail(
                    "node",
                    format!("missing: a {action} step needs node = \"NAME\""),
                ));
            };
            let node = spec.node_index(name).ok_or_else(|| {
                fail(
                    "node",
                    format!("{name:?} is not a node of cluster {}", spec.name),
                )
            })?;
            if action == "crash" {
                Action::Crash { node }
            } else {
                Action::Reboot { node }
            }
        }
        other => {
            return Err(fail(
                "action",
                format!("{other:?} is not one of cut, heal, crash, reboot"),
            ))
        }
    };
    Ok(Step {
        index,
        when,
        action,
    })
}

/// Resolves `A-B` (two regions, or two nodes) to its directed node pairs; the grammar and the
/// errors are the cluster file's ([`ClusterSpec::link_ends`]), shared with `--fail link:A-B`.
fn resolve_link(text: &str, spec: &ClusterSpec) -> Result<Link, String> {
    let ends = spec.link_ends(text).map_err(|e| match e {
        LinkError::Unknown(key) => format!(
            "{text:?}: {key} is not a region or node of cluster {}; {}",
            spec.name,
            spec.link_grammar()
        ),
        other => format!("{text:?}: {}", other.describe(spec)),
    })?;
    let in_region = |r: &str| -> Vec<usize> {
        (0..spec.len())
            .filter(|&i| spec.nodes[i].region == r)
            .collect()
    };
    let (label, from, to) = match ends {
        LinkEnds::Nodes(a, b) => (
            format!("{}-{}", spec.nodes[a].name, spec.nodes[b].name),
            vec![a],
            vec![b],
        ),
        LinkEnds::Regions(a, b) => (format!("{a}-{b}"), in_region(&a), in_region(&b)),
    };
    let pairs = from
        .iter()
        .flat_map(|&f| to.iter().map(move |&t| (f, t)))
        .collect();
    Ok(Link { label, pairs })
}

impl Action {
    /// The action in words, with node names: `cut link FRA-LHR`, `crash UK1`.
    pub fn describe(&self, spec: &ClusterSpec) -> String {
        let name = |i: &usize| {
            spec.nodes
                .get(*i)
                .map_or("?", |n| n.name.as_str())
                .to_string()
        };
        match self {
            Self::Crash { node } => format!("crash {}", name(node)),
            Self::Cut {
                link,
                one_way: false,
            } => format!("cut link {}", link.label),
            Self::Cut {
                link,
                one_way: true,
            } => format!("cut link {} one way", link.label),
            Self::Heal { link } => format!("heal link {}", link.label),
            Self::Reboot { node } => format!("reboot {}", name(node)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Scenario, String> {
        Scenario::parse("s.toml", text, &ClusterSpec::seed()).map_err(|e| e.to_string())
    }

    #[test]
    fn a_scenario_resolves_regions_and_nodes() {
        let s = parse(
            "description = \"x\"\n[[step]]\nafter = \"settled\"\naction = \"cut\"\nlink = \"fra-lhr\"\n\
             [[step]]\nat_ms = 2000\naction = \"cut\"\nlink = \"UK1-CHIC1\"\none_way = true\n\
             [[step]]\nafter = \"settled\"\naction = \"crash\"\nnode = \"chic2\"\n\
             [[step]]\nat_ms = 0\naction = \"heal\"\nlink = \"FRA-LHR\"\n",
        )
        .expect("valid");
        assert_eq!(s.description.as_deref(), Some("x"));
        assert_eq!(s.steps[0].when, When::AfterSettled);
        assert_eq!(
            s.steps[0].action,
            Action::Cut {
                link: Link {
                    label: "FRA-LHR".into(),
                    pairs: vec![(0, 2), (1, 2)]
                },
                one_way: false
            }
        );
        assert_eq!(s.steps[1].when, When::At(Duration::from_secs(2)));
        assert_eq!(
            s.steps[1].action,
            Action::Cut {
                link: Link {
                    label: "UK1-CHIC1".into(),
                    pairs: vec![(2, 3)]
                },
                one_way: true
            }
        );
        assert_eq!(s.steps[2].action, Action::Crash { node: 4 });
        assert_eq!(s.steps[3].index, 3);
    }

    #[test]
    fn errors_name_file_step_and_field() {
        let step = |body: &str| {
            parse(&format!("[[step]]\nafter = \"settled\"\naction = \"cut\"\nlink = \"FRA-LHR\"\n[[step]]\n{body}"))
        };
        assert_eq!(
            step("at_ms = 5\naction = \"cut\"\nlink = \"FRA-XYZ\"").unwrap_err(),
            "s.toml: step[1].link: \"FRA-XYZ\": XYZ is not a region or node of cluster OCICLU; a link joins two regions (FRA, LHR, ORD) or two nodes (FRANK1, FRANK2, UK1, CHIC1, CHIC2)"
        );
        assert_eq!(
            step("at_ms = 5\naction = \"explode\"").unwrap_err(),
            "s.toml: step[1].action: \"explode\" is not one of cut, heal, crash, reboot"
        );
        assert_eq!(
            step("at_ms = 5\naction = \"cut\"\nlinks = \"FRA-LHR\"").unwrap_err(),
            "s.toml: step[1].links: unknown field (expected one of at_ms, after, action, link, node, one_way)"
        );
        assert_eq!(
            step("action = \"crash\"\nnode = \"UK1\"").unwrap_err(),
            "s.toml: step[1].at_ms: missing: give at_ms = N or after = \"settled\""
        );
        assert_eq!(
            step("at_ms = -1\naction = \"crash\"\nnode = \"UK1\"").unwrap_err(),
            "s.toml: step[1].at_ms: -1 is out of range 0..=86400000"
        );
        assert_eq!(
            step("after = \"later\"\naction = \"crash\"\nnode = \"UK1\"").unwrap_err(),
            "s.toml: step[1].after: \"later\" is not \"settled\""
        );
        assert_eq!(
            step("at_ms = 1\naction = \"crash\"\nnode = \"UK9\"").unwrap_err(),
            "s.toml: step[1].node: \"UK9\" is not a node of cluster OCICLU"
        );
        assert_eq!(
            step("at_ms = 1\naction = \"crash\"\nlink = \"FRA-LHR\"\nnode = \"UK1\"").unwrap_err(),
            "s.toml: step[1].link: a crash step names a node, not a link"
        );
        assert_eq!(
            step("at_ms = 1\naction = \"heal\"\nlink = \"FRA-LHR\"\none_way = true").unwrap_err(),
            "s.toml: step[1].one_way: heal restores both directions; one_way applies to cut only"
        );
        let grammar = "a link joins two regions (FRA, LHR, ORD) or two nodes (FRANK1, FRANK2, UK1, CHIC1, CHIC2)";
        assert_eq!(
            step("at_ms = 1\naction = \"cut\"\nlink = \"FRA-UK1\"").unwrap_err(),
            format!("s.toml: step[1].link: \"FRA-UK1\": UK1 is a node and FRA a region; {grammar}: UK1's links to FRA are UK1-FRANK1, UK1-FRANK2")
        );
        assert_eq!(
            step("at_ms = 1\naction = \"cut\"\nlink = \"FRANK1-LHR\"").unwrap_err(),
            format!("s.toml: step[1].link: \"FRANK1-LHR\": FRANK1 is a node and LHR a region; {grammar}: FRANK1's links to LHR are FRANK1-UK1")
        );
        assert_eq!(
            step("at_ms = 1\naction = \"cut\"\nlink = \"FRANK1-XYZ\"").unwrap_err(),
            format!("s.toml: step[1].link: \"FRANK1-XYZ\": XYZ is not a region or node of cluster OCICLU; {grammar}")
        );
        assert_eq!(
            parse("[[step]]\nat_ms = 1\naction = \"cut\"\nlink = \"FRA-FRA\"").unwrap_err(),
            "s.toml: step[0].link: \"FRA-FRA\": FRA is named twice; a link joins two different regions or two different nodes"
        );
        assert_eq!(
            parse("steps = 1").unwrap_err(),
            "s.toml: steps: unknown field (expected description or [[step]])"
        );
        assert_eq!(
            parse("").unwrap_err(),
            "s.toml: step: at least one [[step]] is required"
        );
        assert!(parse("[[step]\n")
            .unwrap_err()
            .starts_with("s.toml: line 1: "));
    }

    #[test]
    fn extra_sections_are_returned_and_named_in_errors() {
        let spec = ClusterSpec::seed();
        let (scenario, extra) =
            Scenario::parse_with_sections("s.toml", "[load]\nclients = 2\n", &spec, &["load"])
                .expect("a [load] section alone is a scenario");
        assert!(scenario.steps.is_empty());
        assert_eq!(extra["load"]["clients"].as_integer(), Some(2));
        assert_eq!(
            Scenario::parse_with_sections("s.toml", "load = 1\n", &spec, &["load"])
                .unwrap_err()
                .to_string(),
            "s.toml: load: must be a table ([load])"
        );
        assert_eq!(
            Scenario::parse_with_sections("s.toml", "loads = 1\n", &spec, &["load"])
                .unwrap_err()
                .to_string(),
            "s.toml: loads: unknown field (expected description, [[step]] or [load])"
        );
        assert_eq!(
            Scenario::parse("s.toml", "[load]\nclients = 2\n", &spec)
                .unwrap_err()
                .to_string(),
            "s.toml: load: unknown field (expected description or [[step]])"
        );
    }
}
