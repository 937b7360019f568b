"""Logger and metrics shared by every function. Never log personal data: mask it."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics

logger = Logger(service="arrears")
metrics = Metrics(namespace="arrears", service="arrears")


def mask_phone(phone: str | None) -> str:
    if not phone:
        return ""
    return phone[:3] + "*" * max(0, len(phone) - 7) + phone[-4:] if len(phone) > 7 else "*" * len(phone)


def mask_email(email: str | None) -> str:
    if not email or "@" not in email:
        return ""
    user, _, domain = email.partition("@")
    return f"{user[:1]}***@{domain}"
