//! # vmsc-latency: how long a message takes between two cloud regions
//!
//! The vmsc runtime runs an OpenVMS-style cluster over UDP and delays each
//! datagram as if the nodes sat in different OCI regions. This crate supplies
//! the numbers and the means to check them:
//!
//! * [`Regions`]: the OCI regions (key such as `FRA`, region id, city and the
//!   city centre's latitude/longitude), read from `key,region_id,city,lat,lon,source`.
//! * [`RttTable`]: measured round-trip times between regions, read from
//!   `from,to,rtt_ms,source`. A lookup ([`RttTable::rtt_ms`]) takes the exact
//!   direction, else the reverse one; if a direction has several rows the first
//!   wins, so the file's order expresses trust. Same-region pairs are not in
//!   the table: the runtime uses its own LAN latency for those
//!   ([`RttTable::rtt_ms_or_lan`], [`LatencyError::SameRegion`]).
//! * [`fibre_bound_ms`]: the physical lower bound on an RTT, and
//!   [`RttTable::validate`], which rejects unknown regions and any RTT below it.
//! * [`LatencyHistogram`], [`Summary`] and [`render_summary_table`]: percentile
//!   summaries of the latencies an experiment observes.
//! * [`curate`]: how the shipped table was chosen from all collected sources.
//!
//! Both tables ship with the crate (`latency/data/`, see `SOURCES.md` there)
//! and are embedded at build time: [`Regions::embedded`], [`RttTable::embedded`].
//! The shipped RTTs are real OCI console readings (`seed:000`) where they exist
//! and otherwise Azure or IBM inter-region figures for regions in the same
//! metro, each row naming its source.
//!
//! ## The fibre bound
//!
//! Nothing travels through fibre faster than about 200,000 km/s (light slowed
//! by the glass's refractive index of ~1.5), and no cable is shorter than the
//! great circle between its ends. So for regions `a` and `b`:
//!
//! ```text
//! h          = sin²((lat_b − lat_a)/2) + cos(lat_a)·cos(lat_b)·sin²((lon_b − lon_a)/2)
//! km         = 2 · R · asin(√h)                 (haversine, R = 6371.0088 km)
//! min_rtt_ms = 2 · km / 200,000 km/s · 1000     (there and back, in ms)
//! ```
//!
//! Frankfurt–Chicago is 6,967.6 km, so no RTT can be below 69.68 ms; OCI
//! measured 97.58 ms. A table value under the bound is a data error.
//!
//! ## Example
//!
//! ```
//! use vmsc_latency::{fibre_bound_ms, LatencyError, Regions, RttTable};
//!
//! let regions = Regions::embedded();
//! let table = RttTable::embedded();
//! table.validate(&regions)?;
//!
//! let fra_ord = table.rtt_ms("FRA", "ORD")?;
//! assert_eq!((fra_ord.rtt_ms, fra_ord.source.as_str()), (97.58, "seed:000"));
//! let ord_fra = table.rtt_ms("ORD", "FRA")?; // falls back to the FRA->ORD row
//! assert!(ord_fra.reversed);
//!
//! let bound_ms = fibre_bound_ms(regions.region("FRA")?, regions.region("ORD")?);
//! assert!((bound_ms - 69.68).abs() < 0.01);
//!
//! assert!(matches!(table.rtt_ms("FRA", "FRA"), Err(LatencyError::SameRegion { .. })));
//! assert_eq!(table.rtt_ms_or_lan("FRA", "FRA", 0.2)?, 0.2);
//! # Ok::<(), LatencyError>(())
//! ```

#![warn(missing_docs)]

mod csv;
pub mod curate;
mod error;
mod regions;
mod rtt;
mod stats;

pub use error::{FieldProblem, LatencyError};
pub use regions::{
    fibre_bound_ms, great_circle_km, Region, Regions, EARTH_MEAN_RADIUS_KM, EMBEDDED_REGIONS_CSV,
    EMBEDDED_REGIONS_NAME, FIBRE_SPEED_KM_PER_S, REGIONS_HEADER,
};
pub use rtt::{RttEntry, RttTable, EMBEDDED_RTT_CSV, EMBEDDED_RTT_NAME, RTT_HEADER};
pub use stats::{render_summary_table, LatencyHistogram, Summary, HISTOGRAM_SIGNIFICANT_DIGITS};
