"""``ContextWatcher``: reload a context file within about a second of its edit.

Operating-system notifications (watchdog, through ``sensors.change_notifier``) wake the
watcher as soon as something changes in a folder holding a context file; without them
(an exhausted inotify limit, a network file system) it checks the files' signatures every
``poll_interval`` seconds anyway, so notifications only make it faster.

A changed file is read only once its signature has stayed the same for ``settle``
seconds, so an editor or an export job that writes in several steps is not caught half
way (and a file still changing while read is read again, see ``Context.reload``). A
version that is rejected is not retried until the file changes again.

``poll()`` does one round of this on the caller's thread: ``phiwatch replay`` and the
tests can use it without starting the thread.
"""

from __future__ import annotations

import logging
import threading
import time

from sensors.change_notifier import ChangeNotifier
from sensors.context.context import Context, Signature, signature

log = logging.getLogger(__name__)

#: Seconds a changed file's signature must stay the same before it is read.
DEFAULT_SETTLE_SECONDS = 0.2


class ContextWatcher:
    """Keeps a ``Context`` in step with its files, on a thread of its own once started."""

    def __init__(self, context: Context, poll_interval: float | None = None,
                 settle: float = DEFAULT_SETTLE_SECONDS) -> None:
        self.context = context
        self.poll_interval = (poll_interval if poll_interval is not None
                              else context.config.poll_interval_seconds)
        self.settle = settle
        self._pending: dict[str, tuple[Signature | None, float]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._notifier: ChangeNotifier | None = None

    def start(self) -> None:
        """Load what has not been loaded yet and start watching on a daemon thread."""
        if self._thread is not None:
            return
        for kind, st in self.context.status.items():
            if st.attempted is None and st.loaded_at is None:
                self.context.reload(kind)
        folders = {st.path.parent for st in self.context.status.values()}
        self._notifier = ChangeNotifier(sorted(folders))
        self._notifier.start()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="phiwatch-context", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop watching; the context keeps the versions in force."""
        self._stop.set()
        if self._notifier is not None:
            self._notifier.wake()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        if self._notifier is not None:
            self._notifier.stop()
            self._notifier = None

    def poll(self) -> list[str]:
        """Reload the files that changed and have settled; the kinds that were read."""
        with self._lock:
            now = time.monotonic()
            read: list[str] = []
            changed = self.context.changed()
            for kind in list(self._pending):
                if kind not in changed:
                    del self._pending[kind]
            for kind in changed:
                sig = signature(self.context.status[kind].path)
                seen = self._pending.get(kind)
                if seen is None or seen[0] != sig:
                    self._pending[kind] = seen = (sig, now)
                if now - seen[1] < self.settle:
                    continue
                del self._pending[kind]
                self.context.reload(kind)
                read.append(kind)
            return read

    def _run(self) -> None:
        notifier = self._notifier
        assert notifier is not None
        while not self._stop.is_set():
            try:
                self.poll()
            except Exception:  # a bug here must not silently end watching
                log.exception("context watcher: poll failed; trying again")
            wait = self.settle if self._pending else self.poll_interval
            notifier.wait(max(wait, 0.01))
