from http import HTTPStatus
from typing import Any, cast
from urllib.parse import quote

import httpx

from ...client import AuthenticatedClient, Client
from ...types import Response, UNSET
from ... import errors

from ...models.error import Error
from ...models.webhook_config_created import WebhookConfigCreated
from ...models.webhook_of_inline_flow import WebhookOfInlineFlow
from ...models.webhook_of_registered_flow import WebhookOfRegisteredFlow
from typing import cast



def _get_kwargs(
    *,
    body: WebhookOfInlineFlow | WebhookOfRegisteredFlow,

) -> dict[str, Any]:
    headers: dict[str, Any] = {}


    

    

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/v1/webhook-configs",
    }

    
    if isinstance(body, WebhookOfRegisteredFlow):
        _kwargs["json"] = body.to_dict()
    else:
        _kwargs["json"] = body.to_dict()


    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs



def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Error | WebhookConfigCreated:
    if response.status_code == 201:
        response_201 = WebhookConfigCreated.from_dict(response.json())



        return response_201

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

    if response.status_code == 503:
        response_503 = Error.from_dict(response.json())



        return response_503

    response_default = Error.from_dict(response.json())



    return response_default



def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[Error | WebhookConfigCreated]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    body: WebhookOfInlineFlow | WebhookOfRegisteredFlow,

) -> Response[Error | WebhookConfigCreated]:
    """ Create a webhook. The response carries its `secret`: this once, never again.

     The webhook starts a registered flow (`flow_id`, optionally `flow_version`) or an
    inline `flow_definition`; senders POST to its `url` and authenticate by `auth`.

    Args:
        body (WebhookOfInlineFlow | WebhookOfRegisteredFlow):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | WebhookConfigCreated]
     """


    kwargs = _get_kwargs(
        body=body,

    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)

def sync(
    *,
    client: AuthenticatedClient,
    body: WebhookOfInlineFlow | WebhookOfRegisteredFlow,

) -> Error | WebhookConfigCreated | None:
    """ Create a webhook. The response carries its `secret`: this once, never again.

     The webhook starts a registered flow (`flow_id`, optionally `flow_version`) or an
    inline `flow_definition`; senders POST to its `url` and authenticate by `auth`.

    Args:
        body (WebhookOfInlineFlow | WebhookOfRegisteredFlow):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | WebhookConfigCreated
     """


    return sync_detailed(
        client=client,
body=body,

    ).parsed

async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    body: WebhookOfInlineFlow | WebhookOfRegisteredFlow,

) -> Response[Error | WebhookConfigCreated]:
    """ Create a webhook. The response carries its `secret`: this once, never again.

     The webhook starts a registered flow (`flow_id`, optionally `flow_version`) or an
    inline `flow_definition`; senders POST to its `url` and authenticate by `auth`.

    Args:
        body (WebhookOfInlineFlow | WebhookOfRegisteredFlow):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | WebhookConfigCreated]
     """


    kwargs = _get_kwargs(
        body=body,

    )

    response = await client.get_async_httpx_client().request(
        **kwargs
    )

    return _build_response(client=client, response=response)

async def asyncio(
    *,
    client: AuthenticatedClient,
    body: WebhookOfInlineFlow | WebhookOfRegisteredFlow,

) -> Error | WebhookConfigCreated | None:
    """ Create a webhook. The response carries its `secret`: this once, never again.

     The webhook starts a registered flow (`flow_id`, optionally `flow_version`) or an
    inline `flow_definition`; senders POST to its `url` and authenticate by `auth`.

    Args:
        body (WebhookOfInlineFlow | WebhookOfRegisteredFlow):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | WebhookConfigCreated
     """


    return (await asyncio_detailed(
        client=client,
body=body,

    )).parsed
