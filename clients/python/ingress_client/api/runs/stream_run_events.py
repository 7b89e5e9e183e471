from http import HTTPStatus
from typing import Any, cast
from urllib.parse import quote

import httpx

from ...client import AuthenticatedClient, Client
from ...types import Response, UNSET
from ... import errors

from ...models.error import Error
from ...models.run_status_event import RunStatusEvent
from ...types import UNSET, Unset
from typing import cast



def _get_kwargs(
    run_id: str,
    *,
    last_event_id: str | Unset = UNSET,

) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(last_event_id, Unset):
        headers["Last-Event-ID"] = last_event_id



    

    

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/runs/{run_id}/events".format(run_id=quote(str(run_id), safe=""),),
    }


    _kwargs["headers"] = headers
    return _kwargs



def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Error | RunStatusEvent:
    if response.status_code == 200:
        response_200 = RunStatusEvent.from_dict(response.text)



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



def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[Error | RunStatusEvent]:
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
    last_event_id: str | Unset = UNSET,

) -> Response[Error | RunStatusEvent]:
    """ Stream a run's status changes (Server-Sent Events) until it ends.

     Opens with the run as it is now (or, with `Last-Event-ID`, replays every change
    after that event), then one `status` event per change; a terminal status
    ends the stream.

    Args:
        run_id (str):
        last_event_id (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | RunStatusEvent]
     """


    kwargs = _get_kwargs(
        run_id=run_id,
last_event_id=last_event_id,

    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)

def sync(
    run_id: str,
    *,
    client: AuthenticatedClient,
    last_event_id: str | Unset = UNSET,

) -> Error | RunStatusEvent | None:
    """ Stream a run's status changes (Server-Sent Events) until it ends.

     Opens with the run as it is now (or, with `Last-Event-ID`, replays every change
    after that event), then one `status` event per change; a terminal status
    ends the stream.

    Args:
        run_id (str):
        last_event_id (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | RunStatusEvent
     """


    return sync_detailed(
        run_id=run_id,
client=client,
last_event_id=last_event_id,

    ).parsed

async def asyncio_detailed(
    run_id: str,
    *,
    client: AuthenticatedClient,
    last_event_id: str | Unset = UNSET,

) -> Response[Error | RunStatusEvent]:
    """ Stream a run's status changes (Server-Sent Events) until it ends.

     Opens with the run as it is now (or, with `Last-Event-ID`, replays every change
    after that event), then one `status` event per change; a terminal status
    ends the stream.

    Args:
        run_id (str):
        last_event_id (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | RunStatusEvent]
     """


    kwargs = _get_kwargs(
        run_id=run_id,
last_event_id=last_event_id,

    )

    response = await client.get_async_httpx_client().request(
        **kwargs
    )

    return _build_response(client=client, response=response)

async def asyncio(
    run_id: str,
    *,
    client: AuthenticatedClient,
    last_event_id: str | Unset = UNSET,

) -> Error | RunStatusEvent | None:
    """ Stream a run's status changes (Server-Sent Events) until it ends.

     Opens with the run as it is now (or, with `Last-Event-ID`, replays every change
    after that event), then one `status` event per change; a terminal status
    ends the stream.

    Args:
        run_id (str):
        last_event_id (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | RunStatusEvent
     """


    return (await asyncio_detailed(
        run_id=run_id,
client=client,
last_event_id=last_event_id,

    )).parsed
