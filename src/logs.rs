//! Follows one CloudWatch Logs stream from its head with GetLogEvents + nextForwardToken.
//!
//! No StartTime filter (clock skew drops first lines), no timestamp de-duplication (lines can
//! share a millisecond): the forward token alone says where we are. Every page is drained on
//! each poll; ResourceNotFound means "not created yet".

use std::time::Instant;

use crate::error::Error;

pub struct LogFollower {
    client: aws_sdk_cloudwatchlogs::Client,
    pub group: String,
    pub stream: String,
    token: Option<String>,
    /// Lines delivered so far.
    pub lines: u64,
    /// When the last new line arrived.
    pub last_new: Option<Instant>,
    /// Whether the stream has been seen.
    pub exists: bool,
}

impl LogFollower {
    pub fn new(client: aws_sdk_cloudwatchlogs::Client, group: String, stream: String) -> Self {
        Self {
            client,
            group,
            stream,
            token: None,
            lines: 0,
            last_new: None,
            exists: false,
        }
    }

    /// Reads every page available now; each message goes to `sink`, in order.
    /// Returns how many lines were new.
    pub async fn poll(&mut self, sink: &mut dyn FnMut(&str)) -> Result<u64, Error> {
        let mut new = 0;
        loop {
            let result = self
                .client
                .get_log_events()
                .log_group_name(&self.group)
                .log_stream_name(&self.stream)
                .start_from_head(true)
                .set_next_token(self.token.clone())
                .send()
                .await;
            let out = match result {
                Ok(out) => out,
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_resource_not_found_exception()) =>
                {
                    return Ok(new);
                }
                Err(e) => return Err(Error::aws("logs:GetLogEvents", e)),
            };
            self.exists = true;
            let events = out.events();
            for event in events {
                let message = event.message().unwrap_or_default();
                sink(message.strip_suffix('\n').unwrap_or(message));
            }
            let count = events.len() as u64;
            tracing::debug!(count, stream = %self.stream, "GetLogEvents page");
            new += count;
            self.lines += count;
            if count > 0 {
                self.last_new = Some(Instant::now());
            }
            let next = out.next_forward_token().map(String::from);
            let same = next.is_none() || next == self.token;
            if next.is_some() {
                self.token = next;
            }
            if count == 0 || same {
                return Ok(new);
            }
        }
    }
}
