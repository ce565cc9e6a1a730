#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets from the provider's payloads and the
signature vectors.

    python3 fuzz/seed.py [OUT_DIR]      (default: fuzz/seeds; one folder per target)

Sources, first found wins: ../shared/upstream/payloads and ../shared/vectors beside the
repository (the project's shared folder), else the copies in tests/fixtures/. The output
is deterministic (file names are content hashes), so re-running it changes nothing.

The committed corpora in fuzz/corpus/<target>/ are these seeds plus what the fuzzers
found, minimised with `cargo fuzz cmin` (see FUZZING.md). The `service` target reads an
`arbitrary` structure, not bytes a script can write; it has the payloads compiled in
(fuzz/src/lib.rs, FIXTURES) and its corpus comes from fuzzing alone.

The verifier targets read the text format documented in fuzz/src/lib.rs:
settings (`now=`, `key=`, `task=`, `scheme=`), header lines, a blank line, the body.
"""

import hashlib
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def first_dir(*candidates):
    for c in candidates:
        path = os.path.join(ROOT, c)
        if os.path.isdir(path):
            return path
    sys.exit(f"none of {candidates} found")


PAYLOADS = first_dir("../shared/upstream/payloads", "tests/fixtures/upstream")
VECTORS = first_dir("../shared/vectors", "tests/fixtures/vectors")
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "fuzz", "seeds")

# The fuzz targets' defaults (fuzz/src/lib.rs): NOW and the Kie key.
NOW = 1769670790
KEY = "test-webhook-hmac-key"


def write(target, data):
    if isinstance(data, str):
        data = data.encode()
    folder = os.path.join(OUT, target)
    os.makedirs(folder, exist_ok=True)
    name = "seed-" + hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def message(headers, body, **settings):
    """The verifier targets' text format."""
    lines = [f"{k}={v}" for k, v in settings.items() if v is not None]
    lines += [f"{name}: {value}" for name, value in headers]
    return ("\n".join(lines) + "\n\n").encode() + (body if isinstance(body, bytes) else body.encode())


def payloads():
    for name in sorted(os.listdir(PAYLOADS)):
        if name.endswith(".json"):
            with open(os.path.join(PAYLOADS, name), "rb") as f:
                yield name, f.read()


# --- parse, record_info, lyrics -------------------------------------------------------

callbacks = []
for name, raw in payloads():
    write("parse", raw)
    write("record_info", raw)
    value = json.loads(raw)
    # Compact, as the provider sends it.
    write("parse", json.dumps(value, separators=(",", ":"), ensure_ascii=False))
    if name.startswith("callback_"):
        callbacks.append(value)
    # Every prompt of every track, for the lyrics parser.
    data = value.get("data") or {}
    tracks = (data.get("data") or []) + ((data.get("response") or {}).get("sunoData") or [])
    for track in tracks:
        if track.get("prompt"):
            write("lyrics", track["prompt"])

# The quirks of PROTOCOL.md on one body each: numeric createTime, empty audio_url, null
# and absent track lists, failure codes under any stage, unknown stages, camelCase fields.
base = {
    "code": 200,
    "msg": "All generated successfully.",
    "data": {
        "callbackType": "complete",
        "task_id": "65e563474bd7b6485dfb229eb92324a8",
        "data": [
            {
                "id": "e231",
                "audio_url": "https://cdn.example/e231.mp3",
                "prompt": "[Verse]\nNight city lights\n\n[Chorus 2]\nHey",
                "createTime": 1758044664461,
                "duration": None,
            },
            {"id": "bd15", "audio_url": "", "audioUrl": "x", "tags": "a, b,,c"},
        ],
    },
}
variants = []
for stage in ["text", "first", "complete", "error", "failed", "remix", "TEXT", None]:
    for code in [200, 400, 531, 501]:
        v = json.loads(json.dumps(base))
        v["code"] = code
        if stage is None:
            del v["data"]["callbackType"]
        else:
            v["data"]["callbackType"] = stage
        variants.append(v)
for tracks in [None, [], "absent"]:
    v = json.loads(json.dumps(base))
    if tracks == "absent":
        del v["data"]["data"]
    else:
        v["data"]["data"] = tracks
    variants.append(v)
for v in variants:
    write("parse", json.dumps(v, separators=(",", ":")))
for edge in [
    b"",
    b"{}",
    b"[1]",
    b'{"code":200,"data":{"task_id":""}}',
    b'{"code":200,"data":{"task_id":"a","task_id":"b"}}',
    b'{"code":"200","data":{"task_id":"a"}}',
    b'{"code":200,"data":{"task_id":"\\ud800"}}',
    b'{"code":1e400,"data":{"task_id":"a"}}',
    b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
    b'{"code":200,"data":{"task_id":"\xff"}}',
]:
    write("parse", edge)
    write("record_info", edge)

for status in [
    "PENDING",
    "TEXT_SUCCESS",
    "FIRST_SUCCESS",
    "SUCCESS",
    "CREATE_TASK_FAILED",
    "GENERATE_AUDIO_FAILED",
    "CALLBACK_EXCEPTION",
    "SENSITIVE_WORD_ERROR",
    "SOMETHING_NEW",
]:
    for error_code in [None, 413, 70000]:
        answer = {
            "code": 200,
            "msg": "success",
            "data": {
                "taskId": "5c79be8e",
                "status": status,
                "errorCode": error_code,
                "errorMessage": None if error_code is None else "failed",
                "response": {"sunoData": base["data"]["data"]},
            },
        }
        write("record_info", json.dumps(answer, separators=(",", ":")))

for prompt in [
    "[Verse] Calm and relaxing melodies with soothing vocals",
    "[Intro]\n\n[Verse]\nLine one\r\nLine two\n\n[Pre-Chorus]\nUp\n[Verse 2]\nThree\n[Outro]",
    "[Instrumental]",
    "[Instrumental] soft piano\n[Verse][Chorus] two headers",
    "Spoken intro\r\n\r\n[VERSE 2]\r\n  夜晚城市 灯火辉煌  \r\n[Rap]\r\n",
    "[ verse 2: Alice ]\n[PRECHORUS02]\n[Guitar Solo]\n[Verse 99999999999]\n[2nd Verse]",
    "[[Verse]]\n[]\n[ ]\n[Verse\n]Chorus[",
]:
    write("lyrics", prompt)

# --- kie_signature --------------------------------------------------------------------

with open(os.path.join(VECTORS, "other_schemes.json")) as f:
    other = json.load(f)["vectors"]

for v in other:
    headers = list(v["headers"].items())
    settings = dict(key=v["secret"], now=v.get("now"))
    if v["id"].startswith("TASK_"):
        write("kie_signature", message(headers, v["body"], task=v.get("body_task_id"), **settings))
    else:
        scheme = v["id"].split("_")[0].lower()
        write("body_hmac", message(headers, v["body"], scheme=scheme, **settings))

for i, value in enumerate(callbacks):
    body = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    ts = NOW - 30 * i
    signed = [("X-Webhook-Timestamp", str(ts)), ("X-Webhook-Signature", "@sign")]
    write("kie_signature", message(signed, body))
    # A wrong key, a stale timestamp, a repeated header, a missing one.
    write("kie_signature", message([signed[0], ("X-Webhook-Signature", "@wrong")], body))
    write("kie_signature", message([("x-webhook-timestamp", str(NOW - 301)), signed[1]], body))
    write("kie_signature", message(signed + [signed[1]], body))
    write("kie_signature", message(signed[1:], body))

# --- standard_webhooks ----------------------------------------------------------------

with open(os.path.join(VECTORS, "standard_webhooks.json")) as f:
    sw = json.load(f)
for v in sw["verify"]:
    lines = v.get("header_lines") or list(v["headers"].items())
    settings = dict(key=v["secret"], now=v["now"])
    if any(name.lower().startswith("svix-") for name, _ in lines):
        settings["scheme"] = "svix"
    write("standard_webhooks", message(lines, v["payload"], **settings))
for v in sw["sign"]:
    payload = v.get("payload")
    if payload is None:
        gen = v["payload_generator"]
        if gen["count"] > 4096:
            continue  # the large-payload vectors add size, not paths
        payload = gen["repeat"] * gen["count"]
    lines = [
        ("webhook-id", v["msg_id"]),
        ("webhook-timestamp", str(v["timestamp"])),
        ("webhook-signature", v["expected_signature"]),
    ]
    write("standard_webhooks", message(lines, payload, key=v["secret"], now=v["timestamp"]))
for _, raw in payloads():
    lines = [
        ("webhook-id", "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"),
        ("webhook-timestamp", str(NOW)),
        ("webhook-signature", "v2,abc v1,@wrong v1,@sign"),
    ]
    write("standard_webhooks", message(lines, raw))

# --- body_hmac ------------------------------------------------------------------------

for _, raw in payloads():
    write("body_hmac", message([("X-Hub-Signature-256", "sha256=@sign")], raw, scheme="github"))
    write(
        "body_hmac",
        message([("X-Slack-Request-Timestamp", str(NOW)), ("X-Slack-Signature", "v0=@sign")], raw, scheme="slack"),
    )
    write("body_hmac", message([("Stripe-Signature", f"t={NOW},v1=@wrong,v1=@sign,v0=ab")], raw, scheme="stripe"))
    write("body_hmac", message([("X-Shopify-Hmac-Sha256", "@sign")], raw, scheme="shopify"))
    write(
        "body_hmac",
        message([("X-Timestamp", str(NOW - 299)), ("X-Signature", "sha256=@sign")], raw, scheme="custom"),
    )

print(f"seeds written under {OUT}")
