//! `coffer ec2 restore`: the whole way back in one command: the newest set
//! of an instance (or the newest at or before a time) -> an image -> an
//! instance launched like the original.
//!
//! Works when the original is gone: the launch copies the original as it is
//! now if it exists and is not terminated, else the facts recorded in the
//! set's tags at snapshot time (type, subnet, security groups, key, IAM profile,
//! Name). An image coffer already made from the set is reused, so running
//! restore twice does not register twice.

use crate::client::Ec2;
use crate::image::{ImagePlan, facts_for, find_set, register, wait_available};
use crate::launch::{LaunchPlan, Launched, launch, plan as launch_plan};
use crate::wait::Clock;
use coffer_core::{Error, Kind, Result};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct RestoreOptions {
    pub instance_id: String,
    /// ns since the epoch: use the newest set at or before it.
    pub at: Option<i64>,
    pub instance_type: Option<String>,
    pub dry_run: bool,
    /// How long to wait for a new image to become available.
    pub timeout: Duration,
    pub interval: Duration,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct RestoreResult {
    pub set_id: String,
    /// Whether the original could still be described (else the set's tags
    /// were used).
    pub original_exists: bool,
    /// The image made (None if one was reused).
    pub image_plan: Option<ImagePlan>,
    /// The image used (None with `dry_run` when a new one would be made).
    pub image_id: Option<String>,
    pub image_reused: bool,
    pub launch: LaunchPlan,
    /// None with `dry_run`.
    pub launched: Option<Launched>,
}

/// Restores (see the module docs).
pub fn restore(ec2: &Ec2, o: &RestoreOptions, clock: &mut dyn Clock) -> Result<RestoreResult> {
    let set = find_set(ec2, &o.instance_id, None, o.at)?;
    let (like, original_exists) = match ec2.live_facts(&o.instance_id)? {
        Some(f) => (f, true),
        None => {
            let f = facts_for(ec2, &set).map_err(|_| {
                Error::at(
                    Kind::NotFound,
                    "the instance is gone and its snapshot set records nothing to launch it like",
                    &o.instance_id,
                )
            })?;
            (f, false)
        }
    };
    let reuse = set
        .images
        .iter()
        .find(|i| i.state == "available")
        .map(|i| i.image_id.clone());
    let (image_plan, image_id) = match reuse {
        Some(id) => (None, Some(id)),
        None => {
            let r = register(ec2, &set, &format!("coffer-{}", set.set_id), o.dry_run)?;
            (Some(r.plan), r.image_id)
        }
    };
    let image_reused = image_plan.is_none();
    let plan = launch_plan(
        image_id.as_deref().unwrap_or("(new image)"),
        &like,
        o.instance_type.as_deref(),
    )?;
    let launched = match (&image_id, o.dry_run) {
        (Some(id), false) => {
            wait_available(ec2, id, clock, o.interval, o.timeout)?;
            Some(launch(ec2, &plan)?)
        }
        _ => None,
    };
    Ok(RestoreResult {
        set_id: set.set_id,
        original_exists,
        image_plan,
        image_id,
        image_reused,
        launch: plan,
        launched,
    })
}
