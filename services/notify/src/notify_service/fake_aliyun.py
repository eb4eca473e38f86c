"""A local fake of Alibaba Cloud SMS's `SendSms` endpoint, for tests and dev (never prod).

It checks what the real service checks and answers what it answers: the RPC signature (recomputed here
from the form, refused with `SignatureDoesNotMatch`), the AccessKey (`InvalidAccessKeyId.NotFound`), a
timestamp within 15 minutes (`InvalidTimeStamp.Expired`), a nonce used once (`SignatureNonceUsed`), the
phone (`isv.MOBILE_NUMBER_ILLEGAL`), the template code (`isv.SMS_TEMPLATE_ILLEGAL`) and its parameters
(`isv.TEMPLATE_MISSING_PARAMETERS`). It can be put into an outage (`isp.SYSTEM_ERROR`, HTTP 500) or flow
control (`isv.BUSINESS_LIMIT_CONTROL`), and it produces delivery reports in the shape of the provider's
HTTP batch push for what it accepted.

`FakeAliyun(...).start()` serves on 127.0.0.1 on a free port in a thread; `.stop()` ends it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, quote

_PHONE = re.compile(r"1[3-9]\d{9}")


def _pop_encode(value: str) -> str:
    # Written apart from the adapter's on purpose: RFC 3986 unreserved characters only.
    return quote(value.encode("utf-8"), safe="-_.~")


def expected_signature(method: str, params: Mapping[str, str], secret: str) -> str:
    query = "&".join(
        _pop_encode(k) + "=" + _pop_encode(v) for k, v in sorted(params.items()) if k != "Signature"
    )
    to_sign = "&".join([method, _pop_encode("/"), _pop_encode(query)])
    mac = hmac.new(f"{secret}&".encode(), to_sign.encode("utf-8"), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode()


@dataclass
class Accepted:
    biz_id: str
    out_id: str
    phone: str
    template_code: str
    params: dict[str, str]
    accepted_at: datetime
    reported: bool = False


@dataclass
class FakeAliyun:
    access_key_id: str = "LTAI-fake-key"
    access_key_secret: str = "fake-secret-for-tests"  # noqa: S105 - the fake's own key
    sign_name: str = "交管12123"
    # TemplateCode → the template's parameter names, as the provider approved them.
    templates: dict[str, frozenset[str]] = field(default_factory=dict)
    mode: str = "up"  # up | outage | flow_control
    undeliverable: set[str] = field(default_factory=set)  # phones whose reports say failed

    def __post_init__(self) -> None:
        self.accepted: list[Accepted] = []
        self.answers: Counter[str] = Counter()  # Code → how many times answered
        self._nonces: set[str] = set()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._seq = 0

    @property
    def endpoint(self) -> str:
        assert self._server is not None, "start() first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/"

    def start(self) -> FakeAliyun:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = dict(parse_qsl(self.rfile.read(length).decode("utf-8"), keep_blank_values=True))
                status, body = fake.answer("POST", form)
                payload = json.dumps(body, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json;charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

        class Server(ThreadingHTTPServer):
            request_queue_size = 256  # the default backlog of 5 refuses bursts of concurrent sends

        self._server = Server(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-aliyun", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _error(self, status: int, code: str, message: str) -> tuple[int, dict[str, Any]]:
        self.answers[code] += 1
        return status, {"RequestId": f"req-{self._seq}", "Code": code, "Message": message}

    def answer(self, method: str, form: Mapping[str, str]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self._seq += 1
            for name in ("AccessKeyId", "Signature", "SignatureNonce", "Timestamp", "Action", "Version"):
                if not form.get(name):
                    return self._error(400, "MissingParameter", f"{name} is mandatory for this action.")
            if form["AccessKeyId"] != self.access_key_id:
                return self._error(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
            signature = expected_signature(method, form, self.access_key_secret)
            if not hmac.compare_digest(signature, form["Signature"]):
                return self._error(400, "SignatureDoesNotMatch", "Specified signature is not matched.")
            try:
                at = datetime.strptime(form["Timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
            except ValueError:
                return self._error(400, "InvalidTimeStamp.Format", "Specified time stamp is not valid.")
            if abs(datetime.now(UTC) - at) > timedelta(minutes=15):
                return self._error(400, "InvalidTimeStamp.Expired", "Specified time stamp is expired.")
            if form["SignatureNonce"] in self._nonces:
                return self._error(400, "SignatureNonceUsed", "Specified signature nonce was used already.")
            self._nonces.add(form["SignatureNonce"])
            if form["Action"] != "SendSms" or form["Version"] != "2017-05-25":
                return self._error(400, "InvalidAction.NotFound", "Specified api is not found.")
            if self.mode == "outage":
                return self._error(500, "isp.SYSTEM_ERROR", "系统错误")
            if form.get("SignName") != self.sign_name:
                return self._error(200, "isv.SMS_SIGNATURE_ILLEGAL", "该账号下找不到对应签名")
            phone = form.get("PhoneNumbers", "")
            if not _PHONE.fullmatch(phone):
                return self._error(200, "isv.MOBILE_NUMBER_ILLEGAL", "非法手机号")
            wanted = self.templates.get(form.get("TemplateCode", ""))
            if wanted is None:
                return self._error(200, "isv.SMS_TEMPLATE_ILLEGAL", "该账号下找不到对应模板")
            try:
                params = json.loads(form.get("TemplateParam") or "{}")
            except ValueError:
                return self._error(200, "isv.INVALID_JSON_PARAM", "JSON参数不合法")
            if not isinstance(params, dict) or not wanted <= set(params):
                return self._error(200, "isv.TEMPLATE_MISSING_PARAMETERS", "模板变量缺少对应参数值")
            if self.mode == "flow_control":
                return self._error(200, "isv.BUSINESS_LIMIT_CONTROL", "触发号码天级流控")
            biz_id = f"{self._seq:012d}^0"
            self.accepted.append(
                Accepted(
                    biz_id=biz_id,
                    out_id=form.get("OutId", ""),
                    phone=phone,
                    template_code=form["TemplateCode"],
                    params={str(k): str(v) for k, v in params.items()},
                    accepted_at=datetime.now(UTC),
                )
            )
            self.answers["OK"] += 1
            return 200, {"RequestId": f"req-{self._seq}", "Code": "OK", "Message": "OK", "BizId": biz_id}

    def reports(self) -> list[dict[str, Any]]:
        """Delivery reports for what was accepted and not reported yet, as the HTTP batch push sends them."""
        with self._lock:
            batch = []
            for item in self.accepted:
                if item.reported:
                    continue
                item.reported = True
                ok = item.phone not in self.undeliverable
                batch.append(
                    {
                        "phone_number": item.phone,
                        "send_time": item.accepted_at.strftime("%Y-%m-%d %H:%M:%S"),
                        "report_time": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S"),
                        "success": ok,
                        "err_code": "DELIVERED" if ok else "MK:0001",
                        "err_msg": "用户接收成功" if ok else "空号",
                        "sms_size": "1",
                        "biz_id": item.biz_id,
                        "out_id": item.out_id,
                    }
                )
            return batch
