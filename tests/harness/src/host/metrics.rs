//! Metrics: `proxy_define_metric`, `proxy_increment_metric`, `proxy_record_metric`,
//! `proxy_get_metric`, stored in the plugin-wide [`crate::metrics::MetricStore`] and recorded as
//! operations on the current stream.

use super::memory::{code, read_string, write_u32, write_u64};
use super::HostState;
use crate::record::MetricOp;
use crate::types::{MetricKind, Status};
use wasmtime::{Caller, Linker};

type Ctx<'a> = Caller<'a, HostState>;

fn note(state: &mut HostState, op: MetricOp) {
    if let Some(record) = state.activity_bounded(|r| r.metric_ops.len()) {
        record.metric_ops.push(op);
    }
}

pub(super) fn register(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.func_wrap(
        "env",
        "proxy_define_metric",
        |mut caller: Ctx<'_>,
         kind: i32,
         name_ptr: i32,
         name_size: i32,
         id_ptr: i32|
         -> wasmtime::Result<i32> {
            let kind = abi_try!(MetricKind::from_abi(kind).ok_or(Status::BadArgument));
            let name = abi_try!(read_string(&caller, name_ptr, name_size));
            let id = abi_try!(caller.data().shared.metrics().define(kind, &name));
            note(caller.data_mut(), MetricOp::Define { name, kind });
            Ok(code(write_u32(&mut caller, id_ptr, id)))
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_increment_metric",
        |mut caller: Ctx<'_>, id: i32, offset: i64| -> i32 {
            let state = caller.data_mut();
            let result = {
                let mut store = state.shared.metrics();
                store
                    .increment(id as u32, offset)
                    .map(|()| store.name(id as u32).unwrap_or_default().to_string())
            };
            match result {
                Ok(name) => {
                    note(state, MetricOp::Increment { name, offset });
                    Status::Ok.code()
                }
                Err(status) => status.code(),
            }
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_record_metric",
        |mut caller: Ctx<'_>, id: i32, value: i64| -> i32 {
            let state = caller.data_mut();
            let result = {
                let mut store = state.shared.metrics();
                store
                    .record(id as u32, value as u64)
                    .map(|()| store.name(id as u32).unwrap_or_default().to_string())
            };
            match result {
                Ok(name) => {
                    note(
                        state,
                        MetricOp::Record {
                            name,
                            value: value as u64,
                        },
                    );
                    Status::Ok.code()
                }
                Err(status) => status.code(),
            }
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_get_metric",
        |mut caller: Ctx<'_>, id: i32, value_ptr: i32| -> wasmtime::Result<i32> {
            let value = abi_try!(caller.data().shared.metrics().get(id as u32));
            Ok(code(write_u64(&mut caller, value_ptr, value)))
        },
    )?;
    Ok(())
}
