from enum import StrEnum

class WebhookItemsMode(StrEnum):
    EACH = "each"
    LIST = "list"

    def __str__(self) -> str:
        return str(self.value)
