from enum import StrEnum

class FlowType(StrEnum):
    DAG = "DAG"

    def __str__(self) -> str:
        return str(self.value)
