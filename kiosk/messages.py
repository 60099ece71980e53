"""The kiosk's own words in Simplified Chinese and English (``msgid -> (zh, en)``).

Plain Python so the presenter (no Kivy) formats with the same catalogue the screens' ``_()`` rules use.
The Chinese is written for elderly villagers who read slowly or not at all: short sentences, no jargon,
and every error says what to do next, because nobody is at a kiosk to explain it.
"""

from __future__ import annotations

KIOSK_MESSAGES: dict[str, tuple[str, str]] = {
    # idle screen
    "kiosk_title": ("爱心超市 · 积分查询", "Love Supermarket · Points"),
    "kiosk_invite": ("请扫描\n积分存折", "Scan your passbook"),
    "kiosk_invite_hint": (
        "把存折的二维码对准下方摄像头，或对准扫码枪",
        "Hold the QR code of your passbook up to the camera or the scanner",
    ),
    "kiosk_ranking_title": ("{village}红榜", "{village} ranking"),
    "kiosk_ranking_points": ("{points}分", "{points} pts"),
    "kiosk_ranking_empty": ("还没有积分记录", "No points recorded yet"),
    "kiosk_goods_title": ("可兑换的商品", "Goods on offer"),
    "kiosk_goods_empty": ("暂时没有商品", "No goods on the shelf yet"),
    "kiosk_goods_points": ("{points} 分", "{points} pts"),
    "kiosk_goods_stock": ("剩 {on_hand}", "{on_hand} left"),
    "kiosk_camera_absent": (
        "没有找到摄像头：请用扫码枪扫存折，或请店员帮忙。",
        "No camera found: use the hand scanner, or ask the shopkeeper.",
    ),
    "kiosk_camera_lost": ("摄像头断开了，正在重新连接……", "The camera was disconnected; reconnecting…"),
    # where the figures come from
    "kiosk_fresh_local_never": ("数据：本店账本（未同步）", "Figures: this shop's ledger (never synced)"),
    "kiosk_fresh_local": ("数据：本店账本，上次同步 {when}", "Figures: this shop's ledger, last synced {when}"),
    "kiosk_fresh_remote": (
        "数据：乡镇积分中心，本村超市同步到 {when}",
        "Figures: township central record, village shop synced up to {when}",
    ),
    "kiosk_fresh_remote_unknown": ("数据：乡镇积分中心", "Figures: township central record"),
    # household screen
    "kiosk_household_name": ("{name} 户", "Household {name}"),
    "kiosk_redeemable_label": ("可兑换积分", "Points you can spend"),
    "kiosk_balance": ("积分余额 {balance} 分", "Balance {balance} pts"),
    "kiosk_earned": ("本年度获得 {earned} 分", "Earned this year {earned} pts"),
    "kiosk_movements_title": ("最近的积分记录", "Recent points"),
    "kiosk_movements_empty": ("还没有积分记录", "No points movements yet"),
    "kiosk_affordable_title": ("现在可以兑换", "You can get now"),
    "kiosk_affordable_none": ("积分暂时不够兑换商品", "Not enough points for any goods yet"),
    "kiosk_affordable_more": ("还有 {count} 种", "{count} more"),
    "kiosk_speak": ("读给我听", "Read aloud"),
    "kiosk_speech": ("{name}户，可兑换积分 {points} 分", "{name}户，可兑换积分 {points} 分"),
    "kiosk_countdown": ("{seconds} 秒后返回", "Back in {seconds} s"),
    # errors: a title and a sentence saying what to do
    "kiosk_error_unknown_title": ("没有找到这本存折", "Passbook not found"),
    "kiosk_error_unknown": (
        "本店账本里没有这本积分存折。请到村委会或找店员查询。",
        "This passbook is not in this shop's ledger. Ask at the village committee or the shopkeeper.",
    ),
    "kiosk_error_revoked_title": ("这本存折已挂失", "Passbook reported lost"),
    "kiosk_error_revoked": (
        "这本积分存折已经挂失作废，不能再用。请使用新存折；有疑问请找店员。",
        "This passbook was reported lost and no longer works. Use your new passbook, or ask the shopkeeper.",
    ),
    "kiosk_error_forged_title": ("存折码认不出来", "Code not recognised"),
    "kiosk_error_forged": (
        "没能读出有效的存折码：可能扫歪了、存折弄脏了，或不是本镇的存折。请把存折放平再扫一次，或找店员。",
        "No valid passbook code was read: it may be crooked, dirty, or not from this township. "
        "Hold it flat and scan again, or ask the shopkeeper.",
    ),
    "kiosk_error_frozen_title": ("积分已冻结", "Points frozen"),
    "kiosk_error_frozen": (
        "{name}户的积分已被冻结，暂时不能兑换。请到村委会咨询。",
        "The points of household {name} are frozen for now. Please ask at the village committee.",
    ),
    "kiosk_error_camera_title": ("找不到摄像头", "No camera"),
    "kiosk_error_camera": (
        "摄像头没有接好。可以用扫码枪扫存折，或请店员帮忙。",
        "The camera is not connected. Use the hand scanner, or ask the shopkeeper.",
    ),
    "kiosk_error_unexpected_title": ("暂时查不到", "Cannot look it up now"),
    "kiosk_error_unexpected": (
        "出了点问题，这次没有查到。请稍后再扫一次，或请店员帮忙。",
        "Something went wrong and nothing was found. Scan again later, or ask the shopkeeper.",
    ),
    "kiosk_error_back": ("{seconds} 秒后自动返回", "Going back in {seconds} s"),
    # maintenance (manager only)
    "kiosk_maint_title": ("维护：店长输入密码", "Maintenance: manager PIN"),
    "kiosk_maint_choose": ("请选择店长", "Choose the manager"),
    "kiosk_maint_no_managers": ("账本里没有店长，无法退出。", "No manager in the ledger: cannot leave."),
    "kiosk_maint_wrong": ("密码不对。", "Wrong PIN."),
    "kiosk_maint_locked": (
        "密码输错次数太多，请 {seconds} 秒后再试。",
        "Too many wrong PINs; try again in {seconds} seconds.",
    ),
    "kiosk_maint_not_manager": ("需要店长密码。", "A manager's PIN is needed."),
    "kiosk_maint_exit": ("退出查询机", "Close the kiosk"),
}
