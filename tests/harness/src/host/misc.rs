//! Logging, time, ticks, effective context, stream control (continue/close/local response),
//! `proxy_done`, `proxy_get_status` and foreign functions (`clear_route_cache`).

use super::memory::{code, read, read_string, write_u32, write_u64};
use super::HostState;
use crate::headers::HeaderMap;
use crate::record::{ForeignCall, LocalResponse};
use crate::types::{LogLevel, Status, StreamType};
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

pub(super) fn register(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
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
        "proxy_get_log_level",
        |mut caller: Ctx<'_>, ptr: i32| -> i32 {
            let level = caller.data().options.log_level.code() as u32;
            code(write_u32(&mut caller, ptr, level))
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
            caller.data_mut().tick_period_ms = period as u32;
            Status::Ok.code()
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_set_effective_context",
        |mut caller: Ctx<'_>, id: i32| -> i32 {
            let state = caller.data_mut();
            let id = id as u32;
            if id != state.root_context_id && !state.streams.contains_key(&id) {
                return Status::BadArgument.code();
            }
            state.effective_context = Some(id);
            Status::Ok.code()
        },
    )?;
    linker.func_wrap("env", "proxy_done", |_: Ctx<'_>| -> i32 {
        Status::Ok.code()
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
    linker.func_wrap(
        "env",
        "proxy_continue_request",
        |mut caller: Ctx<'_>| -> i32 { code(stream_control(caller.data_mut(), 0, false)) },
    )?;
    linker.func_wrap(
        "env",
        "proxy_continue_response",
        |mut caller: Ctx<'_>| -> i32 { code(stream_control(caller.data_mut(), 1, false)) },
    )?;
    linker.func_wrap(
        "env",
        "proxy_clear_route_cache",
        |mut caller: Ctx<'_>| -> i32 {
            call_foreign(caller.data_mut(), "clear_route_cache").code()
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
