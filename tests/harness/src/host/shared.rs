//! Shared data (`proxy_get_shared_data`, `proxy_set_shared_data` with CAS) and shared queues
//! (`proxy_register_shared_queue`, `proxy_resolve_shared_queue`, `proxy_enqueue_shared_queue`,
//! `proxy_dequeue_shared_queue`).

use super::memory::{code, copy_out, read, write_u32};
use super::HostState;
use wasmtime::{Caller, Linker};

type Ctx<'a> = Caller<'a, HostState>;

pub(super) fn register(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.func_wrap(
        "env",
        "proxy_get_shared_data",
        |mut caller: Ctx<'_>,
         key_ptr: i32,
         key_size: i32,
         ptr_ptr: i32,
         size_ptr: i32,
         cas_ptr: i32|
         -> wasmtime::Result<i32> {
            let key = abi_try!(read(&caller, key_ptr, key_size));
            let (value, cas) = abi_try!(caller.data().shared.data().get(&key));
            abi_try!(copy_out(&mut caller, &value, ptr_ptr, size_ptr)?);
            Ok(code(write_u32(&mut caller, cas_ptr, cas)))
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_set_shared_data",
        |caller: Ctx<'_>,
         key_ptr: i32,
         key_size: i32,
         value_ptr: i32,
         value_size: i32,
         cas: i32|
         -> wasmtime::Result<i32> {
            let key = abi_try!(read(&caller, key_ptr, key_size));
            let value = abi_try!(read(&caller, value_ptr, value_size));
            Ok(code(
                caller.data().shared.data().set(&key, &value, cas as u32),
            ))
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_register_shared_queue",
        |mut caller: Ctx<'_>,
         name_ptr: i32,
         name_size: i32,
         token_ptr: i32|
         -> wasmtime::Result<i32> {
            let name = abi_try!(read(&caller, name_ptr, name_size));
            let state = caller.data();
            let token = state.shared.data().register_queue(
                &state.options.vm_id,
                &name,
                state.vm_key,
                state.root_of(state.target_context()),
            );
            Ok(code(write_u32(&mut caller, token_ptr, token)))
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_resolve_shared_queue",
        |mut caller: Ctx<'_>,
         vm_ptr: i32,
         vm_size: i32,
         name_ptr: i32,
         name_size: i32,
         token_ptr: i32|
         -> wasmtime::Result<i32> {
            let vm_id = abi_try!(read(&caller, vm_ptr, vm_size));
            let name = abi_try!(read(&caller, name_ptr, name_size));
            let token = abi_try!(caller.data().shared.data().resolve_queue(&vm_id, &name));
            Ok(code(write_u32(&mut caller, token_ptr, token)))
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_enqueue_shared_queue",
        |caller: Ctx<'_>, token: i32, data_ptr: i32, data_size: i32| -> wasmtime::Result<i32> {
            let data = abi_try!(read(&caller, data_ptr, data_size));
            Ok(code(
                caller.data().shared.data().enqueue(token as u32, &data),
            ))
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_dequeue_shared_queue",
        |mut caller: Ctx<'_>, token: i32, ptr_ptr: i32, size_ptr: i32| -> wasmtime::Result<i32> {
            let value = abi_try!(caller.data().shared.data().dequeue(token as u32));
            Ok(code(copy_out(&mut caller, &value, ptr_ptr, size_ptr)?))
        },
    )?;
    Ok(())
}
