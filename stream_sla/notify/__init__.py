"""Reminders and escalations out: routing, pacing (quiet hours, digests), strikes, channels.

The decisions (who, when, how often, when a strike is due) are pure functions of their
inputs with ``now`` as a parameter (``routing``, ``pacing``, ``strikes``, ``message``);
the channels (one module each) and the Faust app (``app``) do the I/O.
"""
