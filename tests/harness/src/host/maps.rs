//! Header and trailer maps: `proxy_{get,set}_header_map_pairs`, `proxy_{get,add,replace,remove}_header_map_value`,
//! `proxy_get_header_map_size`, with Envoy's semantics (lower-cased keys, first value wins on
//! read, replace = set one value, request-header changes clear the route cache on ABI 0.2.1).
//! A stream's maps are unavailable after the callback that returned Continue: values and
//! changes get BAD_ARGUMENT, pairs read as empty (Envoy's `getHeaderMapPairs`); in
//! `proxy_on_log` the maps are readable, and a missing one reads as NOT_FOUND.

use super::memory::{code, copy_out, read, write_u32};
use super::HostState;
use crate::headers::HeaderMap;
use crate::types::{MapType, Status};
use wasmtime::{Caller, Linker};

type Ctx<'a> = Caller<'a, HostState>;

fn map_type(value: i32) -> Result<MapType, Status> {
    MapType::from_abi(value).ok_or(Status::BadArgument)
}

/// Only the stream's own maps can be modified (call responses are read-only in Envoy).
fn mutable(map: MapType) -> Result<MapType, Status> {
    match map {
        MapType::RequestHeaders
        | MapType::RequestTrailers
        | MapType::ResponseHeaders
        | MapType::ResponseTrailers => Ok(map),
        _ => Err(Status::BadArgument),
    }
}

fn modify(
    state: &mut HostState,
    map: MapType,
    change: impl FnOnce(&mut HeaderMap),
) -> Result<(), Status> {
    if state.log_phase {
        return Err(Status::BadArgument);
    }
    let headers = state.map(map).ok_or(Status::BadArgument)?;
    change(headers);
    if map == MapType::RequestHeaders {
        state.activity().route_cache_clears += 1;
    }
    Ok(())
}

/// Shared body of `proxy_add_header_map_value` and `proxy_replace_header_map_value`.
fn set_value(
    mut caller: Ctx<'_>,
    map: i32,
    (key_ptr, key_size): (i32, i32),
    (value_ptr, value_size): (i32, i32),
    change: fn(&mut HeaderMap, Vec<u8>, Vec<u8>),
) -> wasmtime::Result<i32> {
    let map = abi_try!(map_type(map).and_then(mutable));
    let key = abi_try!(read(&caller, key_ptr, key_size));
    let value = abi_try!(read(&caller, value_ptr, value_size));
    Ok(code(modify(caller.data_mut(), map, |h| {
        change(h, key, value)
    })))
}

pub(super) fn register(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.func_wrap(
        "env",
        "proxy_get_header_map_pairs",
        |mut caller: Ctx<'_>, map: i32, ptr_ptr: i32, size_ptr: i32| -> wasmtime::Result<i32> {
            let map = abi_try!(map_type(map));
            let encoded = match caller.data_mut().map(map) {
                Some(headers) if !headers.is_empty() => headers.encode(),
                _ => Vec::new(),
            };
            Ok(code(copy_out(&mut caller, &encoded, ptr_ptr, size_ptr)?))
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_set_header_map_pairs",
        |mut caller: Ctx<'_>, map: i32, ptr: i32, size: i32| -> wasmtime::Result<i32> {
            let map = abi_try!(map_type(map).and_then(mutable));
            let pairs = HeaderMap::decode(&abi_try!(read(&caller, ptr, size)));
            Ok(code(modify(caller.data_mut(), map, |h| *h = pairs)))
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_get_header_map_value",
        |mut caller: Ctx<'_>,
         map: i32,
         key_ptr: i32,
         key_size: i32,
         ptr_ptr: i32,
         size_ptr: i32|
         -> wasmtime::Result<i32> {
            let map = abi_try!(map_type(map));
            let key = abi_try!(read(&caller, key_ptr, key_size));
            let log_phase = caller.data().log_phase;
            let value = match caller.data_mut().map(map) {
                // Envoy: a map the host does not hold now is BAD_ARGUMENT, except in the
                // access-log phase, where a missing map reads as NOT_FOUND.
                None if log_phase => return Ok(Status::NotFound.code()),
                None => return Ok(Status::BadArgument.code()),
                Some(headers) => match headers.get_raw(&key) {
                    None => return Ok(Status::NotFound.code()),
                    Some(value) => value.to_vec(),
                },
            };
            Ok(code(copy_out(&mut caller, &value, ptr_ptr, size_ptr)?))
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_add_header_map_value",
        |caller: Ctx<'_>,
         map: i32,
         key_ptr: i32,
         key_size: i32,
         value_ptr: i32,
         value_size: i32| {
            set_value(
                caller,
                map,
                (key_ptr, key_size),
                (value_ptr, value_size),
                HeaderMap::append,
            )
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_replace_header_map_value",
        |caller: Ctx<'_>,
         map: i32,
         key_ptr: i32,
         key_size: i32,
         value_ptr: i32,
         value_size: i32| {
            set_value(
                caller,
                map,
                (key_ptr, key_size),
                (value_ptr, value_size),
                HeaderMap::replace,
            )
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_remove_header_map_value",
        |mut caller: Ctx<'_>, map: i32, key_ptr: i32, key_size: i32| -> wasmtime::Result<i32> {
            let map = abi_try!(map_type(map).and_then(mutable));
            let key = abi_try!(read(&caller, key_ptr, key_size));
            Ok(code(modify(caller.data_mut(), map, |h| h.remove(&key))))
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_get_header_map_size",
        |mut caller: Ctx<'_>, map: i32, size_ptr: i32| -> wasmtime::Result<i32> {
            let map = abi_try!(map_type(map).and_then(mutable));
            let size = match caller.data_mut().map(map) {
                None => return Ok(Status::BadArgument.code()),
                Some(h) => h.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>() as u32,
            };
            Ok(code(write_u32(&mut caller, size_ptr, size)))
        },
    )?;
    Ok(())
}
