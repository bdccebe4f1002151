//! `coffer ec2 launch`: an instance from an image, configured like the
//! original: instance type, subnet, security groups, key pair, IAM instance
//! profile and tags (without AWS's reserved `aws:` ones).
//!
//! [`plan`] is pure; [`launch`] sends RunInstances with the instance's tags
//! in the request (so an interrupted launch still leaves a tagged instance)
//! and reads back the addresses.

use crate::client::{Ec2, sdk_tags};
use crate::error::map_err;
use crate::facts::InstanceFacts;
use crate::tags;
use aws_sdk_ec2::types::{
    IamInstanceProfileSpecification, InstanceType, ResourceType, TagSpecification,
};
use coffer_core::{Error, Kind, Result};

/// Between checks whether an image is available (it takes seconds to minutes).
pub const WAIT_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

/// Everything RunInstances will be asked.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LaunchPlan {
    pub image_id: String,
    pub instance_type: String,
    pub subnet_id: Option<String>,
    pub security_groups: Vec<String>,
    pub key_name: Option<String>,
    pub iam_profile_arn: Option<String>,
    pub tags: Vec<(String, String)>,
}

/// The new instance.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Launched {
    pub instance_id: String,
    pub state: String,
    pub private_ip: Option<String>,
    pub public_ip: Option<String>,
}

/// The launch of `image_id` like `like` (pure). `instance_type` overrides
/// the original's.
pub fn plan(
    image_id: &str,
    like: &InstanceFacts,
    instance_type: Option<&str>,
) -> Result<LaunchPlan> {
    let instance_type = instance_type.unwrap_or(&like.instance_type).to_string();
    if instance_type.is_empty() {
        return Err(Error::invalid(
            "no instance type known for the original; pass --instance-type",
        ));
    }
    let mut tags: Vec<(String, String)> = like
        .tags
        .iter()
        .filter(|(k, _)| !k.starts_with("aws:") && k != tags::LAUNCHED_FROM)
        .cloned()
        .collect();
    tags.push((tags::LAUNCHED_FROM.into(), image_id.to_string()));
    Ok(LaunchPlan {
        image_id: image_id.to_string(),
        instance_type,
        subnet_id: like.subnet_id.clone(),
        security_groups: like.security_groups.clone(),
        key_name: like.key_name.clone(),
        iam_profile_arn: like.iam_profile_arn.clone(),
        tags,
    })
}

/// A plan with nothing to copy from: only the image and a type.
pub fn bare(image_id: &str, instance_type: Option<&str>) -> Result<LaunchPlan> {
    plan(image_id, &InstanceFacts::default(), instance_type)
}

/// Sends RunInstances for `p` and returns the instance.
pub fn launch(ec2: &Ec2, p: &LaunchPlan) -> Result<Launched> {
    let mut r = ec2
        .client()
        .run_instances()
        .image_id(&p.image_id)
        .instance_type(InstanceType::from(p.instance_type.as_str()))
        .min_count(1)
        .max_count(1)
        .set_subnet_id(p.subnet_id.clone())
        .set_key_name(p.key_name.clone())
        .tag_specifications(
            TagSpecification::builder()
                .resource_type(ResourceType::Instance)
                .set_tags(Some(sdk_tags(p.tags.iter().map(|(k, v)| (k, v)))))
                .build(),
        );
    if !p.security_groups.is_empty() {
        r = r.set_security_group_ids(Some(p.security_groups.clone()));
    }
    if let Some(arn) = &p.iam_profile_arn {
        r = r.iam_instance_profile(IamInstanceProfileSpecification::builder().arn(arn).build());
    }
    let out = ec2
        .block_on(r.send())
        .map_err(|e| map_err(e, "run instances", &p.image_id))?;
    let inst = out.instances().first().ok_or_else(|| {
        Error::at(
            Kind::Fatal,
            "RunInstances returned no instance",
            &p.image_id,
        )
    })?;
    let id = inst.instance_id().unwrap_or_default().to_string();
    // The public address is assigned after launch: read the instance again.
    let inst = ec2.instance(&id).unwrap_or_else(|_| inst.clone());
    Ok(Launched {
        state: inst
            .state()
            .and_then(|s| s.name())
            .map(|n| n.as_str().to_string())
            .unwrap_or_default(),
        private_ip: inst.private_ip_address().map(String::from),
        public_ip: inst.public_ip_address().map(String::from),
        instance_id: id,
    })
}

