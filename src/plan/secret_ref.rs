//! What a container secret's `valueFrom` points at (pure): an SSM parameter (a name, or an ARN
//! in any region) or a Secrets Manager secret, with the optional JSON key, version stage and
//! version id of ECS's `arn:…:secret:<name>:<json-key>:<version-stage>:<version-id>` form.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::plan::arn::Arn;

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
    Arn::parse(arn).account().filter(|a| is_account(a))
}

fn is_account(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// The secrets a container needs, by where they live; built before any AWS call (pure).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SecretPlan {
    /// SSM parameters by region (None = the client's region), as the task definition names them.
    pub ssm: BTreeMap<Option<String>, Vec<String>>,
    /// Secrets Manager references with the environment variable each one fills.
    pub secrets_manager: Vec<(String, SmSecret)>,
}

/// Pure: parses every `valueFrom` of the container. A malformed reference, or an SSM parameter
/// ARN of another account than the task definition's (ECS refuses those), fails here.
pub fn plan_secrets(container: &Value, account: Option<&str>) -> Result<SecretPlan> {
    let mut plan = SecretPlan::default();
    let secrets = container["secrets"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let refuse = |name: &str, why: String| {
        Error::before_run(format!("preflight: secret {name}: {why}"))
            .with_hint("fix the task definition's secrets; nothing was launched")
            .blaming_release()
    };
    for s in secrets {
        let name = s["name"].as_str().unwrap_or("(unnamed)");
        let from = s["valueFrom"].as_str().unwrap_or_default();
        match parse(from).map_err(|why| refuse(name, why))? {
            SecretRef::Ssm {
                account: Some(owner),
                ..
            } if account.is_some_and(|a| a != owner) => {
                return Err(refuse(
                    name,
                    format!(
                        "{from} belongs to account {owner}, not the task's account {}: ECS cannot read SSM parameters across accounts",
                        account.unwrap_or_default()
                    ),
                ));
            }
            SecretRef::Ssm { id, region, .. } => plan.ssm.entry(region).or_default().push(id),
            SecretRef::SecretsManager(sm) => plan.secrets_manager.push((name.to_string(), sm)),
        }
    }
    Ok(plan)
}

/// Pure: the secrets of every container of a task definition, plus each private image's
/// `repositoryCredentials` secret (a Secrets Manager ARN ECS reads before pulling).
pub fn plan_task_secrets(task_definition: &Value, account: Option<&str>) -> Result<SecretPlan> {
    let mut plan = SecretPlan::default();
    let containers = task_definition["containerDefinitions"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    for c in containers {
        let one = plan_secrets(c, account)?;
        for (region, names) in one.ssm {
            plan.ssm.entry(region).or_default().extend(names);
        }
        plan.secrets_manager.extend(one.secrets_manager);
        if let Some(from) = c["repositoryCredentials"]["credentialsParameter"].as_str() {
            let name = format!(
                "registry credentials of {}",
                c["name"].as_str().unwrap_or("(unnamed)")
            );
            match parse(from) {
                Ok(SecretRef::SecretsManager(sm)) => plan.secrets_manager.push((name, sm)),
                Ok(SecretRef::Ssm { .. }) | Err(_) => {
                    return Err(Error::before_run(format!(
                        "preflight: the {name} ({from}) is not a Secrets Manager secret ARN"
                    ))
                    .with_hint("repositoryCredentials.credentialsParameter takes the ARN of a Secrets Manager secret; nothing was launched")
                    .blaming_release());
                }
            }
        }
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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

    #[test]
    fn secrets_are_grouped_by_source() {
        let sm = "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!db-1-AbCdEf";
        let c = json!({"secrets": [
            {"name": "A", "valueFrom": "/app/a"},
            {"name": "B", "valueFrom": "arn:aws:ssm:us-west-2:123456789012:parameter/app/b"},
            {"name": "C", "valueFrom": format!("{sm}:password::")}
        ]});
        let plan = plan_secrets(&c, Some("123456789012")).unwrap();
        assert_eq!(plan.ssm[&None], ["/app/a"]);
        assert_eq!(
            plan.ssm[&Some("us-west-2".to_string())],
            ["arn:aws:ssm:us-west-2:123456789012:parameter/app/b"]
        );
        let (name, secret) = &plan.secrets_manager[0];
        assert_eq!((name.as_str(), secret.arn.as_str()), ("C", sm));
        assert_eq!(secret.json_key.as_deref(), Some("password"));
        // without a known account (a task definition file), the account is not compared
        assert!(plan_secrets(&c, None).is_ok());
    }

    #[test]
    fn a_cross_account_parameter_or_a_malformed_reference_is_refused() {
        let c = json!({"secrets": [
            {"name": "B", "valueFrom": "arn:aws:ssm:us-west-2:999999999999:parameter/app/b"}
        ]});
        let e = plan_secrets(&c, Some("123456789012")).unwrap_err();
        assert!(e.message.contains("secret B"), "{}", e.message);
        assert!(e.message.contains("account 999999999999"), "{}", e.message);
        let c = json!({"secrets": [{"name": "K", "valueFrom": "arn:aws:kms:us-east-1:123456789012:key/x"}]});
        assert!(
            plan_secrets(&c, None)
                .unwrap_err()
                .message
                .contains("secret K")
        );
    }
}
