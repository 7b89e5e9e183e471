from http import HTTPStatus
from typing import Any, cast
from urllib.parse import quote

import httpx

from ...client import AuthenticatedClient, Client
from ...types import Response, UNSET
from ... import errors

from ...models.delivery_outcome import DeliveryOutcome
from ...models.error import Error
from ...models.webhook_delivery_page import WebhookDeliveryPage
from ...types import UNSET, Unset
from typing import cast



def _get_kwargs(
    webhook_id: str,
    *,
    limit: int | Unset = 20,
    cursor: str | Unset = UNSET,
    outcome: DeliveryOutcome | Unset = UNSET,

) -> dict[str, Any]:
    

    

    params: dict[str, Any] = {}

    params["limit"] = limit

    params["cursor"] = cursor

    json_outcome: str | Unset = UNSET
    if not isinstance(outcome, Unset):
        json_outcome = outcome.value

    params["outcome"] = json_outcome


    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}


    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/webhook-configs/{webhook_id}/deliveries".format(webhook_id=quote(str(webhook_id), safe=""),),
        "params": params,
    }


    return _kwargs



def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Error | WebhookDeliveryPage:
    if response.status_code == 200:
        response_200 = WebhookDeliveryPage.from_dict(response.json())



        return response_200

    if response.status_code == 400:
        response_400 = Error.from_dict(response.json())



        return response_400

    if response.status_code == 401:
        response_401 = Error.from_dict(response.json())



        return response_401

    if response.status_code == 403:
        response_403 = Error.from_dict(response.json())



        return response_403

    if response.status_code == 404:
        response_404 = Error.from_dict(response.json())



        return response_404

    if response.status_code == 503:
        response_503 = Error.from_dict(response.json())



        return response_503

    response_default = Error.from_dict(response.json())



    return response_default



def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[Error | WebhookDeliveryPage]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    webhook_id: str,
    *,
    client: AuthenticatedClient,
    limit: int | Unset = 20,
    cursor: str | Unset = UNSET,
    outcome: DeliveryOutcome | Unset = UNSET,

) -> Response[Error | WebhookDeliveryPage]:
    """ List the webhook's recent deliveries, newest first, with outcome and run.

     Repeated deliveries of one delivery id are one entry with their `attempts`;
    filter by `outcome`.

    Args:
        webhook_id (str):
        limit (int | Unset):  Default: 20.
        cursor (str | Unset):
        outcome (DeliveryOutcome | Unset): What became of a delivery: accepted (a run started),
            replayed (a delivery id seen before), unauthorized (401), rejected (other 4xx), denied (a
            policy refused it)

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | WebhookDeliveryPage]
     """


    kwargs = _get_kwargs(
        webhook_id=webhook_id,
limit=limit,
cursor=cursor,
outcome=outcome,

    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)

def sync(
    webhook_id: str,
    *,
    client: AuthenticatedClient,
    limit: int | Unset = 20,
    cursor: str | Unset = UNSET,
    outcome: DeliveryOutcome | Unset = UNSET,

) -> Error | WebhookDeliveryPage | None:
    """ List the webhook's recent deliveries, newest first, with outcome and run.

     Repeated deliveries of one delivery id are one entry with their `attempts`;
    filter by `outcome`.

    Args:
        webhook_id (str):
        limit (int | Unset):  Default: 20.
        cursor (str | Unset):
        outcome (DeliveryOutcome | Unset): What became of a delivery: accepted (a run started),
            replayed (a delivery id seen before), unauthorized (401), rejected (other 4xx), denied (a
            policy refused it)

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | WebhookDeliveryPage
     """


    return sync_detailed(
        webhook_id=webhook_id,
client=client,
limit=limit,
cursor=cursor,
outcome=outcome,

    ).parsed

async def asyncio_detailed(
    webhook_id: str,
    *,
    client: AuthenticatedClient,
    limit: int | Unset = 20,
    cursor: str | Unset = UNSET,
    outcome: DeliveryOutcome | Unset = UNSET,

) -> Response[Error | WebhookDeliveryPage]:
    """ List the webhook's recent deliveries, newest first, with outcome and run.

     Repeated deliveries of one delivery id are one entry with their `attempts`;
    filter by `outcome`.

    Args:
        webhook_id (str):
        limit (int | Unset):  Default: 20.
        cursor (str | Unset):
        outcome (DeliveryOutcome | Unset): What became of a delivery: accepted (a run started),
            replayed (a delivery id seen before), unauthorized (401), rejected (other 4xx), denied (a
            policy refused it)

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | WebhookDeliveryPage]
     """


    kwargs = _get_kwargs(
        webhook_id=webhook_id,
limit=limit,
cursor=cursor,
outcome=outcome,

    )

    response = await client.get_async_httpx_client().request(
        **kwargs
    )

    return _build_response(client=client, response=response)

async def asyncio(
    webhook_id: str,
    *,
    client: AuthenticatedClient,
    limit: int | Unset = 20,
    cursor: str | Unset = UNSET,
    outcome: DeliveryOutcome | Unset = UNSET,

) -> Error | WebhookDeliveryPage | None:
    """ List the webhook's recent deliveries, newest first, with outcome and run.

     Repeated deliveries of one delivery id are one entry with their `attempts`;
    filter by `outcome`.

    Args:
        webhook_id (str):
        limit (int | Unset):  Default: 20.
        cursor (str | Unset):
        outcome (DeliveryOutcome | Unset): What became of a delivery: accepted (a run started),
            replayed (a delivery id seen before), unauthorized (401), rejected (other 4xx), denied (a
            policy refused it)

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | WebhookDeliveryPage
     """


    return (await asyncio_detailed(
        webhook_id=webhook_id,
client=client,
limit=limit,
cursor=cursor,
outcome=outcome,

    )).parsed
