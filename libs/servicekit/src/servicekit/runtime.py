"""The resources one process of a service holds, built once at start-up by its composition root
(main.py for the api, worker.py for the worker) and closed at shutdown.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from servicekit import crypto
from servicekit.clock import Clock, clock_for
from servicekit.db import create_engine, sessionmaker
from servicekit.settings import ServiceSettings
from servicekit.uow import UnitOfWork


@dataclass
class Runtime:
    settings: ServiceSettings
    metadata: MetaData
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    redis: Redis
    clock: Clock

    @classmethod
    def open(
        cls,
        settings: ServiceSettings,
        metadata: MetaData,
        clock: Clock | None = None,
    ) -> Runtime:
        crypto.install(settings.data_keys())  # the sealed columns' keys (ADR 0095)
        engine = create_engine(settings.database)
        redis = Redis.from_url(
            settings.redis.url,
            socket_connect_timeout=settings.redis.connect_timeout_s,
            socket_timeout=settings.redis.timeout_s,
        )
        return cls(
            settings=settings,
            metadata=metadata,
            engine=engine,
            sessions=sessionmaker(engine),
            redis=redis,
            clock=clock or clock_for(settings.is_test_env, redis),
        )

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.sessions, self.metadata, self.clock, runtime=self)

    async def aclose(self) -> None:
        await self.engine.dispose()
        await self.redis.aclose()
