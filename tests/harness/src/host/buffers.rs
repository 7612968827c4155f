//! Buffers: `proxy_get_buffer_bytes`, `proxy_set_buffer_bytes`, `proxy_get_buffer_status`.
//! Request/response bodies are the stream's current body buffer; the plugin configuration is
//! only visible during `proxy_on_configure`; the call response body during
//! `proxy_on_http_call_response`.

use super::memory::{code, copy_out, read, write_u32};
use super::HostState;
use crate::types::{BufferType, Status};
use wasmtime::{Caller, Linker};

type Ctx<'a> = Caller<'a, HostState>;

fn buffer(state: &mut HostState, kind: BufferType) -> Result<Vec<u8>, Status> {
    match kind {
        BufferType::HttpRequestBody => state
            .target_stream()
            .map(|s| s.request_body.clone())
            .ok_or(Status::NotFound),
        BufferType::HttpResponseBody => state
            .target_stream()
            .map(|s| s.response_body.clone())
            .ok_or(Status::NotFound),
        BufferType::HttpCallResponseBody => state
            .call_response
            .as_ref()
            .map(|r| r.body.clone())
            .ok_or(Status::NotFound),
        BufferType::VmConfiguration => Ok(state.options.vm_configuration.clone()),
        BufferType::PluginConfiguration => {
            state.plugin_configuration.clone().ok_or(Status::NotFound)
        }
        BufferType::CallData => Ok(Vec::new()),
        BufferType::DownstreamData | BufferType::UpstreamData | BufferType::GrpcReceiveBuffer => {
            Err(Status::NotFound)
        }
    }
}

fn body_mut(state: &mut HostState, kind: BufferType) -> Result<&mut Vec<u8>, Status> {
    match kind {
        BufferType::HttpRequestBody => state
            .target_stream()
            .map(|s| &mut s.request_body)
            .ok_or(Status::NotFound),
        BufferType::HttpResponseBody => state
            .target_stream()
            .map(|s| &mut s.response_body)
            .ok_or(Status::NotFound),
        BufferType::DownstreamData | BufferType::UpstreamData => Err(Status::NotFound),
        _ => Err(Status::BadArgument),
    }
}

/// Replaces `[start, start + length)` (clamped to the buffer) with `data`.
fn splice(target: &mut Vec<u8>, start: usize, length: usize, data: &[u8]) -> Result<(), Status> {
    if start > target.len() {
        return Err(Status::BadArgument);
    }
    let end = start.saturating_add(length).min(target.len());
    target.splice(start..end, data.iter().copied());
    Ok(())
}

pub(super) fn register(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.func_wrap(
        "env",
        "proxy_get_buffer_bytes",
        |mut caller: Ctx<'_>,
         kind: i32,
         start: i32,
         max_size: i32,
         ptr_ptr: i32,
         size_ptr: i32|
         -> wasmtime::Result<i32> {
            let kind = abi_try!(BufferType::from_abi(kind).ok_or(Status::BadArgument));
            let data = abi_try!(buffer(caller.data_mut(), kind));
            let start = start as u32 as usize;
            let Some(end) = start.checked_add(max_size as u32 as usize) else {
                return Ok(Status::BadArgument.code());
            };
            if start > data.len() {
                return Ok(Status::BadArgument.code());
            }
            let slice = &data[start..end.min(data.len())];
            if slice.is_empty() {
                // Envoy returns Ok without touching the out-pointers.
                return Ok(Status::Ok.code());
            }
            Ok(code(copy_out(&mut caller, slice, ptr_ptr, size_ptr)?))
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_set_buffer_bytes",
        |mut caller: Ctx<'_>,
         kind: i32,
         start: i32,
         length: i32,
         data_ptr: i32,
         data_size: i32|
         -> wasmtime::Result<i32> {
            let kind = abi_try!(BufferType::from_abi(kind).ok_or(Status::BadArgument));
            let data = abi_try!(read(&caller, data_ptr, data_size));
            let target = abi_try!(body_mut(caller.data_mut(), kind));
            Ok(code(splice(
                target,
                start as u32 as usize,
                length as u32 as usize,
                &data,
            )))
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_get_buffer_status",
        |mut caller: Ctx<'_>,
         kind: i32,
         length_ptr: i32,
         flags_ptr: i32|
         -> wasmtime::Result<i32> {
            let kind = abi_try!(BufferType::from_abi(kind).ok_or(Status::BadArgument));
            let len = abi_try!(buffer(caller.data_mut(), kind)).len() as u32;
            abi_try!(write_u32(&mut caller, length_ptr, len));
            Ok(code(write_u32(&mut caller, flags_ptr, 0)))
        },
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::splice;

    #[test]
    fn splice_prepends_appends_and_replaces() {
        let mut body = b"hello".to_vec();
        assert!(splice(&mut body, 0, 0, b">").is_ok());
        assert!(splice(&mut body, 6, 0, b"<").is_ok());
        assert_eq!(body, b">hello<");
        assert!(splice(&mut body, 0, usize::MAX, b"new").is_ok());
        assert_eq!(body, b"new");
        assert!(splice(&mut body, 9, 0, b"x").is_err());
    }
}
