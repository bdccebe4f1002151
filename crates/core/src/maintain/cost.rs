//! What a repository costs a month: its objects by storage class, priced
//! with a table (built in for us-east-1, or the user's), and what the same
//! data would cost as EBS snapshots or as one full `tar.gz` a night.
//!
//! Input: every object of the repository (size, class, age) from one
//! listing, the snapshots' summaries, a price table. Output: a [`Bill`].
//! Pure arithmetic: no store access here, so tests compute it by hand.
//!
//! How S3 bills, and so how this counts (a GB is 2^30 bytes):
//! - storage per GB-month, per class;
//! - `STANDARD_IA`, `ONEZONE_IA` and `GLACIER_IR` bill an object smaller
//!   than 128 KiB as 128 KiB;
//! - `GLACIER` and `DEEP_ARCHIVE` add 40 KiB per object: 8 KiB billed at the
//!   `STANDARD` price (its name and metadata) and 32 KiB at the class's;
//! - every class but `STANDARD` and `INTELLIGENT_TIERING` has a minimum
//!   storage duration: an object deleted sooner is billed for the rest.

use crate::repo::Repository;
use crate::store::{StorageClass, list_all};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

const GIB: f64 = (1u64 << 30) as f64;

/// The price of one storage class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassPrice {
    /// Dollars per GB-month stored.
    pub storage_gb_month: f64,
    /// Dollars per 1,000 PUT, POST, LIST and COPY requests.
    pub put_per_1000: f64,
    /// Dollars per 1,000 GET and HEAD requests.
    pub get_per_1000: f64,
    /// Days an object is billed for at least.
    #[serde(default)]
    pub min_days: u32,
    /// Objects smaller than this are billed as this many bytes.
    #[serde(default)]
    pub min_object_bytes: u64,
    /// Bytes added to each object at this class's price.
    #[serde(default)]
    pub overhead_bytes: u64,
    /// Bytes added to each object at `STANDARD`'s price.
    #[serde(default)]
    pub overhead_standard_bytes: u64,
    /// Archive classes: what a restore costs, per tier (`Bulk`, ...); a
    /// tier the class does not offer is absent.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub retrieval: BTreeMap<String, Retrieval>,
}

/// The price of restoring archived objects at one tier.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retrieval {
    /// Dollars per GB restored.
    pub per_gb: f64,
    /// Dollars per 1,000 restore requests.
    pub per_1000: f64,
}

/// A price table: one entry per storage class (S3 names), and EBS
/// snapshots for the comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prices {
    /// Where and when these prices hold, for the reader.
    pub source: String,
    /// Dollars per GB-month of EBS snapshot storage (standard tier).
    pub ebs_snapshot_gb_month: f64,
    pub classes: BTreeMap<String, ClassPrice>,
}

impl Prices {
    /// AWS's published list prices for us-east-1 (first 50 TB tier).
    pub fn us_east_1() -> Prices {
        let class = |storage, put, get, min_days, min_object, overhead, overhead_std| ClassPrice {
            storage_gb_month: storage,
            put_per_1000: put,
            get_per_1000: get,
            min_days,
            min_object_bytes: min_object,
            overhead_bytes: overhead,
            overhead_standard_bytes: overhead_std,
            retrieval: BTreeMap::new(),
        };
        let tiers = |t: &[(&str, f64, f64)]| {
            t.iter()
                .map(|&(n, per_gb, per_1000)| (n.to_string(), Retrieval { per_gb, per_1000 }))
                .collect::<BTreeMap<_, _>>()
        };
        let k = 1024;
        let classes = [
            ("STANDARD", class(0.023, 0.005, 0.0004, 0, 0, 0, 0)),
            (
                "INTELLIGENT_TIERING",
                class(0.023, 0.005, 0.0004, 0, 0, 0, 0),
            ),
            ("STANDARD_IA", class(0.0125, 0.01, 0.001, 30, 128 * k, 0, 0)),
            ("ONEZONE_IA", class(0.01, 0.01, 0.001, 30, 128 * k, 0, 0)),
            ("GLACIER_IR", class(0.004, 0.02, 0.01, 90, 128 * k, 0, 0)),
            (
                "GLACIER",
                ClassPrice {
                    retrieval: tiers(&[
                        ("Expedited", 0.03, 10.0),
                        ("Standard", 0.01, 0.05),
                        ("Bulk", 0.0, 0.0),
                    ]),
                    ..class(0.0036, 0.03, 0.0004, 90, 0, 32 * k, 8 * k)
                },
            ),
            (
                "DEEP_ARCHIVE",
                ClassPrice {
                    retrieval: tiers(&[("Standard", 0.02, 0.10), ("Bulk", 0.0025, 0.025)]),
                    ..class(0.00099, 0.05, 0.0004, 180, 0, 32 * k, 8 * k)
                },
            ),
        ];
        Prices {
            source: "AWS list prices, us-east-1, as published in 2025".into(),
            ebs_snapshot_gb_month: 0.05,
            classes: classes
                .into_iter()
                .map(|(n, p)| (n.to_string(), p))
                .collect(),
        }
    }

