from enum import StrEnum

class FlowOrigin(StrEnum):
    INLINE = "inline"
    REGISTRY = "registry"

    def __str__(self) -> str:
        return str(self.value)
