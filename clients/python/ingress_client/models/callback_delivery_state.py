from enum import StrEnum

class CallbackDeliveryState(StrEnum):
    DELIVERED = "delivered"
    FAILED = "failed"
    GONE = "gone"
    PENDING = "pending"

    def __str__(self) -> str:
        return str(self.value)
