"""Webhooks: a principal's endpoints told of its jobs' ends (and progress), signed, durably.

A job's final state and the deliveries it owes are written in one transaction (`outbox`);
a delivery loop (`loop`), run beside the jobs by the in-process runner or by each Celery
worker, claims them one endpoint at a time (`queue`, which ends what must never be sent: `upkeep`)
and POSTs them to an address checked to be public (`targets`, its lookups bounded in time on
threads of their own: `resolver`; `sender`), retrying on a growing schedule (`schedule`).
"""
