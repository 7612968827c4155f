//! A body that runs through the filter's body callbacks while it streams.
//!
//! Each data frame is appended to a buffer and the callback sees the whole buffer with the
//! end-of-stream flag; `Continue` sends the buffer on, `Pause` keeps buffering (Envoy's
//! `StopIterationAndBuffer`) until a later callback continues or the stream ends. Without a
//! filter stream the frames pass untouched.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};

use super::stream::{Direction, FilterStream};
use super::upstream::BoxError;
use super::vm::FilterVerdict;

/// `inner`, filtered through `stream`'s body callbacks.
pub struct FilteredBody<B> {
    inner: B,
    stream: Option<Arc<FilterStream>>,
    direction: Direction,
    buffered: Vec<u8>,
    end_seen: bool,
    pending_trailers: Option<http::HeaderMap>,
}

impl<B> FilteredBody<B> {
    /// Wraps `inner`; `stream` is `None` for a proxy without filter. When the headers callback
    /// already had the end of stream (`ended_at_headers`), no body callback runs; the body only
    /// keeps the stream alive until it is sent.
    pub fn new(
        inner: B,
        stream: Option<Arc<FilterStream>>,
        direction: Direction,
        ended_at_headers: bool,
    ) -> Self {
        Self {
            inner,
            stream,
            direction,
            buffered: Vec::new(),
            end_seen: ended_at_headers,
            pending_trailers: None,
        }
    }

    /// Runs the body callback on the buffer; returns the data to send now, if any.
    fn filter(
        &mut self,
        stream: &FilterStream,
        end_of_stream: bool,
    ) -> Result<Option<Bytes>, BoxError> {
        let verdict = stream.body(self.direction, &mut self.buffered, end_of_stream)?;
        if matches!(verdict, FilterVerdict::LocalResponse(_)) {
            tracing::warn!(
                "a local response from a body callback is not supported by the dev proxy; ignored"
            );
        }
        let release = end_of_stream || !matches!(verdict, FilterVerdict::Pause);
        if release && !self.buffered.is_empty() {
            return Ok(Some(Bytes::from(std::mem::take(&mut self.buffered))));
        }
        Ok(None)
    }
}

impl<B> Body for FilteredBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        loop {
            if this.end_seen {
                return Poll::Ready(
                    this.pending_trailers
                        .take()
                        .map(|trailers| Ok(Frame::trailers(trailers))),
                );
            }
            let Some(stream) = this.stream.clone() else {
                return Pin::new(&mut this.inner).poll_frame(cx).map_err(Into::into);
            };
            match Pin::new(&mut this.inner).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Err(err))) => return Poll::Ready(Some(Err(err.into()))),
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(data) => {
                        this.buffered.extend_from_slice(&data);
                        let end_of_stream = this.inner.is_end_stream();
                        this.end_seen = end_of_stream;
                        if let Some(out) = this.filter(&stream, end_of_stream)? {
                            return Poll::Ready(Some(Ok(Frame::data(out))));
                        }
                    }
                    Err(frame) => {
                        // Trailers end the body: the filter sees the end of stream first.
                        this.pending_trailers = frame.into_trailers().ok();
                        this.end_seen = true;
                        if let Some(out) = this.filter(&stream, true)? {
                            return Poll::Ready(Some(Ok(Frame::data(out))));
                        }
                    }
                },
                Poll::Ready(None) => {
                    this.end_seen = true;
                    if let Some(out) = this.filter(&stream, true)? {
                        return Poll::Ready(Some(Ok(Frame::data(out))));
                    }
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        if self.stream.is_none() {
            return self.inner.is_end_stream();
        }
        self.end_seen && self.buffered.is_empty() && self.pending_trailers.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        if self.stream.is_none() {
            self.inner.size_hint()
        } else {
            SizeHint::default()
        }
    }
}
