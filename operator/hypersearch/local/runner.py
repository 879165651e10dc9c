"""The local executor: the engine's actions applied to subprocesses on this machine.

The same loop as :mod:`hypersearch.replay`, with real processes: start trials on free local
ports, scrape them, feed the engine, stop losers, and turn crashes, silent endpoints and hangs
into failed trials with a reason a person can read.
"""

from __future__ import annotations

import asyncio
import dataclasses
import signal
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from hypersearch.engine import (
    Finish,
    ReuseRun,
    Search,
    StartTrial,
    StopTrial,
    TrialState,
)
from hypersearch.engine.actions import Action
from hypersearch.engine.history import Search as HistorySearch
from hypersearch.engine.planner import run_params, trial_env
from hypersearch.local.command import build_command
from hypersearch.local.devices import cpu_count, cuda_devices
from hypersearch.local.launch import free_port, process_env
from hypersearch.local.process import TrialProcess
from hypersearch.local.progress import Display, Event
from hypersearch.local.state import (
    RUNNER_STATE_VERSION,
    STATE_FILE,
    digest_matches,
    load_state,
    spec_digest,
    write_json_atomic,
)
from hypersearch.monitor import HealthPolicy, Monitor, Round
from hypersearch.report import write_results
from hypersearch.scrape import SumCountState, metrics_url
from hypersearch.spec.model import SearchSpec

EXIT_OK, EXIT_FAILED, EXIT_INTERRUPTED = 0, 1, 130


class RunError(Exception):
    """The run cannot start (state directory conflicts, spec changed under --resume)."""


@dataclass
class RunOptions:
    state_dir: Path
    parallel: int | None = None
    resume: bool = False
    interval: float | None = None  # scrape interval; default the spec's metrics.intervalSeconds
    # Given on the command line, these override spec.deadlines (startupSeconds, progressSeconds).
    startup_timeout: float | None = None  # a metrics endpoint that never answers fails the trial
    hang_timeout: float | None = None  # no new position or examples for this long fails it
    stop_grace: float = 10.0  # seconds between SIGTERM and SIGKILL
    progress: bool = True
    report: bool = True


@dataclass
class _Live:
    """One trial process (its scrape and health bookkeeping is the monitor's TrialWatch)."""

    trial: int
    process: TrialProcess
    url: str
    device: str | None
    # Compute of the trial's earlier processes (before a resume), added to this one's rusage.
    cpu_base: float = 0.0
    gpu_base: float = 0.0


