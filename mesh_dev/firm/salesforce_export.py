"""The CRM side of the firm: Salesforce Accounts (one per client) and data-product Contracts.

Both files have the shape of a Salesforce REST query result (``totalSize``, ``done``, ``records``).
All timestamps derive from the firm's dates, never from the clock.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from mesh_dev.firm import identifiers as ids
from mesh_dev.firm.history_window import HistoryWindow
from mesh_dev.firm.randomness import DrawStream
from mesh_dev.firm.reference import ReferenceData

API_VERSION = "v62.0"
DATA_PRODUCTS = ("nav_history", "performance", "esg", "prices")
STATUSES = ("Draft", "Activated", "Terminated", "Expired")
STATUS_WEIGHTS = (0.15, 0.6, 0.1, 0.15)
FIRST_CONTRACT_NUMBER = 100


def salesforce_datetime(day: dt.date, seconds: int) -> str:
    """Salesforce's datetime format: ``2026-03-14T09:21:33.000+0000``."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{day.isoformat()}T{hours:02d}:{minutes:02d}:{secs:02d}.000+0000"


def _query_result(records: list[dict]) -> dict:
    return {"totalSize": len(records), "done": True, "records": records}


def build_salesforce_export(
    reference: ReferenceData, window: HistoryWindow, rng: np.random.Generator
) -> dict[str, dict]:
    """``salesforce/accounts.json`` and ``salesforce/contracts.json`` contents (relative path -> body)."""
    draws = DrawStream(rng)
    end = window.end
    accounts: list[dict] = []
    contracts: list[dict] = []
    contract_ids: set[str] = set()
    number = FIRST_CONTRACT_NUMBER
    for client in reference.clients:
        products = list(DATA_PRODUCTS)
        count = draws.integer(1, 4)
        created_days: list[dt.date] = []
        for _ in range(count):
            product = products.pop(draws.integer(0, len(products)))
            status = STATUSES[number - FIRST_CONTRACT_NUMBER] if number - FIRST_CONTRACT_NUMBER < 4 else _status(draws)
            start, stop = _contract_dates(status, end, draws)
            created = (start if status != "Draft" else end) - dt.timedelta(days=draws.integer(5, 60))
            created_days.append(created)
            contract_id = ids.new_salesforce_id(ids.CONTRACT_PREFIX, draws, contract_ids)
            contracts.append(
                {
                    "attributes": {
                        "type": "Contract",
                        "url": f"/services/data/{API_VERSION}/sobjects/Contract/{contract_id}",
                    },
                    "Id": contract_id,
                    "AccountId": client.salesforce_account_id,
                    "ContractNumber": f"{number:08d}",
                    "Data_Product__c": product,
                    "StartDate": start.isoformat(),
                    "EndDate": stop.isoformat(),
                    "Status": status,
                    "ADX_Provisioned__c": False,
                    **_stamps(created, end, draws),
                }
            )
            number += 1
        account_created = min(created_days) - dt.timedelta(days=draws.integer(1, 90))
        accounts.append(
            {
                "attributes": {
                    "type": "Account",
                    "url": f"/services/data/{API_VERSION}/sobjects/Account/{client.salesforce_account_id}",
                },
                "Id": client.salesforce_account_id,
                "Name": client.client_name,
                "Client_Id__c": client.client_id,
                "Tenant_Id__c": client.tenant_id,
                "AWS_Account_Id__c": client.aws_account_id,
                **_stamps(account_created, end, draws),
            }
        )
    return {"salesforce/accounts.json": _query_result(accounts), "salesforce/contracts.json": _query_result(contracts)}


def _status(draws: DrawStream) -> str:
    pick = draws.random()
    for status, weight in zip(STATUSES, STATUS_WEIGHTS, strict=True):
        if pick < weight:
            return status
        pick -= weight
    return STATUSES[-1]


def _contract_dates(status: str, end: dt.date, draws: DrawStream) -> tuple[dt.date, dt.date]:
    """Start and end dates consistent with ``status`` as of the firm's last day ``end``."""
    day = dt.timedelta(days=1)
    if status == "Draft":
        start = end + draws.integer(10, 120) * day
        return start, start + 365 * day
    if status == "Expired":
        stop = end - draws.integer(1, 300) * day
        return stop - 365 * draws.integer(1, 3) * day, stop
    if status == "Terminated":
        start = end - draws.integer(200, 800) * day
        return start, end - draws.integer(1, 150) * day
    start = end - draws.integer(30, 700) * day
    stop = start + 365 * draws.integer(1, 4) * day
    while stop <= end:
        stop += 365 * day
    return start, stop


def _stamps(created: dt.date, end: dt.date, draws: DrawStream) -> dict[str, str]:
    created_seconds = draws.integer(0, 86_400)
    modified = created + dt.timedelta(days=draws.integer(0, (end - created).days + 1))
    modified_seconds = draws.integer(created_seconds if modified == created else 0, 86_400)
    return {
        "CreatedDate": salesforce_datetime(created, created_seconds),
        "SystemModstamp": salesforce_datetime(modified, modified_seconds),
    }
