//! The SDK boundary. One `SdkConfig`, built once; the clients made from it are passed by
//! reference.

pub mod deployments;
pub mod rawjson;
pub mod service;

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{AppName, BehaviorVersion, Region, SdkConfig};

use crate::error::{Error, Result};
use crate::plan::connection::{Connection, is_region};

#[derive(Clone)]
pub struct Clients {
    pub sdk: SdkConfig,
    pub ecs: aws_sdk_ecs::Client,
    pub ssm: aws_sdk_ssm::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub sts: aws_sdk_sts::Client,
}

impl Clients {
    /// The SDK's standard chain (env, profile, SSO, CodeBuild/ECS container credentials),
    /// with --region/--profile/--endpoint-url on top. Throttling and 5xx are retried by the
    /// SDK's standard retry mode (jittered exponential backoff). Every attempt and every
    /// operation has a timeout, so no call can hang; the follow engine also races each call
    /// against signals and the deadline.
    pub async fn load(args: &Connection) -> Result<Self> {
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(5))
            .operation_attempt_timeout(Duration::from_secs(15))
            .operation_timeout(Duration::from_secs(60))
            .build();
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            // `app/ecs-migrate` in the User-Agent: CloudTrail (and the emulator's record of
            // what each command calls) can tell ecs-migrate's calls apart
            .app_name(AppName::new("ecs-migrate").expect("a valid app name"))
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(6)
                    .with_initial_backoff(Duration::from_millis(200))
                    .with_max_backoff(Duration::from_secs(5)),
            )
            .timeout_config(timeouts);
        if let Some(region) = &args.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(profile) = &args.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(url) = &args.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        let sdk = loader.load().await;
        match sdk.region().map(Region::as_ref) {
            None => {
                return Err(Error::usage("no AWS region configured")
                    .with_hint("pass --region, set AWS_REGION, or use a profile with a region"));
            }
            Some(r) if !is_region(r) => {
                return Err(Error::usage(format!("{r:?} is not an AWS region name"))
                    .with_hint("e.g. --region ap-northeast-1 (or AWS_REGION)"));
            }
            Some(_) => {}
        }
        Ok(Self {
            ecs: aws_sdk_ecs::Client::new(&sdk),
            ssm: aws_sdk_ssm::Client::new(&sdk),
            logs: aws_sdk_cloudwatchlogs::Client::new(&sdk),
            sts: aws_sdk_sts::Client::new(&sdk),
            sdk,
        })
    }

    pub fn region(&self) -> &str {
        self.sdk.region().map(Region::as_ref).unwrap_or("us-east-1")
    }

    /// The SDK configuration for another region (a secret, a log group or a registry may live
    /// elsewhere than the cluster); `Client::new(&clients.sdk_in(r))` for any service.
    pub fn sdk_in(&self, region: &str) -> SdkConfig {
        self.sdk
            .to_builder()
            .region(Region::new(region.to_string()))
            .build()
    }

    /// A Logs client for `awslogs-region`, which may differ from the ECS region.
    pub fn logs_in(&self, region: Option<&str>) -> aws_sdk_cloudwatchlogs::Client {
        match region {
            Some(r) if r != self.region() => aws_sdk_cloudwatchlogs::Client::new(&self.sdk_in(r)),
            _ => self.logs.clone(),
        }
    }
}
