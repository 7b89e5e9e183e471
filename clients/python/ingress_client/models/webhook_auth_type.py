from enum import StrEnum

class WebhookAuthType(StrEnum):
    BASIC = "basic"
    HEADER_TOKEN = "header-token"
    HMAC_SHA256 = "hmac-sha256"
    STANDARD_WEBHOOKS = "standard-webhooks"

    def __str__(self) -> str:
        return str(self.value)
