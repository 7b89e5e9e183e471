from enum import StrEnum

class RunStatusEventEvent(StrEnum):
    STATUS = "status"

    def __str__(self) -> str:
        return str(self.value)
