//! A body that runs through the filter's body callbacks while it streams.
//!
//! Each data frame goes to the body callback with the end-of-stream flag; what the filter
//! releases (its buffer on `Continue`, nothing while it buffers) is sent on. Without a filter
//! stream the frames pass untouched.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};

use super::stream::{Direction, FilterStream};
use super::upstream::BoxError;

/// `inner`, filtered through `stream`'s body callbacks.
pub struct FilteredBody<B> {
    inner: B,
    stream: Option<Arc<FilterStream>>,
    direction: Direction,
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
            end_seen: ended_at_headers,
            pending_trailers: None,
        }
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
            let Some(stream) = this.stream.clone() else {
                return Pin::new(&mut this.inner).poll_frame(cx).map_err(Into::into);
            };
            if this.end_seen {
                return Poll::Ready(
                    this.pending_trailers
                        .take()
                        .map(|trailers| Ok(Frame::trailers(trailers))),
                );
            }
            let (chunk, end_of_stream) = match Pin::new(&mut this.inner).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Err(err))) => return Poll::Ready(Some(Err(err.into()))),
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(data) => (data, this.inner.is_end_stream()),
                    // Trailers end the body: the filter sees the end of stream first.
                    Err(frame) => {
                        this.pending_trailers = frame.into_trailers().ok();
                        (Bytes::new(), true)
                    }
                },
                Poll::Ready(None) => (Bytes::new(), true),
            };
            this.end_seen = end_of_stream;
            let released = stream.body(this.direction, &chunk, end_of_stream)?;
            if !released.is_empty() {
                return Poll::Ready(Some(Ok(Frame::data(Bytes::from(released)))));
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match self.stream {
            None => self.inner.is_end_stream(),
            Some(_) => self.end_seen && self.pending_trailers.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self.stream {
            None => self.inner.size_hint(),
            Some(_) => SizeHint::default(),
        }
    }
}
