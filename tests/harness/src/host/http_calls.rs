//! `proxy_http_call` (validated as Envoy does: known cluster, `:method`, `:path` and
//! `:authority` present, else BAD_ARGUMENT; the call belongs to the root context of the
//! calling context, as in cpp-host's `http_call`) and the gRPC calls, which this host refuses
//! because it has no gRPC services.

use super::memory::{read, read_string, write_u32};
use super::HostState;
use crate::headers::HeaderMap;
use crate::record::{HttpCall, RefusedHttpCall};
use crate::types::Status;
use wasmtime::{Caller, Linker};

type Ctx<'a> = Caller<'a, HostState>;

fn dispatch(
    state: &mut HostState,
    cluster: String,
    headers: HeaderMap,
    body: Vec<u8>,
    trailers: HeaderMap,
    timeout_ms: i32,
) -> Result<u32, Status> {
    let valid = timeout_ms >= 0
        && state.options.clusters.allows(&cluster)
        && [":method", ":path", ":authority"]
            .iter()
            .all(|h| headers.contains(h));
    if !valid {
        if let Some(record) = state.activity_bounded(|r| r.refused_http_calls.len()) {
            record.refused_http_calls.push(RefusedHttpCall {
                cluster,
                headers,
                status: Status::BadArgument,
            });
        }
        return Err(Status::BadArgument);
    }
    let token = state.next_token;
    state.next_token = state.next_token.wrapping_add(1).max(1);
    let call = HttpCall {
        token,
        cluster,
        headers,
        body,
        trailers,
        timeout_ms: timeout_ms as u32,
        origin_context_id: state.target_context(),
        root_context_id: state.root_of(state.target_context()),
    };
    state.pending_calls.insert(token, call.clone());
    state.new_calls.push(call.clone());
    if let Some(record) = state.activity_bounded(|r| r.http_calls.len()) {
        record.http_calls.push(call);
    }
    Ok(token)
}

pub(super) fn register(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.func_wrap(
        "env",
        "proxy_http_call",
        |mut caller: Ctx<'_>,
         uri_ptr: i32,
         uri_size: i32,
         headers_ptr: i32,
         headers_size: i32,
         body_ptr: i32,
         body_size: i32,
         trailers_ptr: i32,
         trailers_size: i32,
         timeout_ms: i32,
         token_ptr: i32|
         -> wasmtime::Result<i32> {
            let cluster = abi_try!(read_string(&caller, uri_ptr, uri_size));
            let headers = HeaderMap::decode(&abi_try!(read(&caller, headers_ptr, headers_size)));
            let body = abi_try!(read(&caller, body_ptr, body_size));
            let trailers = HeaderMap::decode(&abi_try!(read(&caller, trailers_ptr, trailers_size)));
            // Like Envoy, check the token pointer before starting the call.
            abi_try!(write_u32(&mut caller, token_ptr, 0));
            let token = abi_try!(dispatch(
                caller.data_mut(),
                cluster,
                headers,
                body,
                trailers,
                timeout_ms
            ));
            abi_try!(write_u32(&mut caller, token_ptr, token));
            Ok(Status::Ok.code())
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_grpc_call",
        |_: Ctx<'_>,
         _: i32,
         _: i32,
         _: i32,
         _: i32,
         _: i32,
         _: i32,
         _: i32,
         _: i32,
         _: i32,
         _: i32,
         _: i32,
         _: i32|
         -> i32 { Status::BadArgument.code() },
    )?;
    linker.func_wrap(
        "env",
        "proxy_grpc_stream",
        |_: Ctx<'_>,
         _: i32,
         _: i32,
         _: i32,
         _: i32,
         _: i32,
         _: i32,
         _: i32,
         _: i32,
         _: i32|
         -> i32 { Status::BadArgument.code() },
    )?;
    linker.func_wrap(
        "env",
        "proxy_grpc_send",
        |_: Ctx<'_>, _: i32, _: i32, _: i32, _: i32| -> i32 { Status::NotFound.code() },
    )?;
    linker.func_wrap("env", "proxy_grpc_cancel", |_: Ctx<'_>, _: i32| -> i32 {
        Status::NotFound.code()
    })?;
    linker.func_wrap("env", "proxy_grpc_close", |_: Ctx<'_>, _: i32| -> i32 {
        Status::NotFound.code()
    })?;
    Ok(())
}
