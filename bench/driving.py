"""What a benchmark does to a job inside the serving process: make one that is running
(no runner touches it) and commit progress updates to it as a runner would, timing each
commit where readers can see it (bench/commit_clock.py). Served by the stand-in
(bench/server.py) as routes and by the product's probe (bench/product_probe.py)."""

from __future__ import annotations

import threading
import time
import uuid

from bench.commit_clock import CommitClock
from bench.processes import BENCH_OWNER
from jobs_ui.models import JobKind
from jobs_ui.services import Services


class JobDriver:
    def __init__(self, services: Services) -> None:
        self._services = services
        self._clock = CommitClock(services.store)

    def new_running_job(self) -> dict[str, str]:
        """A PROCESSING job of the owner "bench" (counted against its active-job limit, as
        a created job is): its id and an access token, as the real create routes answer."""
        services, store = self._services, self._services.store
        job = store.create(
            kind=JobKind.EXPORT,
            dataset="contacts",
            owner=BENCH_OWNER,
            params={},
            quota=services.commands.quota,
        )
        store.start(job.id)
        token = services.commands.tokens.mint(job_id=job.id)
        return {"jobId": str(job.id), "accessToken": token.token}

    def finish(self, job_id: str) -> dict[str, str]:
        """End a job made by `new_running_job` as a runner ends one: COMPLETED."""
        done = self._services.store.complete(uuid.UUID(job_id), result={}, message="Done")
        return {"status": done.status.value if done is not None else "not running"}

    def drive(self, job_id: str, count: int, gap_ms: float = 5.0) -> dict[str, list[list[float]]]:
        """Commit `count` updates `gap_ms` apart from a thread of this process, as a runner
        would; [version, commit time] for each."""
        commits: list[list[float]] = []
        store = self._services.store

        def run() -> None:
            with self._clock.recording() as record:
                for number in range(count):
                    store.report_progress(uuid.UUID(job_id), progress=1, message=f"u{number}")
                    time.sleep(gap_ms / 1000)
            commits.extend(record)

        worker = threading.Thread(target=run)
        worker.start()
        worker.join()
        return {"commits": commits}
