//! The loopback Kubernetes API fake under the names the process tests first used: the one
//! fake is the `rollgate-kube-fake` crate (no API server can run here).

// Used by the tests that still import these names; unused in the others.
#[allow(unused_imports)]
pub use rollgate_kube_fake::{
    lease_path, wasm_plugin_path, KubeFake as KubeApi, Request as Logged,
};
