from enum import StrEnum

class SubscriptionCreateEventsItem(StrEnum):
    RUN_FINISHED = "run.finished"
    RUN_STATUS_CHANGED = "run.status_changed"

    def __str__(self) -> str:
        return str(self.value)
