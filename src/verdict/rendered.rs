//! `render`'s result: the text summary's facts and the `--output json` document (pure).

use serde::Serialize;
use serde_json::Value;

use crate::exit;
use crate::verdict::outcome::Outcome;

/// What `render` did: the text summary's facts and the `--output json` document.
#[derive(Debug, Default, Serialize)]
pub struct Rendered {
    pub outcome: Option<Outcome>,
    pub format: &'static str,
    pub out_dir: String,
    /// The files written (all or none).
    pub files: Vec<String>,
    pub service: Option<String>,
    /// The task definition the artifacts were rendered from.
    pub source_task_definition: Option<String>,
    pub container: Option<String>,
    /// The target container's image in the artifacts (`<IMAGE1_NAME>` or the new image).
    pub image: Option<String>,
    /// appspec.yaml's load balancer: `nginx:80`.
    pub load_balancer: Option<String>,
    /// Other containers pinned to their digests (`--pin-images`): `nginx=…@sha256:…`.
    pub pinned: Vec<String>,
    pub warnings: Vec<String>,
    pub error: Option<String>,
}

impl Rendered {
    pub fn process_exit_code(&self) -> i32 {
        self.outcome
            .map_or(exit::LAUNCH_FAILED, |o| o.exit_code(None))
    }

    pub fn to_json(&self) -> Value {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        if let Some(m) = v.as_object_mut() {
            m.insert("process_exit_code".into(), self.process_exit_code().into());
        }
        v
    }
}
