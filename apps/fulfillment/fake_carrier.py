"""A local fake of all seven carriers, speaking the wire format of docs/carriers.md over HTTP.

A plain WSGI app on the standard library's server, so the tests and the demo exercise the real
HTTP adapter (sockets, timeouts, status codes) without any carrier account. Each carrier lives
under its own prefix: POST /sf/waybills, POST /sf/intercepts, and, for the demo and the tests
only, POST /sf/parcels/<tracking number>/scans to make a parcel move.

It behaves like a carrier where our code depends on it:
- it checks its own required fields and answers 400 with an error body;
- a repeated request_id gets the same waybill (tracking numbers derive from the request id, so
  this holds even across a restart of the fake);
- tracking numbers have each carrier's real shape, and the sort code (三段码), package centre
  (集包地) and short address (大头笔) are derived from the receiver's address, deterministically;
- an intercept is refused for a parcel it delivered, or a number it never issued;
- given a carrier's webhook secret (`app.webhook_secrets[code] = secret`), it signs the webhook
  body its scan endpoint answers with, in the `X-Orderhub-Signature` header, as the carrier would.

Run it with `manage.py run_fake_carrier --port 8765`; the tests start it on a free port
(tests/fulfillment/conftest.py).
"""
import hashlib
import hmac
import json
import re
import threading
import urllib.request
import zlib
from datetime import datetime, timedelta, timezone
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from .carriers.codes import DELIVER, REFUSE, TRACKING_CODES

CARRIER_CODES = ("sf", "zto", "yto", "yunda", "jt", "deppon", "ems")
BEIJING = timezone(timedelta(hours=8))

# What each carrier itself insists on. Deliberately the fake's own list, not our schemas: the
# carrier is the last word, and a schema that is looser than the carrier must show up as a refusal.
_PARTIES = [f"{role}.{part}" for role in ("sender", "receiver") for part in ("name", "phone", "province", "city",
                                                                            "detail")]
_COMMON = ["request_id", "service_type", *_PARTIES, "weight"]
_DISTRICTS = ["sender.district", "receiver.district"]
REQUIRED = {
    "sf": [*_COMMON, "monthly_account", "cargo.name"],
    "zto": [*_COMMON, *_DISTRICTS],
    "yto": [*_COMMON, *_DISTRICTS],
    "yunda": [*_COMMON, *_DISTRICTS],
    "jt": [*_COMMON, *_DISTRICTS, "cargo.name"],
    "deppon": [*_COMMON, "monthly_account", "cargo.name", "cargo.packages"],
    "ems": [*_COMMON, "monthly_account", "cargo.name"],
}
# A cash-on-delivery waybill also needs the account the money goes back to.
COD_ACCOUNT_REQUIRED = {"sf", "deppon"}

# Telephone area codes of the large cities: the first part of a real 三段码 is usually the
# destination city's code. Other cities get a stable three-digit number.
AREA_CODES = {"北京": "010", "上海": "021", "天津": "022", "重庆": "023", "广州": "020", "深圳": "755",
              "杭州": "571", "宁波": "574", "南京": "025", "苏州": "512", "成都": "028", "武汉": "027",
              "西安": "029", "长沙": "731", "郑州": "371", "济南": "531", "青岛": "532", "厦门": "592",
              "福州": "591", "合肥": "551", "沈阳": "024", "大连": "411", "哈尔滨": "451", "昆明": "871"}
_SUFFIXES = ("特别行政区", "维吾尔自治区", "壮族自治区", "回族自治区", "自治区", "自治州", "地区", "新区", "省", "市", "区", "县")


def short_name(name: str) -> str:
    name = (name or "").strip()
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix) + 1:
            return name[: -len(suffix)]
    return name


def _stable(text: str, modulo: int) -> int:
    return zlib.crc32(text.encode("utf-8")) % modulo


def sort_code(receiver: dict) -> str:
    """三段码: destination city, then the district's sorting line, then the delivery section."""
    city = short_name(receiver.get("city") or receiver.get("province") or "")
    first = AREA_CODES.get(city) or f"{100 + _stable(receiver.get('province', '') + city, 900):03d}"
    district = receiver.get("district") or receiver.get("city") or ""
    second = f"{chr(ord('A') + _stable(district, 26))}{_stable(district + '#', 100):02d}"
    third = f"{_stable(receiver.get('detail', ''), 100):02d}"
    return f"{first}-{second}-{third}"