/// What `coffer ec2 launch` is asked.
#[derive(Debug, Clone)]
pub struct LaunchOptions {
    pub image_id: String,
    /// The instance to copy (default: the one a coffer image was made from).
    pub like: Option<String>,
    pub instance_type: Option<String>,
    pub dry_run: bool,
    /// How long to wait for a pending image to become available.
    pub timeout: std::time::Duration,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct LaunchResult {
    /// The instance copied, if any.
    pub like: Option<String>,
    pub plan: LaunchPlan,
    /// None with `dry_run`.
    pub launched: Option<Launched>,
}

/// `coffer ec2 launch`: with `--like`, copies that instance; else, for an
/// image coffer made, the instance it was made from (as it is now, or as
/// its snapshot set recorded it if it is gone or terminated); else only `--instance-type`.
pub fn run(
    ec2: &Ec2,
    o: &LaunchOptions,
    clock: &mut dyn crate::wait::Clock,
) -> Result<LaunchResult> {
    let (like, facts) = match &o.like {
        Some(id) => (Some(id.clone()), Some(ec2.facts(id)?)),
        None => {
            let image = ec2
                .image(&o.image_id)?
                .ok_or_else(|| Error::at(Kind::NotFound, "no such image", &o.image_id))?;
            let t = crate::client::tag_map(image.tags());
            match t.get(tags::INSTANCE) {
                Some(src) => {
                    let facts = match ec2.live_facts(src)? {
                        Some(f) => f,
                        None => {
                            let set = t.get(tags::SET).map(String::as_str);
                            let set = crate::image::find_set(ec2, src, set, None)?;
                            crate::image::facts_for(ec2, &set)?
                        }
                    };
                    (Some(src.clone()), Some(facts))
                }
                None => (None, None),
            }
        }
    };
    let p = match &facts {
        Some(f) => plan(&o.image_id, f, o.instance_type.as_deref())?,
        None => bare(&o.image_id, o.instance_type.as_deref()).map_err(|_| {
            Error::invalid(
                "the image was not made by coffer: pass --like INSTANCE or --instance-type",
            )
            .with_location(&o.image_id)
        })?,
    };
    let launched = if o.dry_run {
        None
    } else {
        // An image registered a moment ago may still be pending.
        crate::image::wait_available(ec2, &o.image_id, clock, WAIT_INTERVAL, o.timeout)?;
        Some(launch(ec2, &p)?)
    };
    Ok(LaunchResult {
        like,
        plan: p,
        launched,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_the_original_and_marks_the_image() {
        let like = InstanceFacts {
            instance_type: "t3.micro".into(),
            subnet_id: Some("subnet-1".into()),
            security_groups: vec!["sg-1".into()],
            key_name: Some("ops".into()),
            iam_profile_arn: Some("arn:p".into()),
            tags: vec![
                ("Name".into(), "web1".into()),
                (tags::LAUNCHED_FROM.into(), "ami-old".into()),
            ],
            ..Default::default()
        };
        let p = plan("ami-new", &like, None).unwrap();
        assert_eq!(p.instance_type, "t3.micro");
        assert_eq!(p.subnet_id.as_deref(), Some("subnet-1"));
        assert_eq!(
            p.tags,
            vec![
                ("Name".to_string(), "web1".to_string()),
                (tags::LAUNCHED_FROM.to_string(), "ami-new".to_string())
            ]
        );
        assert_eq!(
            plan("ami-new", &like, Some("m7g.large"))
                .unwrap()
                .instance_type,
            "m7g.large"
        );
        assert!(bare("ami-x", None).is_err(), "no type to copy");
    }
}
