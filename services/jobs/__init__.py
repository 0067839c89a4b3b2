"""Batch jobs: a folder or bucket prefix in, JSON Lines shards out (ARCHITECTURE.md, section 1).

The web tier plans a job into chunk messages on the job queue (`planner`), the workers drain that
queue after interactive requests and write one shard per chunk (`services/worker/chunks.py`, through the
worker's one classify core), and the web tier's
monitor finishes the job: a manifest with the counts, then the signed webhook (`monitor`,
`webhook`). Every object lives in the output bucket under `store`'s keys.
"""
