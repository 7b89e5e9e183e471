from enum import StrEnum

class DeliveryOutcome(StrEnum):
    ACCEPTED = "accepted"
    DENIED = "denied"
    FILTERED = "filtered"
    REJECTED = "rejected"
    REPLAYED = "replayed"
    UNAUTHORIZED = "unauthorized"

    def __str__(self) -> str:
        return str(self.value)
