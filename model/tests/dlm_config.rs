//! The `[[client]]` table of the cluster file and the script grammar.
use vmsc_model::config::ClusterSpec;
use vmsc_model::dlm::cluster::{dir_node_of, name_hash};
use vmsc_model::dlm::script::{parse_line, Op};
use vmsc_model::dlm::{Flags, Mode};
use vmsc_model::nodeset::NodeSet;

const BASE: &str = r#"
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

fn error_of(clients: &str) -> String {
    ClusterSpec::parse("t.toml", &format!("{BASE}{clients}"))
        .unwrap_err()
        .to_string()
}

#[test]
fn clients_parse_into_ops_and_resources() {
    let s = ClusterSpec::parse(
        "t.toml",
        &format!("{BASE}[[client]]\nnode = \"b\"\nscript = [\"enq r2 EX VALBLK\", \"convert r2 pr noqueue\", \"deq r2\", \"enq R1 NL\"]\n"),
    )
    .unwrap();
    assert_eq!(s.resources, ["R1", "R2"]);
    assert_eq!(s.clients.len(), 1);
    let c = &s.clients[0];
    assert_eq!(c.node, 1);
    assert_eq!(c.script[0].op, Op::Enq(Mode::EX));
    assert_eq!((c.script[0].res, c.script[0].flags), (1, Flags::VALBLK));
    assert_eq!(
        (c.script[1].op, c.script[1].flags),
        (Op::Cvt(Mode::PR), Flags::NOQUEUE)
    );
    assert_eq!(c.script[2].op, Op::Deq);
    assert_eq!(c.script[3].res, 0);
    assert_eq!(s.clients_of(1).len(), 1);
    assert!(s.clients_of(0).is_empty());
    assert_eq!(c.deadlock_priority, 0);
}

#[test]
fn a_client_may_set_its_deadlock_priority() {
    let s = ClusterSpec::parse(
        "t.toml",
        &format!(
            "{BASE}[[client]]\nnode = \"A\"\nscript = [\"enq r1 EX\"]\ndeadlock_priority = 3\n"
        ),
    )
    .unwrap();
    assert_eq!(s.clients[0].deadlock_priority, 3);
    assert!(error_of(
        "[[client]]\nnode = \"A\"\nscript = [\"enq r1 EX\"]\ndeadlock_priority = -1\n"
    )
    .contains("deadlock_priority"));
}

#[test]
fn a_file_without_clients_has_no_lock_manager() {
    let s = ClusterSpec::parse("t.toml", BASE).unwrap();
    assert!(s.clients.is_empty() && s.resources.is_empty());
}

#[test]
fn client_errors_name_file_client_and_line() {
    assert_eq!(
        error_of("[[client]]\nnode = \"C\"\nscript = [\"enq r1 EX\"]\n"),
        "t.toml: client[0].node: no node named \"C\""
    );
    assert_eq!(
        error_of("[[client]]\nnode = \"A\"\nscript = [\"enq r1 EX\", \"convert r1 XX\"]\n"),
        "t.toml: client[0].script[1]: \"convert r1 XX\": unknown lock mode `XX` (expected one of NL, CR, CW, PR, PW, EX)"
    );
    assert_eq!(
        error_of("[[client]]\nnode = \"A\"\nscript = [\"deq r1\"]\n"),
        "t.toml: client[0].script[0]: \"deq r1\": this client holds no lock on R1"
    );
    assert_eq!(
        error_of("[[client]]\nnode = \"A\"\nscript = [\"enq r1 EX\", \"enq r1 PR\"]\n"),
        "t.toml: client[0].script[1]: \"enq r1 PR\": this client already holds a lock on R1 (one lock per resource)"
    );
    assert_eq!(
        error_of("[[client]]\nnode = \"A\"\nscript = [\"enq r1 EX QUECVT\"]\n"),
        "t.toml: client[0].script[0]: \"enq r1 EX QUECVT\": flag `QUECVT` is not allowed on `enq`"
    );
    assert_eq!(
        error_of("[[client]]\nnode = \"A\"\nscript = []\n"),
        "t.toml: client[0].script: 0 lines; 1..=16 expected"
    );
    let three = "[[client]]\nnode = \"A\"\nscript = [\"enq r1 NL\"]\n".repeat(3);
    assert_eq!(
        error_of(&three),
        "t.toml: client[2].node: A already has 2 clients (the most per node)"
    );
    assert!(
        error_of("[[client]]\nnode = \"A\"\nscript = [\"enq r1 NL\"]\ncolour = 1\n")
            .contains("unknown field `colour`")
    );
}

