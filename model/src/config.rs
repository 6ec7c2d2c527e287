//! The cluster file: a TOML description of an OpenVMS-style cluster.
//!
//! ```toml
//! [cluster]
//! name = "OCICLU"              # required
//! expected_votes = 5           # required, >= 1
//! hello_interval_ms = 1000     # optional, used by the runtime
//! recnx_interval_ms = 20000    # optional, used by the runtime
//!
//! [quorum_disk]                # optional
//! votes = 1
//! region = "LHR"
//!
//! [[node]]
//! name = "FRANK1"
//! region = "FRA"
//! votes = 1
//! system_id = 1025
//! expected_votes = 5           # optional; defaults to cluster.expected_votes
//! address = "127.0.0.1:7001"   # optional; the runtime's UDP address
//! lockdirwt = 1                # optional (0-255, default 1); LOCKDIRWT: share of the directory
//!
//! [[client]]                   # optional: a lock-manager client process on a node
//! node = "FRANK1"              # the node it runs on (at most CLIENTS_PER_NODE_MAX per node)
//! script = ["enq r1 EX VALBLK", "convert r1 PR VALBLK", "deq r1"]
//! deadlock_priority = 0        # optional; the lowest priority on a deadlock cycle is the victim
//!
//! [locks]                      # optional: resources external lock clients may name
//! resources = ["r1", "DB.ROOT"]
//! ```
//!
//! A client's `script` is a list of lock requests run once, in order, each waiting for its
//! completion; the grammar is in [`crate::dlm::script`]:
//! `enq RES MODE [NOQUEUE] [VALBLK]`, `convert RES MODE [NOQUEUE] [VALBLK] [QUECVT]`,
//! `deq RES [VALBLK]`; `RES` may be a sub-resource `PARENT/SUB`, locked under the client's lock
//! on `PARENT` (a sublock). Errors name the client and the line (`client[0].script[2]`). A file
//! without clients has no lock manager activity at all (the connection manager's checks are
//! unchanged).
//!
//! `[locks] resources` declares the root resource names that *external* lock clients (the
//! runtime's control endpoint, `vmsc lock`; see [`crate::dlm::external`]) may lock. Every node
//! must agree on a resource's index and directory node, so names come from the cluster file,
//! not from requests: [`ClusterSpec::resources`] is the sorted union of the declared names and
//! the names the scripts use (at most [`LOCK_RESOURCES_MAX`]). Declaring resources turns the lock
//! manager on even without `[[client]]` tables.
//!
//! Parsing is strict: unknown fields are errors, and every semantic error names the file, the
//! field (as a path such as `node[2].system_id`) and what is wrong; a missing field, an unknown
//! one or a value of the wrong type also names its table and the line the table starts on
//! (``node[4].system_id: missing field `system_id` (the [[node]] table for CHIC2, at line 34)``).
//! Only syntax errors are given by line alone.
//!
//! The rules that need facts the model does not hold (which region keys exist, which pairs have
//! an RTT) and the warnings (EXPECTED_VOTES that differ between nodes or exceed the total votes)
//! are [`ClusterSpec::check_load_rules`], which every `vmsc` command applies after loading a
//! file; `specs/config.md` lists every load-time rule with its source. A successfully parsed file is
//! a [`ClusterSpec`], whose invariants (unique names and system ids, votes within bounds, at most
//! [`NODES_MAX`] nodes) the rest of the model relies on.

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;
use std::net::SocketAddr;
use std::path::Path;

/// The largest cluster the model supports (node sets are 32-bit masks).
pub const NODES_MAX: usize = 32;
/// The largest number of votes a single node or the quorum disk may carry.
pub const VOTES_MAX: u32 = 127;
/// Default `hello_interval_ms` when the file does not set it.
pub const HELLO_INTERVAL_MS_DEFAULT: u64 = 1000;
/// Default `recnx_interval_ms` (OpenVMS RECNXINTERVAL default of 20 s).
pub const RECNX_INTERVAL_MS_DEFAULT: u64 = 20_000;
/// The first UDP port used when a node has no `address`: node `i` listens on base + i.
pub const BASE_PORT_DEFAULT: u16 = 7001;

/// The embedded default scenario: the seed talk's 5-node, 3-region cluster.
pub const SEED_TOPOLOGY_TOML: &str = include_str!("../../specs/scenarios/seed.toml");

/// An error in a cluster file, naming the file, the field and what is wrong.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{file}: {field}: {message}")]
pub struct ConfigError {
    /// The file (or a label such as `<embedded seed.toml>`).
    pub file: String,
    /// The field path (`node[1].votes`), or `line N` for syntax errors.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

#[derive(Debug)]
struct RawFile {
    cluster: RawCluster,
    quorum_disk: Option<RawQuorumDisk>,
    node: Vec<RawNode>,
    client: Vec<RawClient>,
    locks: Option<RawLocks>,
}

/// The file's top-level tables, each kept whole with its position in the text. Each is then
/// deserialized on its own ([`section`]), so an error inside one names the table and the field
/// (`node[4].system_id`, `the [[node]] table for CHIC2, at line 34`), not only the line where
/// the table starts.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSections {
    cluster: Option<toml::Spanned<toml::Table>>,
    quorum_disk: Option<toml::Spanned<toml::Table>>,
    #[serde(default)]
    node: Vec<toml::Spanned<toml::Table>>,
    #[serde(default)]
    client: Vec<toml::Spanned<toml::Table>>,
    locks: Option<toml::Spanned<toml::Table>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLocks {
    resources: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClient {
    node: String,
    script: Vec<String>,
    #[serde(default)]
    deadlock_priority: i64,
}

/// Most lock clients on one node.
pub const CLIENTS_PER_NODE_MAX: usize = 2;
/// Most lines in one client script.
pub const SCRIPT_LINES_MAX: usize = 16;
/// Most distinct resources over all scripts.
pub const RESOURCES_MAX: usize = 16;
/// The highest deadlock priority a client may have.
pub const DEADLOCK_PRIORITY_MAX: i64 = 65_535;
/// Most resource names in the whole table (`[locks] resources` and the scripts' names): a
/// resource's index is a `u8` on the wire.
pub const LOCK_RESOURCES_MAX: usize = 256;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCluster {
    name: String,
    expected_votes: i64,
    hello_interval_ms: Option<i64>,
    recnx_interval_ms: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQuorumDisk {
    votes: i64,
    region: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNode {
    name: String,
    region: String,
    votes: i64,
    system_id: i64,
    expected_votes: Option<i64>,
    address: Option<String>,
    lockdirwt: Option<i64>,
}

/// Largest LOCKDIRWT.
pub const LOCKDIRWT_MAX: u8 = 255;

/// A validated cluster description.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ClusterSpec {
    /// Cluster name (SCSNODE-style label, informational).
    pub name: String,
    /// EXPECTED_VOTES of the cluster.
    pub expected_votes: u32,
    /// Interval between hello datagrams in the runtime.
    pub hello_interval_ms: u64,
    /// RECNXINTERVAL: how long a lost member is waited for before it may be removed.
    pub recnx_interval_ms: u64,
    /// The optional quorum disk.
    pub quorum_disk: Option<QuorumDiskSpec>,
    /// The nodes, in file order; a node's index in this vector is its model `Id`.
    pub nodes: Vec<NodeSpec>,
    /// Lock-manager clients, in file order (empty: no lock activity).
    #[serde(default)]
    pub clients: Vec<ClientSpec>,
    /// The resource names the scripts use and `[locks] resources` declares, upper-cased and
    /// sorted; a resource's index here is its model id. Empty: no lock manager.
    #[serde(default)]
    pub resources: Vec<String>,
}

/// A lock-manager client: a process on `node` running `script`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ClientSpec {
    /// The node's index.
    pub node: usize,
    /// The requests, in order.
    pub script: Vec<ClientOp>,
    /// Deadlock priority (PCB$L_DLCKPRI, default 0): a deadlock victim is chosen among the
    /// requests of the lowest priority on the cycle (see [`crate::dlm::deadlock`]).
    #[serde(default)]
    pub deadlock_priority: u32,
}

/// One script line, with the resource as an index into [`ClusterSpec::resources`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ClientOp {
    /// The request.
    pub op: crate::dlm::script::Op,
    /// The resource's index.
    pub res: u8,
    /// Flags.
    pub flags: crate::dlm::Flags,
}

/// The quorum disk: a virtual member whose votes count for the nodes that can reach it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct QuorumDiskSpec {
    /// QDSKVOTES.
    pub votes: u32,
    /// The region holding the disk; a node reaches it while its region's link to this one is up.
    pub region: String,
}