class LocalRunner:
    """Runs one search to its end (or to Ctrl-C) and writes the results directory."""

    def __init__(
        self,
        spec: SearchSpec,
        options: RunOptions,
        manifest: str = "",
        history: dict[str, HistorySearch] | None = None,
    ) -> None:
        self.options = options
        self.history = dict(history or {})  # spec.stage1.history, read and checked
        self.devices = cuda_devices()
        parallel = options.parallel or (len(self.devices) or spec.parallelism)
        self.spec = dataclasses.replace(
            spec, parallelism=parallel, stage2_parallelism=min(spec.stage2_parallelism, parallel)
        )
        self.threads = max(1, cpu_count() // parallel) if not self.devices else 0
        self.manifest = manifest
        self.dir = options.state_dir
        self.interval = options.interval or spec.metrics.interval_seconds
        self.live: dict[int, _Live] = {}
        self.stopping: dict[int, _Live] = {}
        self.meta: dict[str, dict[str, Any]] = {}
        self.events: list[Event] = []
        self.elapsed_before = 0.0
        self.t0 = time.monotonic()
        # When the search started (kept across resumes): orders it among earlier searches.
        self.started_at = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        self.interrupted = False
        self._sumcount: dict[int, SumCountState] = {}  # saved ``sumcount`` states (resume)
        self.search = self._load()
        self.monitor = Monitor(self.spec)
        self.monitor.resumed = self._sumcount
        health = HealthPolicy().with_spec(spec.deadlines, spec.metrics.max_failures)
        if options.startup_timeout is not None:
            health = dataclasses.replace(health, startup_seconds=options.startup_timeout)
        if options.hang_timeout is not None:
            health = dataclasses.replace(health, progress_seconds=options.hang_timeout)
        self.health = health
        self.display = Display(self, enabled=options.progress)

    # ----------------------------------------------------------------- state

    def _load(self) -> Search:
        saved = load_state(self.dir)  # StateFileError names a corrupt file
        if saved is None:
            return Search(self.spec, self.history)
        if not self.options.resume:
            raise RunError(
                f"{self.dir} already holds a search; continue it with --resume, "
                "or choose another --state-dir"
            )
        if not digest_matches(saved.get("specDigest"), self.spec):
            raise RunError(
                f"{self.dir} holds a search of a different spec; --resume needs the same manifest"
            )
        try:
            self.meta = dict(saved.get("trials", {}))
            self.events = [Event(*e) for e in saved.get("events", [])]
            self.elapsed_before = float(saved.get("elapsedSeconds", 0.0))
            self.started_at = str(saved.get("startedAt") or self.started_at)
            # Counter readings of ``sumcount`` trials at their last boundary: no hole on resume.
            for tid, raw in (saved.get("sumcount") or {}).items():
                state = SumCountState.from_dict(raw)
                if state.boundary is not None:
                    self._sumcount[int(tid)] = state
            return Search.from_state(self.spec, saved["engine"], self.history)
        except (KeyError, TypeError, ValueError) as e:
            raise RunError(
                f"{self.dir / STATE_FILE}: not a state this version can resume "
                f"({type(e).__name__}: {str(e)[:200]}); choose another --state-dir"
            ) from e

    def elapsed(self) -> float:
        return self.elapsed_before + time.monotonic() - self.t0

    def save(self) -> None:
        write_json_atomic(
            self.dir / STATE_FILE,
            {
                "version": RUNNER_STATE_VERSION,
                "manifest": self.manifest,
                "specDigest": spec_digest(self.spec),
                "elapsedSeconds": round(self.elapsed(), 3),
                "startedAt": self.started_at,
                "engine": self.search.to_state(),
                "trials": self.meta,
                "events": [dataclasses.astuple(e) for e in self.events[-1000:]],
                "sumcount": {
                    str(t.id): state
                    for t in self.search.trials
                    if t.state is TrialState.RUNNING
                    and (state := self.monitor.sumcount(t.id, t.windows.keys())) is not None
                },
            },
            indent=None,  # written after every change: compact keeps it cheap
        )

    def _event(self, trial: str, kind: str, text: str) -> None:
        ev = Event(round(self.elapsed(), 2), trial, kind, text)
        self.events.append(ev)
        self.display.event(ev)

    # ----------------------------------------------------------------- processes

    def _pick_device(self) -> str | None:
        if not self.devices:
            return None
        load = {d: 0 for d in self.devices}
        for lv in self.live.values():
            if lv.device is not None:
                load[lv.device] = load.get(lv.device, 0) + 1
        return min(self.devices, key=lambda d: load[d])

    def _spawn(self, trial_id: int, protocol_env: dict[str, str]) -> None:
        trial = self.search.trials[trial_id]
        tdir = (self.dir / "trials" / trial.name).resolve()
        command = build_command(self.spec, run_params(self.spec, trial).params)
        port = free_port()
        device = self._pick_device()
        env = process_env(command, protocol_env, port, tdir, self.interval, device, self.threads)
        proc = TrialProcess(command.argv, env, tdir / "log.txt", command.cwd)
        measured = trial.compute_source == "rusage"
        url = metrics_url("127.0.0.1", port, self.spec.metrics.path)
        self.monitor.watch(trial_id, url)
        self.live[trial_id] = _Live(
            trial_id,
            proc,
            url,
            device,
            cpu_base=(trial.cpu_seconds or 0.0) if measured else 0.0,
            gpu_base=(trial.gpu_seconds or 0.0) if measured else 0.0,
        )
        info = self.meta.setdefault(trial.name, {})
        info.update(
            {
                "log": str(tdir / "log.txt"),
                "command": command.describe(),
                "device": device,
                "pid": proc.pid,
                "starts": int(info.get("starts", 0)) + 1,
                "startedAt": info.get("startedAt", round(self.elapsed(), 2)),
            }
        )

    def _stop(self, trial_id: int) -> None:
        self.monitor.forget(trial_id)
        lv = self.live.pop(trial_id, None)
        if lv is not None:
            lv.process.terminate()
            self.stopping[trial_id] = lv

    def _measure(self, lv: _Live) -> None:
        """The process's own CPU time (and GPU wall time on a device), for trainers without
        compute counters; the engine keeps the trainer's counters when it has them."""
        cpu = lv.process.cpu_seconds()
        if cpu is None:
            return
        gpu = lv.process.wall_seconds() if lv.device is not None else 0.0
        self.search.record_compute(lv.trial, lv.cpu_base + cpu, lv.gpu_base + gpu, "rusage")

    def _ended(self, trial_id: int, code: int | None) -> None:
        info = self.meta.setdefault(self.search.trials[trial_id].name, {})
        info["endedAt"] = round(self.elapsed(), 2)
        info["exitCode"] = code

    # ----------------------------------------------------------------- engine actions

    def apply(self, actions: list[Action]) -> None:
        for a in actions:
            if isinstance(a, StartTrial):
                self._event(a.name, "start", f"stage {a.stage}: {_params(a.params)}")
                try:
                    self._spawn(a.trial, a.env)
                except (OSError, ValueError) as e:
                    self.apply(self.search.finished(a.trial, False, f"could not start: {e}"))
                    self._event(a.name, "failed", f"could not start: {e}")
            elif isinstance(a, StopTrial):
                self._stop(a.trial)
                t = self.search.trials[a.trial]
                self.meta.setdefault(a.name, {})["stopPosition"] = t.position
                self._event(a.name, "failed" if a.failed else "stopped", a.reason)
            elif isinstance(a, ReuseRun):
                self._event(a.name, "reused", a.reason)  # nothing to run
            elif isinstance(a, Finish):
                self._event("", "finish", a.reason)
        if actions:
            self.save()

    def _fail(self, lv: _Live, reason: str) -> None:
        name = self.search.trials[lv.trial].name
        self._stop(lv.trial)
        self._event(name, "failed", reason)
        self.apply(self.search.finished(lv.trial, False, reason))
        self.save()

    # ----------------------------------------------------------------- one tick

    def _take(self, rnd: Round) -> None:
        """One scrape round into the engine: one batched call, as in the operator and replay."""
        for tid, served in rnd.reports.items():
            if served.cpu_seconds is None and tid in self.live:
                self._measure(self.live[tid])  # no compute counters: the process's own rusage
        for tid, why in rnd.broken:
            if tid in self.live:
                self._fail(self.live[tid], why)
        reports = {t: r for t, r in rnd.reports.items() if t in self.live}
        before = [self._progress(t) for t in reports]
        if reports:
            self.apply(self.search.observe_all(reports))
        if [self._progress(t) for t in reports] != before:
            self.save()
        for tid in rnd.done:
            if tid in self.live:
                self.live[tid].process.terminate()  # it lingers to be scraped; nothing left to do

    def _progress(self, trial_id: int) -> tuple[str, float, float, int]:
        t = self.search.trials[trial_id]
        return t.state.value, t.position, t.examples, len(t.windows)

    def _check_exits(self) -> None:
        for tid, lv in list(self.live.items()):
            if tid not in self.live:
                continue  # stopped by an earlier trial's ending (e.g. the search failed)
            code = lv.process.poll()
            if code is None:
                continue
            del self.live[tid]
            self.monitor.forget(tid)
            self._measure(lv)  # exact: the rusage of the reaped process
            self._ended(tid, code)
            name = self.search.trials[tid].name
            if code == 0:
                self._event(name, "done", "exited normally")
                self.apply(self.search.finished(tid, True))
            else:
                why = _exit_reason(code, lv.process.log_tail())
                self._event(name, "failed", why)
                self.apply(self.search.finished(tid, False, why))
            self.save()
        for tid, stopped in list(self.stopping.items()):
            stopped.process.escalate(self.options.stop_grace)
            code = stopped.process.poll()
            if code is not None:
                del self.stopping[tid]
                self._measure(stopped)
                self._ended(tid, code)
                self.save()

    def _check_health(self) -> None:
        now = time.monotonic()
        for tid, lv in list(self.live.items()):
            if tid not in self.live:
                continue  # stopped by an earlier failure in this pass
            watch = self.monitor.watches.get(tid)
            why = watch and self.health.verdict(watch, now, self.spec.window_name)
            if why:
                self._fail(lv, why)

    # ----------------------------------------------------------------- main loop

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._interrupt)
        try:
            # Trials that were running when the runner went away restart from their checkpoints.
            for t in self.search.trials:
                if t.state is TrialState.RUNNING and self.search.phase == "Running":
                    self._event(t.name, "restart", "resuming from its checkpoint directory")
                    self._spawn(t.id, trial_env(self.spec, t))
            self.save()
            async with aiohttp.ClientSession() as session:
                while self.search.phase == "Running" and not self.interrupted:
                    self.apply(self.search.step())
                    if self.search.phase != "Running":
                        break
                    rnd = await self.monitor.scrape(session, list(self.live))
                    self._take(rnd)
                    self._check_exits()
                    self._check_health()
                    self.display.refresh()
                    await self._sleep(self.interval)
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)

    async def _sleep(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while not self.interrupted and time.monotonic() < end:
            await asyncio.sleep(min(0.1, end - time.monotonic()))

    def _interrupt(self) -> None:
        self.interrupted = True

    def _shutdown(self) -> None:
        """Stop every process we started (SIGTERM, grace, SIGKILL) and wait for each."""
        procs = {**self.stopping, **self.live}
        for lv in procs.values():
            lv.process.terminate()
        for tid, lv in procs.items():
            code = lv.process.kill_and_wait(self.options.stop_grace)
            self._measure(lv)
            if self.search.trials[tid].state is not TrialState.RUNNING:
                self._ended(tid, code)
        self.live.clear()
        self.stopping.clear()

    def run(self) -> int:
        """Run to the end; returns 0 (succeeded), 1 (failed) or 130 (interrupted)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        try:
            with self.display:
                asyncio.run(self._loop())
        finally:
            self._shutdown()
            self.save()
        if self.interrupted and self.search.phase == "Running":
            self.display.say(
                f"interrupted; continue with: hypersearch run {self.manifest or 'SEARCH.yaml'} "
                f"--state-dir {self.dir} --resume"
            )
            return EXIT_INTERRUPTED
        if self.options.report:
            write_results(self.dir, self.results())
        return EXIT_OK if self.search.phase == "Succeeded" else EXIT_FAILED

    def results(self) -> dict[str, Any]:
        from hypersearch.report.results import build_results

        return build_results(
            self.search,
            self.meta,
            self.events,
            self.elapsed(),
            self.manifest,
            started_at=self.started_at,
        )


def _params(params: dict[str, Any]) -> str:
    return " ".join(f"{k}={_short(v)}" for k, v in params.items())


def _short(v: Any) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def _exit_reason(code: int, tail: str) -> str:
    if code < 0:
        try:
            what = f"killed by {signal.Signals(-code).name}"
        except ValueError:
            what = f"killed by signal {-code}"
    else:
        what = f"crashed: exit code {code}"
    return f"{what}; last output: {tail}" if tail else what


__all__ = ["EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_OK", "LocalRunner", "RunError", "RunOptions"]
