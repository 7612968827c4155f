//! The WASI preview1 functions Envoy gives a proxy-wasm module, and only those (cpp-host's
//! `FOR_ALL_WASI_FUNCTIONS`: fd_write, fd_read, fd_seek, fd_close, fd_fdstat_get, environ_get,
//! environ_sizes_get, args_get, args_sizes_get, clock_time_get, random_get, proc_exit,
//! path_open, fd_prestat_get, fd_prestat_dir_name): a module that imports any other WASI
//! function fails to link, as it fails to load in Envoy. stdout/stderr
//! writes become info/error logs; there are no files, arguments or environment variables.

use super::memory::{read, write, write_u32, write_u64};
use super::HostState;
use crate::types::LogLevel;
use rand::RngCore;
use wasmtime::{Caller, Linker};

type Ctx<'a> = Caller<'a, HostState>;

const SUCCESS: i32 = 0;
const EBADF: i32 = 8;
const EFAULT: i32 = 21;
const ENOENT: i32 = 44;
const ENOSYS: i32 = 52;
const ENOTSUP: i32 = 58;

fn fd_write(caller: &mut Ctx<'_>, fd: i32, iovs: i32, iovs_len: i32, nwritten_ptr: i32) -> i32 {
    let level = match fd {
        1 => LogLevel::Info,
        2 => LogLevel::Error,
        _ => return EBADF,
    };
    let mut text = Vec::new();
    for i in 0..iovs_len.max(0) {
        let Some(at) = i.checked_mul(8).and_then(|o| iovs.checked_add(o)) else {
            return EFAULT;
        };
        let Ok(iovec) = read(caller, at, 8) else {
            return EFAULT;
        };
        let buf = i32::from_le_bytes([iovec[0], iovec[1], iovec[2], iovec[3]]);
        let len = i32::from_le_bytes([iovec[4], iovec[5], iovec[6], iovec[7]]);
        match read(caller, buf, len) {
            Ok(bytes) => text.extend_from_slice(&bytes),
            Err(_) => return EFAULT,
        }
    }
    let written = text.len() as u32;
    if text.last() == Some(&b'\n') {
        text.pop();
    }
    if !text.is_empty() {
        caller
            .data_mut()
            .push_log(level, String::from_utf8_lossy(&text).into_owned());
    }
    match write_u32(caller, nwritten_ptr, written) {
        Ok(()) => SUCCESS,
        Err(_) => EFAULT,
    }
}

fn fault(result: Result<(), crate::types::Status>) -> i32 {
    if result.is_ok() {
        SUCCESS
    } else {
        EFAULT
    }
}

pub(super) fn register(linker: &mut Linker<HostState>, module: &str) -> wasmtime::Result<()> {
    linker.func_wrap(
        module,
        "fd_write",
        |mut caller: Ctx<'_>, fd: i32, iovs: i32, len: i32, nwritten: i32| -> i32 {
            fd_write(&mut caller, fd, iovs, len, nwritten)
        },
    )?;
    linker.func_wrap(
        module,
        "fd_read",
        |_: Ctx<'_>, _: i32, _: i32, _: i32, _: i32| -> i32 { ENOSYS },
    )?;
    linker.func_wrap(
        module,
        "fd_seek",
        |mut caller: Ctx<'_>, _: i32, _: i64, _: i32, _: i32| -> i32 {
            caller
                .data_mut()
                .push_log(LogLevel::Error, "wasi_unstable fd_seek".into());
            SUCCESS
        },
    )?;
    linker.func_wrap(module, "fd_close", |mut caller: Ctx<'_>, _: i32| -> i32 {
        caller
            .data_mut()
            .push_log(LogLevel::Error, "wasi_unstable fd_close".into());
        SUCCESS
    })?;
    linker.func_wrap(
        module,
        "fd_fdstat_get",
        |mut caller: Ctx<'_>, fd: i32, stat_ptr: i32| -> i32 {
            if fd != 1 && fd != 2 {
                return EBADF;
            }
            let mut stat = [0u8; 24];
            stat[8..16].copy_from_slice(&64u64.to_le_bytes()); // fs_rights_base = FD_WRITE
            fault(write(&mut caller, stat_ptr, &stat))
        },
    )?;
    linker.func_wrap(
        module,
        "fd_prestat_get",
        |_: Ctx<'_>, _: i32, _: i32| -> i32 { EBADF },
    )?;
    linker.func_wrap(
        module,
        "fd_prestat_dir_name",
        |_: Ctx<'_>, _: i32, _: i32, _: i32| -> i32 { ENOSYS },
    )?;
    linker.func_wrap(
        module,
        "path_open",
        |_: Ctx<'_>,
         _: i32,
         _: i32,
         _: i32,
         _: i32,
         _: i32,
         _: i64,
         _: i64,
         _: i32,
         _: i32|
         -> i32 { ENOENT },
    )?;
    linker.func_wrap(module, "environ_get", |_: Ctx<'_>, _: i32, _: i32| -> i32 {
        SUCCESS
    })?;
    linker.func_wrap(
        module,
        "environ_sizes_get",
        |mut caller: Ctx<'_>, count_ptr: i32, size_ptr: i32| -> i32 {
            fault(
                write_u32(&mut caller, count_ptr, 0)
                    .and_then(|()| write_u32(&mut caller, size_ptr, 0)),
            )
        },
    )?;
    linker.func_wrap(module, "args_get", |_: Ctx<'_>, _: i32, _: i32| -> i32 {
        SUCCESS
    })?;
    linker.func_wrap(
        module,
        "args_sizes_get",
        |mut caller: Ctx<'_>, argc_ptr: i32, size_ptr: i32| -> i32 {
            fault(
                write_u32(&mut caller, argc_ptr, 0)
                    .and_then(|()| write_u32(&mut caller, size_ptr, 0)),
            )
        },
    )?;
    linker.func_wrap(
        module,
        "clock_time_get",
        |mut caller: Ctx<'_>, clock: i32, _: i64, time_ptr: i32| -> i32 {
            // 0 = realtime, 1 = monotonic; both read the VM's clock (virtual in tests).
            if clock != 0 && clock != 1 {
                return ENOTSUP;
            }
            let now = caller.data().clock.now_nanos();
            fault(write_u64(&mut caller, time_ptr, now))
        },
    )?;
    linker.func_wrap(
        module,
        "random_get",
        |mut caller: Ctx<'_>, buf: i32, len: i32| -> i32 {
            let mut bytes = vec![0u8; len.max(0) as usize];
            caller.data_mut().rng.fill_bytes(&mut bytes);
            fault(write(&mut caller, buf, &bytes))
        },
    )?;
    linker.func_wrap(
        module,
        "proc_exit",
        |_: Ctx<'_>, exit_code: i32| -> wasmtime::Result<()> {
            Err(wasmtime::format_err!(
                "proc_exit({exit_code}) called by the module"
            ))
        },
    )?;
    Ok(())
}
