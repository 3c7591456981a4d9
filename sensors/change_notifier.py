"""Wakes the read loop as soon as a watched directory changes, so alerts come within a second.

watchdog delivers the operating system's notifications (inotify on Linux). Notifications
can be unavailable (an exhausted inotify limit, a network file system), so the loop never
relies on them alone: ``wait`` always returns after its timeout, which makes polling the
fallback rather than a separate mode.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

log = logging.getLogger(__name__)


#: Notifications that say a file was only read. Reacting to them made a loop: reloading
#: the rules reads every rule file, and each read woke the reloader again.
READS = frozenset({"opened", "closed_no_write"})


class _Wake(FileSystemEventHandler):
    def __init__(self, notifier: ChangeNotifier) -> None:
        self._notifier = notifier

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in READS:
            return
        if event.event_type in ("created", "moved", "deleted"):
            self._notifier.files_changed = True  # a scan for new or rotated files is due
        self._notifier._flag.set()


class ChangeNotifier:
    """Sets a flag whenever anything changes under the watched directories."""

    def __init__(self, dirs: Iterable[Path]) -> None:
        self.dirs = [d for d in dirs]
        self._flag = threading.Event()
        self._observer: Observer | None = None  # type: ignore[valid-type]
        self.polling = True
        #: Set when a file was created, moved or deleted; the loop clears it after scanning.
        self.files_changed = False

    def start(self) -> None:
        """Start notifications where possible; directories that don't exist yet are polled."""
        observer = Observer()
        handler = _Wake(self)
        watched = 0
        for d in self.dirs:
            if d.is_dir():
                observer.schedule(handler, str(d), recursive=True)
                watched += 1
        if not watched:
            log.info("no watched directory exists yet; polling")
            return
        try:
            observer.start()
        except OSError as e:
            log.warning("file notifications unavailable (%s); polling instead", e)
            return
        self._observer = observer
        self.polling = False

    def wait(self, timeout: float) -> bool:
        """Block until something changed or ``timeout`` passed; whether something changed."""
        fired = self._flag.wait(timeout)
        self._flag.clear()
        return fired

    def wake(self) -> None:
        """Wake a waiting loop (used on shutdown)."""
        self._flag.set()

    def stop(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
            self._observer = None
