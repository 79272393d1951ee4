//! The table's regions as a request reads them: home (every write, every read that must be
//! current), the replica region nearest to the client ([`Regions`]), and the circuit breakers
//! that stop reads going to a replica that fails ([`Breakers`]).
//!
//! Which region is nearest: the configured regions (home first, then replicas of a global table)
//! ordered by distance from where the request came in. A pure function of the request's location
//! (`request.cf` latitude and longitude, or only its continent) and a small table of region
//! coordinates; no location, an unknown region, or a tie keeps home first.
//!
//! It runs on every request of a multi-region Worker, so it stays small: coordinates are read
//! with a few lines of decimal parsing and distances ranked by the straight line through the
//! earth (the chord, which orders places exactly as the great circle does) with polynomial sine
//! and cosine, instead of pulling the float parser and libm's trigonometry into the bundle.

use std::cell::RefCell;
use std::future::Future;
use std::time::{Duration, SystemTime};

use crate::table::store::Store;

/// Consecutive failures (errors, or no answer within the replica budget) after which a replica
/// region is skipped for the next nearest (or home).
pub const BREAKER_FAILURES: u32 = 3;
/// How long a tripped replica is skipped before one request tries it again (half-open): a success
/// closes the breaker, a failure opens it for another cooldown.
pub const BREAKER_COOLDOWN: Duration = Duration::from_secs(30);

/// A replica region's circuit breaker.
#[derive(Debug, Default, Clone, Copy)]
struct Breaker {
    failures: u32,
    open_until: Option<SystemTime>,
}

/// The replica regions' circuit breakers, one isolate's (at most 8 regions: a list, not a map).
#[derive(Debug, Default)]
pub struct Breakers(RefCell<Vec<(String, Breaker)>>);

impl Breakers {
    /// Whether reads may go to replica `region` now: its breaker is closed, or its cooldown is
    /// over (the next read probes it).
    pub fn usable(&self, region: &str, now: SystemTime) -> bool {
        let breakers = self.0.borrow();
        let open_until = breakers.iter().find(|(r, _)| r == region).and_then(|(_, b)| b.open_until);
        open_until.is_none_or(|until| now >= until)
    }

    /// Records how a read of replica `region` went: a success closes its breaker; the
    /// [`BREAKER_FAILURES`]th failure in a row (and any failure of a probe) opens it for
    /// [`BREAKER_COOLDOWN`].
    fn answered(&self, region: &str, ok: bool, now: SystemTime) {
        let mut breakers = self.0.borrow_mut();
        let at = breakers.iter().position(|(r, _)| r == region);
        match (ok, at) {
            (true, Some(i)) => {
                breakers.swap_remove(i);
            }
            (true, None) => {}
            (false, at) => {
                let i = at.unwrap_or_else(|| {
                    breakers.push((region.to_string(), Breaker::default()));
                    breakers.len() - 1
                });
                let breaker = &mut breakers[i].1;
                breaker.failures += 1;
                if breaker.failures >= BREAKER_FAILURES {
                    breaker.open_until = Some(now + BREAKER_COOLDOWN);
                }
            }
        }
    }
}

/// A replica region of the table, as a request reads it.
#[derive(Debug, Clone, Copy)]
pub struct Near<'a> {
    pub store: Store<'a>,
    pub region: &'a str,
}

/// The table's regions as one request reads them: `home`, and `near`, the replica region nearest
/// to the client when that is not home. Session lookups and host resolution read `near` first
/// ([`Regions::from_replica`]); everything else reads and writes home.
#[derive(Debug, Clone, Copy)]
pub struct Regions<'a> {
    pub home: Store<'a>,
    pub near: Option<Near<'a>>,
    /// The region nearest to the client (home or a replica), for the log; `None` with one region.
    pub nearest: Option<&'a str>,
    breakers: &'a Breakers,
}

impl<'a> Regions<'a> {
    /// One region: home.
    pub fn home(home: Store<'a>, breakers: &'a Breakers) -> Self {
        Self { home, near: None, nearest: None, breakers }
    }

    /// With `nearest` the region nearest to the client, and `replica` its table when it is not home.
    #[must_use]
    pub fn with_nearest(mut self, nearest: &'a str, replica: Option<Store<'a>>) -> Self {
        self.near = replica.map(|store| Near { store, region: nearest });
        self.nearest = Some(nearest);
        self
    }

    /// Without the replica: reads that must be current.
    #[must_use]
    pub fn home_only(mut self) -> Self {
        self.near = None;
        self
    }