/// One node of the cluster.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct NodeSpec {
    /// SCSNODE name, unique.
    pub name: String,
    /// Region key (same keys as the RTT table).
    pub region: String,
    /// VOTES.
    pub votes: u32,
    /// SCSSYSTEMID, unique.
    pub system_id: u32,
    /// This node's EXPECTED_VOTES.
    pub expected_votes: u32,
    /// UDP address for the runtime, if set in the file.
    pub address: Option<SocketAddr>,
    /// LOCKDIRWT: this node's share of the lock directory (0: it holds no directory entries
    /// while a member with a positive weight is present). Default 1.
    #[serde(default = "lockdirwt_default")]
    pub lockdirwt: u8,
}

fn lockdirwt_default() -> u8 {
    1
}

impl fmt::Display for NodeSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

impl ClusterSpec {
    /// Reads and validates a cluster file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let label = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: label.clone(),
            field: "file".into(),
            message: format!("cannot read: {e}"),
        })?;
        Self::parse(&label, &text)
    }

    /// The embedded default: the seed talk's topology.
    pub fn seed() -> Self {
        // The embedded file is tested to parse; see tests::embedded_seed_parses.
        Self::parse("<embedded seed.toml>", SEED_TOPOLOGY_TOML)
            .unwrap_or_else(|e| panic!("embedded seed topology is invalid: {e}"))
    }

    /// Parses and validates cluster-file text; `file` labels errors.
    pub fn parse(file: &str, text: &str) -> Result<Self, ConfigError> {
        let sections: RawSections =
            toml::from_str(text).map_err(|e| syntax_error(file, text, &e))?;
        validate(file, raw_file(file, text, sections)?)
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// True if the cluster has no nodes (never true for a validated spec).
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The quorum disk's actor index (it comes after the nodes), if the cluster has one.
    pub fn disk_index(&self) -> Option<usize> {
        self.quorum_disk.as_ref().map(|_| self.nodes.len())
    }

    /// QDSKVOTES, or 0 without a quorum disk.
    pub fn disk_votes(&self) -> u32 {
        self.quorum_disk.as_ref().map_or(0, |q| q.votes)
    }

    /// Number of actors in the model: the nodes, plus the quorum disk.
    pub fn actors_len(&self) -> usize {
        self.nodes.len() + usize::from(self.quorum_disk.is_some())
    }

    /// The region of actor `i` (a node, or the quorum disk).
    pub fn actor_region(&self, i: usize) -> &str {
        match self.nodes.get(i) {
            Some(n) => &n.region,
            None => self.quorum_disk.as_ref().map_or("", |q| q.region.as_str()),
        }
    }

    /// The name of actor `i`: a node's name, or `QDISK` for the quorum disk.
    pub fn actor_name(&self, i: usize) -> &str {
        self.nodes.get(i).map_or("QDISK", |n| n.name.as_str())
    }

    /// The clients running on node `i`, in file order (their local index is the position).
    pub fn clients_of(&self, i: usize) -> Vec<&ClientSpec> {
        self.clients.iter().filter(|c| c.node == i).collect()
    }

    /// The index of the node with this name.
    pub fn node_index(&self, name: &str) -> Option<usize> {
        self.nodes
            .iter()
            .position(|n| n.name.eq_ignore_ascii_case(name))
    }

    /// The region keys in order of first appearance (the quorum disk's region last).
    pub fn regions(&self) -> Vec<String> {
        let mut seen = Vec::new();
        for n in &self.nodes {
            if !seen.contains(&n.region) {
                seen.push(n.region.clone());
            }
        }
        if let Some(q) = &self.quorum_disk {
            if !seen.contains(&q.region) {
                seen.push(q.region.clone());
            }
        }
        seen
    }

    /// True if the two nodes are in different regions.
    pub fn inter_region(&self, a: usize, b: usize) -> bool {
        self.nodes[a].region != self.nodes[b].region
    }

    /// The runtime address of node `i`: its `address`, or 127.0.0.1:(base + i).
    pub fn address(&self, i: usize, base_port: u16) -> SocketAddr {
        self.nodes[i].address.unwrap_or_else(|| {
            SocketAddr::from(([127, 0, 0, 1], base_port.saturating_add(i as u16)))
        })
    }
}

