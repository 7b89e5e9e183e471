""" Contains all the data models used in inputs/outputs """

from .accepted_run import AcceptedRun
from .audit_event import AuditEvent
from .audit_event_detail_type_0 import AuditEventDetailType0
from .audit_page import AuditPage
from .callback_attempt import CallbackAttempt
from .callback_delivery import CallbackDelivery
from .callback_delivery_list import CallbackDeliveryList
from .callback_delivery_state import CallbackDeliveryState
from .callback_delivery_type import CallbackDeliveryType
from .callback_secret import CallbackSecret
from .check import Check
from .delivery import Delivery
from .delivery_detail_type_0 import DeliveryDetailType0
from .delivery_outcome import DeliveryOutcome
from .error import Error
from .error_detail import ErrorDetail
from .flow_definition import FlowDefinition
from .flow_origin import FlowOrigin
from .flow_page import FlowPage
from .flow_register import FlowRegister
from .flow_register_input_schema_type_0 import FlowRegisterInputSchemaType0
from .flow_register_metadata_type_0 import FlowRegisterMetadataType0
from .flow_type import FlowType
from .flow_version import FlowVersion
from .flow_version_metadata import FlowVersionMetadata
from .flow_version_page import FlowVersionPage
from .flow_version_summary import FlowVersionSummary
from .flow_version_summary_metadata import FlowVersionSummaryMetadata
from .health import Health
from .health_checks import HealthChecks
from .health_status import HealthStatus
from .liveness import Liveness
from .modification import Modification
from .problem import Problem
from .rotate_secret import RotateSecret
from .rotated_secret import RotatedSecret
from .run import Run
from .run_accepted import RunAccepted
from .run_list_item import RunListItem
from .run_list_item_tasks import RunListItemTasks
from .run_of_inline_flow import RunOfInlineFlow
from .run_of_inline_flow_callback_events_item import RunOfInlineFlowCallbackEventsItem
from .run_of_inline_flow_input import RunOfInlineFlowInput
from .run_of_registered_flow import RunOfRegisteredFlow
from .run_of_registered_flow_callback_events_item import RunOfRegisteredFlowCallbackEventsItem
from .run_of_registered_flow_input import RunOfRegisteredFlowInput
from .run_page import RunPage
from .run_status import RunStatus
from .run_status_event import RunStatusEvent
from .run_status_event_event import RunStatusEventEvent
from .run_tasks import RunTasks
from .run_validation import RunValidation
from .subscription import Subscription
from .subscription_create import SubscriptionCreate
from .subscription_create_events_item import SubscriptionCreateEventsItem
from .subscription_created import SubscriptionCreated
from .subscription_page import SubscriptionPage
from .task import Task
from .task_config import TaskConfig
from .task_progress import TaskProgress
from .task_status import TaskStatus
from .violation import Violation
from .webhook_accepted import WebhookAccepted
from .webhook_auth import WebhookAuth
from .webhook_auth_out import WebhookAuthOut
from .webhook_auth_type import WebhookAuthType
from .webhook_config import WebhookConfig
from .webhook_config_created import WebhookConfigCreated
from .webhook_config_created_input_mapping_type_0 import WebhookConfigCreatedInputMappingType0
from .webhook_config_input_mapping_type_0 import WebhookConfigInputMappingType0
from .webhook_config_page import WebhookConfigPage
from .webhook_config_update import WebhookConfigUpdate
from .webhook_config_update_callback_events_type_0_item import WebhookConfigUpdateCallbackEventsType0Item
from .webhook_config_update_input_mapping_type_0 import WebhookConfigUpdateInputMappingType0
from .webhook_delivery_page import WebhookDeliveryPage
from .webhook_ignored import WebhookIgnored
from .webhook_items_mode import WebhookItemsMode
from .webhook_of_inline_flow import WebhookOfInlineFlow
from .webhook_of_inline_flow_callback_events_type_0_item import WebhookOfInlineFlowCallbackEventsType0Item
from .webhook_of_inline_flow_input_mapping_type_0 import WebhookOfInlineFlowInputMappingType0
from .webhook_of_registered_flow import WebhookOfRegisteredFlow
from .webhook_of_registered_flow_callback_events_type_0_item import WebhookOfRegisteredFlowCallbackEventsType0Item
from .webhook_of_registered_flow_input_mapping_type_0 import WebhookOfRegisteredFlowInputMappingType0
from .webhook_payload_type_0 import WebhookPayloadType0

__all__ = (
    "AcceptedRun",
    "AuditEvent",
    "AuditEventDetailType0",
    "AuditPage",
    "CallbackAttempt",
    "CallbackDelivery",
    "CallbackDeliveryList",
    "CallbackDeliveryState",
    "CallbackDeliveryType",
    "CallbackSecret",
    "Check",
    "Delivery",
    "DeliveryDetailType0",
    "DeliveryOutcome",
    "Error",
    "ErrorDetail",
    "FlowDefinition",
    "FlowOrigin",
    "FlowPage",
    "FlowRegister",
    "FlowRegisterInputSchemaType0",
    "FlowRegisterMetadataType0",
    "FlowType",
    "FlowVersion",
    "FlowVersionMetadata",
    "FlowVersionPage",
    "FlowVersionSummary",
    "FlowVersionSummaryMetadata",
    "Health",
    "HealthChecks",
    "HealthStatus",
    "Liveness",
    "Modification",
    "Problem",
    "RotatedSecret",
    "RotateSecret",
    "Run",
    "RunAccepted",
    "RunListItem",
    "RunListItemTasks",
    "RunOfInlineFlow",
    "RunOfInlineFlowCallbackEventsItem",
    "RunOfInlineFlowInput",
    "RunOfRegisteredFlow",
    "RunOfRegisteredFlowCallbackEventsItem",
    "RunOfRegisteredFlowInput",
    "RunPage",
    "RunStatus",
    "RunStatusEvent",
    "RunStatusEventEvent",
    "RunTasks",
    "RunValidation",
    "Subscription",
    "SubscriptionCreate",
    "SubscriptionCreated",
    "SubscriptionCreateEventsItem",
    "SubscriptionPage",
    "Task",
    "TaskConfig",
    "TaskProgress",
    "TaskStatus",
    "Violation",
    "WebhookAccepted",
    "WebhookAuth",
    "WebhookAuthOut",
    "WebhookAuthType",
    "WebhookConfig",
    "WebhookConfigCreated",
    "WebhookConfigCreatedInputMappingType0",
    "WebhookConfigInputMappingType0",
    "WebhookConfigPage",
    "WebhookConfigUpdate",
    "WebhookConfigUpdateCallbackEventsType0Item",
    "WebhookConfigUpdateInputMappingType0",
    "WebhookDeliveryPage",
    "WebhookIgnored",
    "WebhookItemsMode",
    "WebhookOfInlineFlow",
    "WebhookOfInlineFlowCallbackEventsType0Item",
    "WebhookOfInlineFlowInputMappingType0",
    "WebhookOfRegisteredFlow",
    "WebhookOfRegisteredFlowCallbackEventsType0Item",
    "WebhookOfRegisteredFlowInputMappingType0",
    "WebhookPayloadType0",
)
