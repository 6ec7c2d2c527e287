//! Tests of the shipped tables, the fibre bound, and the error messages.

use std::path::PathBuf;

use vmsc_latency::curate::curate_rtt_csv;
use vmsc_latency::{
    fibre_bound_ms, great_circle_km, FieldProblem, LatencyError, Regions, RttTable,
    EMBEDDED_REGIONS_CSV, EMBEDDED_RTT_CSV,
};

/// `<workspace>/../shared/data`, or `$VMSC_SHARED_DATA` if set.
fn shared_data_dir() -> PathBuf {
    std::env::var_os("VMSC_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data"))
}

/// The text of a shared data file, or `None` (with a printed note) if absent.
fn shared_file(name: &str) -> Option<(String, String)> {
    let path = shared_data_dir().join(name);
    match std::fs::read_to_string(&path) {
        Ok(text) => Some((path.display().to_string(), text)),
        Err(e) => {
            eprintln!(
                "note: skipping check against {} ({e}); shared/ is not beside the repository",
                path.display()
            );
            None
        }
    }
}

const REGIONS_HEAD: &str = "key,region_id,city,lat,lon,source\n";

fn small_regions() -> Regions {
    let text = format!(
        "{REGIONS_HEAD}\
         FRA,eu-frankfurt-1,Frankfurt,50.11552,8.68417,test\n\
         LHR,uk-london-1,London,51.50853,-0.12574,test\n\
         ORD,us-chicago-1,Chicago IL,41.85003,-87.65005,test\n"
    );
    Regions::parse("regions.csv", &text).unwrap()
}

// ---------------------------------------------------------------- shipped data

#[test]
fn embedded_tables_parse_and_validate() {
    let regions = Regions::embedded();
    let table = RttTable::embedded();
    assert_eq!(regions.len(), 21);
    assert_eq!(table.len(), 277);
    table.validate(&regions).unwrap();
    assert_eq!(table.name(), "latency/data/rtt_ms.csv");
}

#[test]
fn seed_rows_come_first() {
    let table = RttTable::embedded();
    let first_other = table
        .entries()
        .iter()
        .position(|e| e.source != "seed:000")
        .unwrap();
    assert_eq!(first_other, 90);
    assert!(table.entries()[first_other..]
        .iter()
        .all(|e| e.source != "seed:000"));
}

#[test]
fn fra_ord_is_the_oci_seed_figure() {
    let table = RttTable::embedded();
    let e = table.rtt_ms("FRA", "ORD").unwrap();
    assert_eq!(e.rtt_ms, 97.58);
    assert_eq!(e.source, "seed:000");
    assert!(!e.reversed);

    // Reverse fallback: no ORD->FRA row is shipped, the seed row answers.
    let back = table.rtt_ms("ORD", "FRA").unwrap();
    assert_eq!((back.from.as_str(), back.to.as_str()), ("ORD", "FRA"));
    assert_eq!(back.rtt_ms, 97.58);
    assert_eq!(back.source, "seed:000");
    assert_eq!(back.line, e.line);
    assert!(back.reversed);
}

#[test]
fn fra_lhr_and_lhr_ord_are_azure_2026_proxies() {
    let table = RttTable::embedded();
    let cases = [
        (
            "FRA",
            "LHR",
            16.0,
            "azure-p50-2026-07-30:Germany West Central->UK South",
        ),
        (
            "LHR",
            "FRA",
            17.0,
            "azure-p50-2026-07-30:UK South->Germany West Central",
        ),
        (
            "LHR",
            "ORD",
            97.0,
            "azure-p50-2026-07-30:UK South->North Central US",
        ),
        (
            "ORD",
            "LHR",
            97.0,
            "azure-p50-2026-07-30:North Central US->UK South",
        ),
    ];
    for (from, to, rtt_ms, source) in cases {
        let e = table.rtt_ms(from, to).unwrap();
        assert_eq!(
            (e.rtt_ms, e.source.as_str(), e.reversed),
            (rtt_ms, source, false)
        );
    }
}

