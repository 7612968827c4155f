//! Bounded copies of request and response bodies.

/// Bytes of body copies a VM may hold at once, across all requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryBudget {
    capacity: usize,
    used: usize,
}

impl MemoryBudget {
    /// A budget of `capacity` bytes.
    pub fn new(capacity: usize) -> MemoryBudget {
        MemoryBudget { capacity, used: 0 }
    }

    /// Takes `bytes` from the budget; `false` (nothing taken) when it would pass the capacity.
    pub fn try_take(&mut self, bytes: usize) -> bool {
        match self.used.checked_add(bytes) {
            Some(total) if total <= self.capacity => {
                self.used = total;
                true
            }
            _ => false,
        }
    }

    /// Gives `bytes` back.
    pub fn give_back(&mut self, bytes: usize) {
        self.used = self.used.saturating_sub(bytes);
    }

    /// Bytes currently taken.
    pub fn used(&self) -> usize {
        self.used
    }
}

/// Where a copy stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyState {
    /// Still within limits.
    Copying,
    /// The body passed the per-request limit; the copy was dropped.
    TooLarge,
    /// The VM-wide budget was exhausted; the copy was dropped.
    OverBudget,
}

/// A copy of a body, at most `limit` bytes, charged to a [`MemoryBudget`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyCopy {
    limit: usize,
    data: Vec<u8>,
    state: CopyState,
}

impl BodyCopy {
    /// An empty copy that refuses bodies over `limit` bytes.
    pub fn new(limit: usize) -> BodyCopy {
        BodyCopy {
            limit,
            data: Vec::new(),
            state: CopyState::Copying,
        }
    }

    /// Appends a chunk. When the body passes the limit or the budget, the copy is dropped (its
    /// bytes returned to the budget) and stays in that state.
    pub fn push(&mut self, chunk: &[u8], budget: &mut MemoryBudget) -> CopyState {
        if self.state != CopyState::Copying || chunk.is_empty() {
            return self.state;
        }
        let fits = self
            .data
            .len()
            .checked_add(chunk.len())
            .is_some_and(|n| n <= self.limit);
        if !fits {
            self.abandon(CopyState::TooLarge, budget);
        } else if !budget.try_take(chunk.len()) {
            self.abandon(CopyState::OverBudget, budget);
        } else {
            self.data.extend_from_slice(chunk);
        }
        self.state
    }

    fn abandon(&mut self, state: CopyState, budget: &mut MemoryBudget) {
        budget.give_back(self.data.len());
        self.data = Vec::new();
        self.state = state;
    }

    /// Current state.
    pub fn state(&self) -> CopyState {
        self.state
    }

    /// The bytes copied so far.
    pub fn bytes(&self) -> &[u8] {
        &self.data
    }

    /// Releases the copy: returns its bytes to the budget and hands them over.
    pub fn release(&mut self, budget: &mut MemoryBudget) -> Vec<u8> {
        budget.give_back(self.data.len());
        std::mem::take(&mut self.data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_until_the_limit_then_skips() {
        let mut budget = MemoryBudget::new(1_000);
        let mut copy = BodyCopy::new(10);
        assert_eq!(copy.push(b"hello", &mut budget), CopyState::Copying);
        assert_eq!(copy.push(b"world", &mut budget), CopyState::Copying);
        assert_eq!(copy.bytes(), b"helloworld");
        assert_eq!(budget.used(), 10);
        assert_eq!(copy.push(b"!", &mut budget), CopyState::TooLarge);
        assert_eq!(budget.used(), 0);
        assert_eq!(copy.push(b"x", &mut budget), CopyState::TooLarge);
        assert!(copy.bytes().is_empty());
    }

    #[test]
    fn the_budget_bounds_all_copies_together() {
        let mut budget = MemoryBudget::new(8);
        let mut a = BodyCopy::new(100);
        let mut b = BodyCopy::new(100);
        assert_eq!(a.push(b"12345", &mut budget), CopyState::Copying);
        assert_eq!(b.push(b"12345", &mut budget), CopyState::OverBudget);
        assert_eq!(a.release(&mut budget), b"12345".to_vec());
        assert_eq!(budget.used(), 0);
    }
}
