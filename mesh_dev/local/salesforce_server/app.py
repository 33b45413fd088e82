"""The HTTP face of the local org: the Salesforce endpoints simple-salesforce calls, Salesforce-shaped errors.

Served endpoints (``{v}`` is ``v<major>.<minor>``, e.g. ``v62.0``):

- ``POST /services/Soap/u/{n}``: the SOAP ``login`` of the partner API (what ``SalesforceLogin`` sends);
- ``POST /services/oauth2/token``: OAuth 2.0 username-password flow (for curl and other clients);
- ``GET /services/data/{v}/query?q=`` and ``GET /services/data/{v}/query/01g...-<offset>`` (``nextRecordsUrl``);
- ``GET|PATCH /services/data/{v}/sobjects/<Type>/<Id>``, ``POST /services/data/{v}/sobjects/<Type>``;
- local-only hooks, outside ``/services``: ``POST /__local/expire_sessions``, ``POST /__local/rate_limit``
  ``{"requests": N[, "after": M]}`` (N API calls, after the next M, answer 403 ``REQUEST_LIMIT_EXCEEDED``),
  ``GET /__local/stats``.

Errors have Salesforce's shape: a JSON list of ``{"message", "errorCode"}`` with its status code.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Awaitable, Callable
from html import escape
from typing import Any
from urllib.parse import parse_qs
from xml.etree import ElementTree

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mesh_dev.local.salesforce_server import soql
from mesh_dev.local.salesforce_server.org import ORG_ID, USER_ID, InvalidQueryLocator, LocalOrg
from mesh_dev.local.salesforce_server.store import ReadOnlyField, RecordNotFound

_VERSION = re.compile(r"^v\d{2,3}\.\d$")
_LOCATOR = re.compile(r"^(01g[0-9A-Za-z]{15})-(\d+)$")
_INVALID_LOGIN = "Invalid username, password, security token; or user locked out."
_SOAP_NS = 'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"'

Handler = Callable[[Request], Awaitable[Response]]


class ApiError(Exception):
    """An error answered as Salesforce does: ``[{"message": ..., "errorCode": ...}]`` with ``status``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def response(self) -> JSONResponse:
        """The JSON error response."""
        return JSONResponse([{"message": self.message, "errorCode": self.code}], status_code=self.status)


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() in ("bearer", "oauth") and token.strip() else None


def _record(record: dict[str, Any], sobject: str, version: str, fields: dict[str, Any] | None = None) -> dict:
    url = f"/services/data/{version}/sobjects/{sobject}/{record.get('Id')}"
    return {"attributes": {"type": sobject, "url": url}, **(record if fields is None else fields)}