/// The region facts a cluster file is checked against at load time, which the model does not
/// hold: to the protocol a region is only a label (a link fault cuts the links between two
/// labels), while which keys exist and which pairs have an RTT is the latency crate's data, the
/// runtime's concern. The model does not depend on that crate (or on the runtime); the binary
/// passes these facts in, the same for every command ([`ClusterSpec::check_load_rules`]).
pub struct KnownRegions<'a> {
    /// Where the keys come from, for messages (`latency/data/regions.csv`).
    pub source: &'a str,
    /// Every region key a node or the quorum disk may name (upper case).
    pub keys: &'a [String],
    /// Where the RTTs come from, for messages (`latency/data/rtt_ms.csv`).
    pub rtt_source: &'a str,
    /// Whether the RTT table has a figure between two different known regions.
    pub has_rtt: &'a dyn Fn(&str, &str) -> bool,
}

/// Something a cluster file may legally say (OpenVMS accepts it, so `check` still checks the
/// file) but that is probably a mistake. [`ClusterSpec::check_load_rules`] collects them; `vmsc`
/// prints each on stderr once per command run. The rules and their sources are listed in
/// `specs/config.md`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Warning {
    /// The nodes' EXPECTED_VOTES differ. Seed 002: "Documentation does state all cluster
    /// (membership) parameters should be identical on all members."
    ExpectedVotesDiffer {
        /// The cluster file.
        file: String,
        /// Each value, ascending, with the nodes that have it (file order).
        groups: Vec<(u32, Vec<String>)>,
    },
    /// Nodes' EXPECTED_VOTES is above the votes of the whole cluster (nodes and quorum disk),
    /// enough to raise the quorum above the total's: EXPECTED_VOTES is meant to be the sum of
    /// all votes (vms-protocol.md A.2).
    ExpectedVotesAboveTotal {
        /// The cluster file.
        file: String,
        /// The EXPECTED_VOTES.
        expected_votes: u32,
        /// The nodes that have it.
        nodes: Vec<String>,
        /// Σ VOTES of every node, plus QDSKVOTES.
        total_votes: u32,
    },
    /// The RTT table has no figure between two regions of the cluster's nodes: the model's
    /// checks do not use RTTs, but `vmsc run`, `node` and `experiment` need one for every pair.
    NoRtt {
        /// The cluster file.
        file: String,
        /// The RTT table.
        table: String,
        /// The two regions, each with a node in it.
        a: (String, String),
        /// See `a`.
        b: (String, String),
    },
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::ExpectedVotesDiffer { file, groups } => {
                let groups: Vec<String> = groups
                    .iter()
                    .map(|(ev, nodes)| format!("{ev} on {}", nodes.join(", ")))
                    .collect();
                write!(
                    f,
                    "{file}: expected_votes: the nodes' EXPECTED_VOTES differ ({}); the quorum \
                     then depends on which nodes are members (it follows the largest \
                     EXPECTED_VOTES among them). Membership parameters should be identical on all \
                     members (seed 002)",
                    groups.join("; ")
                )
            }
            Warning::ExpectedVotesAboveTotal {
                file,
                expected_votes,
                nodes,
                total_votes,
            } => {
                let quorum = crate::quorum::quorum_of(*expected_votes);
                let meaning = if quorum > *total_votes {
                    format!(
                        "its quorum, {quorum}, is more than all {total_votes} votes: a cluster \
                         with {} as a member can never have quorum",
                        nodes.join(" or ")
                    )
                } else {
                    let designed = crate::quorum::quorum_of(*total_votes);
                    format!(
                        "its quorum, {quorum} instead of {designed}, leaves the cluster able to \
                         lose {} votes instead of {}",
                        total_votes - quorum,
                        total_votes - designed
                    )
                };
                write!(
                    f,
                    "{file}: expected_votes: EXPECTED_VOTES {expected_votes} on {} is above the \
                     {total_votes} votes of the whole cluster (nodes and quorum disk): {meaning}. \
                     EXPECTED_VOTES should be the sum of all votes, {total_votes}",
                    nodes.join(", ")
                )
            }
            Warning::NoRtt { file, table, a, b } => write!(
                f,
                "{file}: region: {table} has no RTT between {} ({}) and {} ({}); the checks do \
                 not need one, but `vmsc run`, `node` and `experiment` do: give them --rtt FILE \
                 with a {}-{} row",
                a.0, a.1, b.0, b.1, a.0, b.0
            ),
        }
    }
}

impl ClusterSpec {
    /// The load-time rules beyond the file's own validity, which every `vmsc` command applies
    /// to the file it loads (`specs/config.md`):
    /// - every node's and the quorum disk's region is one of `known.keys` (else an error naming
    ///   the field, the node and the known keys);
    /// - warnings: nodes' EXPECTED_VOTES differ; EXPECTED_VOTES above the total votes; two
    ///   regions of the cluster without an RTT in the table.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] for the first node (then the quorum disk) in an unknown region.
    pub fn check_load_rules(
        &self,
        file: &str,
        known: &KnownRegions<'_>,
    ) -> Result<Vec<Warning>, ConfigError> {
        let unknown = |field: String, who: &str, region: &str| {
            err(
                file,
                field,
                format!(
                    "{who} is in {region}, which is not a known region; the known ones are {} \
                     ({})",
                    known.keys.join(", "),
                    known.source
                ),
            )
        };
        for (i, n) in self.nodes.iter().enumerate() {
            if !known.keys.contains(&n.region) {
                return Err(unknown(format!("node[{i}].region"), &n.name, &n.region));
            }
        }
        if let Some(q) = &self.quorum_disk {
            if !known.keys.contains(&q.region) {
                return Err(unknown(
                    "quorum_disk.region".into(),
                    "the quorum disk",
                    &q.region,
                ));
            }
        }
        let mut warnings = self.expected_votes_warnings(file);
        warnings.extend(self.rtt_warnings(file, known));
        Ok(warnings)
    }

    fn expected_votes_warnings(&self, file: &str) -> Vec<Warning> {
        let mut groups: Vec<(u32, Vec<String>)> = Vec::new();
        for n in &self.nodes {
            match groups.iter_mut().find(|(ev, _)| *ev == n.expected_votes) {
                Some((_, names)) => names.push(n.name.clone()),
                None => groups.push((n.expected_votes, vec![n.name.clone()])),
            }
        }
        groups.sort_by_key(|(ev, _)| *ev);
        let total_votes = self.nodes.iter().map(|n| n.votes).sum::<u32>() + self.disk_votes();
        // Above the total but with the same quorum (3 of 2 votes: quorum 2 either way) changes
        // nothing; a higher quorum lowers the votes the cluster can lose, or makes it hang.
        let quorum_of = crate::quorum::quorum_of;
        let mut warnings: Vec<Warning> = groups
            .iter()
            .filter(|(ev, _)| quorum_of(*ev) > quorum_of(total_votes))
            .map(|(ev, nodes)| Warning::ExpectedVotesAboveTotal {
                file: file.into(),
                expected_votes: *ev,
                nodes: nodes.clone(),
                total_votes,
            })
            .collect();
        if groups.len() > 1 {
            warnings.insert(
                0,
                Warning::ExpectedVotesDiffer {
                    file: file.into(),
                    groups,
                },
            );
        }
        warnings
    }

