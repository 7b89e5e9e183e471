"""Flow definitions: parsing, validation and the normalised model.

Limits (MAX_TASKS, MAX_DEPENDENCIES, ...) live in ``ingress_app.flows.model``
and are read at call time; change them there.
"""

from ingress_app.flows.model import Flow, FlowValidationError, Task, parse_flow

__all__ = ["Flow", "FlowValidationError", "Task", "parse_flow"]
