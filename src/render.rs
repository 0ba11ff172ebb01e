//! `ecs-migrate render`: CodeDeployToECS input artifacts (taskdef.json, appspec.yaml).

use crate::cli::RenderArgs;
use crate::error::{Error, Result};
use crate::output::Output;

pub async fn command(_args: &RenderArgs, _out: &Output) -> Result<()> {
    Err(Error::usage("render is not implemented yet"))
}
