//! The durable record's AWS side, shared by `run`, `gate`, `revert` and `logs --follow`: one
//! JSON event per PutLogEvents to `ecs-migrate/<family>` in the container's log group, and
//! whole streams read back from their head. A failed write never changes a verdict: it is a
//! warning and `record: false` in the result.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_cloudwatchlogs::types::InputLogEvent;

use crate::aws::Clients;
use crate::error::{Error, Result};
use crate::verdict::record::{self, Event};

/// Longest wait for one record write: the verdict is known, the record must not hold it up.
pub const WRITE_BUDGET: Duration = Duration::from_secs(10);
/// Longest wait for the caller's identity (it only names who launched).
const WHO_BUDGET: Duration = Duration::from_secs(3);

/// Where a family's record is written.
#[derive(Clone)]
pub struct Recorder {
    logs: aws_sdk_cloudwatchlogs::Client,
    pub group: String,
    pub stream: String,
}

impl Recorder {
    pub fn new(logs: aws_sdk_cloudwatchlogs::Client, group: &str, family: &str) -> Self {
        Self {
            logs,
            group: group.to_string(),
            stream: record::stream_name(family),
        }
    }

    /// Writes one event; the stream is created on first use.
    pub async fn write(&self, event: &Event) -> Result<()> {
        let message = event.to_message();
        let write = async {
            match self.put(&message).await {
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_resource_not_found_exception()) =>
                {
                    self.create_stream().await?;
                    self.put(&message)
                        .await
                        .map_err(|e| Error::aws("logs:PutLogEvents", e))
                }
                other => other.map_err(|e| Error::aws("logs:PutLogEvents", e)),
            }
        };
        tokio::time::timeout(WRITE_BUDGET, write)
            .await
            .unwrap_or_else(|_| {
                Err(Error::before_run(format!(
                    "logs:PutLogEvents did not answer within {}s",
                    WRITE_BUDGET.as_secs()
                )))
            })
    }

    async fn put(
        &self,
        message: &str,
    ) -> std::result::Result<
        (),
        aws_sdk_cloudwatchlogs::error::SdkError<
            aws_sdk_cloudwatchlogs::operation::put_log_events::PutLogEventsError,
        >,
    > {
        let event = InputLogEvent::builder()
            .timestamp(now_ms())
            .message(message)
            .build()
            .expect("timestamp and message are set");
        let out = self
            .logs
            .put_log_events()
            .log_group_name(&self.group)
            .log_stream_name(&self.stream)
            .log_events(event)
            .send()
            .await?;
        if let Some(r) = out.rejected_log_events_info() {
            tracing::warn!(?r, "the record's event was rejected");
        }
        Ok(())
    }

    async fn create_stream(&self) -> Result<()> {
        match self
            .logs
            .create_log_stream()
            .log_group_name(&self.group)
            .log_stream_name(&self.stream)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_already_exists_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(Error::aws("logs:CreateLogStream", e)),
        }
    }

    /// Every event of the record, oldest first; empty when nothing was recorded yet.
    pub async fn read(&self) -> Result<Vec<(i64, String)>> {
        let mut all = vec![];
        let found = each_page(&self.logs, &self.group, &self.stream, |page| {
            all.extend(page);
        })
        .await?;
        if !found {
            return Ok(vec![]);
        }
        Ok(all)
    }
}

/// Reads a stream from its head to its end, page by page: (timestamp ms, message) with the
/// trailing newline cut. False when the stream does not exist.
pub async fn each_page(
    logs: &aws_sdk_cloudwatchlogs::Client,
    group: &str,
    stream: &str,
    mut page: impl FnMut(Vec<(i64, String)>),
) -> Result<bool> {
    let mut token: Option<String> = None;
    loop {
        let result = logs
            .get_log_events()
            .log_group_name(group)
            .log_stream_name(stream)
            .start_from_head(true)
            .set_next_token(token.clone())
            .send()
            .await;
        let out = match result {
            Ok(out) => out,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                return Ok(false);
            }
            Err(e) => return Err(Error::aws("logs:GetLogEvents", e)),
        };
        let events: Vec<(i64, String)> = out
            .events()
            .iter()
            .map(|e| {
                let m = e.message().unwrap_or_default();
                (
                    e.timestamp().unwrap_or_default(),
                    m.strip_suffix('\n').unwrap_or(m).to_string(),
                )
            })
            .collect();
        let next = out.next_forward_token().map(String::from);
        page(events);
        // the end: the same token comes back (a page may be empty before it)
        if next.is_none() || next == token {
            return Ok(true);
        }
        token = next;
    }
}

/// The caller's AWS identity, for the launch record (None when it cannot be read in time).
pub async fn caller_arn(clients: &Clients) -> Option<String> {
    let call = clients.sts.get_caller_identity().send();
    match tokio::time::timeout(WHO_BUDGET, call).await {
        Ok(Ok(out)) => out.arn().map(String::from),
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "sts:GetCallerIdentity");
            None
        }
        Err(_) => None,
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
