//! How to reach AWS: the region, profile and endpoint override, checked before any call. The
//! SDK's standard chain supplies what is not given (and credentials).

use crate::error::{Error, Result};

/// `--region`, `--profile`, `--endpoint-url` (or their environment variables), checked.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Connection {
    pub region: Option<String>,
    pub profile: Option<String>,
    pub endpoint_url: Option<String>,
}

impl Connection {
    pub fn new(
        region: Option<String>,
        profile: Option<String>,
        endpoint_url: Option<String>,
    ) -> Result<Self> {
        if let Some(r) = &region
            && !is_region(r)
        {
            return Err(Error::usage(format!("{r:?} is not an AWS region name"))
                .with_hint("e.g. --region ap-northeast-1 (or AWS_REGION)"));
        }
        if let Some(url) = &endpoint_url {
            check_endpoint(url)?;
        }
        Ok(Self {
            region,
            profile,
            endpoint_url,
        })
    }
}

/// `us-east-1`, `us-gov-west-1`, `eu-isoe-west-1`: lower-case words joined by `-`, a number last.
pub fn is_region(r: &str) -> bool {
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
