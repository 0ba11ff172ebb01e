//! Container image references, parsed properly: `host:port/ns/repo:tag`, `repo@sha256:…`.
//! A naive `split(':')` breaks on registry ports and digests (a bug other runners shipped).

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
                .with_hint("use REGISTRY/REPOSITORY:TAG or REGISTRY/REPOSITORY@sha256:DIGEST")
        };
        if input.is_empty() || input.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad("empty or contains whitespace"));
        }
        let (rest, digest) = match input.split_once('@') {
            Some((rest, digest)) => {
                let hex = digest
                    .strip_prefix("sha256:")
                    .ok_or_else(|| bad("digest must be sha256:…"))?;
                if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
                    return Err(bad("sha256 digest must be 64 hex characters"));
                }
                (rest, Some(digest.to_string()))
            }
            None => (input, None),
        };
        let (registry, path) = match rest.split_once('/') {
            Some((first, path)) if is_registry(first) => (Some(first.to_string()), path),
            _ => (None, rest),
        };
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
        if !repository
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-/".contains(c))
        {
            return Err(bad("repository names use [a-z0-9._-/]"));
        }
        if let Some(tag) = &tag {
            let ok = !tag.is_empty()
                && tag.len() <= 128
                && tag
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
            if !ok {
                return Err(bad("tag must be 1-128 of [A-Za-z0-9_.-]"));
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
    let doc: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| Error::usage(format!("{} is not JSON: {e}", path.display())))?;
    let uri = doc
        .get("ImageURI")
        .and_then(|v| v.as_str())
        .ok_or_else(|| {
            Error::usage(format!("{} has no string \"ImageURI\"", path.display()))
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
        ] {
            let e = ImageRef::parse(bad).unwrap_err();
            assert_eq!(e.exit_code(), crate::exit::USAGE, "{bad}");
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
