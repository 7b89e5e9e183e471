from http import HTTPStatus
from typing import Any, cast
from urllib.parse import quote

import httpx

from ...client import AuthenticatedClient, Client
from ...types import Response, UNSET
from ... import errors

from ...models.error import Error
from ...models.flow_version import FlowVersion
from typing import cast



def _get_kwargs(
    flow_id: str,

) -> dict[str, Any]:
    

    

    

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/flows/{flow_id}".format(flow_id=quote(str(flow_id), safe=""),),
    }


    return _kwargs



def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Error | FlowVersion:
    if response.status_code == 200:
        response_200 = FlowVersion.from_dict(response.json())



        return response_200

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



def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[Error | FlowVersion]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    flow_id: str,
    *,
    client: AuthenticatedClient,

) -> Response[Error | FlowVersion]:
    """ Show the latest version of a flow (deprecated versions are skipped).

     The latest is the most recently registered version that is not deprecated; a
    flow whose every version is deprecated is a 404 here.

    Args:
        flow_id (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | FlowVersion]
     """


    kwargs = _get_kwargs(
        flow_id=flow_id,

    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)

def sync(
    flow_id: str,
    *,
    client: AuthenticatedClient,

) -> Error | FlowVersion | None:
    """ Show the latest version of a flow (deprecated versions are skipped).

     The latest is the most recently registered version that is not deprecated; a
    flow whose every version is deprecated is a 404 here.

    Args:
        flow_id (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | FlowVersion
     """


    return sync_detailed(
        flow_id=flow_id,
client=client,

    ).parsed

async def asyncio_detailed(
    flow_id: str,
    *,
    client: AuthenticatedClient,

) -> Response[Error | FlowVersion]:
    """ Show the latest version of a flow (deprecated versions are skipped).

     The latest is the most recently registered version that is not deprecated; a
    flow whose every version is deprecated is a 404 here.

    Args:
        flow_id (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | FlowVersion]
     """


    kwargs = _get_kwargs(
        flow_id=flow_id,

    )

    response = await client.get_async_httpx_client().request(
        **kwargs
    )

    return _build_response(client=client, response=response)

async def asyncio(
    flow_id: str,
    *,
    client: AuthenticatedClient,

) -> Error | FlowVersion | None:
    """ Show the latest version of a flow (deprecated versions are skipped).

     The latest is the most recently registered version that is not deprecated; a
    flow whose every version is deprecated is a 404 here.

    Args:
        flow_id (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | FlowVersion
     """


    return (await asyncio_detailed(
        flow_id=flow_id,
client=client,

    )).parsed
