//! A compiled proxy-wasm module, checked and pre-linked once against the Envoy host imports,
//! cheap to clone and share between threads; every VM instantiates from it.

use crate::error::HarnessError;
use crate::host::{self, HostState};
use crate::types::Abi;
use std::path::Path;
use std::sync::Arc;
use wasmtime::{Engine, InstancePre, Module};

/// ABI versions Envoy accepts (the module must export one of these marker functions).
pub const SUPPORTED_ABI_MARKERS: [&str; 2] = ["proxy_abi_version_0_2_1", "proxy_abi_version_0_2_0"];

/// A compiled, linked proxy-wasm module. Compile once per wasm file; clone freely.
#[derive(Clone)]
pub struct WasmModule {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    pre: InstancePre<HostState>,
    abi: Abi,
}

impl std::fmt::Debug for WasmModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmModule")
            .field("abi", &self.inner.abi)
            .finish()
    }
}

impl WasmModule {
    /// Reads and compiles a `.wasm` (or `.wat`) file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, HarnessError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| HarnessError::ReadWasm {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_bytes(&bytes)
    }

    /// Compiles wasm bytes (or WAT text) and links them against the host imports. Fails like
    /// Envoy would refuse the module: an import Envoy does not provide, no `memory` export, no
    /// proxy-wasm ABI version marker, no allocator export.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, HarnessError> {
        let engine = Engine::default();
        let module =
            Module::new(&engine, bytes).map_err(|e| HarnessError::Compile(format!("{e:#}")))?;
        let exports: Vec<String> = module.exports().map(|e| e.name().to_string()).collect();
        let has = |name: &str| exports.iter().any(|e| e == name);
        let abi = [Abi::V0_2_1, Abi::V0_2_0]
            .into_iter()
            .find(|abi| has(abi.marker()))
            .ok_or_else(|| {
                HarnessError::Link(format!(
                    "no supported proxy-wasm ABI version export (one of {SUPPORTED_ABI_MARKERS:?})"
                ))
            })?;
        if !has("memory") {
            return Err(HarnessError::Link("the module exports no `memory`".into()));
        }
        if !has("proxy_on_memory_allocate") && !has("malloc") {
            return Err(HarnessError::Link(
                "the module exports neither `proxy_on_memory_allocate` nor `malloc`".into(),
            ));
        }
        let linker =
            host::linker(&engine, abi).map_err(|e| HarnessError::Link(format!("{e:#}")))?;
        let pre = linker
            .instantiate_pre(&module)
            .map_err(|e| HarnessError::Link(format!("{e:#}")))?;
        Ok(Self {
            inner: Arc::new(Inner { engine, pre, abi }),
        })
    }

    /// The ABI version marker the module exports.
    pub fn abi_version(&self) -> &'static str {
        self.inner.abi.marker()
    }

    /// The ABI version the module declares (the imports it may use depend on it).
    pub fn abi(&self) -> Abi {
        self.inner.abi
    }

    pub(crate) fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    pub(crate) fn pre(&self) -> &InstancePre<HostState> {
        &self.inner.pre
    }
}