def package_centre(receiver: dict) -> str:
    return f"{short_name(receiver.get('city') or receiver.get('province') or '')}转运中心"


def short_address(receiver: dict) -> str:
    """大头笔: the destination in the few characters a sorter reads at a glance."""
    parts = [short_name(receiver.get(name, "")) for name in ("province", "city", "district")]
    unique = [part for index, part in enumerate(parts) if part and part not in parts[:index]]
    return " ".join(unique)


def _s10_check_digit(serial: str) -> str:
    """The UPU S10 check digit of an 8-digit serial (EMS numbers are S10: EA12345678 9 CN)."""
    total = sum(int(digit) * weight for digit, weight in zip(serial, (8, 6, 4, 2, 3, 5, 9, 7)))
    check = 11 - total % 11
    return "0" if check == 10 else "5" if check == 11 else str(check)


def tracking_number(carrier: str, seed: int) -> str:
    """A number in the carrier's real shape, made from a seed (the request id's hash)."""
    if carrier == "sf":
        return f"SF{100000000000 + seed % 900000000000}"
    if carrier == "zto":
        return f"7{seed % 10**11:011d}"
    if carrier == "yto":
        return f"YT{8000000000000 + seed % 10**12}"
    if carrier == "yunda":
        return f"43{seed % 10**11:011d}"
    if carrier == "jt":
        return f"JT{5000000000000 + seed % 10**12}"
    if carrier == "deppon":
        return f"DPK{360000000000 + seed % 10**11}"
    if carrier == "ems":
        serial = f"{seed % 10**8:08d}"
        return f"E{chr(ord('A') + seed // 10**8 % 26)}{serial}{_s10_check_digit(serial)}CN"
    raise ValueError(carrier)


def _get(payload, path):
    value = payload
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _given(value) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