    /// The runtime delays datagrams between nodes only, so only the nodes' regions need RTTs.
    fn rtt_warnings(&self, file: &str, known: &KnownRegions<'_>) -> Vec<Warning> {
        let mut regions: Vec<&str> = Vec::new();
        for n in &self.nodes {
            if !regions.contains(&n.region.as_str()) {
                regions.push(&n.region);
            }
        }
        let first_in = |r: &str| -> (String, String) {
            let node = self.nodes.iter().find(|n| n.region == r);
            (
                r.to_string(),
                node.map_or_else(String::new, |n| n.name.clone()),
            )
        };
        let mut warnings = Vec::new();
        for (i, a) in regions.iter().enumerate() {
            for b in &regions[i + 1..] {
                if !(known.has_rtt)(a, b) {
                    warnings.push(Warning::NoRtt {
                        file: file.into(),
                        table: known.rtt_source.into(),
                        a: first_in(a),
                        b: first_in(b),
                    });
                }
            }
        }
        warnings
    }
}

/// The two ends of a link written `A-B` (`--fail link:A-B`, a scenario's `link = "A-B"`), as
/// [`ClusterSpec::link_ends`] resolves them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkEnds {
    /// Two different region keys of the cluster (upper case): every link between them.
    Regions(String, String),
    /// Two different nodes (indices): the one link between them.
    Nodes(usize, usize),
}

/// Why `A-B` names no link of a cluster; [`LinkError::describe`] words it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkError {
    /// Not two non-empty names joined by one `-`.
    NotAB,
    /// This end (as written) is neither a node nor a region of the cluster.
    Unknown(String),
    /// One end is this node, the other this region (upper case).
    Mixed {
        /// The node's index.
        node: usize,
        /// The region key.
        region: String,
    },
    /// Both ends name this node or region.
    Same(String),
}

impl LinkError {
    /// What is wrong and what the grammar accepts, naming the end at fault:
    /// `FRANK1 is a node and LHR a region; a link joins two regions (FRA, LHR, ORD) or two
    /// nodes (FRANK1, …): FRANK1's links to LHR are FRANK1-UK1`.
    pub fn describe(&self, spec: &ClusterSpec) -> String {
        let grammar = spec.link_grammar();
        match self {
            LinkError::NotAB => format!("not A-B: {grammar}"),
            LinkError::Unknown(key) => format!(
                "{key} is neither a node nor a region of this cluster (regions: {}); {grammar}",
                spec.regions().join(", ")
            ),
            LinkError::Mixed { node, region } => {
                let name = &spec.nodes[*node].name;
                let links: Vec<String> = (0..spec.len())
                    .filter(|&i| i != *node && spec.nodes[i].region == *region)
                    .map(|i| format!("{name}-{}", spec.nodes[i].name))
                    .collect();
                let hint = if links.is_empty() {
                    String::new()
                } else {
                    format!(": {name}'s links to {region} are {}", links.join(", "))
                };
                format!("{name} is a node and {region} a region; {grammar}{hint}")
            }
            LinkError::Same(key) => format!(
                "{key} is named twice; a link joins two different regions or two different nodes"
            ),
        }
    }
}

impl ClusterSpec {
    /// `a link joins two regions (FRA, LHR, ORD) or two nodes (FRANK1, FRANK2, UK1, CHIC1,
    /// CHIC2)`: the grammar of `A-B`, with this cluster's names.
    pub fn link_grammar(&self) -> String {
        let nodes: Vec<&str> = self.nodes.iter().map(|n| n.name.as_str()).collect();
        format!(
            "a link joins two regions ({}) or two nodes ({})",
            self.regions().join(", "),
            nodes.join(", ")
        )
    }

    /// Resolves `A-B`: two region keys or two node names, in any case. A name that is both a
    /// node and a region is read as a node when the other end is a node, else as a region.
    ///
    /// # Errors
    ///
    /// [`LinkError`], naming the end at fault (the first unknown one, or the node of a
    /// node-region mix).
    pub fn link_ends(&self, text: &str) -> Result<LinkEnds, LinkError> {
        let parts: Vec<&str> = text.split('-').map(str::trim).collect();
        let [a, b] = parts[..] else {
            return Err(LinkError::NotAB);
        };
        if a.is_empty() || b.is_empty() {
            return Err(LinkError::NotAB);
        }
        let regions = self.regions();
        let region = |k: &str| regions.iter().find(|r| r.eq_ignore_ascii_case(k)).cloned();
        let (na, nb, ra, rb) = (self.node_index(a), self.node_index(b), region(a), region(b));
        match (na, nb, ra, rb) {
            (Some(x), Some(y), _, _) if x == y => Err(LinkError::Same(self.nodes[x].name.clone())),
            (Some(x), Some(y), _, _) => Ok(LinkEnds::Nodes(x, y)),
            (_, _, Some(r), Some(s)) if r == s => Err(LinkError::Same(r)),
            (_, _, Some(r), Some(s)) => Ok(LinkEnds::Regions(r, s)),
            (None, _, None, _) => Err(LinkError::Unknown(a.to_string())),
            (_, None, _, None) => Err(LinkError::Unknown(b.to_string())),
            (Some(node), _, _, Some(region)) | (_, Some(node), Some(region), _) => {
                Err(LinkError::Mixed { node, region })
            }
        }
    }
}

fn syntax_error(file: &str, text: &str, e: &toml::de::Error) -> ConfigError {
    let field = match e.span() {
        Some(span) => format!("line {}", line_of(text, span.start)),
        None => "document".into(),
    };
    ConfigError {
        file: file.into(),
        field,
        message: e.message().trim().to_string(),
    }
}

