//! What a container secret's `valueFrom` points at (pure): an SSM parameter (a name, or an ARN
//! in any region) or a Secrets Manager secret, with the optional JSON key, version stage and
//! version id of ECS's `arn:…:secret:<name>:<json-key>:<version-stage>:<version-id>` form.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretRef {
    /// `valueFrom` is passed to GetParameters as given (a name or an ARN).
    Ssm {
        id: String,
        region: Option<String>,
        account: Option<String>,
    },
    SecretsManager(SmSecret),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmSecret {
    /// The secret's ARN without the key/stage/version suffix (what DescribeSecret takes).
    pub arn: String,
    pub region: String,
    pub account: String,
    pub json_key: Option<String>,
    pub version_stage: Option<String>,
    pub version_id: Option<String>,
}

impl fmt::Display for SmSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.arn)?;
        if let Some(stage) = &self.version_stage {
            write!(f, " (stage {stage})")?;
        }
        if let Some(id) = &self.version_id {
            write!(f, " (version {id})")?;
        }
        Ok(())
    }
}

/// Parses one `valueFrom`; the error says what is wrong with it.
pub fn parse(value_from: &str) -> Result<SecretRef, String> {
    if value_from.is_empty() {
        return Err("an empty valueFrom".into());
    }
    if !value_from.starts_with("arn:") {
        return Ok(SecretRef::Ssm {
            id: value_from.to_string(),
            region: None,
            account: None,
        });
    }
    let parts: Vec<&str> = value_from.split(':').collect();
    let field = |i: usize| parts.get(i).copied().unwrap_or_default();
    let (service, region, account) = (field(2), field(3), field(4));
    if field(1).is_empty() || region.is_empty() || !is_account(account) {
        return Err(format!(
            "{value_from} is not an ARN (arn:<partition>:<service>:<region>:<12-digit account>:…)"
        ));
    }
    match service {
        "ssm" => {
            let resource = parts[5..].join(":");
            if !resource.starts_with("parameter/") || resource.len() <= "parameter/".len() {
                return Err(format!(
                    "{value_from} is not an SSM parameter ARN (…:parameter/<name>)"
                ));
            }
            Ok(SecretRef::Ssm {
                id: value_from.to_string(),
                region: Some(region.to_string()),
                account: Some(account.to_string()),
            })
        }
        "secretsmanager" => {
            if field(5) != "secret" || field(6).is_empty() || parts.len() > 10 {
                return Err(format!(
                    "{value_from} is not a Secrets Manager secret reference (arn:…:secret:<name>[:<json-key>:<version-stage>:<version-id>])"
                ));
            }
            let opt = |i: usize| Some(field(i)).filter(|s| !s.is_empty()).map(String::from);
            if opt(8).is_some() && opt(9).is_some() {
                return Err(format!(
                    "{value_from} names both a version stage and a version id: ECS takes one of them"
                ));
            }
            Ok(SecretRef::SecretsManager(SmSecret {
                arn: parts[..7].join(":"),
                region: region.to_string(),
                account: account.to_string(),
                json_key: opt(7),
                version_stage: opt(8),
                version_id: opt(9),
            }))
        }
        other => Err(format!(
            "{value_from} is a {other} ARN: ECS secrets come from SSM Parameter Store or Secrets Manager"
        )),
    }
}

/// The account in an ARN (`arn:partition:service:region:account:…`), if it has one.
pub fn arn_account(arn: &str) -> Option<&str> {
    arn.split(':').nth(4).filter(|a| is_account(a))
}

fn is_account(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sm(v: &str) -> SmSecret {
        match parse(v).unwrap() {
            SecretRef::SecretsManager(s) => s,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn ssm_names_and_arns() {
        assert_eq!(
            parse("/app/db/password").unwrap(),
            SecretRef::Ssm {
                id: "/app/db/password".into(),
                region: None,
                account: None
            }
        );
        assert_eq!(
            parse("arn:aws:ssm:us-west-2:111122223333:parameter/app/b").unwrap(),
            SecretRef::Ssm {
                id: "arn:aws:ssm:us-west-2:111122223333:parameter/app/b".into(),
                region: Some("us-west-2".into()),
                account: Some("111122223333".into())
            }
        );
        assert!(parse("arn:aws:ssm:us-west-2:111122223333:document/x").is_err());
        assert!(parse("arn:aws:ssm:us-west-2:1:parameter/x").is_err());
        assert!(parse("").is_err());
    }

    #[test]
    fn secrets_manager_forms() {
        let base = "arn:aws:secretsmanager:ap-northeast-1:123456789012:secret:rds!db-3f9a-AbCdEf";
        let s = sm(base);
        assert_eq!(s.arn, base);
        assert_eq!(s.region, "ap-northeast-1");
        assert_eq!(
            (s.json_key, s.version_stage, s.version_id),
            (None, None, None)
        );

        let s = sm(&format!("{base}:password::"));
        assert_eq!(s.arn, base);
        assert_eq!(s.json_key.as_deref(), Some("password"));
        assert_eq!((s.version_stage, s.version_id), (None, None));

        let s = sm(&format!("{base}::AWSPREVIOUS:"));
        assert_eq!(
            (s.json_key, s.version_stage.as_deref()),
            (None, Some("AWSPREVIOUS"))
        );

        let s = sm(&format!(
            "{base}:username::0e9b3d2c-aaaa-bbbb-cccc-111122223333"
        ));
        assert_eq!(
            s.version_id.as_deref(),
            Some("0e9b3d2c-aaaa-bbbb-cccc-111122223333")
        );
        assert_eq!(
            s.to_string(),
            format!("{base} (version 0e9b3d2c-aaaa-bbbb-cccc-111122223333)")
        );
    }

    #[test]
    fn malformed_references_say_what_is_wrong() {
        for (bad, says) in [
            (
                "arn:aws:secretsmanager:us-east-1:123456789012:secret:",
                "not a Secrets Manager",
            ),
            (
                "arn:aws:secretsmanager:us-east-1:123456789012:secret:a:k:s:v:extra",
                "not a Secrets Manager",
            ),
            (
                "arn:aws:secretsmanager:us-east-1:123456789012:secret:a:k:AWSCURRENT:v1",
                "both a version stage and a version id",
            ),
            ("arn:aws:s3:::bucket/key", "not an ARN"),
            ("arn:aws:kms:us-east-1:123456789012:key/x", "a kms ARN"),
        ] {
            let err = parse(bad).unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }

    #[test]
    fn accounts_come_from_arns() {
        assert_eq!(
            arn_account("arn:aws:ecs:ap-northeast-1:123456789012:task-definition/a:1"),
            Some("123456789012")
        );
        assert_eq!(arn_account("family:3"), None);
    }
}
