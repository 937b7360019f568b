"""Message templates and contact flows, by name. Strategies refer to them; publishing a strategy
that names an unknown one fails. Texts carry no personal data beyond what the borrower already knows
(the amount overdue); letters are addressed by the letter channel from the contact record.

Voice steps name an Amazon Connect contact flow (``flow/...``); the flow's id in the Connect
instance is configuration (``CONNECT_FLOWS``), the flow itself is built in Connect.
"""

from __future__ import annotations

TEXTS: dict[str, str] = {
    # zh-CN
    "zh-CN/m1_reminder": "【还款提醒】您的借款本期应还 {overdue} {currency} 已逾期，请尽快在App内还款，以免产生额外费用。回复TD退订。",
    "zh-CN/m1_wechat_reminder": "您好，您的借款有 {overdue} {currency} 已逾期，请在App内完成还款。如已还款请忽略。",
    "zh-CN/m1_second_reminder": "【还款提醒】您的借款仍有 {overdue} {currency} 未还，逾期将影响您的信用记录，请尽快还款。回复TD退订。",
    "zh-CN/m2_overdue_notice": "【逾期通知】您的借款已逾期 {dpd} 天，欠款 {overdue} {currency}。请尽快还款或联系客服协商还款计划。回复TD退订。",
    "zh-CN/demand_letter": "催款函\n\n您的借款已逾期 {dpd} 天，逾期金额 {overdue} {currency}。请于收到本函后七日内还款，"
    "或联系我们协商还款方案。\n",
    "zh-CN/pre_legal_notice": "法务告知函\n\n您的借款已逾期 {dpd} 天，逾期金额 {overdue} {currency}。"
    "如仍未还款，我们将依法采取进一步措施。如有异议，请联系我们。\n",
    # a plan's or settlement's self-service link: says nothing of a debt (the number may have changed hands)
    "zh-CN/offer_link": "【消息通知】您有一条待查看的消息，请打开链接并验证身份后查看：{link} 回复TD退订。",
    # en
    "en/offer_link": "You have a message waiting. Open {link} and confirm your identity to read it. Reply STOP to opt out.",
    "en/m1_reminder": "Your loan payment of {overdue} {currency} is past due. Please pay in the app to avoid further "
    "fees. If you have already paid, please ignore this message.",
    "en/m1_text_reminder": "Reminder: {overdue} {currency} on your loan is past due. Pay in the app. Reply STOP to opt out.",
    "en/m3_final_notice": "Your loan is {dpd} days past due with {overdue} {currency} overdue. Please pay or contact "
    "us to agree a payment plan.",
    "en/past_due_letter": "Past due notice\n\nYour loan is {dpd} days past due. Amount past due: {overdue} {currency}.\n"
    "Please pay or contact us to discuss a payment plan.\n",
    "en/charge_off_warning": "Final notice\n\nYour loan is {dpd} days past due. Amount past due: {overdue} {currency}.\n"
    "If it remains unpaid the account may be referred for further collection.\n",
}

FLOWS: frozenset[str] = frozenset(
    {
        "flow/zh-CN/m1_soft_call",
        "flow/zh-CN/m2_firm_call",
        "flow/zh-CN/m3_final_call",
        "flow/en/m1_courtesy_call",
        "flow/en/m2_call",
    }
)


#: templates that carry an offer's self-service link (only an offer's action has one)
LINK_TEMPLATES = frozenset(t for t, text in TEXTS.items() if "{link}" in text)


def problem(channel: str, template: str) -> str | None:
    """Why a step's template does not fit its channel, or None."""
    if channel == "voice":
        return None if template in FLOWS else f"{template!r} is not a known contact flow ({', '.join(sorted(FLOWS))})"
    if template in FLOWS:
        return f"{template!r} is a contact flow: only voice steps can use it"
    if template in LINK_TEMPLATES:
        return f"{template!r} carries an offer's self-service link: only an offer sends it"
    return None if template in TEXTS else f"{template!r} is not a known template"


def render(template: str, *, overdue: str, currency: str, dpd: int, link: str | None = None) -> str:
    try:
        text = TEXTS[template]
    except KeyError:
        raise ValueError(f"unknown template {template!r}") from None
    if (template in LINK_TEMPLATES) != bool(link):
        raise ValueError(f"template {template!r} {'needs' if template in LINK_TEMPLATES else 'takes no'} link")
    return text.format(overdue=overdue, currency=currency, dpd=dpd, link=link or "")
