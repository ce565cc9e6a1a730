"""Interop helper for tests/interop_standard_webhooks.rs.

Reads one JSON object on stdin:
    {"sign_count": N, "seed": S, "verify": [{"secret", "id", "timestamp", "body", "signature"}]}
and writes one JSON object on stdout:
    {"signed": [{"secret", "id", "timestamp", "body", "signature"}],
     "verified": [true | "<exception name>: <message>", ...]}

Signing and verifying use the PyPI `standardwebhooks` package (not this project's code).
`verify` checks against Python's wall clock, so the Rust side signs with the current time.
"""

import base64
import json
import random
import string
import sys
from datetime import datetime, timezone

from standardwebhooks.webhooks import Webhook


def random_body(rng):
    # The Python reference decodes the body as UTF-8: random text, not random bytes.
    alphabet = string.ascii_letters + string.digits + ' {}[]":,.-_\\/\n\té€漢🎵'
    text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 200)))
    return json.dumps({"task_id": f"t{rng.randint(0, 10**9)}", "text": text}, ensure_ascii=False) if rng.random() < 0.7 else text


def main():
    request = json.load(sys.stdin)
    rng = random.Random(request["seed"])
    signed = []
    for _ in range(request["sign_count"]):
        key = bytes(rng.getrandbits(8) for _ in range(rng.randint(24, 64)))
        secret = base64.b64encode(key).decode()
        if rng.random() < 0.5:
            secret = "whsec_" + secret
        msg_id = "msg_" + "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(rng.randint(1, 30)))
        timestamp = rng.randint(1, 9_999_999_999)
        body = random_body(rng)
        wh = Webhook(secret)
        signature = wh.sign(msg_id, datetime.fromtimestamp(timestamp, tz=timezone.utc), body)
        signed.append({"secret": secret, "id": msg_id, "timestamp": timestamp, "body": body, "signature": signature})

    verified = []
    for case in request["verify"]:
        try:
            wh = Webhook(case["secret"])
            headers = {
                "webhook-id": case["id"],
                "webhook-timestamp": str(case["timestamp"]),
                "webhook-signature": case["signature"],
            }
            wh.verify(case["body"].encode(), headers, json_parse=False)
            verified.append(True)
        except Exception as e:  # any failure is a refusal; report it
            verified.append(f"{type(e).__name__}: {e}")

    json.dump({"signed": signed, "verified": verified}, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
