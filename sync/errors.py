"""Typed sync refusals and faults, with messages a shopkeeper (or a township clerk) can act on.

The HTTP status travels with the code, so the server and the client agree on what a refusal means:
4xx is "this request will never succeed as it is" (nothing stored), 409 is a conflict the township
must look at, 5xx and network errors are "try again later".
"""

from __future__ import annotations

from typing import Any

# code -> (HTTP status, Chinese, English)
MESSAGES: dict[str, tuple[int, str, str]] = {
    "payload_malformed": (400, "同步数据格式不对：{detail}", "The sync data is malformed: {detail}"),
    "payload_too_large": (413, "同步数据太大（上限 {limit}）。", "The sync data is too large (limit {limit})."),
    "version_unsupported": (
        400,
        "同步协议版本 {version} 不受支持，请升级软件。",
        "Sync protocol version {version} is not supported; update the software.",
    ),
    "token_missing": (
        401,
        "缺少设备令牌，请先用 lovemart provision 登记本机。",
        "No device token: run lovemart provision.",
    ),
    "token_invalid": (401, "设备令牌不对或已作废，请联系乡镇重新登记。", "The device token is wrong or revoked."),
    "admin_required": (401, "需要乡镇管理员令牌。", "This needs the township's admin token."),
    "wrong_shop": (
        403,
        "本机只能同步自己超市（{shop_id}）的业务。",
        "This device may only sync its own shop ({shop_id}).",
    ),
    "enrol_invalid": (401, "登记码不对或已用过。", "The enrolment token is wrong or was already used."),
    "conflict": (409, "同步冲突，已报乡镇处理：{detail}", "Sync conflict, reported to the township: {detail}"),
    "not_found": (404, "没有找到：{what}", "Not found: {what}"),
    "invalid": (422, "内容不对：{detail}", "Invalid: {detail}"),
    "unreachable": (
        503,
        "连不上乡镇服务器（{url}）：{detail}。业务都保存在本机，网络好了再同步。",
        "Cannot reach the central record ({url}): {detail}. Everything is kept here; sync again later.",
    ),
    "server_error": (503, "乡镇服务器出错（{status}），稍后再试。", "The central record failed ({status}); try later."),
    "not_provisioned": (
        400,
        "本机还没有登记到乡镇服务器，请先运行 lovemart provision。",
        "This PC is not set up for sync yet: run lovemart provision.",
    ),
    "too_many_refusals": (
        429,
        "本机的同步最近被拒绝太多次，请 {seconds} 秒后再试，并联系乡镇查看异常。",
        "This device was refused too often lately; try again in {seconds} s and ask the township.",
    ),
    "value_refused": (
        422,
        "内容超出允许的范围（太长、太大或含有不允许的字符），未保存。",
        "A value is out of bounds (too long, too large or a forbidden character); nothing was stored.",
    ),
    "value_conflict": (
        409,
        "内容与乡镇已有的记录冲突，未保存。",
        "This clashes with a record the township already has; nothing was stored.",
    ),
    "plain_http_refused": (
        400,
        "乡镇服务器地址 {url} 没有加密（http://），已拒绝：请用 https://，"
        "或在 lovemart.toml 的 [sync] 里写 allow_plain_http = true。",
        "The central record's address {url} is not encrypted (http://); use https://, "
        "or set allow_plain_http = true under [sync] in lovemart.toml.",
    ),
    "bundle_invalid": (
        400,
        "同步文件被改动过或不是本机的，已拒绝：{detail}",
        "The sync file was altered or is not for this PC; refused: {detail}",
    ),
}


class SyncError(Exception):
    """A sync refusal or fault with a stable ``code``, an HTTP ``status`` and a message for people."""

    def __init__(self, code: str, **params: Any) -> None:
        self.code = code
        self.params = params
        super().__init__(self.message("en"))

    @property
    def status(self) -> int:
        return MESSAGES.get(self.code, (500, "", ""))[0]

    @property
    def retryable(self) -> bool:
        """Worth trying again later (network down, server busy), as opposed to refused for good."""
        return self.status >= 500

    def message(self, lang: str = "zh") -> str:
        _, zh, en = MESSAGES.get(self.code, (500, "{code}", "{code}"))
        template = zh if lang.startswith("zh") else en
        try:
            return template.format(code=self.code, **self.params)
        except (KeyError, IndexError):
            return template
