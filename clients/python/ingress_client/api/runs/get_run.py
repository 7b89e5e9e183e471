from http import HTTPStatus
from typing import Any, cast
from urllib.parse import quote

import httpx

from ...client import AuthenticatedClient, Client
from ...types import Response, UNSET
from ... import errors

from ...models.error import Error
from ...models.run import Run
from ...types import UNSET, Unset
from typing import cast



def _get_kwargs(
    run_id: str,
    *,
    wait: int | Unset = UNSET,

) -> dict[str, Any]:
    

    

    params: dict[str, Any] = {}

    params["wait"] = wait


    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}


    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/runs/{run_id}".format(run_id=quote(str(run_id), safe=""),),
        "params": params,
    }


    return _kwargs



def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Error | Run:
    if response.status_code == 200:
        response_200 = Run.from_dict(response.json())



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



def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[Error | Run]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    run_id: str,
    *,
    client: AuthenticatedClient,
    wait: int | Unset = UNSET,

) -> Response[Error | Run]:
    """ Show a run of the caller's tenant; with `wait`, once its status changes.

     Its status, each task's latest state and, once finished, its output or error.
    Another tenant's run is a 404, as an unknown one. `wait=S` (1-60) holds the
    answer until the run's status differs from the one it had when the request came,
    or S seconds have passed (then: the run as it is); a run that has ended answers
    at once. Over the server's limit of waiting requests: 503 with `Retry-After`.

    Args:
        run_id (str):
        wait (int | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | Run]
     """


    kwargs = _get_kwargs(
        run_id=run_id,
wait=wait,

    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)

def sync(
    run_id: str,
    *,
    client: AuthenticatedClient,
    wait: int | Unset = UNSET,

) -> Error | Run | None:
    """ Show a run of the caller's tenant; with `wait`, once its status changes.

     Its status, each task's latest state and, once finished, its output or error.
    Another tenant's run is a 404, as an unknown one. `wait=S` (1-60) holds the
    answer until the run's status differs from the one it had when the request came,
    or S seconds have passed (then: the run as it is); a run that has ended answers
    at once. Over the server's limit of waiting requests: 503 with `Retry-After`.

    Args:
        run_id (str):
        wait (int | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | Run
     """


    return sync_detailed(
        run_id=run_id,
client=client,
wait=wait,

    ).parsed

async def asyncio_detailed(
    run_id: str,
    *,
    client: AuthenticatedClient,
    wait: int | Unset = UNSET,

) -> Response[Error | Run]:
    """ Show a run of the caller's tenant; with `wait`, once its status changes.

     Its status, each task's latest state and, once finished, its output or error.
    Another tenant's run is a 404, as an unknown one. `wait=S` (1-60) holds the
    answer until the run's status differs from the one it had when the request came,
    or S seconds have passed (then: the run as it is); a run that has ended answers
    at once. Over the server's limit of waiting requests: 503 with `Retry-After`.

    Args:
        run_id (str):
        wait (int | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | Run]
     """


    kwargs = _get_kwargs(
        run_id=run_id,
wait=wait,

    )

    response = await client.get_async_httpx_client().request(
        **kwargs
    )

    return _build_response(client=client, response=response)

async def asyncio(
    run_id: str,
    *,
    client: AuthenticatedClient,
    wait: int | Unset = UNSET,

) -> Error | Run | None:
    """ Show a run of the caller's tenant; with `wait`, once its status changes.

     Its status, each task's latest state and, once finished, its output or error.
    Another tenant's run is a 404, as an unknown one. `wait=S` (1-60) holds the
    answer until the run's status differs from the one it had when the request came,
    or S seconds have passed (then: the run as it is); a run that has ended answers
    at once. Over the server's limit of waiting requests: 503 with `Retry-After`.

    Args:
        run_id (str):
        wait (int | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | Run
     """


    return (await asyncio_detailed(
        run_id=run_id,
client=client,
wait=wait,

    )).parsed
