"""Adapters behind the blob-store and message-queue ports: local (files + SQLite) and aws (S3 + SQS)."""
