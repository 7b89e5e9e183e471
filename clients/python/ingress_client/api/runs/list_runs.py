from http import HTTPStatus
from typing import Any, cast
from urllib.parse import quote

import httpx

from ...client import AuthenticatedClient, Client
from ...types import Response, UNSET
from ... import errors

from ...models.error import Error
from ...models.run_page import RunPage
from ...models.run_status import RunStatus
from ...types import UNSET, Unset
from typing import cast
import datetime



def _get_kwargs(
    *,
    limit: int | Unset = 20,
    cursor: str | Unset = UNSET,
    status: RunStatus | Unset = UNSET,
    flow_id: str | Unset = UNSET,
    created_after: datetime.datetime | Unset = UNSET,
    created_before: datetime.datetime | Unset = UNSET,
    include: str | Unset = UNSET,

) -> dict[str, Any]:
    

    

    params: dict[str, Any] = {}

    params["limit"] = limit

    params["cursor"] = cursor

    json_status: str | Unset = UNSET
    if not isinstance(status, Unset):
        json_status = status.value

    params["status"] = json_status

    params["flow_id"] = flow_id

    json_created_after: str | Unset = UNSET
    if not isinstance(created_after, Unset):
        json_created_after = created_after.isoformat()
    params["created_after"] = json_created_after

    json_created_before: str | Unset = UNSET
    if not isinstance(created_before, Unset):
        json_created_before = created_before.isoformat()
    params["created_before"] = json_created_before

    params["include"] = include


    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}


    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/runs",
        "params": params,
    }


    return _kwargs



def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Error | RunPage:
    if response.status_code == 200:
        response_200 = RunPage.from_dict(response.json())



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



def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[Error | RunPage]:
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
    status: RunStatus | Unset = UNSET,
    flow_id: str | Unset = UNSET,
    created_after: datetime.datetime | Unset = UNSET,
    created_before: datetime.datetime | Unset = UNSET,
    include: str | Unset = UNSET,

) -> Response[Error | RunPage]:
    """ List the caller's tenant's runs, newest first (keyset pagination).

     Filter by `status`, `flow_id` and creation time; the next page is `cursor=` the
    `next_cursor` of this one. `input`, `output` and `tasks` only with `include=`.

    Args:
        limit (int | Unset):  Default: 20.
        cursor (str | Unset):
        status (RunStatus | Unset): A run's status. SUCCEEDED, FAILED, CANCELLED and TIMED_OUT are
            final.
        flow_id (str | Unset):
        created_after (datetime.datetime | Unset):
        created_before (datetime.datetime | Unset):
        include (str | Unset):  Example: input,output.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | RunPage]
     """


    kwargs = _get_kwargs(
        limit=limit,
cursor=cursor,
status=status,
flow_id=flow_id,
created_after=created_after,
created_before=created_before,
include=include,

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
    status: RunStatus | Unset = UNSET,
    flow_id: str | Unset = UNSET,
    created_after: datetime.datetime | Unset = UNSET,
    created_before: datetime.datetime | Unset = UNSET,
    include: str | Unset = UNSET,

) -> Error | RunPage | None:
    """ List the caller's tenant's runs, newest first (keyset pagination).

     Filter by `status`, `flow_id` and creation time; the next page is `cursor=` the
    `next_cursor` of this one. `input`, `output` and `tasks` only with `include=`.

    Args:
        limit (int | Unset):  Default: 20.
        cursor (str | Unset):
        status (RunStatus | Unset): A run's status. SUCCEEDED, FAILED, CANCELLED and TIMED_OUT are
            final.
        flow_id (str | Unset):
        created_after (datetime.datetime | Unset):
        created_before (datetime.datetime | Unset):
        include (str | Unset):  Example: input,output.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | RunPage
     """


    return sync_detailed(
        client=client,
limit=limit,
cursor=cursor,
status=status,
flow_id=flow_id,
created_after=created_after,
created_before=created_before,
include=include,

    ).parsed

async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    limit: int | Unset = 20,
    cursor: str | Unset = UNSET,
    status: RunStatus | Unset = UNSET,
    flow_id: str | Unset = UNSET,
    created_after: datetime.datetime | Unset = UNSET,
    created_before: datetime.datetime | Unset = UNSET,
    include: str | Unset = UNSET,

) -> Response[Error | RunPage]:
    """ List the caller's tenant's runs, newest first (keyset pagination).

     Filter by `status`, `flow_id` and creation time; the next page is `cursor=` the
    `next_cursor` of this one. `input`, `output` and `tasks` only with `include=`.

    Args:
        limit (int | Unset):  Default: 20.
        cursor (str | Unset):
        status (RunStatus | Unset): A run's status. SUCCEEDED, FAILED, CANCELLED and TIMED_OUT are
            final.
        flow_id (str | Unset):
        created_after (datetime.datetime | Unset):
        created_before (datetime.datetime | Unset):
        include (str | Unset):  Example: input,output.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | RunPage]
     """


    kwargs = _get_kwargs(
        limit=limit,
cursor=cursor,
status=status,
flow_id=flow_id,
created_after=created_after,
created_before=created_before,
include=include,

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
    status: RunStatus | Unset = UNSET,
    flow_id: str | Unset = UNSET,
    created_after: datetime.datetime | Unset = UNSET,
    created_before: datetime.datetime | Unset = UNSET,
    include: str | Unset = UNSET,

) -> Error | RunPage | None:
    """ List the caller's tenant's runs, newest first (keyset pagination).

     Filter by `status`, `flow_id` and creation time; the next page is `cursor=` the
    `next_cursor` of this one. `input`, `output` and `tasks` only with `include=`.

    Args:
        limit (int | Unset):  Default: 20.
        cursor (str | Unset):
        status (RunStatus | Unset): A run's status. SUCCEEDED, FAILED, CANCELLED and TIMED_OUT are
            final.
        flow_id (str | Unset):
        created_after (datetime.datetime | Unset):
        created_before (datetime.datetime | Unset):
        include (str | Unset):  Example: input,output.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | RunPage
     """


    return (await asyncio_detailed(
        client=client,
limit=limit,
cursor=cursor,
status=status,
flow_id=flow_id,
created_after=created_after,
created_before=created_before,
include=include,

    )).parsed
