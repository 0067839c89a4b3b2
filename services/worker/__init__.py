"""Worker: poll, fetch, classify, store, reply, delete."""