#[test]
fn same_region_and_missing_pairs_are_distinct_errors() {
    let table = RttTable::embedded();
    let err = table.rtt_ms("FRA", "FRA").unwrap_err();
    assert!(matches!(&err, LatencyError::SameRegion { key } if key == "FRA"));
    assert_eq!(
        err.to_string(),
        "FRA->FRA is a same-region pair: it has no table RTT, use the LAN latency"
    );
    assert_eq!(table.rtt_ms_or_lan("LHR", "LHR", 0.25).unwrap(), 0.25);
    assert_eq!(table.rtt_ms_or_lan("ORD", "FRA", 0.25).unwrap(), 97.58);

    // BOG appears only in the seed's rows; BOG-FRA has no figure anywhere.
    let err = table.rtt_ms("BOG", "FRA").unwrap_err();
    assert!(matches!(err, LatencyError::NoRtt { .. }));
    assert_eq!(
        err.to_string(),
        "latency/data/rtt_ms.csv: no RTT for BOG->FRA in either direction"
    );
    assert!(matches!(
        table.rtt_ms_or_lan("XYZ", "FRA", 0.25),
        Err(LatencyError::NoRtt { .. })
    ));
}

#[test]
fn shipped_rtt_table_matches_generator() {
    let Some((name, text)) = shared_file("rtt_ms.csv") else {
        return;
    };
    let curated = curate_rtt_csv(&name, &text).unwrap();
    assert!(
        curated == EMBEDDED_RTT_CSV,
        "latency/data/rtt_ms.csv is stale: run `cargo run -p vmsc-latency --example build_table`"
    );
}

#[test]
fn shipped_regions_match_shared_copy() {
    let Some((_, text)) = shared_file("regions.csv") else {
        return;
    };
    assert!(
        text == EMBEDDED_REGIONS_CSV,
        "latency/data/regions.csv differs from shared/data/regions.csv: rerun build_table"
    );
}

// ---------------------------------------------------------------- fibre bound

#[test]
fn fibre_bound_golden_values() {
    // Rows copied from shared/data/fiber_bound_ms.csv: from, to, km, min_rtt_ms.
    let golden = [
        ("FRA", "ORD", 6967.6, 69.676),
        ("FRA", "LHR", 637.6, 6.376),
        ("LHR", "ORD", 6356.4, 63.564),
        ("CDG", "MTY", 8748.4, 87.484),
        ("AUH", "DXB", 115.5, 1.155),
        ("GRU", "NRT", 18533.8, 185.338),
        ("MEL", "MAD", 17310.6, 173.106),
    ];
    let regions = Regions::embedded();
    for (a, b, km, min_rtt_ms) in golden {
        let (ra, rb) = (regions.region(a).unwrap(), regions.region(b).unwrap());
        let got_ms = fibre_bound_ms(ra, rb);
        assert!(
            (got_ms - min_rtt_ms).abs() < 0.01,
            "{a}-{b}: {got_ms} vs {min_rtt_ms}"
        );
        assert!((great_circle_km(ra, rb) - km).abs() < 0.1, "{a}-{b} km");
        assert_eq!(got_ms, fibre_bound_ms(rb, ra), "symmetric");
    }
    assert_eq!(regions.fibre_bound_ms_between("FRA", "FRA").unwrap(), 0.0);
    assert!(matches!(
        regions.fibre_bound_ms_between("FRA", "XYZ"),
        Err(LatencyError::NoSuchRegion { .. })
    ));
}

#[test]
fn fibre_bound_matches_every_shared_row() {
    let Some((_, text)) = shared_file("fiber_bound_ms.csv") else {
        return;
    };
    let regions = Regions::embedded();
    let mut rows = 0;
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let want_ms: f64 = f[3].parse().unwrap();
        let got_ms = regions.fibre_bound_ms_between(f[0], f[1]).unwrap();
        assert!((got_ms - want_ms).abs() < 0.001, "{line}: got {got_ms}");
        rows += 1;
    }
    assert_eq!(rows, 420);
}

// ---------------------------------------------------------------- validation

#[test]
fn row_below_fibre_bound_is_rejected() {
    let text = "from,to,rtt_ms,source\n\
                FRA,ORD,97.58,seed:000\n\
                LHR,ORD,60,made-up\n";
    let table = RttTable::parse("rtt.csv", text).unwrap();
    let err = table.validate(&small_regions()).unwrap_err();
    match &err {
        LatencyError::BelowFibreBound {
            line,
            from,
            to,
            rtt_ms,
            bound_ms,
            ..
        } => {
            assert_eq!(
                (*line, from.as_str(), to.as_str(), *rtt_ms),
                (3, "LHR", "ORD", 60.0)
            );
            assert!((bound_ms - 63.564).abs() < 0.001);
        }
        other => panic!("wrong error {other:?}"),
    }
    assert_eq!(
        err.to_string(),
        "rtt.csv:3: LHR->ORD rtt_ms 60 is below the fibre bound 63.56 ms"
    );
}

