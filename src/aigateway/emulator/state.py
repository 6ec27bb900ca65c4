"""Everything one emulator instance holds: config, faults, limits, stored responses, recorded requests, stats,
and the key its reasoning blobs are signed with."""

from __future__ import annotations

from dataclasses import dataclass, field

from aigateway.emulator.config import EmulatorConfig
from aigateway.emulator.faults import FaultInjector
from aigateway.emulator.limits import RateLimiter
from aigateway.emulator.recorder import RequestRecorder
from aigateway.emulator.sealing import ReasoningSealer
from aigateway.emulator.stats import Stats
from aigateway.emulator.store import ResponseStore


@dataclass
class EmulatorState:
    config: EmulatorConfig
    faults: FaultInjector = field(init=False)
    recorder: RequestRecorder = field(init=False)
    limiter: RateLimiter = field(default_factory=RateLimiter)
    stats: Stats = field(default_factory=Stats)
    store: ResponseStore = field(default_factory=ResponseStore)
    # Per instance, like an Azure resource's key: blobs from another emulator do not verify here.
    sealer: ReasoningSealer = field(default_factory=ReasoningSealer)

    def __post_init__(self) -> None:
        self.faults = FaultInjector(self.config.faults)
        self.recorder = RequestRecorder(self.config.max_recorded_requests)