    /// The price of `class`; an error names a class the table lacks.
    pub fn of(&self, class: StorageClass) -> crate::error::Result<&ClassPrice> {
        self.classes.get(class.name()).ok_or_else(|| {
            crate::error::Error::invalid(format!(
                "the price table has no entry for {}",
                class.name()
            ))
        })
    }
}

impl Prices {
    /// What restoring `packs` objects of `class` holding `bytes` at `tier`
    /// costs, the restored copy kept `days` days (billed at `STANDARD`'s
    /// price beside the archived one); `None` where the class does not
    /// offer the tier (Deep Archive has no Expedited).
    pub fn thaw(
        &self,
        class: StorageClass,
        tier: crate::store::Tier,
        packs: u64,
        bytes: u64,
        days: u32,
    ) -> Option<f64> {
        let r = self.of(class).ok()?.retrieval.get(tier.name())?;
        let standard = self.of(StorageClass::Standard).ok()?.storage_gb_month;
        let gb = bytes as f64 / GIB;
        Some(
            gb * r.per_gb
                + packs as f64 / 1000.0 * r.per_1000
                + gb * standard * f64::from(days) / 30.0,
        )
    }
}

/// One stored object, as the bill needs it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stored {
    pub class: StorageClass,
    pub size: u64,
    /// Days since it was written (0 when unknown).
    pub age_days: u32,
}

/// The objects of one class and what they cost.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassBill {
    pub class: &'static str,
    pub objects: u64,
    pub bytes: u64,
    /// Bytes billed: minimum object sizes and per-object overheads included.
    pub billed_bytes: u64,
    pub per_month: f64,
    /// Objects still inside their minimum storage duration, and what
    /// deleting all of them today would still be billed.
    pub young_objects: u64,
    pub early_delete_charge: f64,
}

/// The whole bill.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bill {
    pub source: String,
    pub classes: Vec<ClassBill>,
    pub per_month: f64,
    pub objects: u64,
    pub bytes: u64,
    /// The data as EBS snapshots: at least the full size of the latest
    /// snapshots, at the EBS snapshot price.
    pub ebs_bytes: u64,
    pub ebs_per_month: f64,
    /// One full `tar.gz` a night kept `tar_days` days: its size estimated
    /// from the latest snapshots' size and this repository's compression.
    pub tar_days: u32,
    pub tar_bytes: u64,
    pub tar_per_month: f64,
    /// The requests of the newest backup that recorded them.
    pub last_backup: Option<LastBackup>,
}

/// The S3 requests one backup made and what they cost.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LastBackup {
    pub snapshot: String,
    /// ns since the Unix epoch.
    pub time: i64,
    pub by_kind: BTreeMap<String, u64>,
    pub data_class: String,
    /// Dollars, PUT and POST at the data class's price (an upper bound:
    /// tree packs, index and snapshot are `STANDARD`), LIST at
    /// `STANDARD`'s, GET and HEAD at `STANDARD`'s, DELETE free.
    pub cost: f64,
}

/// What `by_kind` requests cost (see [`LastBackup::cost`]).
pub fn request_cost(
    by_kind: &BTreeMap<String, u64>,
    data_class: StorageClass,
    prices: &Prices,
) -> crate::error::Result<f64> {
    let standard = prices.of(StorageClass::Standard)?;
    let data = prices.of(data_class)?;
    Ok(by_kind
        .iter()
        .map(|(kind, &n)| {
            let per_1000 = match kind.as_str() {
                "PUT" | "POST" => data.put_per_1000,
                "LIST" => standard.put_per_1000,
                "GET" | "HEAD" => standard.get_per_1000,
                _ => 0.0,
            };
            n as f64 / 1000.0 * per_1000
        })
        .sum())
}

/// What the comparisons start from: the latest snapshots' total size and
/// the repository's compression (bytes stored per byte new).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Basis {
    pub latest_bytes: u64,
    pub compression: f64,
    pub tar_days: u32,
}

