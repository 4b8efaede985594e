"""The Clearway gateway service: API, pipeline steps, store, worker, CLI (the imperative shell)."""
