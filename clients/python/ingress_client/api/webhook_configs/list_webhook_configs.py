from http import HTTPStatus
from typing import Any, cast
from urllib.parse import quote

import httpx

from ...client import AuthenticatedClient, Client
from ...types import Response, UNSET
from ... import errors

from ...models.error import Error
from ...models.webhook_config_page import WebhookConfigPage
from ...types import UNSET, Unset
from typing import cast



def _get_kwargs(
    *,
    limit: int | Unset = 20,
    cursor: str | Unset = UNSET,
    source: str | Unset = UNSET,
    enabled: bool | Unset = UNSET,

) -> dict[str, Any]:
    

    

    params: dict[str, Any] = {}

    params["limit"] = limit

    params["cursor"] = cursor

    params["source"] = source

    params["enabled"] = enabled


    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}


    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/webhook-configs",
        "params": params,
    }


    return _kwargs



def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Error | WebhookConfigPage:
    if response.status_code == 200:
        response_200 = WebhookConfigPage.from_dict(response.json())



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

    if response.status_code == 503:
        response_503 = Error.from_dict(response.json())



        return response_503

    response_default = Error.from_dict(response.json())



    return response_default



def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[Error | WebhookConfigPage]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    limit: int | Unset = 20,
    cursor: str | Unset = UNSET,
    source: str | Unset = UNSET,
    enabled: bool | Unset = UNSET,

) -> Response[Error | WebhookConfigPage]:
    """ List the tenant's webhooks, newest first.

     Filter by `source` or `enabled`; secrets are never shown.

    Args:
        limit (int | Unset):  Default: 20.
        cursor (str | Unset):
        source (str | Unset):
        enabled (bool | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | WebhookConfigPage]
     """


    kwargs = _get_kwargs(
        limit=limit,
cursor=cursor,
source=source,
enabled=enabled,

    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)

def sync(
    *,
    client: AuthenticatedClient,
    limit: int | Unset = 20,
    cursor: str | Unset = UNSET,
    source: str | Unset = UNSET,
    enabled: bool | Unset = UNSET,

) -> Error | WebhookConfigPage | None:
    """ List the tenant's webhooks, newest first.

     Filter by `source` or `enabled`; secrets are never shown.

    Args:
        limit (int | Unset):  Default: 20.
        cursor (str | Unset):
        source (str | Unset):
        enabled (bool | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | WebhookConfigPage
     """


    return sync_detailed(
        client=client,
limit=limit,
cursor=cursor,
source=source,
enabled=enabled,

    ).parsed

async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    limit: int | Unset = 20,
    cursor: str | Unset = UNSET,
    source: str | Unset = UNSET,
    enabled: bool | Unset = UNSET,

) -> Response[Error | WebhookConfigPage]:
    """ List the tenant's webhooks, newest first.

     Filter by `source` or `enabled`; secrets are never shown.

    Args:
        limit (int | Unset):  Default: 20.
        cursor (str | Unset):
        source (str | Unset):
        enabled (bool | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | WebhookConfigPage]
     """


    kwargs = _get_kwargs(
        limit=limit,
cursor=cursor,
source=source,
enabled=enabled,

    )

    response = await client.get_async_httpx_client().request(
        **kwargs
    )

    return _build_response(client=client, response=response)

async def asyncio(
    *,
    client: AuthenticatedClient,
    limit: int | Unset = 20,
    cursor: str | Unset = UNSET,
    source: str | Unset = UNSET,
    enabled: bool | Unset = UNSET,

) -> Error | WebhookConfigPage | None:
    """ List the tenant's webhooks, newest first.

     Filter by `source` or `enabled`; secrets are never shown.

    Args:
        limit (int | Unset):  Default: 20.
        cursor (str | Unset):
        source (str | Unset):
        enabled (bool | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | WebhookConfigPage
     """


    return (await asyncio_detailed(
        client=client,
limit=limit,
cursor=cursor,
source=source,
enabled=enabled,

    )).parsed