def build_app(org: LocalOrg) -> Starlette:
    """The Starlette application serving ``org``."""

    def api(handler: Callable[[Request, str], Awaitable[Response]]) -> Handler:
        """Version check, session check, API limit, error mapping and ``Sforce-Limit-Info`` for a data API route."""

        async def endpoint(request: Request) -> Response:
            version = request.path_params["version"]
            try:
                if not _VERSION.match(version):
                    raise ApiError(404, "NOT_FOUND", f"The requested resource does not exist (API version {version})")
                if not org.session_valid(_bearer(request)):
                    raise ApiError(401, "INVALID_SESSION_ID", "Session expired or invalid")
                if not org.admit_api_call():
                    raise ApiError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
                response = await handler(request, version)
            except ApiError as error:
                response = error.response()
            except soql.MalformedQuery as exc:
                response = ApiError(400, "MALFORMED_QUERY", str(exc)).response()
            except soql.InvalidField as exc:
                response = ApiError(400, "INVALID_FIELD", str(exc)).response()
            except soql.InvalidType as exc:
                response = ApiError(400, "INVALID_TYPE", str(exc)).response()
            except ReadOnlyField as exc:
                response = ApiError(400, "INVALID_FIELD_FOR_INSERT_UPDATE", str(exc)).response()
            except RecordNotFound:
                response = ApiError(404, "NOT_FOUND", "The requested resource does not exist").response()
            except InvalidQueryLocator as exc:
                response = ApiError(400, "INVALID_QUERY_LOCATOR", str(exc)).response()
            response.headers["Sforce-Limit-Info"] = org.limit_info()
            return response

        return endpoint

    def page_size(request: Request) -> int:
        options = request.headers.get("sforce-query-options", "")
        match = re.search(r"batchSize=(\d+)", options)
        return max(1, min(org.page_size, int(match.group(1)))) if match else org.page_size

    def query_page(version: str, locator: str, offset: int, size: int) -> JSONResponse:
        rows, done, total = org.read_cursor(locator, offset, size)
        body: dict[str, Any] = {"totalSize": total, "done": done}
        if not done:
            body["nextRecordsUrl"] = f"/services/data/{version}/query/{locator}-{offset + size}"
        body["records"] = rows
        return JSONResponse(body)

    async def query(request: Request, version: str) -> Response:
        text = request.query_params.get("q")
        if text is None:
            raise ApiError(400, "MALFORMED_QUERY", "the q parameter (the SOQL query) is missing")
        try:
            parsed = soql.resolve(soql.parse(text), org.store.schemas())
        except soql.MalformedQuery as exc:
            raise ApiError(400, "MALFORMED_QUERY", f"{exc} in query: {text}") from exc
        matches = soql.evaluate(parsed, org.store.records(parsed.sobject))
        rows = [_record(r, parsed.sobject, version, soql.select(parsed, r)) for r in matches]
        locator = org.open_cursor(parsed.sobject, rows)
        return query_page(version, locator, 0, page_size(request))

    async def query_more(request: Request, version: str) -> Response:
        match = _LOCATOR.match(request.path_params["locator"])
        if match is None:
            raise InvalidQueryLocator(f"invalid query locator {request.path_params['locator']}")
        return query_page(version, match.group(1), int(match.group(2)), page_size(request))

    async def json_body(request: Request) -> dict[str, Any]:
        try:
            body = json.loads(await request.body() or b"null")
        except ValueError as exc:
            raise ApiError(400, "JSON_PARSER_ERROR", f"the request body is not JSON: {exc}") from exc
        if not isinstance(body, dict):
            raise ApiError(400, "JSON_PARSER_ERROR", "the request body must be a JSON object of field values")
        return body

    def sobject_name(request: Request) -> str:
        wanted = request.path_params["sobject"]
        known = {name.lower(): name for name in org.store.schemas()}
        if wanted.lower() not in known:
            raise ApiError(404, "NOT_FOUND", f"The requested resource does not exist (sObject type {wanted})")
        return known[wanted.lower()]

    async def record(request: Request, version: str) -> Response:
        sobject, record_id = sobject_name(request), request.path_params["record_id"]
        if request.method == "GET":
            return JSONResponse(_record(org.store.get(sobject, record_id), sobject, version))
        org.store.update(sobject, record_id, await json_body(request))
        return Response(status_code=204)

    async def update_collection(request: Request, version: str) -> Response:
        """sObject Collections update: up to 200 records of any type in one call, one result per record."""
        try:
            body = json.loads(await request.body() or b"null")
        except ValueError as exc:
            raise ApiError(400, "JSON_PARSER_ERROR", f"the request body is not JSON: {exc}") from exc
        records = body.get("records") if isinstance(body, dict) else None
        if not isinstance(records, list) or not 0 < len(records) <= 200:
            raise ApiError(400, "INVALID_BATCH_SIZE", "records must hold between 1 and 200 records")
        known = {name.lower(): name for name in org.store.schemas()}
        results = []
        for item in records:
            values = {k: v for k, v in item.items() if k not in ("attributes", "id", "Id")}
            record_id = item.get("id") or item.get("Id")
            sobject = known.get(str((item.get("attributes") or {}).get("type", "")).lower())
            try:
                if sobject is None:
                    raise ApiError(400, "INVALID_TYPE", f"record {record_id}: attributes.type is missing or unknown")
                org.store.update(sobject, record_id, values)
                results.append({"id": record_id, "success": True, "errors": []})
            except (ApiError, ReadOnlyField, RecordNotFound, soql.InvalidField) as exc:
                code = exc.code if isinstance(exc, ApiError) else (
                    "ENTITY_IS_DELETED" if isinstance(exc, RecordNotFound) else "INVALID_FIELD")
                results.append({"id": record_id, "success": False,
                                "errors": [{"statusCode": code, "message": str(exc), "fields": []}]})
        return JSONResponse(results)

    async def create(request: Request, version: str) -> Response:
        record_id = org.store.create(sobject_name(request), await json_body(request))
        return JSONResponse({"id": record_id, "success": True, "errors": []}, status_code=201)

    async def soap_login(request: Request) -> Response:
        version = request.path_params["number"]
        try:
            envelope = ElementTree.fromstring(await request.body())
            fields = {element.tag.rsplit("}", 1)[-1]: (element.text or "") for element in envelope.iter()}
        except ElementTree.ParseError:
            fields = {}
        session_id = org.login(fields.get("username", ""), fields.get("password", ""))
        if session_id is None:
            fault = (
                f'<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope {_SOAP_NS} '
                'xmlns:sf="urn:fault.partner.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
                "<soapenv:Body><soapenv:Fault><faultcode>sf:INVALID_LOGIN</faultcode>"
                f"<faultstring>INVALID_LOGIN: {_INVALID_LOGIN}</faultstring><detail>"
                '<sf:LoginFault xsi:type="sf:LoginFault"><sf:exceptionCode>INVALID_LOGIN</sf:exceptionCode>'
                f"<sf:exceptionMessage>{_INVALID_LOGIN}</sf:exceptionMessage></sf:LoginFault></detail>"
                "</soapenv:Fault></soapenv:Body></soapenv:Envelope>"
            )
            return Response(fault, status_code=500, media_type="text/xml")
        base = str(request.base_url).rstrip("/")
        ok = (
            f'<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope {_SOAP_NS} xmlns="urn:partner.soap.sforce.com">'
            "<soapenv:Body><loginResponse><result>"
            f"<metadataServerUrl>{escape(base)}/services/Soap/m/{escape(version)}/{ORG_ID}</metadataServerUrl>"
            "<passwordExpired>false</passwordExpired><sandbox>true</sandbox>"
            f"<serverUrl>{escape(base)}/services/Soap/u/{escape(version)}/{ORG_ID}</serverUrl>"
            f"<sessionId>{escape(session_id)}</sessionId><userId>{USER_ID}</userId>"
            f"<userInfo><organizationId>{ORG_ID}</organizationId>"
            f"<userName>{escape(org.credentials.username)}</userName></userInfo>"
            "</result></loginResponse></soapenv:Body></soapenv:Envelope>"
        )
        return Response(ok, media_type="text/xml")

    async def oauth_token(request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        if form.get("grant_type") != "password":
            return JSONResponse(
                {"error": "unsupported_grant_type", "error_description": "grant type not supported"}, status_code=400
            )
        session_id = org.login(form.get("username", ""), form.get("password", ""))
        if session_id is None:
            return JSONResponse(
                {"error": "invalid_grant", "error_description": "authentication failure"}, status_code=400
            )
        base = str(request.base_url).rstrip("/")
        return JSONResponse(
            {
                "access_token": session_id,
                "instance_url": base,
                "id": f"{base}/id/{ORG_ID}/{USER_ID}",
                "token_type": "Bearer",
                "issued_at": str(int(time.time() * 1000)),
            }
        )

    async def versions(request: Request) -> Response:
        base = "/services/data"
        return JSONResponse([{"label": "Winter '25", "url": f"{base}/v62.0", "version": "62.0"}])

    async def expire_sessions(request: Request) -> Response:
        return JSONResponse({"expired_sessions": org.expire_sessions()})

    async def rate_limit(request: Request) -> Response:
        try:
            body = await json_body(request)
            requests, after = int(body["requests"]), int(body.get("after", 0))
            org.refuse_next(requests, after)
        except (ApiError, KeyError, TypeError, ValueError):
            message = 'expected a JSON body {"requests": N, "after": M} (non-negative integers; "after" optional)'
            return JSONResponse({"error": message}, status_code=400)
        return JSONResponse({"refusing_requests": requests, "after": after})

    async def stats(request: Request) -> Response:
        return JSONResponse(org.stats())

    return Starlette(
        routes=[
            Route("/services/Soap/u/{number}", soap_login, methods=["POST"]),
            Route("/services/oauth2/token", oauth_token, methods=["POST"]),
            Route("/services/data", versions, methods=["GET"]),
            Route("/services/data/{version}/query", api(query), methods=["GET"]),
            Route("/services/data/{version}/query/", api(query), methods=["GET"]),
            Route("/services/data/{version}/query/{locator}", api(query_more), methods=["GET"]),
            Route("/services/data/{version}/composite/sobjects", api(update_collection), methods=["PATCH"]),
            Route("/services/data/{version}/sobjects/{sobject}", api(create), methods=["POST"]),
            Route("/services/data/{version}/sobjects/{sobject}/", api(create), methods=["POST"]),
            Route("/services/data/{version}/sobjects/{sobject}/{record_id}", api(record), methods=["GET", "PATCH"]),
            Route("/__local/expire_sessions", expire_sessions, methods=["POST"]),
            Route("/__local/rate_limit", rate_limit, methods=["POST"]),
            Route("/__local/stats", stats, methods=["GET"]),
        ]
    )
