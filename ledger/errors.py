"""Typed refusals of the ledger.

A refusal is not a crash: it is the ledger saying "no" to a person, so every error carries a stable
``code`` (scripts and tests match on it) and a message in the shopkeeper's language. Messages are
templates filled from ``params`` so the same error reads well in Chinese and in English.
"""

from __future__ import annotations

from typing import Any

# code -> (Simplified Chinese, English). Keep the Chinese plain: a shopkeeper reads it, often aloud.
MESSAGES: dict[str, tuple[str, str]] = {
    "passbook_malformed": (
        "无法识别这个积分存折码，请重新扫描或核对号码。",
        "This is not a passbook code. Scan again or check the number.",
    ),
    "passbook_forged": (
        "积分存折码校验失败（可能输错或伪造），不能使用。",
        "The passbook code does not check out (mistyped or forged); it cannot be used.",
    ),
    "passbook_unknown": (
        "没有找到这个积分存折（户号 {household_id}）。",
        "No passbook found for household {household_id}.",
    ),
    "passbook_revoked": (
        "这本积分存折已挂失作废（第 {card_no} 号卡），请使用新存折。",
        "This passbook was reported lost (card {card_no}); use the new one.",
    ),
    "scan_empty": ("图片里没有找到二维码或条形码。", "No QR code or barcode was found in the picture."),
    "scan_several": (
        "图片里有 {count} 本不同的存折，请一次只扫一本。",
        "The picture shows {count} different passbooks; scan one at a time.",
    ),
    "village_unknown": ("没有这个村：{village_id}。", "No village {village_id}."),
    "household_unknown": ("没有找到户号 {household_id}。", "No household {household_id}."),
    "household_frozen": (
        "{name} 户的积分已被冻结，暂不能兑换。",
        "Household {name} is frozen and cannot redeem points.",
    ),
    "insufficient_points": (
        "积分不足：需要 {needed} 分，可兑换积分只有 {redeemable} 分。",
        "Not enough points: {needed} needed, only {redeemable} redeemable.",
    ),
    "visitor_limit": (
        "外村或久未同步的存折本次最多兑换 {limit} 分。",
        "Away from the home shop or long unsynced, at most {limit} points can be redeemed.",
    ),
    "unknown_sku": ("没有这个商品：{sku}。", "No such item: {sku}."),
    "item_inactive": ("商品 {sku} 已下架。", "Item {sku} is no longer offered."),
    "bad_quantity": (
        "数量不对：{value}（应为 1 到 {max} 之间的整数）。",
        "Bad quantity: {value} (a whole number from 1 to {max}).",
    ),
    "bad_points": (
        "积分数不对：{value}（应为 1 到 {max} 之间的整数）。",
        "Bad points: {value} (a whole number from 1 to {max}).",
    ),
    "bad_amount": (
        "金额不对：{value}（应为大于 0 的金额）。",
        "Bad amount: {value} (must be more than zero).",
    ),
    "empty_cart": ("购物清单是空的。", "The cart is empty."),
    "out_of_stock": (
        "{name} 库存不足：要 {wanted}，只剩 {on_hand}。",
        "Not enough {name} in stock: {wanted} wanted, {on_hand} left.",
    ),
    "receipt_unknown": ("没有找到小票 {receipt_no}。", "No receipt {receipt_no}."),
    "no_receipt": ("{receipt_no} 这笔业务没有小票。", "{receipt_no} has no receipt."),
    "already_voided": (
        "小票 {receipt_no} 已经作废过了（{void_receipt_no}）。",
        "Receipt {receipt_no} was already voided ({void_receipt_no}).",
    ),
    "not_voidable": (
        "小票 {receipt_no} 不是兑换小票，不能作废。",
        "Receipt {receipt_no} is not a redemption.",
    ),
    "reason_required": ("请选择或填写原因。", "A reason is required."),
    "manager_required": ("这个操作需要店长权限。", "This needs a manager."),
    "operator_unknown": ("没有这个操作员：{operator}。", "No operator {operator}."),
    "bad_pin": ("密码不对。", "Wrong PIN."),
    "pin_format": ("密码应为 4 到 8 位数字。", "A PIN is 4 to 8 digits."),
    "donor_required": ("请填写捐赠人。", "Name the donor."),
    "ledger_locked": (
        "另一个收银程序正在使用这个账本，请先关闭它。",
        "Another POS is using this ledger; close it first.",
    ),
    "ledger_corrupt": (
        "账本文件损坏或被改动，已停止兑换。请联系乡镇恢复账本。",
        "The ledger file is damaged or was altered; selling is stopped. Restore it from the central record.",
    ),
    "disk_full": (
        "磁盘已满，这笔业务没有保存。请清理磁盘后重试。",
        "The disk is full; nothing was saved. Free some space and try again.",
    ),
    # Tampering found before it is spent (ledger.integrity): say what was found, stop, and who to call.
    "ledger_tampered": (
        "账本被人改动过（{detail}），为保护村民的积分，本机已停止兑换。请打电话给乡镇，由乡镇核对并恢复账本；"
        "不要再改动账本文件。",
        "The ledger was altered ({detail}); redemptions are stopped here to protect the villagers' points. Call "
        "the township to check and restore the ledger; do not touch the ledger file.",
    ),
    "household_tampered": (
        "{name} 户的积分记录和账本对不上（{detail}），不能为这户兑换。请打电话给乡镇核对。",
        "The points record of household {name} does not match the ledger ({detail}); nothing can be redeemed "
        "for it. Call the township to check it.",
    ),
    # Local failures of the shop's folder (issue 11 §5): said in words, never as sqlite3 or TOML text.
    "home_readonly": (
        "账本所在的磁盘是只读的（{path}），不能记账。请检查磁盘或 U 盘的写保护开关，或把账本放回本机硬盘。",
        "The disk holding the ledger is read-only ({path}); nothing can be recorded. Check the disk "
        "(or the USB stick's lock switch), or keep the ledger on this PC's own disk.",
    ),
    "home_no_access": (
        "没有权限读写店里的文件夹（{path}）。请用开店时的那个电脑用户运行。",
        "No permission to read or write the shop's folder ({path}). Run as the user who set up the shop.",
    ),
    "ledger_readonly": (
        "账本现在不能写入（磁盘只读、没有权限或文件不见了），这笔业务没有保存。请运行 lovemart doctor 检查。",
        "The ledger cannot be written now (read-only disk, no permission or the file is gone); nothing was "
        "saved. Run lovemart doctor.",
    ),
    "ledger_unopenable": (
        "打不开账本文件（{path}）。请检查文件夹是否还在、磁盘是否插好。",
        "The ledger file cannot be opened ({path}). Check that the folder is there and the disk attached.",
    ),
    "settings_malformed": (
        "设置文件 {path} 第 {line} 行格式写错了，请改正（或从备份恢复）后再试。",
        "The settings file {path} has a mistake on line {line}: {detail}. Correct it (or restore it) and retry.",
    ),
    "settings_section": (
        "设置文件 {path} 里的 {key} 应该是一段设置（以 [{key}] 开头），请改正后再试。",
        "In the settings file {path}, {key} must be a section ([{key}]); correct it and retry.",
    ),
    "secret_on_command_line": (
        "密码和令牌不能写在命令行上（别人用 ps 就能看到）：去掉 {option}，运行时会问。",
        "A PIN or token on the command line is visible to anyone (ps): leave out {option} and it is asked for.",
    ),
    "settings_unreadable": (
        "读不了设置文件 {path}（没有权限、是个文件夹或磁盘出错）。请检查这个文件。",
        "Cannot read the settings file {path}: {detail}.",
    ),
    "import_invalid": (
        "表格有错误，一行也没有导入：\n{problems}",
        "The sheet has errors; nothing was imported:\n{problems}",
    ),
    "import_duplicate": (
        "这个表格已经导入过了（{when}），没有重复导入。",
        "This sheet was already imported ({when}); nothing was added.",
    ),
    "import_unreadable": ("无法读取文件 {path}：{detail}", "Cannot read {path}: {detail}"),
    "import_header": (
        "标题行缺少这些列：{missing}。第一行应写列名：户号、分值、事由（类型可不填）。",
        "The header row lacks: {missing}. The first row names the columns 户号/household_id, 分值/points, "
        "事由/reason (类型/kind optional).",
    ),
    "import_header_repeated": ("标题行里“{column}”列出现了不止一次。", "Column {column} appears twice in the header."),
    "import_no_rows": ("表格里没有要导入的行。", "The sheet has no rows to import."),
    "import_no_household": ("户号是空的。", "The household id is empty."),
    "import_bad_kind": (
        "类型“{value}”不对，应填“奖励”或“扣分”。",
        "Kind '{value}' is neither 奖励/award nor 扣分/deduct.",
    ),
    "import_sign_conflict": (
        "分值 {value} 是负数，但类型写的是“奖励”。",
        "Points {value} are negative but the kind says award.",
    ),
    "import_more_problems": ("还有 {count} 处错误没有列出。", "{count} more problems are not listed."),
    "export_unwritable": ("无法写入文件 {path}：{detail}", "Cannot write {path}: {detail}"),
    "sync_id_reused": (
        "同步冲突：业务编号 {txn_id}（{receipt_no}）已用于另一笔不同的业务。",
        "Sync conflict: id {txn_id} ({receipt_no}) was already used for different content.",
    ),
    "sync_unknown_device": (
        "同步拒绝：设备 {device_id} 没有登记。",
        "Sync refused: device {device_id} is not registered.",
    ),
    "sync_fork": (
        "同步冲突：{receipt_no} 的编号已被另一笔业务占用（账本分叉）。",
        "Sync conflict: the number of {receipt_no} is taken by another transaction (a fork).",
    ),
    "sync_gap": (
        "同步拒绝：设备 {device_id} 缺少业务，应为第 {expected} 笔，收到第 {got} 笔。",
        "Sync refused: device {device_id} skipped transactions: expected {expected}, got {got}.",
    ),
    "sync_chain_break": (
        "同步拒绝：{receipt_no} 的校验链接不上前一笔。",
        "Sync refused: {receipt_no} does not chain to the previous transaction.",
    ),
    "sync_hash_mismatch": (
        "同步拒绝：{receipt_no} 的内容与校验码不符（被改动过）。",
        "Sync refused: the content of {receipt_no} does not match its hash (altered).",
    ),
    "not_configured": (
        "这里还没有建账本。请先运行 lovemart demo 或 lovemart provision。",
        "There is no ledger here yet. Run lovemart demo or lovemart provision first.",
    ),
    "policy_invalid": ("积分规则设置不对：{detail}", "Invalid points policy: {detail}"),
    "nothing_to_do": ("没有需要处理的内容。", "Nothing to do."),
    "township_only": (
        "本店已接入乡镇，积分由村委会评定、乡镇发放，店里不能发放、扣除或清零积分。请联系乡镇积分员。",
        "This shop is connected to the township: points are awarded, deducted and cleared by the village "
        "committee through the township, not at the shop. Ask the township's points clerk.",
    ),
}


