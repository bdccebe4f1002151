//! The EC2 client and the read-only calls every command shares: describing
//! the source instance (into [`InstanceFacts`]) and finding what coffer made
//! (by tags).
//!
//! Each call runs on this client's own small tokio runtime, so the rest of
//! coffer stays synchronous (as with the S3 store).

use crate::error::map_err;
use crate::facts::{self, InstanceFacts};
use crate::sets::{self, ImageRef, Snap, SnapshotSet};
use crate::tags::{self, Tags};
use aws_sdk_ec2::types::{Filter, Image, Instance, Tag};
use coffer_core::{Error, Kind, Result};

/// Where to connect; credentials and the rest come from the SDK's chain
/// (environment, profile, SSO, instance role), as with the AWS CLI.
#[derive(Debug, Clone, Default)]
pub struct Ec2Settings {
    /// An endpoint other than AWS's (`AWS_ENDPOINT_URL` works too).
    pub endpoint: Option<String>,
    pub region: Option<String>,
}

/// An EC2 client with the runtime its calls run on.
pub struct Ec2 {
    rt: tokio::runtime::Runtime,
    client: aws_sdk_ec2::Client,
}

/// A runtime for the client's calls (two threads: calls are few).
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("coffer-ec2")
        .enable_all()
        .build()
        .map_err(|e| Error::fatal("cannot start the EC2 runtime").with_source(e))
}

impl Ec2 {
    /// Builds a client the way the AWS CLI would. No request is sent yet.
    pub fn connect(settings: &Ec2Settings) -> Result<Ec2> {
        let rt = runtime()?;
        let sdk = rt.block_on(aws_config::defaults(aws_config::BehaviorVersion::latest()).load());
        let mut b = aws_sdk_ec2::config::Builder::from(&sdk);
        if let Some(ep) = &settings.endpoint {
            b = b.endpoint_url(ep);
        }
        let custom_endpoint = settings.endpoint.is_some() || sdk.endpoint_url().is_some();
        match settings
            .region
            .clone()
            .or_else(|| sdk.region().map(|r| r.to_string()))
        {
            Some(r) => b = b.region(aws_sdk_ec2::config::Region::new(r)),
            // A mock ignores the region but SigV4 needs one.
            None if custom_endpoint => b = b.region(aws_sdk_ec2::config::Region::new("us-east-1")),
            None => {
                return Err(Error::invalid(
                    "no AWS region configured: set AWS_REGION (or region in ~/.aws/config) or pass --region",
                ));
            }
        }
        Ok(Ec2 {
            rt,
            client: aws_sdk_ec2::Client::from_conf(b.build()),
        })
    }

    /// A client built elsewhere (tests add interceptors), with the runtime
    /// it was built on.
    pub fn from_parts(rt: tokio::runtime::Runtime, client: aws_sdk_ec2::Client) -> Ec2 {
        Ec2 { rt, client }
    }

    pub fn client(&self) -> &aws_sdk_ec2::Client {
        &self.client
    }

    /// Runs one SDK future to completion.
    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    /// The instance `id`; a NotFound error naming it if it does not exist
    /// (or is long terminated).
    pub fn instance(&self, id: &str) -> Result<Instance> {
        let out = self
            .block_on(self.client.describe_instances().instance_ids(id).send())
            .map_err(|e| map_err(e, "describe instance", id))?;
        out.reservations()
            .iter()
            .flat_map(|r| r.instances())
            .find(|i| i.instance_id() == Some(id))
            .cloned()
            .ok_or_else(|| Error::at(Kind::NotFound, "no such instance", id))
    }

    /// The facts of instance `id` (see `facts.rs`), with its AMI, instance
    /// type and volumes looked up. Lookups that only refine a fact (the AMI
    /// may be deregistered, a mock may not know the type) may fail quietly.
    pub fn facts(&self, id: &str) -> Result<InstanceFacts> {
        let inst = self.instance(id)?;
        self.facts_of(&inst)
    }

