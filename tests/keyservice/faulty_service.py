"""A deliberately faulty key-release service, for the wrong-share test: the real server and every
real check, but the share it releases has one bit flipped, as a buggy or dishonest service would.

Run as: python faulty_service.py CONFIG.toml (the service key comes from the config, as for serve).
"""

from __future__ import annotations

import sys

from medledger.crypto.container import ContainerHeader
from medledger.crypto.shares import KeyShare
from medledger.keyservice.config import load_config
from medledger.keyservice.server import serve
from medledger.keyservice.service import ReleaseService


class FaultyService(ReleaseService):
    def _share_for(self, header: ContainerHeader, index: int) -> KeyShare:
        share = super()._share_for(header, index)
        return KeyShare(share.index, bytes([share.value[0] ^ 1]) + share.value[1:])


if __name__ == "__main__":
    config = load_config(sys.argv[1])
    serve(config, service=FaultyService(config))