class FakeCarrierApp:
    """The WSGI app with its memory. Thread-safe: the server answers each request in a thread."""

    def __init__(self):
        self._lock = threading.Lock()
        self.waybills: dict[tuple[str, str], dict] = {}  # (carrier, request_id) -> answer
        self.parcels: dict[tuple[str, str], dict] = {}  # (carrier, tracking_number) -> state
        self.requests: list[tuple[str, str]] = []  # (carrier, action), for tests that count calls
        self.webhook_secrets: dict[str, str] = {}  # carrier -> the secret its webhooks are signed with

    def __call__(self, environ, start_response):
        match = re.fullmatch(r"/([a-z]+)/(waybills|intercepts|parcels/([A-Z0-9]+)/scans)/?",
                             environ.get("PATH_INFO", ""))
        if environ["REQUEST_METHOD"] != "POST" or not match or match.group(1) not in CARRIER_CODES:
            return self._answer(start_response, 404, _error("not_found", "no such endpoint"))
        carrier, action, scanned = match.group(1), match.group(2), match.group(3)
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = json.loads(environ["wsgi.input"].read(length).decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            return self._answer(start_response, 400, _error("malformed_json", "the body is not JSON"))
        if not isinstance(body, dict):
            return self._answer(start_response, 400, _error("malformed_json", "the body is not a JSON object"))
        with self._lock:
            self.requests.append((carrier, action.split("/")[0]))
            if action == "waybills":
                status, answer = self._waybill(carrier, body)
            elif action == "intercepts":
                status, answer = self._intercept(carrier, body)
            else:
                status, answer = self._scan(carrier, scanned, body)
                secret = self.webhook_secrets.get(carrier) if status == 200 else None
                if secret:
                    data = json.dumps(answer, ensure_ascii=False).encode("utf-8")
                    return self._answer(start_response, status, answer, data=data,
                                        headers=[(SIGNATURE_HEADER, sign_body(secret, data))])
        return self._answer(start_response, status, answer)

    @staticmethod
    def _answer(start_response, status, body, *, data=None, headers=()):
        reason = {200: "OK", 400: "Bad Request", 404: "Not Found"}[status]
        data = data if data is not None else json.dumps(body, ensure_ascii=False).encode("utf-8")
        start_response(f"{status} {reason}", [("Content-Type", "application/json; charset=utf-8"),
                                              ("Content-Length", str(len(data))), *headers])
        return [data]

    def _waybill(self, carrier, body):
        missing = [path for path in REQUIRED[carrier] if not _given(_get(body, path))]
        if carrier in COD_ACCOUNT_REQUIRED and _given(body.get("cod_amount")) and not _given(body.get("cod_account")):
            missing.append("cod_account")
        if missing:
            return 400, _error("missing_field", f"{missing[0]} is required", field=missing[0])
        key = (carrier, str(body["request_id"]))
        if key in self.waybills:
            return 200, self.waybills[key]
        seed = int.from_bytes(hashlib.sha256(f"{carrier}:{key[1]}".encode()).digest()[:8], "big")
        number = tracking_number(carrier, seed)
        while (carrier, number) in self.parcels:  # two request ids hashing alike: take the next number
            seed += 1
            number = tracking_number(carrier, seed)
        receiver = body.get("receiver") if isinstance(body.get("receiver"), dict) else {}
        answer = {"request_id": key[1], "tracking_number": number, "sort_code": sort_code(receiver),
                  "package_centre": package_centre(receiver), "short_address": short_address(receiver)}
        self.waybills[key] = answer
        self.parcels[(carrier, number)] = {"status": "issued", "intercept": None, "events": 0}
        return 200, answer

    def _intercept(self, carrier, body):
        number = body.get("tracking_number")
        if not _given(number):
            return 400, _error("missing_field", "tracking_number is required", field="tracking_number")
        parcel = self.parcels.get((carrier, number))
        if parcel is None:
            return 200, {"accepted": False, "code": "unknown_tracking_number",
                         "message": "运单号不存在", "reference": ""}
        if parcel["status"] in (DELIVER, REFUSE):
            return 200, {"accepted": False, "code": "already_finished",
                         "message": "快件已签收，无法拦截" if parcel["status"] == DELIVER else "快件已拒收退回",
                         "reference": ""}
        if parcel["intercept"] is None:  # asked twice, answered once
            parcel["intercept"] = f"IC{carrier.upper()}{number[-8:]}"
        return 200, {"accepted": True, "code": "accepted", "message": "拦截已受理", "reference": parcel["intercept"]}

    def _scan(self, carrier, number, body):
        parcel = self.parcels.get((carrier, number))
        if parcel is None:
            return 404, _error("unknown_tracking_number", "no such parcel")
        code = str(body.get("code") or "")
        if code not in TRACKING_CODES[carrier]:
            return 400, _error("unknown_code", f"unknown scan code {code!r}", field="code")
        transition, description = TRACKING_CODES[carrier][code]
        if transition in (DELIVER, REFUSE):
            parcel["status"] = transition
        parcel["events"] += 1
        # The body the carrier's tracking webhook would post to us for this scan.
        return 200, {"carrier": carrier, "tracking_number": number, "event_id": f"{number}-{parcel['events']}",
                     "code": code, "occurred_at": body.get("occurred_at") or datetime.now(BEIJING).isoformat(
                         timespec="seconds"),
                     "location": str(body.get("location") or ""), "description": description}


SIGNATURE_HEADER = "X-Orderhub-Signature"


def sign_body(secret: str, data: bytes) -> str:
    """The tracking webhook's signature: HMAC-SHA256 of the exact body bytes (docs/carriers.md)."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), data, hashlib.sha256).hexdigest()


def _error(code, message, *, field=""):
    return {"error": {"code": code, "message": message, "field": field}}


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):  # one line per request would drown the test output
        pass


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class FakeCarrierServer:
    """The fake on a socket, served from a background thread: `url` is its root
    (http://127.0.0.1:PORT); a carrier's API address is `url + "/" + code`."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self.app = FakeCarrierApp()
        self.httpd = make_server(host, port, self.app, server_class=_ThreadingServer, handler_class=_QuietHandler)
        self.url = f"http://{host}:{self.httpd.server_port}"
        self._thread = None

    def base_url(self, carrier_code: str) -> str:
        return f"{self.url}/{carrier_code}"

    def scan(self, carrier_code: str, tracking_number: str, **fields) -> tuple[bytes, str | None]:
        """Make a parcel move: record a scan (`code`, optional `location`, `occurred_at`) and return
        the webhook body as raw bytes with its signature (None while the carrier has no secret) —
        exactly what the carrier would post to our tracking webhook."""
        request = urllib.request.Request(
            f"{self.base_url(carrier_code)}/parcels/{tracking_number}/scans", method="POST",
            data=json.dumps(fields, ensure_ascii=False).encode("utf-8"),
            headers={"Content-Type": "application/json; charset=utf-8"})
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.read(), response.headers.get(SIGNATURE_HEADER)

    def start(self) -> "FakeCarrierServer":
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="fake-carrier", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread:
            self._thread.join(timeout=5)
