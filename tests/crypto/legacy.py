"""Writers of container formats medledger no longer writes, for tests of what still reads them."""

from __future__ import annotations

from collections.abc import Sequence

from nacl.bindings import (
    crypto_secretstream_xchacha20poly1305_init_push,
    crypto_secretstream_xchacha20poly1305_push,
    crypto_secretstream_xchacha20poly1305_state,
    crypto_secretstream_xchacha20poly1305_TAG_FINAL,
)

from medledger.crypto import AccountRecipient, ContainerBinding, DataKey, ThresholdPolicy, seal
from medledger.crypto.container import (
    _FIXED_HEAD,
    _LENGTH,
    MAGIC,
    UNBOUND_THRESHOLD_VERSION,
    _associated_data,
    _encode_stanza,
    _encode_threshold_section,
    _make_threshold_section,
)

CHUNK = 4096


def version_2_container(
    plaintext: bytes, binding: ContainerBinding, recipients: Sequence[AccountRecipient], policy: ThresholdPolicy
) -> bytes:
    """A format-2 container as the code before the author binding wrote it: a threshold section,
    no author, bound without the author; one chunk (so at most CHUNK bytes of plaintext)."""
    assert len(plaintext) <= CHUNK
    binding = binding.without_author()
    key = DataKey.generate()
    section = _make_threshold_section(policy, key, binding.digest())
    state = crypto_secretstream_xchacha20poly1305_state()
    stream_header = crypto_secretstream_xchacha20poly1305_init_push(state, key.secret)
    header = b"".join(
        [
            _FIXED_HEAD.pack(
                MAGIC, UNBOUND_THRESHOLD_VERSION, CHUNK, binding.digest(), key.commitment(), len(recipients)
            ),
            *(_encode_stanza(r, seal(key.secret, r.public)) for r in recipients),
            _encode_threshold_section(section),
            stream_header,
        ]
    )
    chunk = crypto_secretstream_xchacha20poly1305_push(
        state, plaintext, _associated_data(binding, header), crypto_secretstream_xchacha20poly1305_TAG_FINAL
    )
    return header + _LENGTH.pack(len(chunk)) + chunk