    /// The facts of instance `id` if it still runs or could run again;
    /// `None` if it does not exist or is terminated (or terminating: EC2
    /// then no longer reports its subnet and security groups).
    pub fn live_facts(&self, id: &str) -> Result<Option<InstanceFacts>> {
        match self.instance(id) {
            Ok(inst) => {
                let state = inst.state().and_then(|s| s.name()).map(|n| n.as_str());
                if matches!(state, Some("terminated" | "shutting-down")) {
                    Ok(None)
                } else {
                    self.facts_of(&inst).map(Some)
                }
            }
            Err(e) if e.kind() == Kind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub fn facts_of(&self, inst: &Instance) -> Result<InstanceFacts> {
        let id = inst.instance_id().unwrap_or_default();
        let image = inst
            .image_id()
            .and_then(|ami| self.image(ami).ok().flatten());
        let requires_ena = inst.instance_type().and_then(|t| {
            let out = self
                .block_on(
                    self.client
                        .describe_instance_types()
                        .instance_types(t.clone())
                        .send(),
                )
                .ok()?;
            let info = out.instance_types().first()?;
            let ena = info.network_info()?.ena_support()?;
            Some(ena.as_str() == "required")
        });
        let volume_ids: Vec<String> = inst
            .block_device_mappings()
            .iter()
            .filter_map(|m| m.ebs()?.volume_id().map(String::from))
            .collect();
        let volumes = if volume_ids.is_empty() {
            Vec::new()
        } else {
            self.block_on(
                self.client
                    .describe_volumes()
                    .set_volume_ids(Some(volume_ids))
                    .send(),
            )
            .map_err(|e| map_err(e, "describe volumes", id))?
            .volumes()
            .to_vec()
        };
        facts::from_instance(inst, image.as_ref(), requires_ena, &volumes)
    }

    /// The image `id`, `None` if it does not exist.
    pub fn image(&self, id: &str) -> Result<Option<Image>> {
        match self.block_on(self.client.describe_images().image_ids(id).send()) {
            Ok(out) => Ok(out.images().first().cloned()),
            Err(e) => {
                let err = map_err(e, "describe image", id);
                if err.kind() == Kind::NotFound {
                    Ok(None)
                } else {
                    Err(err)
                }
            }
        }
    }

    /// Snapshots coffer took (of `instance`, or of every instance).
    pub fn snaps(&self, instance: Option<&str>) -> Result<Vec<Snap>> {
        let mut req = self
            .client
            .describe_snapshots()
            .owner_ids("self")
            .filters(Filter::builder().name("tag-key").values(tags::SET).build());
        if let Some(i) = instance {
            req = req.filters(
                Filter::builder()
                    .name(format!("tag:{}", tags::INSTANCE))
                    .values(i)
                    .build(),
            );
        }
        let pages = self
            .block_on(req.into_paginator().send().try_collect())
            .map_err(|e| map_err(e, "describe snapshots", instance.unwrap_or("coffer:set")))?;
        Ok(pages
            .iter()
            .flat_map(|p| p.snapshots())
            .map(|s| {
                Snap::from_tags(
                    s.snapshot_id().unwrap_or_default().to_string(),
                    s.volume_id().map(String::from),
                    s.volume_size(),
                    s.state()
                        .map(|x| x.as_str().to_string())
                        .unwrap_or_default(),
                    s.progress().unwrap_or_default().to_string(),
                    s.start_time().map(ns_of).unwrap_or(0),
                    tag_map(s.tags()),
                )
            })
            .collect())
    }

    /// Every image this account owns (`coffer_only`: those coffer made).
    pub fn images(&self, coffer_only: bool) -> Result<Vec<ImageRef>> {
        let mut req = self.client.describe_images().owners("self");
        if coffer_only {
            req = req.filters(Filter::builder().name("tag-key").values(tags::SET).build());
        }
        let pages = self
            .block_on(req.into_paginator().send().try_collect())
            .map_err(|e| map_err(e, "describe images", "self"))?;
        Ok(pages
            .iter()
            .flat_map(|p| p.images())
            .map(image_ref)
            .collect())
    }

    /// The snapshot sets of `instance` (or all), newest first, with the
    /// images coffer made from each.
    pub fn sets(&self, instance: Option<&str>) -> Result<Vec<SnapshotSet>> {
        let snaps = self.snaps(instance)?;
        let images = self.images(true)?;
        Ok(sets::group(snaps, &images))
    }
}

/// Tags as a map.
pub fn tag_map(t: &[Tag]) -> Tags {
    t.iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_string(),
                t.value().unwrap_or_default().to_string(),
            ))
        })
        .collect()
}

/// SDK tags from pairs.
pub fn sdk_tags<'a>(t: impl IntoIterator<Item = (&'a String, &'a String)>) -> Vec<Tag> {
    t.into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// ns since the epoch of an SDK time.
pub fn ns_of(t: &aws_sdk_ec2::primitives::DateTime) -> i64 {
    t.secs()
        .saturating_mul(1_000_000_000)
        .saturating_add(t.subsec_nanos() as i64)
}

fn image_ref(i: &Image) -> ImageRef {
    let t = tag_map(i.tags());
    ImageRef {
        image_id: i.image_id().unwrap_or_default().to_string(),
        name: i.name().unwrap_or_default().to_string(),
        state: i
            .state()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        set_id: t.get(tags::SET).cloned(),
        instance_id: t.get(tags::INSTANCE).cloned(),
        created_ns: i.creation_date().and_then(tags::parse_rfc3339).unwrap_or(0),
        snapshot_ids: i
            .block_device_mappings()
            .iter()
            .filter_map(|m| m.ebs()?.snapshot_id().map(String::from))
            .collect(),
    }
}
