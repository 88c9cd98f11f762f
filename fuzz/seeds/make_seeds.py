#!/usr/bin/env python3
"""Writes the hand-made starting inputs of the fuzz targets into corpus/<target>/.

Run once before fuzzing (`python3 seeds/make_seeds.py`); the fuzzer grows the corpus from
them and `cargo fuzz cmin` keeps it small. Independent of the SDK: AES and hashes come from
Python's `cryptography` and `hashlib`, the frames are encoded by hand.
"""
import base64, hashlib, json, os
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives import padding

KEY, TOKEN = "fuzz-encrypt-key", "fuzz-verification-token"
SEP = b"\xff"
root = os.path.join(os.path.dirname(__file__), "..", "corpus")

def put(target, name, data):
    os.makedirs(os.path.join(root, target), exist_ok=True)
    with open(os.path.join(root, target, name), "wb") as f:
        f.write(data)

def seal(key, plain, iv=bytes(range(16))):
    p = padding.PKCS7(128).padder()
    data = p.update(plain) + p.finalize()
    enc = Cipher(algorithms.AES(hashlib.sha256(key.encode()).digest()), modes.CBC(iv)).encryptor()
    return base64.b64encode(iv + enc.update(data) + enc.finalize()).decode()

event = {"schema": "2.0",
         "header": {"event_id": "ev-1", "event_type": "im.message.receive_v1", "token": TOKEN,
                    "create_time": "1700000000000", "app_id": "cli_x", "tenant_key": "tk"},
         "event": {"message": {"message_id": "om_1", "content": "{\"text\":\"hi\"}"}}}
plain = json.dumps(event).encode()

# decrypt: key 0xFF base64(IV || ciphertext)
put("decrypt", "valid", KEY.encode() + SEP + seal(KEY, plain).encode())
put("decrypt", "short", KEY.encode() + SEP + base64.b64encode(b"x" * 20))
put("decrypt", "unaligned", KEY.encode() + SEP + base64.b64encode(b"x" * 40))
put("decrypt", "not-base64", KEY.encode() + SEP + b"@@@@")

# signature: ts 0xFF nonce 0xFF key 0xFF body 0xFF signature
body = json.dumps({"encrypt": seal(KEY, plain)}).encode()
sig = hashlib.sha256(b"1700000000" + b"n1" + KEY.encode() + body).hexdigest().encode()
put("signature", "event", SEP.join([b"1700000000", b"n1", KEY.encode(), body, sig]))
csig = hashlib.sha1(b"1700000000" + b"n1" + TOKEN.encode() + body).hexdigest().encode()
put("signature", "card", SEP.join([b"1700000000", b"n1", TOKEN.encode(), body, csig]))
put("signature", "wrong", SEP.join([b"1700000000", b"n1", KEY.encode(), body, b"0" * 64]))

# envelope: "name: value" lines 0xFF body
put("envelope", "plain-v2", SEP + plain)
put("envelope", "plain-v1", SEP + json.dumps({"uuid": "u1", "token": TOKEN, "ts": "1", "type": "event_callback",
    "event": {"type": "message", "app_id": "cli_x", "text": "hi"}}).encode())
put("envelope", "challenge", SEP + json.dumps({"challenge": "c", "token": TOKEN, "type": "url_verification"}).encode())
put("envelope", "encrypted-signed",
    b"x-lark-request-timestamp: 1700000000\nx-lark-request-nonce: n1\nx-lark-signature: " + sig + SEP + body)
put("envelope", "encrypted-challenge",
    SEP + json.dumps({"encrypt": seal(KEY, json.dumps({"challenge": "c", "token": TOKEN, "type": "url_verification"}).encode())}).encode())

# frame: protobuf pbbp2.Frame, encoded by hand
def varint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])

def field(num, wire, payload):
    key = varint((num << 3) | wire)
    return key + (varint(payload) if wire == 0 else varint(len(payload)) + payload)

def frame(seq, method, headers, payload=None):
    out = field(1, 0, seq) + field(2, 0, 7) + field(3, 0, 7) + field(4, 0, method)
    for k, v in headers:
        out += field(5, 2, field(1, 2, k.encode()) + field(2, 2, v.encode()))
    if payload is not None:
        out += field(8, 2, payload)
    return out

put("frame", "ping", frame(0, 0, [("type", "ping")]))
put("frame", "pong", frame(0, 0, [("type", "pong")], json.dumps({"PingInterval": 120}).encode()))
put("frame", "event", frame(1, 1, [("type", "event"), ("message_id", "m1"), ("sum", "1"), ("seq", "0")], plain))
frags = [frame(2 + i, 1, [("type", "event"), ("message_id", "m2"), ("sum", "3"), ("seq", str(i))], plain[i * 100:(i + 1) * 100])
         for i in (2, 0, 1)]
put("frame", "fragments", SEP.join(frags))

# json_reader: JSON texts, valid and not
for name, text in [("event", plain), ("escapes", '{"a":"\\u00e9\\ud83d\\ude00\\n","b":[1,-0.5e3,true,null,{}]}'.encode()),
                   ("lenient", b'["12"," ","1e3",3.0,"true"]'), ("trailing-comma", b'{"a":[1,2,],}'),
                   ("bad-escape", b'"\\ud800"'), ("deep", b"[" * 130 + b"]" * 130), ("big", b"1e400")]:
    put("json_reader", name, text)
