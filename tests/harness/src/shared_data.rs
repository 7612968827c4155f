//! Shared key-value data (with compare-and-swap) and shared queues, common to every VM of one
//! plugin, as Envoy shares them between the VMs of one `vm_id`.

use crate::types::Status;
use std::collections::HashMap;

/// Shared key-value store and queues.
#[derive(Debug, Default)]
pub(crate) struct SharedData {
    values: HashMap<Vec<u8>, (Vec<u8>, u32)>,
    next_cas: u32,
    queues: Vec<Queue>,
    queue_by_name: HashMap<(String, Vec<u8>), u32>,
}

#[derive(Debug)]
struct Queue {
    owner_vm: u64,
    owner_context: u32,
    items: std::collections::VecDeque<Vec<u8>>,
    /// Notifications (`proxy_on_queue_ready`) not yet delivered to the owner.
    pending_ready: u32,
}

impl SharedData {
    /// Value and its CAS token.
    pub(crate) fn get(&self, key: &[u8]) -> Result<(Vec<u8>, u32), Status> {
        self.values.get(key).cloned().ok_or(Status::NotFound)
    }

    /// Sets a value. As in cpp-host's `SharedData::set`, a nonzero `cas` must equal the
    /// current token of an existing key; a missing key is inserted whatever `cas` is.
    pub(crate) fn set(&mut self, key: &[u8], value: &[u8], cas: u32) -> Result<(), Status> {
        if let Some((_, current)) = self.values.get(key) {
            if cas != 0 && *current != cas {
                return Err(Status::CasMismatch);
            }
        }
        self.next_cas = self.next_cas.wrapping_add(1).max(1);
        self.values
            .insert(key.to_vec(), (value.to_vec(), self.next_cas));
        Ok(())
    }

    /// Registers (or re-registers) a queue owned by the calling VM's root context.
    pub(crate) fn register_queue(
        &mut self,
        vm_id: &str,
        name: &[u8],
        vm: u64,
        context: u32,
    ) -> u32 {
        let key = (vm_id.to_string(), name.to_vec());
        if let Some(&token) = self.queue_by_name.get(&key) {
            if let Some(queue) = self.queues.get_mut(token as usize - 1) {
                queue.owner_vm = vm;
                queue.owner_context = context;
            }
            return token;
        }
        self.queues.push(Queue {
            owner_vm: vm,
            owner_context: context,
            items: Default::default(),
            pending_ready: 0,
        });
        let token = self.queues.len() as u32;
        self.queue_by_name.insert(key, token);
        token
    }

    /// Owners of every queue, to restore after a trial VM registered queues of its own.
    pub(crate) fn queue_owners(&self) -> Vec<(u64, u32)> {
        self.queues
            .iter()
            .map(|q| (q.owner_vm, q.owner_context))
            .collect()
    }

    /// Puts back the owners `queue_owners` returned (queues created since keep theirs).
    pub(crate) fn restore_queue_owners(&mut self, owners: &[(u64, u32)]) {
        for (queue, (vm, context)) in self.queues.iter_mut().zip(owners) {
            queue.owner_vm = *vm;
            queue.owner_context = *context;
        }
    }

    /// Finds a queue by vm id and name.
    pub(crate) fn resolve_queue(&self, vm_id: &[u8], name: &[u8]) -> Result<u32, Status> {
        let vm_id = String::from_utf8_lossy(vm_id).into_owned();
        self.queue_by_name
            .get(&(vm_id, name.to_vec()))
            .copied()
            .ok_or(Status::NotFound)
    }

    fn queue_mut(&mut self, token: u32) -> Result<&mut Queue, Status> {
        let index = (token as usize).checked_sub(1).ok_or(Status::NotFound)?;
        self.queues.get_mut(index).ok_or(Status::NotFound)
    }

    /// Appends to a queue and schedules `proxy_on_queue_ready` for its owner.
    pub(crate) fn enqueue(&mut self, token: u32, value: &[u8]) -> Result<(), Status> {
        let queue = self.queue_mut(token)?;
        queue.items.push_back(value.to_vec());
        queue.pending_ready += 1;
        Ok(())
    }

    /// Pops from a queue (`Empty` when there is nothing).
    pub(crate) fn dequeue(&mut self, token: u32) -> Result<Vec<u8>, Status> {
        self.queue_mut(token)?
            .items
            .pop_front()
            .ok_or(Status::Empty)
    }

    /// Takes the pending ready notifications for queues owned by `vm`: (context, token) pairs.
    pub(crate) fn take_ready(&mut self, vm: u64) -> Vec<(u32, u32)> {
        let mut out = Vec::new();
        for (index, queue) in self.queues.iter_mut().enumerate() {
            if queue.owner_vm == vm {
                for _ in 0..queue.pending_ready {
                    out.push((queue.owner_context, index as u32 + 1));
                }
                queue.pending_ready = 0;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cas_and_queues_behave_like_envoy() {
        let mut data = SharedData::default();
        assert_eq!(data.get(b"k"), Err(Status::NotFound));
        // A missing key is inserted even with a nonzero cas (cpp-host SharedData::set).
        assert_eq!(data.set(b"k", b"v1", 5), Ok(()));
        let (_, cas) = data.get(b"k").unwrap_or_default();
        assert_eq!(data.set(b"k", b"v2", cas + 1), Err(Status::CasMismatch));
        assert_eq!(data.set(b"k", b"v2", cas), Ok(()));
        assert_eq!(data.get(b"k").map(|(v, _)| v), Ok(b"v2".to_vec()));

        let q = data.register_queue("vm", b"q", 7, 1);
        assert_eq!(data.resolve_queue(b"vm", b"q"), Ok(q));
        assert_eq!(data.resolve_queue(b"vm", b"nope"), Err(Status::NotFound));
        assert_eq!(data.dequeue(q), Err(Status::Empty));
        assert_eq!(data.enqueue(q, b"x"), Ok(()));
        assert_eq!(data.take_ready(7), vec![(1, q)]);
        assert!(data.take_ready(7).is_empty());
        assert_eq!(data.dequeue(q), Ok(b"x".to_vec()));
        assert_eq!(data.enqueue(99, b"x"), Err(Status::NotFound));
    }
}
