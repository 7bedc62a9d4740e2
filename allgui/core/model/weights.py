"""ImageNet weights from timm's model hub, without a minute of retries offline.

Asked for weights it cannot reach, the hub library retries each candidate
file five times with growing pauses (about 50 s for a backbone) and prints
every retry. A short connection test first tells whether the hub can answer
at all; when it cannot, the hub library is asked for its local cache only,
so weights fetched on an earlier online day still load and a clinic without
internet gets the plain message at once.
"""

from __future__ import annotations

import os
import socket
from urllib.parse import urlparse

DEFAULT_ENDPOINT = "https://huggingface.co"
PROBE_TIMEOUT_S = 5.0
_PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")


def hub_reachable(timeout_s: float = PROBE_TIMEOUT_S) -> bool:
    """Whether a TCP connection to the hub (or ``HF_ENDPOINT``, a mirror)
    opens within ``timeout_s``. Behind a proxy a direct connection says
    nothing, so the answer is then yes and the hub library decides."""
    if any(os.environ.get(v) for v in _PROXY_VARIABLES):
        return True
    url = urlparse(os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT)
    port = url.port or (80 if url.scheme == "http" else 443)
    try:
        with socket.create_connection((url.hostname or "", port), timeout=timeout_s):
            return True
    except OSError:  # no network, name not resolved, refused, timed out
        return False


def create_pretrained(name: str, **kwargs):
    """``timm.create_model(name, pretrained=True, **kwargs)``, from the local
    cache alone when the hub cannot be reached."""
    import timm

    if hub_reachable():
        return timm.create_model(name, pretrained=True, **kwargs)
    from huggingface_hub import constants

    # The library's own offline switch (HF_HUB_OFFLINE), read at each request.
    before = constants.HF_HUB_OFFLINE
    constants.HF_HUB_OFFLINE = True
    try:
        return timm.create_model(name, pretrained=True, **kwargs)
    finally:
        constants.HF_HUB_OFFLINE = before