/// Prices `objects` with `prices`.
pub fn bill(objects: &[Stored], prices: &Prices, basis: Basis) -> crate::error::Result<Bill> {
    let standard = prices.of(StorageClass::Standard)?.storage_gb_month;
    let mut classes = Vec::new();
    for class in StorageClass::ALL {
        let mine: Vec<&Stored> = objects.iter().filter(|o| o.class == class).collect();
        if mine.is_empty() {
            continue;
        }
        let p = prices.of(class)?;
        let mut c = ClassBill {
            class: class.name(),
            objects: mine.len() as u64,
            bytes: 0,
            billed_bytes: 0,
            per_month: 0.0,
            young_objects: 0,
            early_delete_charge: 0.0,
        };
        for o in mine {
            let billed = o.size.max(p.min_object_bytes) + p.overhead_bytes;
            let month = billed as f64 / GIB * p.storage_gb_month
                + p.overhead_standard_bytes as f64 / GIB * standard;
            c.bytes += o.size;
            c.billed_bytes += billed + p.overhead_standard_bytes;
            c.per_month += month;
            if o.age_days < p.min_days {
                c.young_objects += 1;
                c.early_delete_charge += month * f64::from(p.min_days - o.age_days) / 30.0;
            }
        }
        classes.push(c);
    }
    let tar_bytes = (basis.latest_bytes as f64 * basis.compression) as u64;
    Ok(Bill {
        source: prices.source.clone(),
        per_month: classes.iter().map(|c| c.per_month).sum(),
        objects: classes.iter().map(|c| c.objects).sum(),
        bytes: classes.iter().map(|c| c.bytes).sum(),
        classes,
        ebs_bytes: basis.latest_bytes,
        ebs_per_month: basis.latest_bytes as f64 / GIB * prices.ebs_snapshot_gb_month,
        tar_days: basis.tar_days,
        tar_bytes,
        tar_per_month: tar_bytes as f64 * f64::from(basis.tar_days) / GIB * standard,
        last_backup: None,
    })
}

