"""Schemathesis hooks for scripts/api-check.sh: bodies of the two binary media types the
generator cannot make up on its own. A sync body is CBOR compressed with zstd: random bytes and
zstd frames of random content, which the server must refuse with a clear 400, never a 5xx; a tus
part is any bytes."""
from hypothesis import strategies as st
import schemathesis

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"

schemathesis.openapi.media_type(
    "application/vnd.fieldline.sync+cbor+zstd",
    st.one_of(st.binary(max_size=2048), st.binary(max_size=2048).map(lambda b: ZSTD_MAGIC + b)),
)
schemathesis.openapi.media_type("application/offset+octet-stream", st.binary(max_size=4096))
