from http import HTTPStatus
from typing import Any, cast
from urllib.parse import quote

import httpx

from ...client import AuthenticatedClient, Client
from ...types import Response, UNSET
from ... import errors

from ...models.error import Error
from ...models.run_of_inline_flow import RunOfInlineFlow
from ...models.run_of_registered_flow import RunOfRegisteredFlow
from ...models.run_validation import RunValidation
from typing import cast



def _get_kwargs(
    *,
    body: RunOfInlineFlow | RunOfRegisteredFlow,

) -> dict[str, Any]:
    headers: dict[str, Any] = {}


    

    

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/v1/runs/validate",
    }

    
    if isinstance(body, RunOfRegisteredFlow):
        _kwargs["json"] = body.to_dict()
    else:
        _kwargs["json"] = body.to_dict()


    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs



def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Error | RunValidation:
    if response.status_code == 200:
        response_200 = RunValidation.from_dict(response.json())



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



def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[Error | RunValidation]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    body: RunOfInlineFlow | RunOfRegisteredFlow,

) -> Response[Error | RunValidation]:
    """ Dry-run the accept pipeline: validation and policies, nothing stored or published.

     Policy violations answer 200 with `valid: false`; a malformed flow is 400, a
    foreign tenant 403 and a run too large to publish 413, exactly as
    `POST /v1/runs` would answer.

    Args:
        body (RunOfInlineFlow | RunOfRegisteredFlow):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | RunValidation]
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
    body: RunOfInlineFlow | RunOfRegisteredFlow,

) -> Error | RunValidation | None:
    """ Dry-run the accept pipeline: validation and policies, nothing stored or published.

     Policy violations answer 200 with `valid: false`; a malformed flow is 400, a
    foreign tenant 403 and a run too large to publish 413, exactly as
    `POST /v1/runs` would answer.

    Args:
        body (RunOfInlineFlow | RunOfRegisteredFlow):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | RunValidation
     """


    return sync_detailed(
        client=client,
body=body,

    ).parsed

async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    body: RunOfInlineFlow | RunOfRegisteredFlow,

) -> Response[Error | RunValidation]:
    """ Dry-run the accept pipeline: validation and policies, nothing stored or published.

     Policy violations answer 200 with `valid: false`; a malformed flow is 400, a
    foreign tenant 403 and a run too large to publish 413, exactly as
    `POST /v1/runs` would answer.

    Args:
        body (RunOfInlineFlow | RunOfRegisteredFlow):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | RunValidation]
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
    body: RunOfInlineFlow | RunOfRegisteredFlow,

) -> Error | RunValidation | None:
    """ Dry-run the accept pipeline: validation and policies, nothing stored or published.

     Policy violations answer 200 with `valid: false`; a malformed flow is 400, a
    foreign tenant 403 and a run too large to publish 413, exactly as
    `POST /v1/runs` would answer.

    Args:
        body (RunOfInlineFlow | RunOfRegisteredFlow):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | RunValidation
     """


    return (await asyncio_detailed(
        client=client,
body=body,

    )).parsed
