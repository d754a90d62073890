//! Turn an HTTP response body into server-sent events with `eventsource-stream`; transport
//! errors mid-stream (resets) are already retryable provider errors.

use super::http::Response;
use super::ProviderError;
use eventsource_stream::{Event, Eventsource};
use futures::{Stream, StreamExt};

pub fn events(
    response: Response,
) -> impl Stream<Item = Result<Event, ProviderError>> + Send + 'static {
    response.bytes_stream().eventsource().map(|item| {
        item.map_err(|e| match e {
            eventsource_stream::EventStreamError::Transport(t) => t,
            other => ProviderError::permanent(format!("malformed event stream: {other}")),
        })
    })
}