/// Deserializes each top-level table on its own; an error names the table's field path, the
/// table (with the node's name where it has one) and the line the table starts on.
fn raw_file(file: &str, text: &str, s: RawSections) -> Result<RawFile, ConfigError> {
    let Some(cluster) = s.cluster else {
        return Err(err(
            file,
            "cluster",
            "missing table [cluster] (it holds the cluster's name and expected_votes)",
        ));
    };
    let cluster = section(file, text, "cluster", "[cluster]", cluster)?;
    let quorum_disk = s
        .quorum_disk
        .map(|t| section(file, text, "quorum_disk", "[quorum_disk]", t))
        .transpose()?;
    let node = s
        .node
        .into_iter()
        .enumerate()
        .map(|(i, t)| section(file, text, &format!("node[{i}]"), "[[node]]", t))
        .collect::<Result<_, _>>()?;
    let client = s
        .client
        .into_iter()
        .enumerate()
        .map(|(i, t)| section(file, text, &format!("client[{i}]"), "[[client]]", t))
        .collect::<Result<_, _>>()?;
    let locks = s
        .locks
        .map(|t| section(file, text, "locks", "[locks]", t))
        .transpose()?;
    Ok(RawFile {
        cluster,
        quorum_disk,
        node,
        client,
        locks,
    })
}

/// One table of the file as `T`. `path` is its field path (`node[4]`), `header` how the file
/// writes it (`[[node]]`).
fn section<T: serde::de::DeserializeOwned>(
    file: &str,
    text: &str,
    path: &str,
    header: &str,
    table: toml::Spanned<toml::Table>,
) -> Result<T, ConfigError> {
    let line = line_of(text, table.span().start);
    let whose = match table.get_ref().get("name").and_then(toml::Value::as_str) {
        Some(name) if header == "[[node]]" => format!("the {header} table for {name}"),
        _ => format!("the {header} table"),
    };
    T::deserialize(toml::Value::Table(table.into_inner())).map_err(|e| {
        let field = match data_error_key(&e) {
            Some(key) => format!("{path}.{key}"),
            None => path.to_string(),
        };
        let message = e.message().trim();
        err(file, field, format!("{message} ({whose}, at line {line})"))
    })
}

/// The key a deserialization error is about: named in serde's ``missing field `K` `` and
/// ``unknown field `K` `` messages, and for a value of the wrong type on the last line of
/// toml's text (``in `K` ``).
fn data_error_key(e: &toml::de::Error) -> Option<String> {
    let message = e.message();
    for prefix in ["missing field `", "unknown field `"] {
        if let Some(rest) = message.strip_prefix(prefix) {
            return rest.split('`').next().map(str::to_string);
        }
    }
    e.to_string().lines().rev().find_map(|l| {
        l.trim()
            .strip_prefix("in `")?
            .strip_suffix('`')
            .map(str::to_string)
    })
}

/// The 1-based line of byte offset `at` in `text`.
fn line_of(text: &str, at: usize) -> usize {
    text[..at.min(text.len())].matches('\n').count() + 1
}

fn err(file: &str, field: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError {
        file: file.into(),
        field: field.into(),
        message: message.into(),
    }
}

fn bounded(file: &str, field: &str, v: i64, lo: i64, hi: i64) -> Result<u32, ConfigError> {
    if v < lo || v > hi {
        return Err(err(file, field, format!("{v} is out of range {lo}..={hi}")));
    }
    Ok(v as u32)
}

fn region_key(file: &str, field: &str, key: &str) -> Result<String, ConfigError> {
    let ok = (2..=8).contains(&key.len()) && key.chars().all(|c| c.is_ascii_alphanumeric());
    if !ok {
        return Err(err(
            file,
            field,
            format!("{key:?} is not a region key (2-8 letters or digits)"),
        ));
    }
    Ok(key.to_ascii_uppercase())
}

fn validate(file: &str, raw: RawFile) -> Result<ClusterSpec, ConfigError> {
    let c = &raw.cluster;
    if c.name.trim().is_empty() {
        return Err(err(file, "cluster.name", "must not be empty"));
    }
    let expected_votes = bounded(
        file,
        "cluster.expected_votes",
        c.expected_votes,
        1,
        VOTES_MAX as i64 * 32,
    )?;
    let hello = c
        .hello_interval_ms
        .unwrap_or(HELLO_INTERVAL_MS_DEFAULT as i64);
    let hello_interval_ms = bounded(file, "cluster.hello_interval_ms", hello, 1, 600_000)? as u64;
    let recnx = c
        .recnx_interval_ms
        .unwrap_or(RECNX_INTERVAL_MS_DEFAULT as i64);
    let recnx_interval_ms =
        bounded(file, "cluster.recnx_interval_ms", recnx, 1, 32_767_000)? as u64;
    if recnx_interval_ms <= 3 * hello_interval_ms {
        return Err(err(
            file,
            "cluster.recnx_interval_ms",
            format!(
                "{recnx_interval_ms} ms must exceed 3 x hello_interval_ms ({} ms): a node must \
                 notice a lost peer before RECNXINTERVAL lets the others remove it",
                3 * hello_interval_ms
            ),
        ));
    }
    let quorum_disk = match &raw.quorum_disk {
        None => None,
        Some(q) => Some(QuorumDiskSpec {
            votes: bounded(file, "quorum_disk.votes", q.votes, 1, VOTES_MAX as i64)?,
            region: region_key(file, "quorum_disk.region", &q.region)?,
        }),
    };
    if raw.node.is_empty() {
        return Err(err(file, "node", "at least one [[node]] is required"));
    }
    if raw.node.len() > NODES_MAX {
        return Err(err(
            file,
            "node",
            format!("{} nodes; at most {NODES_MAX}", raw.node.len()),
        ));
    }
    let mut names = BTreeSet::new();
    let mut ids = BTreeSet::new();
    let mut nodes = Vec::with_capacity(raw.node.len());
    for (i, n) in raw.node.iter().enumerate() {
        let f = |name: &str| format!("node[{i}].{name}");
        let name = n.name.trim().to_ascii_uppercase();
        let name_ok = (1..=6).contains(&name.len())
            && name
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '$');
        if !name_ok {
            return Err(err(
                file,
                f("name"),
                format!(
                    "{:?} is not an SCSNODE name (1-6 letters, digits, _ or $)",
                    n.name
                ),
            ));
        }
        if !names.insert(name.clone()) {
            return Err(err(
                file,
                f("name"),
                format!("{name} is used by another node"),
            ));
        }
        let region = region_key(file, &f("region"), &n.region)?;
        let votes = bounded(file, &f("votes"), n.votes, 0, VOTES_MAX as i64)?;
        let system_id = bounded(file, &f("system_id"), n.system_id, 1, u32::MAX as i64)?;
        if !ids.insert(system_id) {
            return Err(err(
                file,
                f("system_id"),
                format!("{system_id} is used by another node"),
            ));
        }
        let ev = n.expected_votes.unwrap_or(expected_votes as i64);
        let node_expected = bounded(file, &f("expected_votes"), ev, 1, VOTES_MAX as i64 * 32)?;
        let address = match &n.address {
            None => None,
            Some(a) => Some(a.parse::<SocketAddr>().map_err(|e| {
                err(
                    file,
                    f("address"),
                    format!("{a:?} is not an ip:port address ({e})"),
                )
            })?),
        };
        let lockdirwt = bounded(
            file,
            &f("lockdirwt"),
            n.lockdirwt.unwrap_or(1),
            0,
            LOCKDIRWT_MAX as i64,
        )? as u8;
        nodes.push(NodeSpec {
            name,
            region,
            votes,
            system_id,
            expected_votes: node_expected,
            address,
            lockdirwt,
        });
    }
    let total: u32 =
        nodes.iter().map(|n| n.votes).sum::<u32>() + quorum_disk.as_ref().map_or(0, |q| q.votes);
    if total == 0 {
        return Err(err(
            file,
            "node",
            "no node has votes: the cluster can never have quorum",
        ));
    }
    if quorum_disk.is_some() && nodes.len() + 1 > NODES_MAX {
        return Err(err(
            file,
            "quorum_disk",
            format!(
                "the disk counts as a member: at most {} nodes with a quorum disk",
                NODES_MAX - 1
            ),
        ));
    }
    let declared = raw.locks.as_ref().map_or(&[][..], |l| &l.resources[..]);
    let (clients, resources) = validate_clients(file, &raw.client, declared, &nodes)?;
    Ok(ClusterSpec {
        name: c.name.trim().to_string(),
        expected_votes,
        hello_interval_ms,
        recnx_interval_ms,
        quorum_disk,
        nodes,
        clients,
        resources,
    })
}