#[test]
fn unknown_region_key_is_rejected_naming_line_field_and_key() {
    let text = "from,to,rtt_ms,source\n\
                FRA,LHR,16,x\n\
                \n\
                FRA,XYZ,50,x\n";
    let table = RttTable::parse("rtt.csv", text).unwrap();
    let err = table.validate(&small_regions()).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"rtt.csv:4: field to: unknown region key "XYZ""#
    );

    let table = RttTable::parse("rtt.csv", "from,to,rtt_ms,source\nABC,FRA,99,x\n").unwrap();
    let err = table.validate(&small_regions()).unwrap_err();
    assert!(matches!(
        &err,
        LatencyError::UnknownRegion { line: 2, field: "from", key, .. } if key == "ABC"
    ));
}

// ---------------------------------------------------------------- RTT parsing

/// Parse `body` under the RTT header and return the error message.
fn rtt_error(body: &str) -> String {
    RttTable::parse("rtt.csv", &format!("from,to,rtt_ms,source\n{body}"))
        .unwrap_err()
        .to_string()
}

#[test]
fn malformed_rtt_lines_name_line_and_field() {
    let cases = [
        (
            "FRA,LHR,abc,x\n",
            r#"rtt.csv:2: field rtt_ms: "abc" is not a number"#,
        ),
        (
            "FRA,LHR,16,x\nFRA,ORD,,x\n",
            "rtt.csv:3: field rtt_ms: value is empty",
        ),
        ("FRA,LHR,-1,x\n", "rtt.csv:2: field rtt_ms: -1 is negative"),
        (
            "FRA,LHR,NaN,x\n",
            r#"rtt.csv:2: field rtt_ms: "NaN" is not a finite number"#,
        ),
        (
            "FRA,LHR,inf,x\n",
            r#"rtt.csv:2: field rtt_ms: "inf" is not a finite number"#,
        ),
        (",LHR,16,x\n", "rtt.csv:2: field from: value is empty"),
        (
            "FRA,L HR,16,x\n",
            r#"rtt.csv:2: field to: region key "L HR" contains whitespace"#,
        ),
        ("FRA,LHR,16,\n", "rtt.csv:2: field source: value is empty"),
        (
            "FRA,FRA,1,x\n",
            r#"rtt.csv:2: field to: "FRA" is also the `from` region; same-region pairs do not belong in the RTT table"#,
        ),
        (
            "FRA,LHR,16\n",
            "rtt.csv:2: expected 4 fields (from,to,rtt_ms,source), found 3",
        ),
        (
            "FRA,LHR,16,a,b\n",
            "rtt.csv:2: expected 4 fields (from,to,rtt_ms,source), found 5",
        ),
        (
            "FRA,LHR,16,\"x\n",
            "rtt.csv:2: unterminated double-quoted field",
        ),
    ];
    for (body, want) in cases {
        assert_eq!(rtt_error(body), want, "input {body:?}");
    }
    let err = RttTable::parse("rtt.csv", "from,to,rtt_ms,source\nFRA,LHR,abc,x\n").unwrap_err();
    assert!(matches!(
        err,
        LatencyError::BadField {
            line: 2,
            field: "rtt_ms",
            problem: FieldProblem::NotANumber(_),
            ..
        }
    ));
}

#[test]
fn wrong_or_missing_header_is_an_error() {
    let err = RttTable::parse("rtt.csv", "from,to,rtt,source\nFRA,LHR,16,x\n").unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"rtt.csv:1: header is "from,to,rtt,source", expected "from,to,rtt_ms,source""#
    );
    let err = RttTable::parse("rtt.csv", "FRA,LHR,16,x\n").unwrap_err();
    assert!(matches!(err, LatencyError::BadHeader { line: 1, .. }));
    let err = RttTable::parse("rtt.csv", "\n  \n").unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"rtt.csv: file is empty; expected the header "from,to,rtt_ms,source""#
    );
}

