from http import HTTPStatus
from typing import Any, cast
from urllib.parse import quote

import httpx

from ...client import AuthenticatedClient, Client
from ...types import Response, UNSET
from ... import errors

from ...models.error import Error
from ...models.flow_register import FlowRegister
from ...models.flow_version import FlowVersion
from typing import cast



def _get_kwargs(
    *,
    body: FlowRegister,

) -> dict[str, Any]:
    headers: dict[str, Any] = {}


    

    

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/v1/flows",
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs



def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Error | FlowVersion:
    if response.status_code == 200:
        response_200 = FlowVersion.from_dict(response.json())



        return response_200

    if response.status_code == 201:
        response_201 = FlowVersion.from_dict(response.json())



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

    if response.status_code == 409:
        response_409 = Error.from_dict(response.json())



        return response_409

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



def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[Error | FlowVersion]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    body: FlowRegister,

) -> Response[Error | FlowVersion]:
    """ Register a version of a flow (validated and policy-checked for the tenant).

     Versions are immutable: the same version with the same content answers 200 with
    the stored version, with other content 409. Without `version` the next integer is
    assigned (or, when the content equals the latest version's, that version: 200).

    Args:
        body (FlowRegister):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | FlowVersion]
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
    body: FlowRegister,

) -> Error | FlowVersion | None:
    """ Register a version of a flow (validated and policy-checked for the tenant).

     Versions are immutable: the same version with the same content answers 200 with
    the stored version, with other content 409. Without `version` the next integer is
    assigned (or, when the content equals the latest version's, that version: 200).

    Args:
        body (FlowRegister):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | FlowVersion
     """


    return sync_detailed(
        client=client,
body=body,

    ).parsed

async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    body: FlowRegister,

) -> Response[Error | FlowVersion]:
    """ Register a version of a flow (validated and policy-checked for the tenant).

     Versions are immutable: the same version with the same content answers 200 with
    the stored version, with other content 409. Without `version` the next integer is
    assigned (or, when the content equals the latest version's, that version: 200).

    Args:
        body (FlowRegister):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | FlowVersion]
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
    body: FlowRegister,

) -> Error | FlowVersion | None:
    """ Register a version of a flow (validated and policy-checked for the tenant).

     Versions are immutable: the same version with the same content answers 200 with
    the stored version, with other content 409. Without `version` the next integer is
    assigned (or, when the content equals the latest version's, that version: 200).

    Args:
        body (FlowRegister):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | FlowVersion
     """


    return (await asyncio_detailed(
        client=client,
body=body,

    )).parsed