    /// The answer of `read` from the nearest replica, its outcome recorded on the region's
    /// breaker; `None` when there is no replica or it failed (no answer: home gives it).
    pub async fn from_replica<T, E, F>(&self, now: SystemTime, read: impl FnOnce(Store<'a>) -> F) -> Option<T>
    where
        F: Future<Output = Result<T, E>>,
    {
        let near = self.near?;
        let answer = read(near.store).await;
        self.breakers.answered(near.region, answer.is_ok(), now);
        answer.ok()
    }
}

/// A point on earth, in degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Location {
    pub latitude: f64,
    pub longitude: f64,
}

impl Location {
    /// The location Cloudflare gives a request: its latitude and longitude when both are valid
    /// numbers, else the middle of its continent (`NA`, `SA`, `EU`, `AF`, `AS`, `OC`, `AN`),
    /// else none.
    pub fn of(latitude: Option<&str>, longitude: Option<&str>, continent: Option<&str>) -> Option<Self> {
        if let (Some(latitude), Some(longitude)) = (latitude.and_then(degrees), longitude.and_then(degrees))
            && (-90.0..=90.0).contains(&latitude)
            && (-180.0..=180.0).contains(&longitude)
        {
            return Some(Self { latitude, longitude });
        }
        let (latitude, longitude) = match continent? {
            "NA" => (39.0, -98.0),
            "SA" => (-15.0, -60.0),
            "EU" => (50.0, 10.0),
            "AF" => (2.0, 20.0),
            "AS" => (30.0, 100.0),
            "OC" => (-25.0, 135.0),
            "AN" => (-75.0, 0.0),
            _ => return None,
        };
        Some(Self { latitude, longitude })
    }

    /// The straight-line distance through the earth to `other`, in kilometres (the chord: it
    /// grows with the great-circle distance, so it ranks places the same way).
    pub fn chord_km(self, other: Self) -> f64 {
        const EARTH_KM: f64 = 6371.0;
        let (a, b) = (self.unit_vector(), other.unit_vector());
        let squared = (a[0] - b[0]) * (a[0] - b[0]) + (a[1] - b[1]) * (a[1] - b[1]) + (a[2] - b[2]) * (a[2] - b[2]);
        EARTH_KM * squared.sqrt()
    }

