//! Logging, time, ticks, effective context, stream control (continue/close/local response),
//! `proxy_done`, `proxy_get_status` and foreign functions (`clear_route_cache`).

use super::memory::{code, read, read_string, write_u32, write_u64};
use super::HostState;
use crate::headers::HeaderMap;
use crate::record::{ForeignCall, LocalResponse};
use crate::types::{Abi, LogLevel, Status, StreamType};
use wasmtime::{Caller, Linker};

type Ctx<'a> = Caller<'a, HostState>;

/// Foreign functions Envoy registers that this host implements.
fn call_foreign(state: &mut HostState, name: &str) -> Status {
    match name {
        "clear_route_cache" => {
            if let Some(record) = state.activity_bounded(|r| r.foreign_calls.len()) {
                record.route_cache_clears += 1;
            }
            Status::Ok
        }
        _ => Status::NotFound,
    }
}

fn stream_control(state: &mut HostState, kind: i32, close: bool) -> Result<(), Status> {
    let kind = StreamType::from_abi(kind).ok_or(Status::BadArgument)?;
    let stream = state.target_stream().ok_or(Status::BadArgument)?;
    if close {
        stream.record.closed.push(kind);
    } else {
        stream.record.continued.push(kind);
    }
    Ok(())
}

/// Registers the imports cpp-host registers only for some ABI versions: 0.2.0 and 0.2.1 get
/// `proxy_continue_stream` and `proxy_close_stream`, only 0.2.1 gets `proxy_get_log_level`
/// (the 0.1.0-only `proxy_continue_request`, `proxy_continue_response`,
/// `proxy_clear_route_cache` and `proxy_get_configuration` are never registered: this host,
/// like Envoy's SDKs, runs 0.2.x modules only).
pub(super) fn register_abi_specific(
    linker: &mut Linker<HostState>,
    abi: Abi,
) -> wasmtime::Result<()> {
    linker.func_wrap(
        "env",
        "proxy_continue_stream",
        |mut caller: Ctx<'_>, kind: i32| -> i32 {
            code(stream_control(caller.data_mut(), kind, false))
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_close_stream",
        |mut caller: Ctx<'_>, kind: i32| -> i32 {
            code(stream_control(caller.data_mut(), kind, true))
        },
    )?;
    if abi == Abi::V0_2_1 {
        linker.func_wrap(
            "env",
            "proxy_get_log_level",
            |mut caller: Ctx<'_>, ptr: i32| -> i32 {
                let level = caller.data().options.log_level.code() as u32;
                code(write_u32(&mut caller, ptr, level))
            },
        )?;
    }
    Ok(())
}

pub(super) fn register(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    // Emscripten helpers cpp-host registers in `env` for every module.
    linker.func_wrap(
        "env",
        "pthread_equal",
        |_: Ctx<'_>, a: i32, b: i32| -> i32 { i32::from(a == b) },
    )?;
    linker.func_wrap(
        "env",
        "emscripten_notify_memory_growth",
        |_: Ctx<'_>, _: i32| {},
    )?;
    linker.func_wrap(
        "env",
        "proxy_log",
        |mut caller: Ctx<'_>, level: i32, ptr: i32, size: i32| -> wasmtime::Result<i32> {
            let level = abi_try!(LogLevel::from_abi(level).ok_or(Status::BadArgument));
            let message = abi_try!(read_string(&caller, ptr, size));
            caller.data_mut().push_log(level, message);
            Ok(Status::Ok.code())
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_get_current_time_nanoseconds",
        |mut caller: Ctx<'_>, ptr: i32| -> i32 {
            let now = caller.data().clock.now_nanos();
            code(write_u64(&mut caller, ptr, now))
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_set_tick_period_milliseconds",
        |mut caller: Ctx<'_>, period: i32| -> i32 {
            let state = caller.data_mut();
            let root = state.root_of(state.target_context());
            match state.roots.get_mut(&root) {
                Some(root) => {
                    root.tick_period_ms = period as u32;
                    Status::Ok.code()
                }
                None => Status::BadArgument.code(),
            }
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_set_effective_context",
        |mut caller: Ctx<'_>, id: i32| -> i32 {
            let state = caller.data_mut();
            let id = id as u32;
            if !state.roots.contains_key(&id) && !state.streams.contains_key(&id) {
                return Status::BadArgument.code();
            }
            state.effective_context = Some(id);
            Status::Ok.code()
        },
    )?;
    linker.func_wrap("env", "proxy_done", |mut caller: Ctx<'_>| -> i32 {
        // cpp-host `WasmBase::done`: only a root waiting after `proxy_on_done` returned false
        // may finish; it is deleted after the current call (never from inside it).
        let state = caller.data_mut();
        let root = state.root_of(state.target_context());
        match state.roots.get(&root) {
            Some(r) if r.pending_done && !state.done_requested.contains(&root) => {
                state.done_requested.push(root);
                Status::Ok.code()
            }
            _ => Status::NotFound.code(),
        }
    })?;
    linker.func_wrap(
        "env",
        "proxy_get_status",
        |mut caller: Ctx<'_>, code_ptr: i32, ptr_ptr: i32, size_ptr: i32| -> i32 {
            code(
                write_u32(&mut caller, code_ptr, 0)
                    .and_then(|()| write_u32(&mut caller, ptr_ptr, 0))
                    .and_then(|()| write_u32(&mut caller, size_ptr, 0)),
            )
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_send_local_response",
        |mut caller: Ctx<'_>,
         status: i32,
         details_ptr: i32,
         details_size: i32,
         body_ptr: i32,
         body_size: i32,
         headers_ptr: i32,
         headers_size: i32,
         grpc_status: i32|
         -> wasmtime::Result<i32> {
            let details = abi_try!(read_string(&caller, details_ptr, details_size));
            let body = abi_try!(read(&caller, body_ptr, body_size));
            let headers = HeaderMap::decode(&abi_try!(read(&caller, headers_ptr, headers_size)));
            let state = caller.data_mut();
            let Some(stream) = state.target_stream() else {
                return Ok(Status::BadArgument.code());
            };
            stream.record.local_response = Some(LocalResponse {
                status: status as u32,
                details,
                body,
                headers,
                grpc_status,
            });
            state.stop_iteration = true;
            Ok(Status::Ok.code())
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_call_foreign_function",
        |mut caller: Ctx<'_>,
         name_ptr: i32,
         name_size: i32,
         args_ptr: i32,
         args_size: i32,
         results_ptr: i32,
         results_size_ptr: i32|
         -> wasmtime::Result<i32> {
            let name = abi_try!(read_string(&caller, name_ptr, name_size));
            let args = abi_try!(read(&caller, args_ptr, args_size));
            let state = caller.data_mut();
            let status = call_foreign(state, &name);
            if let Some(record) = state.activity_bounded(|r| r.foreign_calls.len()) {
                record
                    .foreign_calls
                    .push(ForeignCall { name, args, status });
            }
            if status == Status::Ok {
                if results_ptr != 0 {
                    abi_try!(write_u32(&mut caller, results_ptr, 0));
                }
                if results_size_ptr != 0 {
                    abi_try!(write_u32(&mut caller, results_size_ptr, 0));
                }
            }
            Ok(status.code())
        },
    )?;
    Ok(())
}
