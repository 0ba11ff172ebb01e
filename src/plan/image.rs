//! Container image references, parsed properly: `host:port/ns/repo:tag`, `repo@sha256:…`.
//! A naive `split(':')` breaks on registry ports and digests (a bug other runners shipped).
//! Validated by the OCI distribution grammar, so a typo is refused before anything is
//! registered instead of failing minutes later as CannotPullContainerError.

use std::fmt;
use std::path::Path;

use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// `123.dkr.ecr.region.amazonaws.com`, `localhost:5000`, or None (Docker Hub).
    pub registry: Option<String>,
    /// `ns/repo`
    pub repository: String,
    pub tag: Option<String>,
    /// `sha256:<64 hex>`
    pub digest: Option<String>,
}

impl ImageRef {
    pub fn parse(input: &str) -> Result<Self> {
        let bad = |why: &str| {
            Error::usage(format!("invalid image reference '{input}': {why}"))
                .with_hint("use REGISTRY/REPOSITORY:TAG or …@sha256:DIGEST")
        };
        if input.is_empty() || input.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad("empty or contains whitespace"));
        }
        let (rest, digest) = match input.split_once('@') {
            Some((rest, digest)) => {
                let (algorithm, hex) = digest
                    .split_once(':')
                    .ok_or_else(|| bad("a digest is ALGORITHM:HEX, e.g. sha256:…"))?;
                let len = match algorithm {
                    "sha256" => 64,
                    "sha512" => 128,
                    _ => return Err(bad("digest algorithm must be sha256 or sha512")),
                };
                if hex.len() != len || !hex.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')) {
                    return Err(bad(&format!(
                        "a {algorithm} digest is {len} lower-case hex characters"
                    )));
                }
                (rest, Some(digest.to_string()))
            }
            None => (input, None),
        };
        let (registry, path) = match rest.split_once('/') {
            Some((first, path)) if is_registry(first) => (Some(first.to_string()), path),
            _ => (None, rest),
        };
        if let Some(r) = &registry
            && !valid_registry(r)
        {
            return Err(bad("registry host names use letters, digits, '-' and '.'"));
        }
        // A tag is a ':' after the last '/', so a registry port is never mistaken for one.
        let (repository, tag) = match path.rsplit_once(':') {
            Some((repo, tag)) if !tag.contains('/') => (repo, Some(tag.to_string())),
            _ => (path, None),
        };
        if repository.is_empty() || repository.split('/').any(str::is_empty) {
            return Err(bad("empty repository name"));
        }
        if repository.chars().any(|c| c.is_ascii_uppercase()) {
            return Err(bad("repository names are lower case"));
        }
        if !repository.split('/').all(valid_component) {
            return Err(bad(
                "path components are [a-z0-9] runs joined by one '.', '_', '__' or '-'",
            ));
        }
        if let Some(tag) = &tag {
            let mut chars = tag.chars();
            let first_ok = chars
                .next()
                .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
            let ok = first_ok
                && tag.len() <= 128
                && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
            if !ok {
                return Err(bad(
                    "a tag is 1-128 of [A-Za-z0-9_.-], not starting with '.' or '-'",
                ));
            }
        }
        Ok(Self {
            registry,
            repository: repository.to_string(),
            tag,
            digest,
        })
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(r) = &self.registry {
            write!(f, "{r}/")?;
        }
        write!(f, "{}", self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

/// An OCI path component: `[a-z0-9]+` runs separated by `.`, `_`, `__` or one or more `-`.
fn valid_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        if !(sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-')) {
            return false;
        }
    }
    true
}

/// `host.name[:port]`: labels of letters, digits and inner '-'.
fn valid_registry(r: &str) -> bool {
    let host = r.split_once(':').map_or(r, |(h, _)| h);
    host.split('.').all(|label| {
        !label.is_empty()
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    })
}

/// `host.name`, `localhost`, or `host:port` with a numeric port.
fn is_registry(first: &str) -> bool {
    let (host, port) = match first.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (first, None),
    };
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()));
    port_ok && (host.contains('.') || host == "localhost" || port.is_some())
}

/// Reads CodePipeline's ECR source artifact `imageDetail.json`: `{"ImageURI": "…"}`
/// (all values are strings; only ImageURI is required).
pub fn from_image_detail(path: &Path) -> Result<ImageRef> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::usage(format!(
            "cannot read image detail file {}: {e}",
            path.display()
        ))
        .with_hint("pass the ECR source artifact's imageDetail.json")
    })?;
    parse_image_detail(&text, &path.display().to_string())
}

