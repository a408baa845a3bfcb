"""Durable Celery work: what is committed is announced, and what a lost worker held is re-run.

Every unit of background work (a valuation chunk, a dataset's screening, a task's insights)
is a :class:`~work.models.Unit` row written in the same transaction as the work it names,
so committing the work and announcing it cannot diverge: the message is sent once the
transaction commits, and if the broker is down then, the periodic sweep sends it when the
broker is back. A running unit holds a lease that its worker's heartbeat keeps ahead; the
sweep re-sends a unit whose lease ran out (its worker died), and one whose message the broker
lost. A unit that keeps failing ends in the caller's failed state instead of looping.

This app imports nothing of ours but ``config``; ``valuation`` and ``marketplace`` use it.
"""
