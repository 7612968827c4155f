//! Properties: `proxy_get_property` / `proxy_set_property`. Paths are NUL-separated parts.
//! Known attributes (Envoy's attribute names) are derived from the stream; strings are returned
//! as bytes, integers and timestamps as 8-byte little-endian, maps in the pair format.

use super::memory::{code, copy_out, read};
use super::HostState;
use crate::types::Status;
use wasmtime::{Caller, Linker};

type Ctx<'a> = Caller<'a, HostState>;

fn parts(path: &[u8]) -> Vec<String> {
    path.split(|b| *b == 0)
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .filter(|p| !p.is_empty())
        .collect()
}

fn lookup(state: &mut HostState, path: &[String]) -> Result<Vec<u8>, Status> {
    let dotted = path.join(".");
    if let Some(stream) = state.target_stream() {
        if let Some(v) = stream.properties.get(dotted.as_bytes()) {
            return Ok(v.clone());
        }
    }
    if let Some(v) = state.vm_properties.get(dotted.as_bytes()) {
        return Ok(v.clone());
    }
    if let Some(v) = state.options.properties.get(&dotted) {
        return Ok(v.clone());
    }
    let parts: Vec<&str> = path.iter().map(String::as_str).collect();
    match parts.as_slice() {
        ["plugin_name"] => return Ok(state.options.plugin_name.clone().into_bytes()),
        ["plugin_root_id"] => return Ok(state.options.root_id.clone().into_bytes()),
        ["plugin_vm_id"] => return Ok(state.options.vm_id.clone().into_bytes()),
        _ => {}
    }
    let stream = state.target_stream().ok_or(Status::NotFound)?;
    let request = &stream.record.request_headers;
    let header = |name: &str| {
        request
            .get(name)
            .map(<[u8]>::to_vec)
            .ok_or(Status::NotFound)
    };
    match parts.as_slice() {
        ["request", "path"] => header(":path"),
        ["request", "url_path"] => {
            header(":path").map(|p| p.split(|b| *b == b'?').next().unwrap_or_default().to_vec())
        }
        ["request", "host"] => header(":authority"),
        ["request", "method"] => header(":method"),
        ["request", "scheme"] => header(":scheme"),
        ["request", "id"] => header("x-request-id"),
        ["request", "useragent"] => header("user-agent"),
        ["request", "referer"] => header("referer"),
        ["request", "protocol"] => Ok(b"HTTP/1.1".to_vec()),
        ["request", "time"] => Ok(stream.start_nanos.to_le_bytes().to_vec()),
        ["request", "headers"] => Ok(request.encode()),
        ["request", "headers", name] => header(name),
        ["response", "code"] => {
            let response = stream
                .record
                .response_headers
                .as_ref()
                .ok_or(Status::NotFound)?;
            let code = response
                .get_str(":status")
                .and_then(|s| s.parse::<i64>().ok())
                .ok_or(Status::NotFound)?;
            Ok(code.to_le_bytes().to_vec())
        }
        ["response", "headers"] => stream
            .record
            .response_headers
            .as_ref()
            .map(|h| h.encode())
            .ok_or(Status::NotFound),
        ["response", "headers", name] => stream
            .record
            .response_headers
            .as_ref()
            .and_then(|h| h.get(name))
            .map(<[u8]>::to_vec)
            .ok_or(Status::NotFound),
        _ => Err(Status::NotFound),
    }
}

pub(super) fn register(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.func_wrap(
        "env",
        "proxy_get_property",
        |mut caller: Ctx<'_>,
         path_ptr: i32,
         path_size: i32,
         ptr_ptr: i32,
         size_ptr: i32|
         -> wasmtime::Result<i32> {
            let path = parts(&abi_try!(read(&caller, path_ptr, path_size)));
            let value = abi_try!(lookup(caller.data_mut(), &path));
            Ok(code(copy_out(&mut caller, &value, ptr_ptr, size_ptr)?))
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_set_property",
        |mut caller: Ctx<'_>,
         path_ptr: i32,
         path_size: i32,
         value_ptr: i32,
         value_size: i32|
         -> wasmtime::Result<i32> {
            let path = parts(&abi_try!(read(&caller, path_ptr, path_size))).join(".");
            let value = abi_try!(read(&caller, value_ptr, value_size));
            let state = caller.data_mut();
            match state.target_stream() {
                Some(stream) => {
                    stream.properties.insert(path.into_bytes(), value);
                }
                None => {
                    state.vm_properties.insert(path.into_bytes(), value);
                }
            }
            Ok(code(Ok(())))
        },
    )?;
    Ok(())
}