/// The bill of `repo` now (Unix seconds `now`): every object listed once,
/// priced with `prices`. Objects of a store without classes (a local
/// directory) are priced as `STANDARD`: what the same repository would
/// cost on S3. The comparisons use the latest snapshot of each host and
/// path set.
pub fn repository_bill(
    repo: &Repository,
    prices: &Prices,
    tar_days: u32,
    now: i64,
) -> crate::error::Result<Bill> {
    let objects: Vec<Stored> = list_all(repo.store().as_ref(), "")?
        .into_iter()
        .map(|m| Stored {
            class: m.class.unwrap_or_default(),
            size: m.size,
            age_days: m.modified.map_or(0, |t| {
                u32::try_from((now - t).max(0) / 86_400).unwrap_or(u32::MAX)
            }),
        })
        .collect();
    let mut latest: BTreeMap<(String, Vec<String>), (i64, u64)> = BTreeMap::new();
    let (mut stored, mut new) = (0u64, 0u64);
    let snapshots = repo.snapshots()?;
    for r in &snapshots {
        let s = &r.snapshot;
        stored += s.summary.bytes_stored;
        new += s.summary.bytes_new;
        let e = latest
            .entry((s.host.clone(), s.paths.clone()))
            .or_insert((s.time, s.summary.total_bytes));
        if s.time > e.0 {
            *e = (s.time, s.summary.total_bytes);
        }
    }
    let basis = Basis {
        latest_bytes: latest.values().map(|v| v.1).sum(),
        compression: if new > 0 {
            (stored as f64 / new as f64).min(1.0)
        } else {
            1.0
        },
        tar_days,
    };
    let mut b = bill(&objects, prices, basis)?;
    let newest = snapshots
        .iter()
        .filter_map(|r| r.snapshot.summary.requests.as_ref().map(|q| (r, q)))
        .max_by_key(|(r, _)| r.snapshot.time);
    if let Some((r, q)) = newest {
        let class = StorageClass::parse(&q.data_class).unwrap_or_default();
        b.last_backup = Some(LastBackup {
            snapshot: r.id.to_string(),
            time: r.snapshot.time,
            by_kind: q.by_kind.clone(),
            data_class: q.data_class.clone(),
            cost: request_cost(&q.by_kind, class, prices)?,
        });
    }
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GB: u64 = 1 << 30;

    fn basis() -> Basis {
        Basis {
            latest_bytes: 10 * GB,
            compression: 0.5,
            tar_days: 30,
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn standard_and_ia_priced_by_hand() {
        let objects = [
            Stored {
                class: StorageClass::Standard,
                size: 2 * GB,
                age_days: 100,
            },
            Stored {
                class: StorageClass::StandardIa,
                size: GB,
                age_days: 10,
            },
            // Billed as 128 KiB.
            Stored {
                class: StorageClass::StandardIa,
                size: 1000,
                age_days: 40,
            },
        ];
        let b = bill(&objects, &Prices::us_east_1(), basis()).unwrap();
        assert_eq!(b.classes.len(), 2);
        let (std, ia) = (&b.classes[0], &b.classes[1]);
        assert!(close(std.per_month, 2.0 * 0.023));
        assert_eq!(ia.billed_bytes, GB + 128 * 1024);
        assert!(close(
            ia.per_month,
            (GB + 128 * 1024) as f64 / GB as f64 * 0.0125
        ));
        // Only the 10-day-old object is young: 20 of its 30 days remain.
        assert_eq!(ia.young_objects, 1);
        assert!(close(ia.early_delete_charge, 0.0125 * 20.0 / 30.0));
        assert!(close(b.per_month, std.per_month + ia.per_month));
        assert!(close(b.ebs_per_month, 10.0 * 0.05));
        // 30 nightly archives of 5 GB each at the STANDARD price.
        assert_eq!(b.tar_bytes, 5 * GB);
        assert!(close(b.tar_per_month, 150.0 * 0.023));
    }

    #[test]
    fn glacier_objects_carry_their_40_kib() {
        let objects = [Stored {
            class: StorageClass::DeepArchive,
            size: GB,
            age_days: 0,
        }];
        let b = bill(&objects, &Prices::us_east_1(), basis()).unwrap();
        let c = &b.classes[0];
        assert_eq!(c.billed_bytes, GB + 40 * 1024);
        let expected =
            (GB + 32 * 1024) as f64 / GB as f64 * 0.00099 + (8 * 1024) as f64 / GB as f64 * 0.023;
        assert!(close(c.per_month, expected));
        assert!(close(c.early_delete_charge, expected * 6.0));
    }

    #[test]
    fn the_built_in_table_has_every_class_and_its_minimum_duration() {
        let p = Prices::us_east_1();
        for class in StorageClass::ALL {
            assert_eq!(p.of(class).unwrap().min_days, class.min_days(), "{class:?}");
        }
    }

    #[test]
    fn a_table_without_a_class_in_use_is_an_error() {
        let mut p = Prices::us_east_1();
        p.classes.remove("GLACIER_IR");
        let objects = [Stored {
            class: StorageClass::GlacierIr,
            size: 1,
            age_days: 0,
        }];
        let e = bill(&objects, &p, basis()).unwrap_err();
        assert!(e.to_string().contains("GLACIER_IR"), "{e}");
    }

    /// A restore's price by hand: 10 GB from GLACIER at Standard in 160
    /// packs, kept 2 days: $0.01/GB + $0.05 per 1,000 requests + the
    /// restored copy at STANDARD's $0.023/GB-month for 2 of 30 days.
    #[test]
    fn prices_a_thaw_by_hand() {
        use crate::store::Tier;
        let p = Prices::us_east_1();
        let got = p.thaw(StorageClass::Glacier, Tier::Standard, 160, 10 * GB, 2);
        let want = 10.0 * 0.01 + 0.16 * 0.05 + 10.0 * 0.023 * 2.0 / 30.0;
        assert!((got.unwrap() - want).abs() < 1e-9, "{got:?} != {want}");
        let bulk = p.thaw(StorageClass::DeepArchive, Tier::Bulk, 1000, GB, 0);
        assert!((bulk.unwrap() - (0.0025 + 0.025)).abs() < 1e-9);
        assert_eq!(
            p.thaw(StorageClass::DeepArchive, Tier::Expedited, 1, GB, 2),
            None
        );
        assert_eq!(p.thaw(StorageClass::Standard, Tier::Bulk, 1, GB, 2), None);
    }

    /// A backup's requests by hand: 1,000 PUTs of DEEP_ARCHIVE packs at
    /// $0.05 per 1,000, 2,000 LISTs at STANDARD's $0.005, 5,000 GETs at
    /// $0.0004, DELETEs free.
    #[test]
    fn prices_a_backups_requests_by_hand() {
        let by_kind: BTreeMap<String, u64> =
            [("PUT", 1000), ("LIST", 2000), ("GET", 5000), ("DELETE", 7)]
                .into_iter()
                .map(|(k, n)| (k.to_string(), n))
                .collect();
        let p = Prices::us_east_1();
        let got = request_cost(&by_kind, StorageClass::DeepArchive, &p).unwrap();
        let want = 0.05 + 2.0 * 0.005 + 5.0 * 0.0004;
        assert!((got - want).abs() < 1e-12, "{got} != {want}");
    }
}
