"""The pipeline: the worker, the job kinds and the step that handles each (scrub, batch, submit,
poll, apply, deliver), and what they write for submitters (our 277CAs, forwarded answers)."""
