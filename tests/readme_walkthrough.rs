//! The README's lock walkthrough ("Locks on a running cluster"), run as written: its shell block
//! is read from README.md, so the README and this test cannot drift apart.
//!
//! The block's lines are run in order, the way a shell in two terminals would:
//!
//! * `vmsc run ...` starts the cluster (the "second terminal"): it runs in the background until
//!   the test ends, and the next line waits until it printed a `%VMSC-I-SERVE` line per node;
//! * `vmsc ...` runs to completion; with a trailing `&` it runs in the background;
//! * `wait` waits for every background command;
//! * `#   {...}` lines right after a command are its exact output (`…` stands for any text);
//!   `exit N` in a command's trailing comment is its exit status (default 0).
//!
//! The one difference from a newcomer's terminal: every command gets `VMSC_BASE_PORT`, a free
//! base port, in its environment, so the test never needs the README's default ports
//! 7001-7003 to be free. Every wait is bounded ([`PROCESS_MAX`], [`EVENT_MAX`]).

use std::io::{BufRead, BufReader, Read};
use std::net::{TcpListener, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// Longest any command may run.
const PROCESS_MAX: Duration = Duration::from_secs(60);
/// Longest wait for the cluster to form.
const EVENT_MAX: Duration = Duration::from_secs(30);
/// The heading of the walkthrough in README.md.
const SECTION: &str = "### Locks on a running cluster";

/// One line of the walkthrough.
#[derive(Debug)]
enum Step {
    /// `vmsc run ...`: the cluster, in the background.
    Cluster(Vec<String>),
    /// `vmsc ...`: a command, its expected exit status and output patterns.
    Command {
        line: String,
        args: Vec<String>,
        background: bool,
        exit: i32,
        expected: Vec<String>,
    },
    /// `wait`.
    Wait,
}

/// The first `sh` block after [`SECTION`] in README.md.
fn walkthrough_block() -> String {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).expect("README");
    let section = &readme[readme.find(SECTION).expect("the walkthrough section")..];
    let start = section.find("```sh\n").expect("a sh block") + "```sh\n".len();
    let end = start + section[start..].find("```").expect("the block's end");
    section[start..end].to_string()
}

fn parse(block: &str) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    for line in block.lines() {
        let line = line.trim_end();
        if let Some(pattern) = line.strip_prefix("#   ") {
            match steps.last_mut() {
                Some(Step::Command { expected, .. }) => expected.push(pattern.to_string()),
                other => panic!("output {pattern:?} follows no command but {other:?}"),
            }
            continue;
        }
        let (command, comment) = line.split_once(" #").unwrap_or((line, ""));
        let command = command.trim();
        if command.is_empty() || command.starts_with('#') {
            continue;
        }
        if command == "wait" {
            steps.push(Step::Wait);
            continue;
        }
        let (command, background) = match command.strip_suffix('&') {
            Some(c) => (c.trim(), true),
            None => (command, false),
        };
        assert!(
            !command.contains(['"', '\'', '$', '|', '>', '<', ';']),
            "the test runs plain words only: {command}"
        );
        let mut words = command.split_whitespace().map(str::to_string);
        assert_eq!(words.next().as_deref(), Some("vmsc"), "{line}");
        let args: Vec<String> = words.collect();
        if args[0] == "run" {
            steps.push(Step::Cluster(args));
            continue;
        }
        let exit = comment
            .split_once("exit ")
            .and_then(|(_, rest)| rest.split(|c: char| !c.is_ascii_digit()).next())
            .map_or(0, |n| n.parse().expect("an exit status"));
        steps.push(Step::Command {
            line: command.to_string(),
            args,
            background,
            exit,
            expected: Vec::new(),
        });
    }
    steps
}

