//! Region coordinates and the fibre lower bound on RTT.

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::csv::{self, FieldCtx};
use crate::error::LatencyError;

/// Mean Earth radius (IUGG R1) in km, used by [`great_circle_km`].
pub const EARTH_MEAN_RADIUS_KM: f64 = 6371.0088;

/// Assumed speed of light in optical fibre in km/s (about c / 1.5), used by
/// [`fibre_bound_ms`].
pub const FIBRE_SPEED_KM_PER_S: f64 = 200_000.0;

/// The header a regions file must have.
pub const REGIONS_HEADER: &str = "key,region_id,city,lat,lon,source";
const REGIONS_COLUMNS: [&str; 6] = ["key", "region_id", "city", "lat", "lon", "source"];

/// The shipped `latency/data/regions.csv`, embedded at build time.
pub const EMBEDDED_REGIONS_CSV: &str = include_str!("../data/regions.csv");

/// Name used in error messages for [`EMBEDDED_REGIONS_CSV`].
pub const EMBEDDED_REGIONS_NAME: &str = "latency/data/regions.csv";

/// One cloud region: an OCI region key with its location.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Region {
    /// Three-letter OCI region key, e.g. `FRA`.
    pub key: String,
    /// OCI region identifier, e.g. `eu-frankfurt-1`.
    pub region_id: String,
    /// City name as in the OCI docs, e.g. `Frankfurt`.
    pub city: String,
    /// Latitude of the city centre in degrees, `-90..=90` (north positive).
    pub lat: f64,
    /// Longitude of the city centre in degrees, `-180..=180` (east positive).
    pub lon: f64,
    /// Where the row's facts come from (free text, kept verbatim).
    pub source: String,
}

/// Great-circle distance between two regions in km: the haversine formula on
/// a sphere of radius [`EARTH_MEAN_RADIUS_KM`].
///
/// `h = sin²(Δlat/2) + cos(lat_a)·cos(lat_b)·sin²(Δlon/2)`,
/// `km = 2·R·asin(√h)`.
pub fn great_circle_km(a: &Region, b: &Region) -> f64 {
    let (lat_a, lat_b) = (a.lat.to_radians(), b.lat.to_radians());
    let d_lat = lat_b - lat_a;
    let d_lon = (b.lon - a.lon).to_radians();
    let h = (d_lat / 2.0).sin().powi(2) + lat_a.cos() * lat_b.cos() * (d_lon / 2.0).sin().powi(2);
    // Rounding can push h a hair outside [0, 1]; clamp so asin stays defined.
    2.0 * EARTH_MEAN_RADIUS_KM * h.clamp(0.0, 1.0).sqrt().asin()
}

/// Lower bound on the round-trip time between two regions in ms: light in
/// fibre going there and back along the great circle,
/// `2 · great_circle_km / 200,000 km/s`, expressed in ms.
///
/// No real path can beat this (cables are never shorter than the great circle),
/// so a measured RTT below it signals a data error. The coordinates are city
/// centres, so the bound is approximate: moving an endpoint by `r` km moves the
/// bound by at most `0.01·r` ms.
pub fn fibre_bound_ms(a: &Region, b: &Region) -> f64 {
    2.0 * great_circle_km(a, b) / FIBRE_SPEED_KM_PER_S * 1000.0
}

/// A set of regions read from a `key,region_id,city,lat,lon,source` CSV file,
/// in file order, indexed by key.
#[derive(Debug, Clone, PartialEq)]
pub struct Regions {
    name: String,
    regions: Vec<Region>,
    index: HashMap<String, usize>,
}

impl Regions {
    /// Parse a regions CSV. `name_for_errors` is the file name shown in error
    /// messages.
    ///
    /// The header must be exactly `key,region_id,city,lat,lon,source`. Every
    /// field must be non-empty, keys must not contain whitespace or repeat,
    /// `lat` must be a number in `-90..=90` and `lon` in `-180..=180`.
    pub fn parse(name_for_errors: &str, text: &str) -> Result<Regions, LatencyError> {
        let records = csv::records(name_for_errors, text, REGIONS_HEADER, &REGIONS_COLUMNS)?;
        let mut regions = Vec::with_capacity(records.len());
        let mut index = HashMap::with_capacity(records.len());
        let mut lines: Vec<usize> = Vec::with_capacity(records.len());
        for record in records {
            let ctx = FieldCtx {
                file: name_for_errors,
                line: record.line,
            };
            let f = &record.fields;
            let region = Region {
                key: ctx.key("key", &f[0])?,
                region_id: ctx.text("region_id", &f[1])?,
                city: ctx.text("city", &f[2])?,
                lat: ctx.number_in("lat", &f[3], -90.0, 90.0)?,
                lon: ctx.number_in("lon", &f[4], -180.0, 180.0)?,
                source: ctx.text("source", &f[5])?,
            };
            if let Some(&first) = index.get(&region.key) {
                return Err(LatencyError::DuplicateRegion {
                    file: name_for_errors.to_string(),
                    line: record.line,
                    key: region.key,
                    first_line: lines[first],
                });
            }
            index.insert(region.key.clone(), regions.len());
            lines.push(record.line);
            regions.push(region);
        }
        Ok(Regions {
            name: name_for_errors.to_string(),
            regions,
            index,
        })
    }

    /// Read and parse a regions CSV file; errors name the path.
    pub fn load(path: impl AsRef<Path>) -> Result<Regions, LatencyError> {
        let path = path.as_ref();
        let text = csv::read(path)?;
        Regions::parse(&path.display().to_string(), &text)
    }

    /// The regions shipped in `latency/data/regions.csv` (21 OCI regions).
    pub fn embedded() -> Regions {
        // The embedded file is fixed at build time and the test
        // `embedded_tables_parse_and_validate` proves it parses, so this
        // cannot fail at run time.
        Regions::parse(EMBEDDED_REGIONS_NAME, EMBEDDED_REGIONS_CSV)
            .expect("embedded regions.csv parses (checked by tests)")
    }

    /// The file name used in error messages.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The region with this key, if any.
    pub fn get(&self, key: &str) -> Option<&Region> {
        self.index.get(key).map(|&i| &self.regions[i])
    }

    /// The region with this key, or [`LatencyError::NoSuchRegion`].
    pub fn region(&self, key: &str) -> Result<&Region, LatencyError> {
        self.get(key).ok_or_else(|| LatencyError::NoSuchRegion {
            file: self.name.clone(),
            key: key.to_string(),
        })
    }

    /// Whether a region with this key exists.
    pub fn contains(&self, key: &str) -> bool {
        self.index.contains_key(key)
    }

    /// The regions in file order.
    pub fn iter(&self) -> std::slice::Iter<'_, Region> {
        self.regions.iter()
    }

    /// Number of regions.
    pub fn len(&self) -> usize {
        self.regions.len()
    }

    /// Whether there are no regions.
    pub fn is_empty(&self) -> bool {
        self.regions.is_empty()
    }

    /// [`fibre_bound_ms`] between two regions given by key; 0 for a key with
    /// itself. Errors with [`LatencyError::NoSuchRegion`] for an unknown key.
    pub fn fibre_bound_ms_between(&self, a_key: &str, b_key: &str) -> Result<f64, LatencyError> {
        Ok(fibre_bound_ms(self.region(a_key)?, self.region(b_key)?))
    }
}

impl<'a> IntoIterator for &'a Regions {
    type Item = &'a Region;
    type IntoIter = std::slice::Iter<'a, Region>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}
