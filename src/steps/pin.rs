//! Sidecars on mutable tags (`nginx:stg`): the deploy is only as pinned as its least pinned
//! image. `render` always warns about them; `--pin-images` resolves each ECR tag to its digest
//! with `ecr:BatchGetImage`, so the revision CodeDeploy registers cannot drift when the tag moves.

use serde_json::Value;

use crate::aws::Clients;
use crate::error::{Error, Result};
use crate::plan::image::ImageRef;

/// A container (other than the migrated one) whose image is a tag, not a digest.
#[derive(Debug, Clone, PartialEq)]
pub struct Unpinned {
    pub container: String,
    pub image: ImageRef,
}

/// Pure: the containers besides `target` whose image has no digest. Unparseable images are
/// left out (ECS accepts forms the OCI grammar does not, and render keeps them unchanged).
pub fn unpinned(task_definition: &Value, target: &str) -> Vec<Unpinned> {
    task_definition["containerDefinitions"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[])
        .iter()
        .filter(|c| c["name"] != target)
        .filter_map(|c| {
            let image = ImageRef::parse(c["image"].as_str()?).ok()?;
            image.digest.is_none().then(|| Unpinned {
                container: c["name"].as_str().unwrap_or_default().to_string(),
                image,
            })
        })
        .collect()
}

/// Pure: `(registry id, region)` of an ECR private registry host
/// (`123456789012.dkr.ecr.ap-northeast-1.amazonaws.com`).
pub fn ecr_registry(image: &ImageRef) -> Option<(String, String)> {
    let host = image.registry.as_deref()?;
    let mut parts = host.split('.');
    let (account, dkr, ecr, region) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let ok = account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit());
    (ok && dkr == "dkr" && ecr == "ecr").then(|| (account.to_string(), region.to_string()))
}

/// The digest-pinned form of each unpinned sidecar, as `(container, image)`.
pub async fn resolve(clients: &Clients, sidecars: &[Unpinned]) -> Result<Vec<(String, String)>> {
    let mut pinned = vec![];
    for s in sidecars {
        let Some((registry_id, region)) = ecr_registry(&s.image) else {
            return Err(Error::usage(format!(
                "--pin-images: container '{}' image {} is not in an ECR private registry",
                s.container, s.image
            ))
            .with_hint("pin it by digest in the task definition yourself"));
        };
        let tag = s.image.tag.clone().unwrap_or_else(|| "latest".into());
        let ecr = aws_sdk_ecr::Client::new(&clients.sdk_in(&region));
        let out = ecr
            .batch_get_image()
            .registry_id(&registry_id)
            .repository_name(&s.image.repository)
            .image_ids(
                aws_sdk_ecr::types::ImageIdentifier::builder()
                    .image_tag(&tag)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| Error::aws("ecr:BatchGetImage", e))?;
        let digest = out
            .images()
            .first()
            .and_then(|i| i.image_id())
            .and_then(|id| id.image_digest())
            .ok_or_else(|| {
                let why = out
                    .failures()
                    .first()
                    .and_then(|f| f.failure_reason())
                    .unwrap_or("no such image");
                Error::before_run(format!(
                    "--pin-images: {}:{tag} for container '{}': {why}",
                    s.image.repository, s.container
                ))
                .with_hint("push the tag, or fix the sidecar's image in the task definition")
            })?;
        let image = ImageRef {
            tag: None,
            digest: Some(digest.to_string()),
            ..s.image.clone()
        };
        pinned.push((s.container.clone(), image.to_string()));
    }
    Ok(pinned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sidecars_on_tags_are_found_and_ecr_hosts_read() {
        let td = json!({"containerDefinitions": [
            {"name": "rails", "image": "r:stg"},
            {"name": "nginx", "image": "123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/nginx:stg"},
            {"name": "agent", "image": format!("datadog/agent@sha256:{}", "a".repeat(64))},
            {"name": "odd", "image": "Not An Image"}
        ]});
        let u = unpinned(&td, "rails");
        assert_eq!(u.len(), 1);
        assert_eq!(u[0].container, "nginx");
        assert_eq!(
            ecr_registry(&u[0].image),
            Some(("123456789012".into(), "ap-northeast-1".into()))
        );
        let hub = ImageRef::parse("nginx:1.27").unwrap();
        assert_eq!(ecr_registry(&hub), None);
        let public = ImageRef::parse("public.ecr.aws/nginx/nginx:1.27").unwrap();
        assert_eq!(ecr_registry(&public), None);
    }
}
