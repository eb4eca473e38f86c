"""The plate-pool service: Number-plate pre-selection: segments, pools, holds and the allocation ledger."""
