//! The SDK boundary. One `SdkConfig`, built once; the clients made from it are passed by
//! reference.

pub mod deployments;
pub mod rawjson;

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{AppName, BehaviorVersion, Region, SdkConfig};

use crate::cli::AwsArgs;
use crate::error::{Error, Result};

#[derive(Clone)]
pub struct Clients {
    pub sdk: SdkConfig,
    pub ecs: aws_sdk_ecs::Client,
    pub ssm: aws_sdk_ssm::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
}

impl Clients {
    /// The SDK's standard chain (env, profile, SSO, CodeBuild/ECS container credentials),
    /// with --region/--profile/--endpoint-url on top. Throttling and 5xx are retried by the
    /// SDK's standard retry mode (jittered exponential backoff). Every attempt and every
    /// operation has a timeout, so no call can hang; the follow engine also races each call
    /// against signals and the deadline.
    pub async fn load(args: &AwsArgs) -> Result<Self> {
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
            check_endpoint(url)?;
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

/// `us-east-1`, `us-gov-west-1`, `eu-isoe-west-1`: lower-case words joined by `-`, a number last.
fn is_region(r: &str) -> bool {
    let parts: Vec<&str> = r.split('-').collect();
    parts.len() >= 3
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1].parse::<u8>().is_ok()
}

/// An endpoint override is an http(s) URL with a host; anything else fails every call later
/// with a misleading "no connection".
fn check_endpoint(url: &str) -> Result<()> {
    let host = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .map(|rest| rest.split(['/', ':']).next().unwrap_or_default());
    if host.is_some_and(|h| !h.is_empty()) && !url.contains(char::is_whitespace) {
        return Ok(());
    }
    Err(
        Error::usage(format!("--endpoint-url {url:?} is not an http(s) URL"))
            .with_hint("e.g. http://127.0.0.1:4566 (or unset AWS_ENDPOINT_URL)"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_names_and_endpoints_are_checked() {
        for ok in [
            "us-east-1",
            "ap-northeast-1",
            "us-gov-west-1",
            "eu-isoe-west-1",
        ] {
            assert!(is_region(ok), "{ok}");
        }
        for bad in [
            "",
            "not a region",
            "us-east",
            "US-EAST-1",
            "us--1",
            "useast1",
        ] {
            assert!(!is_region(bad), "{bad}");
        }
        assert!(check_endpoint("http://127.0.0.1:4566").is_ok());
        assert!(check_endpoint("https://ecs.us-east-1.amazonaws.com/").is_ok());
        for bad in [
            "not a url",
            "127.0.0.1:4566",
            "http://",
            "ftp://x",
            "http://a b",
        ] {
            assert!(check_endpoint(bad).is_err(), "{bad}");
        }
    }
}
