"""The kind provider: kind's nodes as containers of podshm's own Docker engine."""

from podshm.providers.kind.provider import KindProvider

PROVIDER = KindProvider()
