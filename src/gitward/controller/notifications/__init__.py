"""Notifications and commit statuses (SPEC §14): Alerts route the controller's notices to Providers.

matching   which Alerts a notice matches, de-duplication, rate limit, backoff (pure)
payloads   the HTTP request of each Provider type, forge API URLs (pure)
delivery   one HTTP delivery with timeouts and a same-origin redirect rule
engine     `Notifier`: the intake the Event recorder feeds, queues per Provider, status, metrics
"""

from gitward.controller.notifications.engine import Notifier, Settings

__all__ = ["Notifier", "Settings"]
