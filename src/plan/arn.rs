//! ARNs (pure): `arn:partition:service:region:account:resource`, where ECS's resources are
//! `task/<cluster>/<id>`, `cluster/<name>`, `service-deployment/<cluster>/<service>/<id>`...

use std::fmt;

/// A parsed ARN; what is not one (a bare name or id) is kept whole as its resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arn<'a> {
    text: &'a str,
    region: Option<&'a str>,
    account: Option<&'a str>,
    resource: &'a str,
}

impl<'a> Arn<'a> {
    pub fn parse(text: &'a str) -> Self {
        let parts: Vec<&str> = text.splitn(6, ':').collect();
        if parts.len() == 6 && parts[0] == "arn" {
            Self {
                text,
                region: Some(parts[3]).filter(|r| !r.is_empty()),
                account: Some(parts[4]).filter(|a| !a.is_empty()),
                resource: parts[5],
            }
        } else {
            Self {
                text,
                region: None,
                account: None,
                resource: text,
            }
        }
    }

    #[cfg(test)]
    pub fn region(&self) -> Option<&'a str> {
        self.region
    }

    pub fn account(&self) -> Option<&'a str> {
        self.account
    }

    /// The last segment of the resource: a task's id, a deployment's id, a cluster's name.
    pub fn id(&self) -> &'a str {
        self.resource.rsplit('/').next().unwrap_or(self.resource)
    }
}

impl fmt::Display for Arn<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text)
    }
}

/// The id at the end of an ARN (or the whole text when it is not one).
pub fn id_of(text: &str) -> &str {
    Arn::parse(text).id()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_regions_and_accounts() {
        let task = Arn::parse("arn:aws:ecs:ap-northeast-1:123456789012:task/ass-staging/0f3c9e");
        assert_eq!(task.id(), "0f3c9e");
        assert_eq!(task.region(), Some("ap-northeast-1"));
        assert_eq!(task.account(), Some("123456789012"));
        assert_eq!(
            id_of("arn:aws:ecs:us-east-1:1:service-deployment/c/s/d1"),
            "d1"
        );
        assert_eq!(
            id_of("arn:aws:ecs:us-east-1:1:cluster/ass-staging"),
            "ass-staging"
        );
        assert_eq!(
            id_of("ass-staging"),
            "ass-staging",
            "a bare name is its own id"
        );
        let role = Arn::parse("arn:aws:iam::123456789012:role/app");
        assert_eq!(
            (role.region(), role.account()),
            (None, Some("123456789012"))
        );
        assert_eq!(role.to_string(), "arn:aws:iam::123456789012:role/app");
        // a resource with colons (a log group's stream) is kept whole
        let logs = Arn::parse("arn:aws:logs:us-east-1:1:log-group:/ecs/a:log-stream:x");
        assert_eq!(logs.id(), "a:log-stream:x");
    }
}
