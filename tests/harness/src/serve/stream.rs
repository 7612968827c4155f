//! One HTTP stream's context in a VM, from `create` to `on_log`/`on_done`/`on_delete`, which
//! run when the last holder (handler, request body, response body) lets go: after the response
//! was sent, or when the client went away.

pub use super::vm::Direction;
use super::vm::{FilterVerdict, HeaderList, StreamId, VmFailure};
use super::vm_ref::VmRef;

/// An HTTP context of one VM.
pub struct FilterStream {
    vm: VmRef,
    id: StreamId,
}

impl FilterStream {
    /// Creates the HTTP context.
    pub fn open(vm: VmRef) -> Result<Self, VmFailure> {
        let id = vm.run(|filter| filter.create_stream())?;
        Ok(Self { vm, id })
    }

    /// Runs the headers callback of `direction`.
    pub fn headers(
        &self,
        direction: Direction,
        headers: &mut HeaderList,
        end_of_stream: bool,
    ) -> Result<FilterVerdict, VmFailure> {
        self.vm
            .run(|filter| filter.headers(self.id, direction, headers, end_of_stream))
    }

    /// Runs the body callback of `direction` with the next chunk; returns the bytes to send on.
    pub fn body(
        &self,
        direction: Direction,
        chunk: &[u8],
        end_of_stream: bool,
    ) -> Result<Vec<u8>, VmFailure> {
        self.vm
            .run(|filter| filter.body(self.id, direction, chunk, end_of_stream))
    }
}

impl Drop for FilterStream {
    fn drop(&mut self) {
        let id = self.id;
        self.vm.run(|filter| filter.finish_stream(id));
    }
}