/// Pure: the image of an `imageDetail.json` text read from `origin`.
pub fn parse_image_detail(text: &str, origin: &str) -> Result<ImageRef> {
    let doc: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| Error::usage(format!("{origin} is not JSON: {e}")))?;
    let uri = doc
        .get("ImageURI")
        .and_then(|v| v.as_str())
        .ok_or_else(|| {
            Error::usage(format!("{origin} has no string \"ImageURI\""))
                .with_hint("an ECR source action writes {\"ImageURI\": \"…@sha256:…\", …}")
        })?;
    ImageRef::parse(uri)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ecr_with_tag() {
        let r = ImageRef::parse(
            "730335441282.dkr.ecr.ap-northeast-1.amazonaws.com/ass-rails-ecr-staging:stg",
        )
        .unwrap();
        assert_eq!(
            r.registry.as_deref(),
            Some("730335441282.dkr.ecr.ap-northeast-1.amazonaws.com")
        );
        assert_eq!(r.repository, "ass-rails-ecr-staging");
        assert_eq!(r.tag.as_deref(), Some("stg"));
    }

    #[test]
    fn registry_port_is_not_a_tag() {
        let r = ImageRef::parse("localhost:5000/team/rails").unwrap();
        assert_eq!(r.registry.as_deref(), Some("localhost:5000"));
        assert_eq!(r.repository, "team/rails");
        assert_eq!(r.tag, None);
        let r = ImageRef::parse("registry.example.com:8443/team/rails:v2").unwrap();
        assert_eq!(r.tag.as_deref(), Some("v2"));
        assert_eq!(r.to_string(), "registry.example.com:8443/team/rails:v2");
    }

    #[test]
    fn digests_with_and_without_tag() {
        let d = format!("sha256:{}", "a".repeat(64));
        let r = ImageRef::parse(&format!("123.dkr.ecr.us-east-1.amazonaws.com/rails@{d}")).unwrap();
        assert_eq!(r.digest.as_deref(), Some(d.as_str()));
        assert_eq!(r.tag, None);
        let r = ImageRef::parse(&format!("rails:v1@{d}")).unwrap();
        assert_eq!((r.tag.as_deref(), r.registry), (Some("v1"), None));
        assert!(ImageRef::parse("rails@sha256:abc").is_err());
    }

    #[test]
    fn rejects_garbage_with_a_usage_error() {
        for bad in [
            "",
            "a b",
            "Rails:v1",
            "repo:bad/tag:x",
            "host.com/",
            "rails:",
            // issue 8: each of these used to be accepted, registered and launched
            ".rails",
            "rails..x",
            "rails-",
            "rails_",
            "=-rails",
            "rails:-tag",
            "rails:.tag",
            "rails___x",
            "-bad.host.com/rails",
            "rails@md5:abcd",
        ] {
            let e = ImageRef::parse(bad).unwrap_err();
            assert_eq!(e.exit_code(), crate::exit::USAGE, "{bad}");
        }
    }

    #[test]
    fn digests_are_checked_by_algorithm_and_case() {
        let upper = format!("rails@sha256:{}", "A".repeat(64));
        assert!(ImageRef::parse(&upper).is_err(), "upper-case hex");
        assert!(ImageRef::parse(&format!("rails@sha256:{}", "a".repeat(63))).is_err());
        assert!(ImageRef::parse(&format!("rails@sha512:{}", "0".repeat(128))).is_ok());
        assert!(ImageRef::parse(&format!("rails:{}", "t".repeat(129))).is_err());
        assert!(ImageRef::parse(&format!("rails:{}", "t".repeat(128))).is_ok());
    }

    #[test]
    fn the_grammar_takes_what_registries_take() {
        for good in [
            "rails",
            "a/b/c",
            "my-app/rails__x",
            "my--app.v2/x_y",
            "localhost:5000/rails:v1",
            "public.ecr.aws/docker/library/ruby:3.3-slim",
            "730335441282.dkr.ecr.ap-northeast-1.amazonaws.com/ass-rails-ecr-staging:stg",
            "ghcr.io/org/app:_latest",
        ] {
            assert!(ImageRef::parse(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn image_detail_needs_only_image_uri() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("imageDetail.json");
        std::fs::write(
            &p,
            r#"{"ImageURI":"1.dkr.ecr.us-east-1.amazonaws.com/rails:v3","ImageTags":"v3"}"#,
        )
        .unwrap();
        assert_eq!(from_image_detail(&p).unwrap().tag.as_deref(), Some("v3"));
        std::fs::write(&p, r#"{"RegistryId":"1"}"#).unwrap();
        assert!(
            from_image_detail(&p)
                .unwrap_err()
                .to_string()
                .contains("ImageURI")
        );
    }
}