#[test]
fn first_row_per_direction_wins_and_formats_are_tolerated() {
    // BOM, CRLF line ends, spaces around fields, a quoted source with a comma,
    // blank lines: all accepted. The later FRA->LHR row is shadowed.
    let text = "\u{feff}from, to ,rtt_ms,source\r\n\
                FRA , LHR,16,\"azure, first\"\r\n\
                \r\n\
                FRA,LHR,13,ibm\r\n\
                LHR,FRA,17,azure\r\n";
    let table = RttTable::parse("rtt.csv", text).unwrap();
    assert_eq!(table.len(), 3);
    let e = table.rtt_ms("FRA", "LHR").unwrap();
    assert_eq!(
        (e.rtt_ms, e.source.as_str(), e.line),
        (16.0, "azure, first", 2)
    );
    let e = table.rtt_ms("LHR", "FRA").unwrap();
    assert_eq!((e.rtt_ms, e.line, e.reversed), (17.0, 5, false));
    assert!(table.validate(&small_regions()).is_ok());
}

#[test]
fn empty_table_is_valid_but_answers_nothing() {
    let table = RttTable::parse("rtt.csv", "from,to,rtt_ms,source\n").unwrap();
    assert!(table.is_empty());
    assert!(table.validate(&small_regions()).is_ok());
    assert!(matches!(
        table.rtt_ms("FRA", "LHR"),
        Err(LatencyError::NoRtt { .. })
    ));
}

#[test]
fn load_reads_files_and_reports_missing_ones() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data");
    let table = RttTable::load(dir.join("rtt_ms.csv")).unwrap();
    assert_eq!(table.entries(), RttTable::embedded().entries());
    let regions = Regions::load(dir.join("regions.csv")).unwrap();
    assert_eq!(
        regions.iter().collect::<Vec<_>>(),
        Regions::embedded().iter().collect::<Vec<_>>()
    );

    let err = RttTable::load(dir.join("no-such-file.csv")).unwrap_err();
    assert!(matches!(err, LatencyError::Io { .. }));
    assert!(err.to_string().contains("no-such-file.csv: cannot read: "));
    assert!(matches!(
        Regions::load(dir.join("nope.csv")),
        Err(LatencyError::Io { .. })
    ));
}

// ---------------------------------------------------------------- regions parsing

fn regions_error(body: &str) -> String {
    Regions::parse("regions.csv", &format!("{REGIONS_HEAD}{body}"))
        .unwrap_err()
        .to_string()
}

#[test]
fn regions_lookup() {
    let regions = Regions::embedded();
    let fra = regions.region("FRA").unwrap();
    assert_eq!(fra.region_id, "eu-frankfurt-1");
    assert_eq!(fra.city, "Frankfurt");
    assert_eq!((fra.lat, fra.lon), (50.11552, 8.68417));
    assert!(fra.source.contains("GeoNames 2925533"));
    assert!(regions.contains("IAD"));
    assert!(regions.get("XYZ").is_none());
    assert_eq!(
        regions.region("XYZ").unwrap_err().to_string(),
        r#"latency/data/regions.csv: no region with key "XYZ""#
    );
    assert_eq!(regions.iter().next().unwrap().key, "AMS");
    assert_eq!((&regions).into_iter().count(), 21);
}

#[test]
fn malformed_region_lines_name_line_and_field() {
    let ok = "FRA,eu-frankfurt-1,Frankfurt,50.1,8.7,s\n";
    let cases = [
        (
            "FRA,eu-frankfurt-1,Frankfurt,north,8.7,s\n".to_string(),
            r#"regions.csv:2: field lat: "north" is not a number"#,
        ),
        (
            "FRA,eu-frankfurt-1,Frankfurt,95,8.7,s\n".to_string(),
            "regions.csv:2: field lat: 95 is outside -90..=90",
        ),
        (
            "FRA,eu-frankfurt-1,Frankfurt,50,-181,s\n".to_string(),
            "regions.csv:2: field lon: -181 is outside -180..=180",
        ),
        (
            "FRA,eu-frankfurt-1,,50,8,s\n".to_string(),
            "regions.csv:2: field city: value is empty",
        ),
        (
            format!("{ok}LHR,uk-london-1,London,51.5,-0.1,s\n{ok}"),
            r#"regions.csv:4: field key: region "FRA" is already defined on line 2"#,
        ),
        (
            "FRA,eu-frankfurt-1,Frankfurt,50\n".to_string(),
            "regions.csv:2: expected 6 fields (key,region_id,city,lat,lon,source), found 4",
        ),
    ];
    for (body, want) in cases {
        assert_eq!(regions_error(&body), want, "input {body:?}");
    }
    let err = Regions::parse("regions.csv", "key,id,city,lat,lon,source\n").unwrap_err();
    assert!(matches!(err, LatencyError::BadHeader { line: 1, .. }));
}