    fn unit_vector(self) -> [f64; 3] {
        let (sin_lat, cos_lat) = sin_cos(self.latitude.to_radians());
        let (sin_lon, cos_lon) = sin_cos(self.longitude.to_radians());
        [cos_lat * cos_lon, cos_lat * sin_lon, sin_lat]
    }
}

/// A decimal number of degrees such as `-33.86785` (Cloudflare's format), without the float
/// parser: at most 7 decimals are read.
fn degrees(raw: &str) -> Option<f64> {
    let raw = raw.trim();
    let (whole, fraction) = raw.split_once('.').unwrap_or((raw, ""));
    let digits = whole.trim_start_matches(['-', '+']);
    if digits.is_empty() || digits.len() > 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // All the digits as one integer, divided once by a power of ten: both exact, so the result
    // is the correctly rounded value (as the float parser would give).
    let (mut mantissa, mut scale) = (0u64, 1u64);
    for b in digits.bytes().chain(fraction.bytes().take(7)) {
        mantissa = mantissa * 10 + u64::from(b - b'0');
    }
    for _ in fraction.bytes().take(7) {
        scale *= 10;
    }
    // At most 10 digits: exact in an f64.
    let value = mantissa as f64 / scale as f64;
    Some(if whole.starts_with('-') { -value } else { value })
}

/// Sine and cosine of `x` radians in [-pi, pi] (a latitude or longitude), within 1e-5: a Taylor
/// series on [-pi/2, pi/2].
fn sin_cos(r: f64) -> (f64, f64) {
    use std::f64::consts::{FRAC_PI_2, PI};
    // Into [-pi/2, pi/2] with sin(pi - x) = sin(x), cos(pi - x) = -cos(x).
    let (r, flip) = if r > FRAC_PI_2 {
        (PI - r, -1.0)
    } else if r < -FRAC_PI_2 {
        (-PI - r, -1.0)
    } else {
        (r, 1.0)
    };
    let r2 = r * r;
    // Horner forms of the series to x^13 and x^12: the first term left out is under 1e-5 here.
    let sin = r
        * (1.0
            - r2 / 6.0
                * (1.0 - r2 / 20.0 * (1.0 - r2 / 42.0 * (1.0 - r2 / 72.0 * (1.0 - r2 / 110.0 * (1.0 - r2 / 156.0))))));
    let cos = 1.0
        - r2 / 2.0 * (1.0 - r2 / 12.0 * (1.0 - r2 / 30.0 * (1.0 - r2 / 56.0 * (1.0 - r2 / 90.0 * (1.0 - r2 / 132.0)))));
    (sin, flip * cos)
}

/// Where AWS's regions are (their metro areas), for the regions DynamoDB global tables serve.
const REGIONS: &[(&str, f64, f64)] = &[
    ("us-east-1", 38.9, -77.4),
    ("us-east-2", 40.0, -83.0),
    ("us-west-1", 37.4, -121.9),
    ("us-west-2", 45.8, -119.7),
    ("ca-central-1", 45.5, -73.6),
    ("ca-west-1", 51.0, -114.1),
    ("mx-central-1", 20.6, -100.4),
    ("sa-east-1", -23.5, -46.6),
    ("eu-west-1", 53.3, -6.3),
    ("eu-west-2", 51.5, -0.1),
    ("eu-west-3", 48.9, 2.4),
    ("eu-central-1", 50.1, 8.7),
    ("eu-central-2", 47.4, 8.5),
    ("eu-north-1", 59.3, 18.1),
    ("eu-south-1", 45.5, 9.2),
    ("eu-south-2", 41.6, -0.9),
    ("il-central-1", 32.1, 34.8),
    ("me-south-1", 26.1, 50.6),
    ("me-central-1", 24.5, 54.4),
    ("af-south-1", -33.9, 18.4),
    ("ap-east-1", 22.3, 114.2),
    ("ap-east-2", 25.0, 121.5),
    ("ap-south-1", 19.1, 72.9),
    ("ap-south-2", 17.4, 78.5),
    ("ap-northeast-1", 35.7, 139.7),
    ("ap-northeast-2", 37.6, 127.0),
    ("ap-northeast-3", 34.7, 135.5),
    ("ap-southeast-1", 1.35, 103.8),
    ("ap-southeast-2", -33.9, 151.2),
    ("ap-southeast-3", -6.2, 106.8),
    ("ap-southeast-4", -37.8, 145.0),
    ("ap-southeast-5", 3.1, 101.7),
    ("ap-southeast-7", 13.7, 100.5),
];

/// Where `region` is, when it is one of AWS's.
pub fn location_of(region: &str) -> Option<Location> {
    REGIONS
        .iter()
        .find(|(name, _, _)| *name == region)
        .map(|&(_, latitude, longitude)| Location { latitude, longitude })
}

/// The indexes of `regions` (home first) in the order to try them from `at`: nearest first. Home
/// stays first without a location; a region whose place is unknown comes after every known one
/// (home still first among equals); two regions within 100 km of the same distance keep their
/// configured order, so home wins a tie.
pub fn preference(regions: &[&str], at: Option<Location>) -> Vec<usize> {
    let Some(at) = at else { return (0..regions.len()).collect() };
    // Distances in units of 100 km: a tie is a tie, whatever the rounding of the coordinates.
    let distance = |i: usize| -> u64 {
        location_of(regions[i]).map_or(u64::MAX, |place| {
            // At most the earth's diameter: 128 units, far inside u64.
            let units = (at.chord_km(place) / 100.0).round();
            if units.is_finite() && units >= 0.0 { units as u64 } else { u64::MAX }
        })
    };
    // At most 8 regions: picking the nearest left, one at a time, is all the sorting needed (and
    // `min_by_key` keeps the first of equals: the configured order). Each distance is worked out
    // once.
    let mut left: Vec<(usize, u64)> = (0..regions.len()).map(|i| (i, distance(i))).collect();
    let mut order = Vec::with_capacity(left.len());
    while let Some((at_index, _)) = left.iter().enumerate().min_by_key(|&(_, &(_, d))| d) {
        order.push(left.remove(at_index).0);
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    const REGIONS3: [&str; 3] = ["us-east-1", "eu-west-1", "ap-southeast-2"];

    fn at(latitude: f64, longitude: f64) -> Option<Location> {
        Some(Location { latitude, longitude })
    }

    #[test]
    fn the_nearest_replica_first_from_fixed_places() {
        let sydney = at(-33.87, 151.21);
        let dublin = at(53.35, -6.26);
        let new_york = at(40.71, -74.0);
        let singapore = at(1.29, 103.85);
        let sao_paulo = at(-23.55, -46.63);
        assert_eq!(preference(&REGIONS3, sydney), vec![2, 0, 1]);
        assert_eq!(preference(&REGIONS3, dublin), vec![1, 0, 2]);
        assert_eq!(preference(&REGIONS3, new_york), vec![0, 1, 2]);
        assert_eq!(preference(&REGIONS3, singapore)[0], 2);
        assert_eq!(preference(&REGIONS3, sao_paulo)[0], 0);
        // Paris is nearer to Ireland than to Virginia.
        assert_eq!(preference(&REGIONS3, at(48.86, 2.35))[0], 1);
    }

    #[test]
    fn no_location_ties_and_unknown_regions_keep_home_first() {
        assert_eq!(preference(&REGIONS3, None), vec![0, 1, 2]);
        // Two regions at the same place: the configured order (home first) decides.
        assert_eq!(preference(&["us-east-1", "us-east-1"], at(10.0, 10.0)), vec![0, 1]);
        // A region without coordinates (a local name) is tried after every known one.
        assert_eq!(preference(&["local-home", "eu-west-1"], at(53.0, -6.0)), vec![1, 0]);
        assert_eq!(preference(&["local-home", "local-replica"], at(53.0, -6.0)), vec![0, 1]);
    }

    #[test]
    fn locations_from_cloudflare_fields() {
        assert_eq!(Location::of(Some("-33.87"), Some("151.21"), Some("OC")), at(-33.87, 151.21));
        // Missing or invalid coordinates fall back to the continent, then to nothing.
        assert_eq!(Location::of(None, Some("151.21"), Some("EU")), at(50.0, 10.0));
        assert_eq!(Location::of(Some("north"), Some("1"), Some("OC")), at(-25.0, 135.0));
        assert_eq!(Location::of(Some("95"), Some("1"), None), None);
        assert_eq!(Location::of(Some("NaN"), Some("1"), Some("XX")), None);
        assert_eq!(Location::of(None, None, None), None);
        // The continent alone still finds the nearest replica.
        assert_eq!(preference(&REGIONS3, Location::of(None, None, Some("OC")))[0], 2);
        assert_eq!(preference(&REGIONS3, Location::of(None, None, Some("EU")))[0], 1);
    }

    #[test]
    fn chords_match_the_haversine_distance() {
        // The great circle from the chord (std's asin, natively) against the haversine formula.
        let haversine = |a: Location, b: Location| {
            let (p1, p2) = (a.latitude.to_radians(), b.latitude.to_radians());
            let dl = (b.longitude - a.longitude).to_radians();
            let h = ((p2 - p1) / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
            2.0 * 6371.0 * h.sqrt().min(1.0).asin()
        };
        let arc = |a: Location, b: Location| 2.0 * 6371.0 * (a.chord_km(b) / (2.0 * 6371.0)).min(1.0).asin();
        let places: Vec<Location> =
            REGIONS.iter().map(|&(_, latitude, longitude)| Location { latitude, longitude }).collect();
        for &a in &places {
            for &b in &places {
                assert!((arc(a, b) - haversine(a, b)).abs() < 1.0, "{a:?} {b:?}");
            }
        }
        let Some(london) = location_of("eu-west-2") else { panic!("known") };
        let Some(frankfurt) = location_of("eu-central-1") else { panic!("known") };
        assert!((600.0..680.0).contains(&arc(london, frankfurt)));
        assert!(london.chord_km(london) < 1e-6);
        let antipode = Location { latitude: -51.5, longitude: -179.9 };
        assert!((london.chord_km(antipode) - 2.0 * 6371.0).abs() < 1.0, "straight through the earth");
    }

    #[test]
    fn polynomial_sine_and_cosine_and_decimal_degrees() {
        let mut x = -std::f64::consts::PI;
        while x <= std::f64::consts::PI {
            let (s, c) = sin_cos(x);
            assert!((s - x.sin()).abs() < 1e-5 && (c - x.cos()).abs() < 1e-5, "{x}");
            x += 0.01;
        }
        assert_eq!(degrees("-33.86785"), Some(-33.86785));
        assert_eq!(degrees(" 151.2 "), Some(151.2));
        assert_eq!(degrees("-0.5"), Some(-0.5));
        assert_eq!(degrees("+7"), Some(7.0));
        for bad in ["", "-", ".5", "1e5", "12.3.4", "north", "1234", "1,5", "NaN"] {
            assert_eq!(degrees(bad), None, "{bad}");
        }
    }
}
