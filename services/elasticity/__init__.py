"""Elasticity: the ONE scaling policy (`policy`), the local supervisor that applies it to worker
processes (`supervisor`), and the rendering of the same policy for the cloud lives in `infra/`."""
