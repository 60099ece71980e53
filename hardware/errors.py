"""Typed hardware faults, shown to people as messages.

A printer with its cover open or a camera pulled out of its socket is a normal day in a village
shop, not a crash: every fault has a stable ``code`` and a message in the shopkeeper's language.
``HardwareError`` is a ``DeviceFault`` so the ledger's print queue can record it without knowing
about printers.
"""

from __future__ import annotations

from typing import Any

from ledger.errors import DeviceFault

MESSAGES: dict[str, tuple[str, str]] = {
    "printer_not_configured": (
        "没有设置小票打印机（lovemart.toml 的 [printer] 部分）。",
        "No receipt printer is configured ([printer] in lovemart.toml).",
    ),
    "printer_config": ("小票打印机设置不对：{detail}", "The printer settings are wrong: {detail}"),
    "printer_not_found": (
        "找不到小票打印机（{where}）。请检查电源和数据线。",
        "The receipt printer was not found ({where}). Check its power and cable.",
    ),
    "printer_busy": (
        "小票打印机被其他程序占用（{where}）。",
        "The receipt printer is in use by another program ({where}).",
    ),
    "printer_offline": (
        "小票打印机没有响应（{where}）：可能没开机、没纸或盖子没关好。",
        "The receipt printer does not answer ({where}): off, out of paper or cover open?",
    ),
    "printer_timeout": (
        "小票打印机超时（{where}）：可能没纸或盖子没关好。",
        "The receipt printer timed out ({where}): out of paper or cover open?",
    ),
    "printer_permission": (
        "没有权限使用小票打印机（{where}）。请让管理员设置设备权限（udev 规则或 lp 用户组）。",
        "No permission to use the receipt printer ({where}). Ask an administrator to set device permissions "
        "(a udev rule or the lp group).",
    ),
    "printer_library_missing": (
        "缺少打印机驱动库：{detail}",
        "A printer library is missing: {detail}",
    ),
    "camera_not_found": (
        "找不到摄像头（{where}）。请插好摄像头，或用扫码枪、手工输入户号。",
        "No camera found ({where}). Plug it in, or use the USB scanner or type the household number.",
    ),
    "camera_lost": (
        "摄像头断开了，正在重新连接……",
        "The camera was disconnected; reconnecting…",
    ),
    "decoder_unknown": (
        "没有这种解码器：{name}（可用：{available}）。",
        "No decoder named {name} (available: {available}).",
    ),
    "decoder_missing": ("解码库没有安装：{detail}", "The decoding library is not installed: {detail}"),
    "image_unreadable": ("无法读取图片 {path}。", "Cannot read the picture {path}."),
    "font_missing": (
        "找不到中文字体（请安装 fonts-wqy-microhei）。",
        "No Chinese font found (install fonts-wqy-microhei).",
    ),
}


class HardwareError(DeviceFault):
    """A scanner, camera or printer fault with a stable ``code`` and a message for people."""

    messages = MESSAGES

    def __init__(self, code: str, **params: Any) -> None:
        super().__init__(code, **params)
