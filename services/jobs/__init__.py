"""Batch jobs: a folder or bucket prefix in, JSON Lines shards out (ARCHITECTURE.md, section 1).

The web tier creates a job (`creation`) and plans it into chunk messages on the job queue
(`planner`); the workers drain that queue after interactive requests and write one shard per
chunk (`services/worker/chunks.py`, through the worker's one classify core); the web tier's
monitor keeps the progress and finishes the job: a manifest with the counts, then the signed
webhook (`monitor`, `webhook`, `webhook_target`). Every change of a job's record goes through
`lifecycle`, its one owner. Every object lives in the output bucket under `store`'s keys.
"""
