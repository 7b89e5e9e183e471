from enum import StrEnum

class TaskStatus(StrEnum):
    CANCELLED = "CANCELLED"
    CANCEL_REQUESTED = "CANCEL_REQUESTED"
    FAILED = "FAILED"
    PENDING = "PENDING"
    RETRYING = "RETRYING"
    RUNNING = "RUNNING"
    SKIPPED = "SKIPPED"
    SUCCEEDED = "SUCCEEDED"
    TIMED_OUT = "TIMED_OUT"

    def __str__(self) -> str:
        return str(self.value)