#[test]
fn script_grammar() {
    assert_eq!(
        parse_line("frob r1").unwrap_err(),
        "unknown request `frob` (expected enq, convert or deq)"
    );
    assert_eq!(
        parse_line("enq").unwrap_err(),
        "`enq` needs a resource name"
    );
    assert_eq!(
        parse_line("enq r1").unwrap_err(),
        "`enq` needs a lock mode (NL CR CW PR PW EX)"
    );
    assert_eq!(
        parse_line("convert r1 ex quecvt valblk").unwrap().flags,
        Flags::QUECVT | Flags::VALBLK
    );
    assert!(parse_line("deq r1 NOQUEUE").is_err());
}

#[test]
fn directory_hash_is_fixed_and_spreads_over_members() {
    // Pinned: the runtime and the model must agree on every node.
    assert_eq!(name_hash("R1"), name_hash("r1"));
    let all = NodeSet::first(3);
    assert_eq!(dir_node_of("R1", all), Some(name_hash("R1") as usize % 3));
    assert_eq!(dir_node_of("R1", NodeSet::single(2)), Some(2));
    assert_eq!(dir_node_of("R1", NodeSet::EMPTY), None);
}

#[test]
fn sublocks_need_their_parent_and_block_its_release() {
    let s = ClusterSpec::parse(
        "t.toml",
        &format!("{BASE}[[client]]\nnode = \"A\"\nscript = [\"enq db NL\", \"enq db/rec1 EX\", \"deq db/rec1\", \"deq db\"]\n"),
    )
    .unwrap();
    assert_eq!(s.resources, ["DB", "DB/REC1"]);
    assert_eq!(
        error_of("[[client]]\nnode = \"A\"\nscript = [\"enq db/rec1 EX\"]\n"),
        "t.toml: client[0].script[0]: \"enq db/rec1 EX\": this client holds no lock on the parent DB"
    );
    assert_eq!(
        error_of(
            "[[client]]\nnode = \"A\"\nscript = [\"enq db NL\", \"enq db/rec1 EX\", \"deq db\"]\n"
        ),
        "t.toml: client[0].script[2]: \"deq db\": this client holds sublocks under DB"
    );
    assert!(parse_line("enq db//rec1 EX").is_err());
    assert!(parse_line("enq /rec1 EX").is_err());
    // The tree's root decides the directory node.
    let members = NodeSet::first(3);
    assert_eq!(dir_node_of("DB/REC1", members), dir_node_of("DB", members));
}

#[test]
fn lockdirwt_weights_the_directory() {
    use vmsc_model::dlm::cluster::dir_node_weighted;
    // Parsed from [[node]], default 1, bounded 0..=255 with the field named.
    let s = ClusterSpec::parse(
        "t.toml",
        &BASE.replace("system_id = 1\n", "system_id = 1\nlockdirwt = 0\n"),
    )
    .unwrap();
    assert_eq!(
        s.nodes.iter().map(|n| n.lockdirwt).collect::<Vec<_>>(),
        [0, 1]
    );
    let e = ClusterSpec::parse(
        "t.toml",
        &BASE.replace("system_id = 1\n", "system_id = 1\nlockdirwt = 256\n"),
    )
    .unwrap_err()
    .to_string();
    assert_eq!(e, "t.toml: node[0].lockdirwt: 256 is out of range 0..=255");
    let all = NodeSet::first(3);
    // All weights 1: the unweighted rule.
    for name in ["R1", "R2", "DB", "ACCOUNTS"] {
        assert_eq!(dir_node_weighted(name, all, |_| 1), dir_node_of(name, all));
    }
    // Weight 0: never a directory node, while someone else can be.
    let names: Vec<String> = (0..64).map(|k| format!("R{k}")).collect();
    assert!(names
        .iter()
        .all(|n| dir_node_weighted(n, all, |m| u8::from(m != 0)) != Some(0)));
    // Everyone at 0: every member counts once.
    assert_eq!(dir_node_weighted("R1", all, |_| 0), dir_node_of("R1", all));
    // Weight 3 on node 2: the vector is [0, 1, 2, 2, 2].
    let h = name_hash("R7") as usize;
    let v = [0, 1, 2, 2, 2];
    assert_eq!(
        dir_node_weighted("R7", all, |m| if m == 2 { 3 } else { 1 }),
        Some(v[h % 5])
    );
}
