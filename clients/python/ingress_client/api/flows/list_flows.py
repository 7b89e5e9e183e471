from http import HTTPStatus
from typing import Any, cast
from urllib.parse import quote

import httpx

from ...client import AuthenticatedClient, Client
from ...types import Response, UNSET
from ... import errors

from ...models.error import Error
from ...models.flow_page import FlowPage
from ...types import UNSET, Unset
from typing import cast



def _get_kwargs(
    *,
    limit: int | Unset = 20,
    cursor: str | Unset = UNSET,
    q: str | Unset = UNSET,
    tag: str | Unset = UNSET,

) -> dict[str, Any]:
    

    

    params: dict[str, Any] = {}

    params["limit"] = limit

    params["cursor"] = cursor

    params["q"] = q

    params["tag"] = tag


    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}


    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/flows",
        "params": params,
    }


    return _kwargs



def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Error | FlowPage:
    if response.status_code == 200:
        response_200 = FlowPage.from_dict(response.json())



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



def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[Error | FlowPage]:
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
    q: str | Unset = UNSET,
    tag: str | Unset = UNSET,

) -> Response[Error | FlowPage]:
    """ List the tenant's flows (each as its latest version), most recently registered first.

     `q` searches flow id, name and description (case-insensitive); `tag` filters.
    Flows whose every version is deprecated are not listed.

    Args:
        limit (int | Unset):  Default: 20.
        cursor (str | Unset):
        q (str | Unset):
        tag (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | FlowPage]
     """


    kwargs = _get_kwargs(
        limit=limit,
cursor=cursor,
q=q,
tag=tag,

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
    q: str | Unset = UNSET,
    tag: str | Unset = UNSET,

) -> Error | FlowPage | None:
    """ List the tenant's flows (each as its latest version), most recently registered first.

     `q` searches flow id, name and description (case-insensitive); `tag` filters.
    Flows whose every version is deprecated are not listed.

    Args:
        limit (int | Unset):  Default: 20.
        cursor (str | Unset):
        q (str | Unset):
        tag (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | FlowPage
     """


    return sync_detailed(
        client=client,
limit=limit,
cursor=cursor,
q=q,
tag=tag,

    ).parsed

async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    limit: int | Unset = 20,
    cursor: str | Unset = UNSET,
    q: str | Unset = UNSET,
    tag: str | Unset = UNSET,

) -> Response[Error | FlowPage]:
    """ List the tenant's flows (each as its latest version), most recently registered first.

     `q` searches flow id, name and description (case-insensitive); `tag` filters.
    Flows whose every version is deprecated are not listed.

    Args:
        limit (int | Unset):  Default: 20.
        cursor (str | Unset):
        q (str | Unset):
        tag (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | FlowPage]
     """


    kwargs = _get_kwargs(
        limit=limit,
cursor=cursor,
q=q,
tag=tag,

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
    q: str | Unset = UNSET,
    tag: str | Unset = UNSET,

) -> Error | FlowPage | None:
    """ List the tenant's flows (each as its latest version), most recently registered first.

     `q` searches flow id, name and description (case-insensitive); `tag` filters.
    Flows whose every version is deprecated are not listed.

    Args:
        limit (int | Unset):  Default: 20.
        cursor (str | Unset):
        q (str | Unset):
        tag (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | FlowPage
     """


    return (await asyncio_detailed(
        client=client,
limit=limit,
cursor=cursor,
q=q,
tag=tag,

    )).parsed