/// True if `actual` is `pattern`, where `…` in the pattern stands for any text.
fn matches(pattern: &str, actual: &str) -> bool {
    let parts: Vec<&str> = pattern.split('…').collect();
    let [first, middle @ .., last] = parts.as_slice() else {
        return pattern == actual;
    };
    if !actual.starts_with(first) || actual.len() < first.len() + last.len() {
        return false;
    }
    let mut rest = &actual[first.len()..actual.len() - last.len()];
    for part in middle {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    actual.ends_with(last)
}

/// The number of nodes in the cluster file `vmsc run ARGS` names (its first argument).
fn cluster_nodes(args: &[String]) -> usize {
    let file = args.get(1).expect("vmsc run CLUSTER.toml");
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
    let text = std::fs::read_to_string(&path).expect("the cluster file");
    text.lines().filter(|l| l.trim() == "[[node]]").count()
}

/// A base port with UDP and TCP free on 127.0.0.1 for `nodes` consecutive ports.
fn free_base_port(nodes: u16) -> u16 {
    for _ in 0..100 {
        let probe = TcpListener::bind("127.0.0.1:0").expect("a port");
        let base = probe.local_addr().expect("bound").port();
        drop(probe);
        if base.checked_add(nodes).is_none() {
            continue;
        }
        let free = (base..base + nodes).all(|port| {
            TcpListener::bind(("127.0.0.1", port)).is_ok()
                && UdpSocket::bind(("127.0.0.1", port)).is_ok()
        });
        if free {
            return base;
        }
    }
    panic!("no {nodes} consecutive free ports");
}

/// Processes killed on drop (the cluster, and any background command left on a failure).
struct Children(Vec<Child>);

impl Drop for Children {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

struct Walk {
    base_port: u16,
    children: Children,
    /// Background commands: their line, expected exit and output, and their child index.
    jobs: Vec<(String, i32, Vec<String>, usize)>,
}

impl Walk {
    fn command(&self, args: &[String]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_vmsc"));
        command
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("VMSC_BASE_PORT", self.base_port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }

    /// Starts the cluster and waits until it serves every node.
    fn cluster(&mut self, args: &[String]) {
        let nodes = cluster_nodes(args);
        let mut child = self.command(args).spawn().expect("vmsc run starts");
        let stdout = child.stdout.take().expect("piped");
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        self.children.0.push(child);
        let deadline = Instant::now() + EVENT_MAX;
        let mut serving = 0;
        let mut seen = Vec::new();
        while serving < nodes {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines.recv_timeout(left) {
                Ok(line) => {
                    serving += usize::from(line.starts_with("%VMSC-I-SERVE, "));
                    seen.push(line);
                }
                Err(_) => panic!("vmsc run never served the cluster:\n{}", seen.join("\n")),
            }
        }
    }

    /// Waits for child `i` (killing it after [`PROCESS_MAX`]); its exit status and stdout.
    fn finish(&mut self, i: usize, line: &str) -> (Option<i32>, String, String) {
        let child = &mut self.children.0[i];
        let mut out = child.stdout.take().expect("piped");
        let mut err = child.stderr.take().expect("piped");
        let out = thread::spawn(move || {
            let mut s = String::new();
            let _ = out.read_to_string(&mut s);
            s
        });
        let err = thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            s
        });
        let deadline = Instant::now() + PROCESS_MAX;
        let status = loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                break status;
            }
            assert!(Instant::now() < deadline, "{line}: still running");
            thread::sleep(Duration::from_millis(10));
        };
        let (out, err) = (out.join().expect("stdout"), err.join().expect("stderr"));
        (status.code(), out, err)
    }

    fn check(&mut self, i: usize, line: &str, exit: i32, expected: &[String]) {
        let (code, out, err) = self.finish(i, line);
        assert_eq!(code, Some(exit), "{line}\nstdout: {out}\nstderr: {err}");
        let got: Vec<&str> = out.lines().collect();
        assert_eq!(got.len(), expected.len(), "{line}: {out}");
        for (pattern, actual) in expected.iter().zip(got) {
            assert!(
                matches(pattern, actual),
                "{line}\n  README: {pattern}\n  actual: {actual}"
            );
        }
    }

    fn run(&mut self, step: Step) {
        match step {
            Step::Cluster(args) => self.cluster(&args),
            Step::Wait => {
                for (line, exit, expected, i) in std::mem::take(&mut self.jobs) {
                    self.check(i, &line, exit, &expected);
                }
            }
            Step::Command {
                line,
                args,
                background,
                exit,
                expected,
            } => {
                let child = self.command(&args).spawn().expect("vmsc starts");
                self.children.0.push(child);
                let i = self.children.0.len() - 1;
                if background {
                    self.jobs.push((line, exit, expected, i));
                } else {
                    self.check(i, &line, exit, &expected);
                }
            }
        }
    }
}

#[test]
fn the_readme_lock_walkthrough_runs_as_written() {
    let steps = parse(&walkthrough_block());
    assert!(
        matches!(steps.first(), Some(Step::Cluster(_))),
        "the walkthrough starts the cluster it talks to: {steps:?}"
    );
    let commands = steps
        .iter()
        .filter(|s| matches!(s, Step::Command { .. }))
        .count();
    assert!(commands >= 5, "{steps:?}");
    let Some(Step::Cluster(args)) = steps.first() else {
        unreachable!("checked above");
    };
    let nodes = u16::try_from(cluster_nodes(args)).expect("a small cluster");
    let mut walk = Walk {
        base_port: free_base_port(nodes),
        children: Children(Vec::new()),
        jobs: Vec::new(),
    };
    for step in steps {
        walk.run(step);
    }
    assert!(
        walk.jobs.is_empty(),
        "a background command was never waited for"
    );
}

#[test]
fn patterns_match_with_ellipses_only() {
    assert!(matches("abc", "abc"));
    assert!(!matches("abc", "abcd"));
    assert!(matches("a…d", "abcd"));
    assert!(matches("a…c…e", "abcde"));
    assert!(!matches("a…c…e", "abde"));
    assert!(!matches("ab…bc", "abc"));
}
