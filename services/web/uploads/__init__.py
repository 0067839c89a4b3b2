"""What happens to an upload: form parsing, the safe write order, idempotency keys, the orphan sweep."""
