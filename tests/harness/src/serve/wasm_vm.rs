//! [`FilterVm`](super::vm::FilterVm) on the harness's wasmtime proxy-wasm host.

use std::path::Path;

use super::error::ServeError;
use super::vm::{FilterVm, VmFactory, VmFailure};

/// Makes VMs of one compiled `.wasm` module.
pub struct WasmVmFactory {}

impl WasmVmFactory {
    /// Loads and compiles the module at `path`.
    pub fn load(path: &Path) -> Result<Self, ServeError> {
        Err(ServeError::Wasm {
            path: path.to_path_buf(),
            message: "the wasm host is not wired in yet".into(),
        })
    }
}

impl VmFactory for WasmVmFactory {
    fn instantiate(
        &self,
        _config: &[u8],
        _clusters: &[String],
    ) -> Result<Box<dyn FilterVm>, VmFailure> {
        Err(VmFailure::Trapped("not wired".into()))
    }
}
