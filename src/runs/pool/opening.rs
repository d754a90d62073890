//! A provider request opened early. A run that starts with room in the pool has its
//! provider request sent while its row is still being written, so the model's first token
//! does not wait for the write as well. Nothing of the answer is read, let alone shown or
//! stored, before the row is committed and the run reaches its worker: a crash in between
//! loses a request nobody was told about. If the insert fails, the opening is dropped, and
//! with it the request and its connection, before any of the answer is read.

use crate::providers::{ChatRequest, DeltaStream, Provider, ProviderError};
use crate::runs::RunParams;
use crate::versions::Message;
use std::sync::Arc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// The request a run sends its provider.
pub(crate) fn chat_request(
    model: String,
    messages: Vec<Message>,
    params: RunParams,
) -> ChatRequest {
    ChatRequest {
        model,
        messages,
        temperature: params.temperature,
        top_p: params.top_p,
        max_tokens: params.max_tokens,
        stop: params.stop,
    }
}

/// A provider request on its way, in a task of its own; aborted when dropped unread.
pub(crate) struct Opening {
    task: JoinHandle<Result<DeltaStream, ProviderError>>,
    since: Instant,
}

impl Opening {
    /// Send `request` now.
    pub(crate) fn begin(client: Arc<dyn Provider>, request: ChatRequest) -> Self {
        let since = Instant::now();
        let task = tokio::spawn(async move { client.stream(request).await });
        Self { task, since }
    }

    /// When the request was sent: the attempt's deadlines count from here.
    pub(super) fn since(&self) -> Instant {
        self.since
    }

    /// The provider's answer (its stream), or the error that came before it.
    pub(super) async fn response(mut self) -> Result<DeltaStream, ProviderError> {
        match (&mut self.task).await {
            Ok(answer) => answer,
            Err(e) => Err(ProviderError::retryable(format!(
                "the provider request ended before its answer: {e}"
            ))),
        }
    }
}

impl Drop for Opening {
    fn drop(&mut self) {
        // A no-op once the task has finished.
        self.task.abort();
    }
}
