//! Guest memory access with bounds checks, and returning host data to the guest through its
//! allocator (`proxy_on_memory_allocate`, else `malloc`), as Envoy does.
//!
//! Like Envoy, an out-of-bounds pointer makes the host call return `InvalidMemoryAccess`
//! (the Rust SDK turns that into a panic, i.e. a trap); the host never reads or writes
//! outside the guest's linear memory.

use super::HostState;
use crate::types::Status;
use wasmtime::Caller;

/// Result of a host-call step: `Err(status)` is returned to the guest as-is.
pub(crate) type Abi<T> = Result<T, Status>;

fn range(ptr: i32, len: i32, memory_len: usize) -> Abi<std::ops::Range<usize>> {
    let start = ptr as u32 as usize;
    let end = start
        .checked_add(len as u32 as usize)
        .ok_or(Status::InvalidMemoryAccess)?;
    if end > memory_len {
        return Err(Status::InvalidMemoryAccess);
    }
    Ok(start..end)
}

/// Copies `len` bytes at `ptr` out of guest memory.
pub(crate) fn read(caller: &Caller<'_, HostState>, ptr: i32, len: i32) -> Abi<Vec<u8>> {
    let memory = caller.data().memory.ok_or(Status::InvalidMemoryAccess)?;
    let data = memory.data(caller);
    Ok(data[range(ptr, len, data.len())?].to_vec())
}

/// Reads a string (lossy UTF-8).
pub(crate) fn read_string(caller: &Caller<'_, HostState>, ptr: i32, len: i32) -> Abi<String> {
    read(caller, ptr, len).map(|b| String::from_utf8_lossy(&b).into_owned())
}

/// Writes bytes at `ptr`.
pub(crate) fn write(caller: &mut Caller<'_, HostState>, ptr: i32, bytes: &[u8]) -> Abi<()> {
    let memory = caller.data().memory.ok_or(Status::InvalidMemoryAccess)?;
    let data = memory.data_mut(&mut *caller);
    let r = range(ptr, bytes.len() as i32, data.len())?;
    data[r].copy_from_slice(bytes);
    Ok(())
}

/// Writes a little-endian u32 (a wasm32 pointer or size).
pub(crate) fn write_u32(caller: &mut Caller<'_, HostState>, ptr: i32, value: u32) -> Abi<()> {
    write(caller, ptr, &value.to_le_bytes())
}

/// Writes a little-endian u64.
pub(crate) fn write_u64(caller: &mut Caller<'_, HostState>, ptr: i32, value: u64) -> Abi<()> {
    write(caller, ptr, &value.to_le_bytes())
}

/// Allocates `bytes.len()` bytes in the guest, copies `bytes` there and stores the pointer and
/// size at `ptr_ptr`/`size_ptr`. Empty data yields a null pointer and size 0, as in Envoy.
/// The outer `Err` is a trap from the guest allocator.
pub(crate) fn copy_out(
    caller: &mut Caller<'_, HostState>,
    bytes: &[u8],
    ptr_ptr: i32,
    size_ptr: i32,
) -> wasmtime::Result<Abi<()>> {
    let mut address = 0u32;
    if !bytes.is_empty() {
        let Some(alloc) = caller.data().allocator.clone() else {
            return Ok(Err(Status::InvalidMemoryAccess));
        };
        address = alloc.call(&mut *caller, bytes.len() as i32)? as u32;
        if address == 0 {
            return Ok(Err(Status::InvalidMemoryAccess));
        }
        if let Err(status) = write(caller, address as i32, bytes) {
            return Ok(Err(status));
        }
    }
    Ok(write_u32(caller, ptr_ptr, address)
        .and_then(|()| write_u32(caller, size_ptr, bytes.len() as u32)))
}

/// Flattens a host-call result into the status code returned to the guest.
pub(crate) fn code(result: Abi<()>) -> i32 {
    match result {
        Ok(()) => Status::Ok.code(),
        Err(status) => status.code(),
    }
}