fn validate_clients(
    file: &str,
    raw: &[RawClient],
    declared: &[String],
    nodes: &[NodeSpec],
) -> Result<(Vec<ClientSpec>, Vec<String>), ConfigError> {
    use crate::dlm::script::{parse_line, Op};
    let mut parsed = Vec::new();
    let mut names = BTreeSet::new();
    let mut per_node = vec![0usize; nodes.len()];
    for (i, c) in raw.iter().enumerate() {
        let f = |name: &str| format!("client[{i}].{name}");
        let wanted = c.node.trim().to_ascii_uppercase();
        let Some(node) = nodes.iter().position(|n| n.name == wanted) else {
            return Err(err(file, f("node"), format!("no node named {:?}", c.node)));
        };
        per_node[node] += 1;
        if per_node[node] > CLIENTS_PER_NODE_MAX {
            return Err(err(
                file,
                f("node"),
                format!("{wanted} already has {CLIENTS_PER_NODE_MAX} clients (the most per node)"),
            ));
        }
        if c.script.is_empty() || c.script.len() > SCRIPT_LINES_MAX {
            return Err(err(
                file,
                f("script"),
                format!("{} lines; 1..={SCRIPT_LINES_MAX} expected", c.script.len()),
            ));
        }
        let mut held = BTreeSet::new();
        let mut lines = Vec::new();
        for (j, text) in c.script.iter().enumerate() {
            let fl = format!("client[{i}].script[{j}]");
            let line = parse_line(text).map_err(|m| err(file, &fl, format!("{text:?}: {m}")))?;
            let has = held.contains(&line.res);
            match line.op {
                Op::Enq(_) if has => {
                    return Err(err(
                        file,
                        &fl,
                        format!(
                        "{text:?}: this client already holds a lock on {} (one lock per resource)",
                        line.res
                    ),
                    ))
                }
                Op::Enq(_) => {
                    if let Some(parent) = crate::dlm::cluster::parent_of(&line.res) {
                        if !held.contains(parent) {
                            return Err(err(
                                file,
                                &fl,
                                format!(
                                    "{text:?}: this client holds no lock on the parent {parent}"
                                ),
                            ));
                        }
                    }
                    held.insert(line.res.clone());
                }
                Op::Cvt(_) | Op::Deq if !has => {
                    return Err(err(
                        file,
                        &fl,
                        format!("{text:?}: this client holds no lock on {}", line.res),
                    ))
                }
                Op::Deq => {
                    let prefix = format!("{}/", line.res);
                    if held.iter().any(|h| h.starts_with(&prefix)) {
                        return Err(err(
                            file,
                            &fl,
                            format!("{text:?}: this client holds sublocks under {}", line.res),
                        ));
                    }
                    held.remove(&line.res);
                }
                Op::Cvt(_) => {}
            }
            names.insert(line.res.clone());
            lines.push(line);
        }
        let priority = bounded(
            file,
            &f("deadlock_priority"),
            c.deadlock_priority,
            0,
            DEADLOCK_PRIORITY_MAX,
        )?;
        parsed.push((node, lines, priority));
    }
    if names.len() > RESOURCES_MAX {
        return Err(err(
            file,
            "client",
            format!("{} resources; at most {RESOURCES_MAX}", names.len()),
        ));
    }
    for (i, name) in declared.iter().enumerate() {
        let name = crate::dlm::external::resource_name(name)
            .map_err(|m| err(file, format!("locks.resources[{i}]"), m))?;
        names.insert(name);
    }
    if names.len() > LOCK_RESOURCES_MAX {
        return Err(err(
            file,
            "locks.resources",
            format!(
                "{} resource names in all; at most {LOCK_RESOURCES_MAX}",
                names.len()
            ),
        ));
    }
    let resources: Vec<String> = names.into_iter().collect();
    let clients = parsed
        .into_iter()
        .map(|(node, lines, deadlock_priority)| ClientSpec {
            node,
            deadlock_priority,
            script: lines
                .into_iter()
                .map(|l| ClientOp {
                    op: l.op,
                    res: resources.iter().position(|r| *r == l.res).unwrap_or(0) as u8,
                    flags: l.flags,
                })
                .collect(),
        })
        .collect();
    Ok((clients, resources))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
[cluster]
name = "T"
expected_votes = 3
[[node]]
name = "A"
region = "FRA"
votes = 1
system_id = 1
[[node]]
name = "B"
region = "LHR"
votes = 1
system_id = 2
"#;

    #[test]
    fn embedded_seed_parses() {
        let s = ClusterSpec::seed();
        let names: Vec<_> = s.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["FRANK1", "FRANK2", "UK1", "CHIC1", "CHIC2"]);
        assert_eq!(s.expected_votes, 5);
        assert_eq!(s.regions(), ["FRA", "LHR", "ORD"]);
        assert!(s
            .nodes
            .iter()
            .all(|n| n.votes == 1 && n.expected_votes == 5));
        assert_eq!(s.nodes[0].system_id, 1025);
    }

    #[test]
    fn defaults_apply() {
        let s = ClusterSpec::parse("t.toml", MINIMAL).unwrap();
        assert_eq!(s.hello_interval_ms, 1000);
        assert_eq!(s.recnx_interval_ms, 20_000);
        assert_eq!(s.nodes[1].expected_votes, 3);
        assert_eq!(s.address(1, 7001).to_string(), "127.0.0.1:7002");
    }

    fn error_of(text: &str) -> String {
        ClusterSpec::parse("t.toml", text).unwrap_err().to_string()
    }

    #[test]
    fn errors_name_file_field_and_problem() {
        assert_eq!(
            error_of(&MINIMAL.replace("system_id = 2", "system_id = 1")),
            "t.toml: node[1].system_id: 1 is used by another node"
        );
        assert_eq!(
            error_of(&MINIMAL.replace("expected_votes = 3", "expected_votes = 0")),
            "t.toml: cluster.expected_votes: 0 is out of range 1..=4064"
        );
        assert_eq!(
            error_of(&MINIMAL.replace("name = \"B\"", "name = \"A\"")),
            "t.toml: node[1].name: A is used by another node"
        );
        assert_eq!(
            error_of(&MINIMAL.replace("votes = 1\nsystem_id = 2", "votes = -1\nsystem_id = 2")),
            "t.toml: node[1].votes: -1 is out of range 0..=127"
        );
        assert_eq!(
            error_of(&MINIMAL.replace("[cluster]", "[cluster]\ncolour = 1")),
            "t.toml: cluster.colour: unknown field `colour`, expected one of `name`, `expected_votes`, `hello_interval_ms`, `recnx_interval_ms` (the [cluster] table, at line 2)"
        );
        assert_eq!(
            error_of(&format!("{MINIMAL}\n[cluster.x]")),
            "t.toml: cluster.x: unknown field `x`, expected one of `name`, `expected_votes`, `hello_interval_ms`, `recnx_interval_ms` (the [cluster] table, at line 2)"
        );
        assert_eq!(
            error_of(&MINIMAL.replace("expected_votes = 3", "expected_votes = 3\nrecnx_interval_ms = 100\nhello_interval_ms = 50")),
            "t.toml: cluster.recnx_interval_ms: 100 ms must exceed 3 x hello_interval_ms (150 ms): a node must notice a lost peer before RECNXINTERVAL lets the others remove it"
        );
        assert!(error_of(
            &MINIMAL.replace("region = \"LHR\"", "region = \"LHR\"\naddress = \"nope\"")
        )
        .starts_with("t.toml: node[1].address: \"nope\" is not an ip:port address"));
    }

    #[test]
    fn a_data_error_names_the_table_and_the_field_not_only_a_line() {
        assert_eq!(
            error_of(&MINIMAL.replace("system_id = 2", "")),
            "t.toml: node[1].system_id: missing field `system_id` (the [[node]] table for B, at line 10)"
        );
        assert_eq!(
            error_of(&MINIMAL.replace("name = \"T\"", "")),
            "t.toml: cluster.name: missing field `name` (the [cluster] table, at line 2)"
        );
        assert_eq!(
            error_of(&MINIMAL.replace("votes = 1\nsystem_id = 2", "votes = \"1\"\nsystem_id = 2")),
            "t.toml: node[1].votes: invalid type: string \"1\", expected i64 (the [[node]] table for B, at line 10)"
        );
        // A table that starts on line 1 (the case that used to say only "line 1").
        assert_eq!(
            error_of(MINIMAL.trim_start().replace("expected_votes = 3\n", "").as_str()),
            "t.toml: cluster.expected_votes: missing field `expected_votes` (the [cluster] table, at line 1)"
        );
        assert_eq!(
            error_of("node = [{ name = \"A\", region = \"FRA\", votes = 1 }]\n[cluster]\nname = \"T\"\nexpected_votes = 1\n"),
            "t.toml: node[0].system_id: missing field `system_id` (the [[node]] table for A, at line 1)"
        );
        assert_eq!(
            error_of(&format!("{MINIMAL}[quorum_disk]\nvotes = 1\n")),
            "t.toml: quorum_disk.region: missing field `region` (the [quorum_disk] table, at line 15)"
        );
        assert_eq!(
            error_of(&format!("{MINIMAL}[[client]]\nnode = \"A\"\nscript = [1]\n")),
            "t.toml: client[0].script: invalid type: integer `1`, expected a string (the [[client]] table, at line 15)"
        );
        assert_eq!(
            error_of("[[node]]\nname = \"A\"\n"),
            "t.toml: cluster: missing table [cluster] (it holds the cluster's name and expected_votes)"
        );
        // Syntax, and a table the file may not have, are positions in the text.
        assert_eq!(
            error_of(&format!("{MINIMAL}[nodes]\n")),
            "t.toml: line 15: unknown field `nodes`, expected one of `cluster`, `quorum_disk`, `node`, `client`, `locks`"
        );
        assert_eq!(
            error_of(&format!("{MINIMAL}[[node]\n")),
            "t.toml: line 15: invalid table header\nexpected `.`, `]]`"
        );
    }

    #[test]
    fn a_link_error_names_the_end_at_fault_and_what_a_link_joins() {
        let s = ClusterSpec::seed();
        let msg = |text: &str| s.link_ends(text).unwrap_err().describe(&s);
        let grammar = "a link joins two regions (FRA, LHR, ORD) or two nodes (FRANK1, FRANK2, UK1, CHIC1, CHIC2)";
        assert_eq!(
            msg("FRANK1-LHR"),
            format!("FRANK1 is a node and LHR a region; {grammar}: FRANK1's links to LHR are FRANK1-UK1")
        );
        assert_eq!(
            msg("ord-frank2"),
            format!("FRANK2 is a node and ORD a region; {grammar}: FRANK2's links to ORD are FRANK2-CHIC1, FRANK2-CHIC2")
        );
        let unknown = format!(
            "XXX is neither a node nor a region of this cluster (regions: FRA, LHR, ORD); {grammar}"
        );
        assert_eq!(msg("FRANK1-XXX"), unknown);
        assert_eq!(msg("XXX-FRANK1"), unknown);
        assert_eq!(msg("XXX-LHR"), unknown);
        assert_eq!(
            msg("FRA-fra"),
            "FRA is named twice; a link joins two different regions or two different nodes"
        );
        assert_eq!(
            msg("UK1-uk1"),
            "UK1 is named twice; a link joins two different regions or two different nodes"
        );
        for text in ["FRA", "FRA-LHR-ORD", "FRA-", "-LHR"] {
            assert_eq!(msg(text), format!("not A-B: {grammar}"), "{text}");
        }
        assert_eq!(
            s.link_ends(" fra - Lhr "),
            Ok(LinkEnds::Regions("FRA".into(), "LHR".into()))
        );
        assert_eq!(s.link_ends("uk1-CHIC2"), Ok(LinkEnds::Nodes(2, 4)));
    }

    /// Checks `text` against four known regions, where BOG has no RTT to FRA.
    fn load_rules(text: &str) -> Result<Vec<String>, String> {
        let spec = ClusterSpec::parse("t.toml", text).map_err(|e| e.to_string())?;
        let keys: Vec<String> = ["BOG", "FRA", "LHR", "ORD"].map(String::from).to_vec();
        let has_rtt = |a: &str, b: &str| !matches!((a, b), ("BOG", "FRA") | ("FRA", "BOG"));
        let known = KnownRegions {
            source: "regions.csv",
            keys: &keys,
            rtt_source: "rtt.csv",
            has_rtt: &has_rtt,
        };
        spec.check_load_rules("t.toml", &known)
            .map(|w| w.iter().map(ToString::to_string).collect())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn an_unknown_region_is_an_error_naming_the_node_or_disk_and_the_known_ones() {
        assert_eq!(load_rules(MINIMAL), Ok(vec![]));
        assert_eq!(
            load_rules(&MINIMAL.replace("\"LHR\"", "\"mars\"")),
            Err(
                "t.toml: node[1].region: B is in MARS, which is not a known region; the known \
                 ones are BOG, FRA, LHR, ORD (regions.csv)"
                    .into()
            )
        );
        assert_eq!(
            load_rules(&format!(
                "{MINIMAL}[quorum_disk]\nvotes = 1\nregion = \"MARS\"\n"
            )),
            Err(
                "t.toml: quorum_disk.region: the quorum disk is in MARS, which is not a known \
                 region; the known ones are BOG, FRA, LHR, ORD (regions.csv)"
                    .into()
            )
        );
    }

    #[test]
    fn expected_votes_that_differ_or_exceed_the_votes_are_warnings() {
        let differ = MINIMAL.replace("system_id = 2", "system_id = 2\nexpected_votes = 2");
        assert_eq!(
            load_rules(&differ),
            Ok(vec![
                "t.toml: expected_votes: the nodes' EXPECTED_VOTES differ (2 on B; 3 on A); \
                 the quorum then depends on which nodes are members (it follows the largest \
                 EXPECTED_VOTES among them). Membership parameters should be identical on all \
                 members (seed 002)"
                    .to_string()
            ])
        );
        let three = format!(
            "{MINIMAL}[[node]]\nname = \"C\"\nregion = \"ORD\"\nvotes = 1\nsystem_id = 3\n"
        );
        assert_eq!(load_rules(&three), Ok(vec![]), "3 votes, EXPECTED_VOTES 3");
        assert_eq!(
            load_rules(&three.replace("expected_votes = 3", "expected_votes = 4")),
            Ok(vec![
                "t.toml: expected_votes: EXPECTED_VOTES 4 on A, B, C is above the 3 votes \
                 of the whole cluster (nodes and quorum disk): its quorum, 3 instead of 2, leaves \
                 the cluster able to lose 0 votes instead of 1. EXPECTED_VOTES should be the sum \
                 of all votes, 3"
                    .to_string()
            ])
        );
        let far = three.replace("system_id = 3", "system_id = 3\nexpected_votes = 50");
        assert_eq!(
            load_rules(&far),
            Ok(vec![
                "t.toml: expected_votes: the nodes' EXPECTED_VOTES differ (3 on A, B; 50 on C); \
                 the quorum then depends on which nodes are members (it follows the largest \
                 EXPECTED_VOTES among them). Membership parameters should be identical on all \
                 members (seed 002)"
                    .to_string(),
                "t.toml: expected_votes: EXPECTED_VOTES 50 on C is above the 3 votes of the \
                 whole cluster (nodes and quorum disk): its quorum, 26, is more than all 3 votes: \
                 a cluster with C as a member can never have quorum. EXPECTED_VOTES should be the \
                 sum of all votes, 3"
                    .to_string()
            ])
        );
        let disk = format!("{MINIMAL}[quorum_disk]\nvotes = 1\nregion = \"ORD\"\n");
        assert_eq!(load_rules(&disk), Ok(vec![]), "2 node votes + 1 disk vote");
    }

    #[test]
    fn a_region_pair_without_an_rtt_is_a_warning() {
        assert_eq!(
            load_rules(&MINIMAL.replace("\"LHR\"", "\"BOG\"")),
            Ok(vec![
                "t.toml: region: rtt.csv has no RTT between FRA (A) and BOG (B); the checks \
                 do not need one, but `vmsc run`, `node` and `experiment` do: give them --rtt \
                 FILE with a FRA-BOG row"
                    .to_string()
            ])
        );
    }

    #[test]
    fn declared_lock_resources_join_the_scripts_names() {
        let text = format!(
            "{MINIMAL}\n[[client]]\nnode = \"a\"\nscript = [\"enq zz EX\"]\n\
             [locks]\nresources = [\"db.root\", \"ZZ\", \"a$1\"]\n"
        );
        let spec = ClusterSpec::parse("t.toml", &text).expect("valid");
        assert_eq!(spec.resources, ["A$1", "DB.ROOT", "ZZ"]);
        assert_eq!(spec.clients[0].script[0].res, 2);
        let only = ClusterSpec::parse(
            "t.toml",
            &format!("{MINIMAL}\n[locks]\nresources = [\"r1\"]\n"),
        )
        .expect("valid");
        assert!(only.clients.is_empty());
        assert_eq!(only.resources, ["R1"]);
        let err = ClusterSpec::parse(
            "t.toml",
            &format!("{MINIMAL}\n[locks]\nresources = [\"r1\", \"no way\"]\n"),
        )
        .expect_err("a blank in a name");
        assert_eq!(
            err.to_string(),
            "t.toml: locks.resources[1]: \"no way\" is not a resource name (1-31 letters, digits, _ $ . -)"
        );
    }
}
