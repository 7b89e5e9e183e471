from http import HTTPStatus
from typing import Any, cast
from urllib.parse import quote

import httpx

from ...client import AuthenticatedClient, Client
from ...types import Response, UNSET
from ... import errors

from ...models.error import Error
from ...models.webhook_accepted import WebhookAccepted
from ...models.webhook_ignored import WebhookIgnored
from ...models.webhook_payload_type_0 import WebhookPayloadType0
from ...types import UNSET, Unset
from typing import cast



def _get_kwargs(
    webhook_id: str,
    *,
    body: bool | float | list[Any] | None | str | Unset | WebhookPayloadType0 = UNSET,
    idempotency_key: str | Unset = UNSET,

) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(idempotency_key, Unset):
        headers["Idempotency-Key"] = idempotency_key



    

    

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/v1/webhooks/{webhook_id}".format(webhook_id=quote(str(webhook_id), safe=""),),
    }

    
    if isinstance(body, WebhookPayloadType0):
        _kwargs["json"] = body.to_dict()
    elif isinstance(body, list):
        _kwargs["json"] = body


    else:
        _kwargs["json"] = body

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs



def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Error | WebhookAccepted | WebhookIgnored:
    if response.status_code == 200:
        response_200 = WebhookIgnored.from_dict(response.json())



        return response_200

    if response.status_code == 202:
        response_202 = WebhookAccepted.from_dict(response.json())



        return response_202

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

    if response.status_code == 413:
        response_413 = Error.from_dict(response.json())



        return response_413

    if response.status_code == 415:
        response_415 = Error.from_dict(response.json())



        return response_415

    if response.status_code == 429:
        response_429 = Error.from_dict(response.json())



        return response_429

    if response.status_code == 503:
        response_503 = Error.from_dict(response.json())



        return response_503

    response_default = Error.from_dict(response.json())



    return response_default



def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[Error | WebhookAccepted | WebhookIgnored]:
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
    body: bool | float | list[Any] | None | str | Unset | WebhookPayloadType0 = UNSET,
    idempotency_key: str | Unset = UNSET,

) -> Response[Error | WebhookAccepted | WebhookIgnored]:
    """ Start the webhook's flow with this delivery (no JWT: the webhook's auth decides).

     JSON, form-encoded (`application/x-www-form-urlencoded`, Zapier's `a__b` keys
    nest), or the envelope `{webhook_id, payload, headers, source}`.
    A delivery id seen before (`webhook-id`, `Idempotency-Key` or the source's own)
    answers with the run it made.

    Args:
        webhook_id (str):
        idempotency_key (str | Unset):
        body (bool | float | list[Any] | None | str | Unset | WebhookPayloadType0): Any JSON
            value: an object (the run input), a list of items (n8n), or with an `input_mapping`
            anything the mapping reads; the envelope `{webhook_id, payload, headers, source}` is
            unwrapped

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | WebhookAccepted | WebhookIgnored]
     """


    kwargs = _get_kwargs(
        webhook_id=webhook_id,
body=body,
idempotency_key=idempotency_key,

    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)

def sync(
    webhook_id: str,
    *,
    client: AuthenticatedClient,
    body: bool | float | list[Any] | None | str | Unset | WebhookPayloadType0 = UNSET,
    idempotency_key: str | Unset = UNSET,

) -> Error | WebhookAccepted | WebhookIgnored | None:
    """ Start the webhook's flow with this delivery (no JWT: the webhook's auth decides).

     JSON, form-encoded (`application/x-www-form-urlencoded`, Zapier's `a__b` keys
    nest), or the envelope `{webhook_id, payload, headers, source}`.
    A delivery id seen before (`webhook-id`, `Idempotency-Key` or the source's own)
    answers with the run it made.

    Args:
        webhook_id (str):
        idempotency_key (str | Unset):
        body (bool | float | list[Any] | None | str | Unset | WebhookPayloadType0): Any JSON
            value: an object (the run input), a list of items (n8n), or with an `input_mapping`
            anything the mapping reads; the envelope `{webhook_id, payload, headers, source}` is
            unwrapped

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | WebhookAccepted | WebhookIgnored
     """


    return sync_detailed(
        webhook_id=webhook_id,
client=client,
body=body,
idempotency_key=idempotency_key,

    ).parsed

async def asyncio_detailed(
    webhook_id: str,
    *,
    client: AuthenticatedClient,
    body: bool | float | list[Any] | None | str | Unset | WebhookPayloadType0 = UNSET,
    idempotency_key: str | Unset = UNSET,

) -> Response[Error | WebhookAccepted | WebhookIgnored]:
    """ Start the webhook's flow with this delivery (no JWT: the webhook's auth decides).

     JSON, form-encoded (`application/x-www-form-urlencoded`, Zapier's `a__b` keys
    nest), or the envelope `{webhook_id, payload, headers, source}`.
    A delivery id seen before (`webhook-id`, `Idempotency-Key` or the source's own)
    answers with the run it made.

    Args:
        webhook_id (str):
        idempotency_key (str | Unset):
        body (bool | float | list[Any] | None | str | Unset | WebhookPayloadType0): Any JSON
            value: an object (the run input), a list of items (n8n), or with an `input_mapping`
            anything the mapping reads; the envelope `{webhook_id, payload, headers, source}` is
            unwrapped

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | WebhookAccepted | WebhookIgnored]
     """


    kwargs = _get_kwargs(
        webhook_id=webhook_id,
body=body,
idempotency_key=idempotency_key,

    )

    response = await client.get_async_httpx_client().request(
        **kwargs
    )

    return _build_response(client=client, response=response)

async def asyncio(
    webhook_id: str,
    *,
    client: AuthenticatedClient,
    body: bool | float | list[Any] | None | str | Unset | WebhookPayloadType0 = UNSET,
    idempotency_key: str | Unset = UNSET,

) -> Error | WebhookAccepted | WebhookIgnored | None:
    """ Start the webhook's flow with this delivery (no JWT: the webhook's auth decides).

     JSON, form-encoded (`application/x-www-form-urlencoded`, Zapier's `a__b` keys
    nest), or the envelope `{webhook_id, payload, headers, source}`.
    A delivery id seen before (`webhook-id`, `Idempotency-Key` or the source's own)
    answers with the run it made.

    Args:
        webhook_id (str):
        idempotency_key (str | Unset):
        body (bool | float | list[Any] | None | str | Unset | WebhookPayloadType0): Any JSON
            value: an object (the run input), a list of items (n8n), or with an `input_mapping`
            anything the mapping reads; the envelope `{webhook_id, payload, headers, source}` is
            unwrapped

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | WebhookAccepted | WebhookIgnored
     """


    return (await asyncio_detailed(
        webhook_id=webhook_id,
client=client,
body=body,
idempotency_key=idempotency_key,

    )).parsed