class LedgerError(Exception):
    """A refusal with a stable ``code`` and a message for people.

    Nothing was written when one is raised: services validate before they append, and storage rolls
    back the whole write unit on any exception.
    """

    def __init__(self, code: str, **params: Any) -> None:
        self.code = code
        self.params = params
        super().__init__(self.message("en"))

    def message(self, lang: str = "zh") -> str:
        zh, en = MESSAGES.get(self.code, ("{code}", "{code}"))
        template = zh if lang.startswith("zh") else en
        try:
            return template.format(code=self.code, **self.params)
        except (KeyError, IndexError):
            return template


class ImportProblem(LedgerError):
    """A spreadsheet import refused as a whole, with the row number of every bad row.

    Each problem is kept as (row, error) and rendered in the reader's language when shown, so the
    shopkeeper reads "第 3 行：…" and a technician running ``--lang en`` reads "Row 3: …".
    """

    def __init__(self, problems: list[tuple[int | None, LedgerError]]) -> None:
        self.row_problems = problems
        super().__init__("import_invalid")

    @staticmethod
    def _line(row: int | None, error: LedgerError, lang: str) -> str:
        if row is None:
            return error.message(lang)
        prefix = f"第 {row} 行：" if lang.startswith("zh") else f"Row {row}: "
        return prefix + error.message(lang)

    def lines(self, lang: str = "zh") -> list[str]:
        return [self._line(row, error, lang) for row, error in self.row_problems]

    @property
    def problems(self) -> list[str]:
        return self.lines("zh")

    def message(self, lang: str = "zh") -> str:
        zh, en = MESSAGES["import_invalid"]
        template = zh if lang.startswith("zh") else en
        return template.format(problems="\n".join(self.lines(lang)))


class DeviceFault(Exception):
    """A device (printer, scanner) that could not do its job; the ledger change it follows still stands.

    The ledger defines only this base so its print queue can record a failed print without knowing
    about printers; ``hardware.errors.HardwareError`` carries the codes and messages.
    """

    messages: dict[str, tuple[str, str]] = {}

    def __init__(self, code: str, **params: Any) -> None:
        self.code = code
        self.params = params
        super().__init__(self.message("en"))

    def message(self, lang: str = "zh") -> str:
        zh, en = self.messages.get(self.code, ("{code}", "{code}"))
        template = zh if lang.startswith("zh") else en
        try:
            return template.format(code=self.code, **self.params)
        except (KeyError, IndexError):
            return template
