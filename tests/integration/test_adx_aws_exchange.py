"""The aws exchange against real S3 (moto's server) and a real ``dataexchange`` client answered by botocore's Stubber.

AWS Data Exchange has no local implementation, so its responses are stubbed; the Stubber checks every request
against botocore's service model and against the exact parameters expected here, in order. Staged files go
to a real (moto) S3 bucket and are read back.
"""

import datetime as dt

import pyarrow as pa
import pytest

from resources.adx_exchange.aws_exchange import AwsExchange
from resources.adx_exchange.exchange import AdxGrantError, AdxPublishError, Exchange
from resources.adx_exchange.product_files import build_product_files

pytestmark = pytest.mark.integration

REGION = "us-east-1"
BUCKET = "mesh-adx-staging"
ACCOUNT = "111122223333"
CLIENT_ACCOUNT = "123456789012"
DATA_SET = "nav_history"
DATA_SET_ID = "0d5a1b2c3d4e5f60718293a4b5c6d7e8"
OTHER_DATA_SET_ID = "9f8e7d6c5b4a39281706f5e4d3c2b1a0"
REVISION_ID = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
OLD_REVISION_ID = "b2c3d4e5f60718293a4b5c6d7e8f90a1"
JOB_ID = "c3d4e5f60718293a4b5c6d7e8f90a1b2"
GRANT_ID = "d4e5f60718293a4b5c6d7e8f90a1b2c3"
T0 = dt.datetime(2025, 3, 14, 22, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def moto_s3():
    """moto's S3 server on 127.0.0.1 with the staging bucket; fake credentials only."""
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    s3 = boto3.client(
        "s3",
        endpoint_url=f"http://{host}:{port}",
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    s3.create_bucket(Bucket=BUCKET)
    try:
        yield s3
    finally:
        server.stop()


class FakeTime:
    """``sleep`` advances ``clock``: the import timeout is reached without waiting."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


@pytest.fixture
def adx(moto_s3, request):
    """A real dataexchange client under a Stubber, the exchange using it, and the operations actually called."""
    import boto3
    from botocore.stub import Stubber

    client = boto3.client(
        "dataexchange", region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    called: list[str] = []
    client.meta.events.register_first(
        "before-parameter-build.dataexchange", lambda model, **_: called.append(model.name)
    )
    fake_time = FakeTime()
    prefix = f"adx/{request.node.name}"
    exchange = AwsExchange(
        client,
        moto_s3,
        f"s3://{BUCKET}/{prefix}",
        import_timeout_s=30,
        poll_interval_s=10,
        sleep=fake_time.sleep,
        clock=fake_time.clock,
        now=lambda: T0,
    )
    with Stubber(client) as stubber:
        yield {
            "exchange": exchange,
            "stubber": stubber,
            "called": called,
            "time": fake_time,
            "prefix": prefix,
            "s3": moto_s3,
        }
        stubber.assert_no_pending_responses()


def _files(nav: float = 101.25):
    return build_product_files("nav_history", "2025-03-14", pa.table({"portfolio_id": ["P-0001"], "nav": [nav]}))


def _data_set(data_set_id: str, name: str) -> dict:
    return {
        "Arn": f"arn:aws:dataexchange:{REGION}:{ACCOUNT}:data-sets/{data_set_id}",
        "AssetType": "S3_SNAPSHOT",
        "CreatedAt": T0,
        "Description": name,
        "Id": data_set_id,
        "Name": name,
        "Origin": "OWNED",
        "UpdatedAt": T0,
    }


def _revision(revision_id: str, finalized: bool, comment: str = "", tags: dict | None = None) -> dict:
    entry = {
        "Arn": f"arn:aws:dataexchange:{REGION}:{ACCOUNT}:data-sets/{DATA_SET_ID}/revisions/{revision_id}",
        "Comment": comment,
        "CreatedAt": T0,
        "DataSetId": DATA_SET_ID,
        "Finalized": finalized,
        "Id": revision_id,
        "UpdatedAt": T0,
    }
    return {**entry, "Tags": tags} if tags is not None else entry


def _expect_data_sets(stubber) -> None:
    """Two pages of owned data sets, ours on the second."""
    stubber.add_response(
        "list_data_sets",
        {"DataSets": [_data_set(OTHER_DATA_SET_ID, "positions")], "NextToken": "page-2"},
        {"Origin": "OWNED"},
    )
    stubber.add_response(
        "list_data_sets", {"DataSets": [_data_set(DATA_SET_ID, DATA_SET)]}, {"Origin": "OWNED", "NextToken": "page-2"}
    )


def _keys(adx, files) -> list[str]:
    return [f"{adx['prefix']}/{DATA_SET}/{files.content_hash}/{name}" for name in sorted(files.files)]


def _comment(files) -> str:
    return f"nav_history 2025-03-14 [mesh:content-hash={files.content_hash}]"


def _expect_create_and_import(stubber, adx, files, revision_id: str = REVISION_ID) -> None:
    stubber.add_response(
        "create_revision",
        _revision(revision_id, False, _comment(files), {"mesh:content-hash": files.content_hash}),
        {"DataSetId": DATA_SET_ID, "Comment": _comment(files), "Tags": {"mesh:content-hash": files.content_hash}},
    )
    stubber.add_response(
        "create_job",
        {"Id": JOB_ID, "State": "WAITING", "Type": "IMPORT_ASSETS_FROM_S3"},
        {
            "Type": "IMPORT_ASSETS_FROM_S3",
            "Details": {
                "ImportAssetsFromS3": {
                    "AssetSources": [{"Bucket": BUCKET, "Key": key} for key in _keys(adx, files)],
                    "DataSetId": DATA_SET_ID,
                    "RevisionId": revision_id,
                }
            },
        },
    )
    stubber.add_response("start_job", {}, {"JobId": JOB_ID})


def _job(state: str, errors: list | None = None) -> dict:
    job = {"Id": JOB_ID, "State": state, "Type": "IMPORT_ASSETS_FROM_S3"}
    return {**job, "Errors": errors} if errors else job


def _staged(adx) -> dict[str, bytes]:
    listing = adx["s3"].list_objects_v2(Bucket=BUCKET, Prefix=adx["prefix"] + "/")
    return {
        item["Key"]: adx["s3"].get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read()
        for item in listing.get("Contents", [])
    }


def test_the_aws_exchange_implements_the_exchange_protocol(adx):
    assert isinstance(adx["exchange"], Exchange)


def test_publish_creates_imports_and_finalizes_a_tagged_revision(adx):
    stubber, files = adx["stubber"], _files()
    _expect_data_sets(stubber)
    stubber.add_response("list_data_set_revisions", {"Revisions": []}, {"DataSetId": DATA_SET_ID})
    _expect_create_and_import(stubber, adx, files)
    stubber.add_response("get_job", _job("IN_PROGRESS"), {"JobId": JOB_ID})
    stubber.add_response("get_job", _job("COMPLETED"), {"JobId": JOB_ID})
    stubber.add_response(
        "update_revision",
        _revision(REVISION_ID, True, _comment(files)),
        {"DataSetId": DATA_SET_ID, "RevisionId": REVISION_ID, "Finalized": True},
    )

    revision = adx["exchange"].publish(DATA_SET, files, comment="nav_history 2025-03-14")

    assert (revision.revision_id, revision.data_set_id, revision.content_hash, revision.created) == (
        REVISION_ID,
        DATA_SET_ID,
        files.content_hash,
        True,
    )
    assert revision.asset_names == tuple(_keys(adx, files))
    assert revision.location.endswith(f"revisions/{REVISION_ID}")
    assert _staged(adx) == {key: files.files[key.rsplit("/", 1)[1]] for key in _keys(adx, files)}
    assert adx["time"].sleeps == [10]
    assert adx["called"][-1] == "UpdateRevision"


def test_a_failed_import_deletes_the_revision_and_names_ids_and_details(adx):
    stubber, files = adx["stubber"], _files()
    _expect_data_sets(stubber)
    stubber.add_response("list_data_set_revisions", {"Revisions": []}, {"DataSetId": DATA_SET_ID})
    _expect_create_and_import(stubber, adx, files)
    bad_key = _keys(adx, files)[1]
    stubber.add_response(
        "get_job",
        _job(
            "ERROR",
            [
                {
                    "Code": "VALIDATION_EXCEPTION",
                    "Message": "The object could not be read",
                    "Details": {"ImportAssetsFromS3JobErrorDetails": [{"Bucket": BUCKET, "Key": bad_key}]},
                }
            ],
        ),
        {"JobId": JOB_ID},
    )
    stubber.add_response("delete_revision", {}, {"DataSetId": DATA_SET_ID, "RevisionId": REVISION_ID})

    with pytest.raises(AdxPublishError) as raised:
        adx["exchange"].publish(DATA_SET, files, comment="nav_history 2025-03-14")

    message = str(raised.value)
    for expected in (
        DATA_SET,
        REVISION_ID,
        JOB_ID,
        "ERROR",
        "VALIDATION_EXCEPTION",
        "could not be read",
        f"s3://{BUCKET}/{bad_key}",
        "revision was deleted",
    ):
        assert expected in message
    assert "UpdateRevision" not in adx["called"]
    assert adx["called"][-1] == "DeleteRevision"


def test_an_import_past_the_timeout_is_cancelled_and_the_revision_deleted(adx):
    stubber, files = adx["stubber"], _files()
    _expect_data_sets(stubber)
    stubber.add_response("list_data_set_revisions", {"Revisions": []}, {"DataSetId": DATA_SET_ID})
    _expect_create_and_import(stubber, adx, files)
    for _ in range(4):  # polled at t = 0, 10, 20, 30 s; the deadline is 30 s
        stubber.add_response("get_job", _job("IN_PROGRESS"), {"JobId": JOB_ID})
    stubber.add_response("cancel_job", {}, {"JobId": JOB_ID})
    stubber.add_response("delete_revision", {}, {"DataSetId": DATA_SET_ID, "RevisionId": REVISION_ID})

    with pytest.raises(AdxPublishError, match=rf"revision {REVISION_ID}, job {JOB_ID}.*after 30s; job cancelled"):
        adx["exchange"].publish(DATA_SET, files, comment="nav_history 2025-03-14")

    assert adx["time"].sleeps == [10, 10, 10]
    assert "UpdateRevision" not in adx["called"]
    assert adx["called"][-2:] == ["CancelJob", "DeleteRevision"]


def test_republishing_identical_content_finds_the_tagged_revision_and_creates_nothing(adx):
    stubber, files = adx["stubber"], _files()
    _expect_data_sets(stubber)
    stubber.add_response(
        "list_data_set_revisions",
        {
            "Revisions": [
                _revision(OLD_REVISION_ID, True, "an older day [mesh:content-hash=" + "0" * 64 + "]"),
                _revision(REVISION_ID, True, _comment(files)),
            ],
            "NextToken": "more",
        },
        {"DataSetId": DATA_SET_ID},
    )
    stubber.add_response("list_data_set_revisions", {"Revisions": []}, {"DataSetId": DATA_SET_ID, "NextToken": "more"})
    stubber.add_response(
        "get_revision",
        _revision(REVISION_ID, True, _comment(files), {"mesh:content-hash": files.content_hash}),
        {"DataSetId": DATA_SET_ID, "RevisionId": REVISION_ID},
    )

    revision = adx["exchange"].publish(DATA_SET, files, comment="nav_history 2025-03-14 (retry)")

    assert (revision.revision_id, revision.created, revision.content_hash) == (REVISION_ID, False, files.content_hash)
    assert _staged(adx) == {}
    assert not {"CreateRevision", "CreateJob", "UpdateRevision", "DeleteRevision"} & set(adx["called"])


def test_a_leftover_unfinalized_tagged_revision_is_deleted_and_redone(adx):
    stubber, files = adx["stubber"], _files()
    _expect_data_sets(stubber)
    stubber.add_response(
        "list_data_set_revisions",
        {"Revisions": [_revision(OLD_REVISION_ID, False, _comment(files))]},
        {"DataSetId": DATA_SET_ID},
    )
    stubber.add_response(
        "get_revision",
        _revision(OLD_REVISION_ID, False, _comment(files), {"mesh:content-hash": files.content_hash}),
        {"DataSetId": DATA_SET_ID, "RevisionId": OLD_REVISION_ID},
    )
    stubber.add_response("delete_revision", {}, {"DataSetId": DATA_SET_ID, "RevisionId": OLD_REVISION_ID})
    _expect_create_and_import(stubber, adx, files)
    stubber.add_response("get_job", _job("COMPLETED"), {"JobId": JOB_ID})
    stubber.add_response(
        "update_revision",
        _revision(REVISION_ID, True, _comment(files)),
        {"DataSetId": DATA_SET_ID, "RevisionId": REVISION_ID, "Finalized": True},
    )

    revision = adx["exchange"].publish(DATA_SET, files, comment="nav_history 2025-03-14")

    assert (revision.revision_id, revision.created) == (REVISION_ID, True)
    assert adx["called"].index("DeleteRevision") < adx["called"].index("CreateRevision")


def test_a_missing_data_set_is_an_error_naming_it_and_nothing_is_created(adx):
    stubber = adx["stubber"]
    for _ in range(2):
        stubber.add_response(
            "list_data_sets", {"DataSets": [_data_set(OTHER_DATA_SET_ID, "positions")]}, {"Origin": "OWNED"}
        )
    exchange = adx["exchange"]
    exchange.data_set_id("positions")  # fills the cache; a name missing from it is listed once more

    with pytest.raises(AdxPublishError, match=r"ADX data set 'nav_history' does not exist.*infrastructure"):
        exchange.publish(DATA_SET, _files(), comment="nav_history 2025-03-14")

    assert adx["called"] == ["ListDataSets", "ListDataSets"]
    assert _staged(adx) == {}


def test_revisions_lists_finalized_revisions_with_hash_and_assets(adx):
    stubber, files = adx["stubber"], _files()
    _expect_data_sets(stubber)
    stubber.add_response(
        "list_data_set_revisions",
        {"Revisions": [_revision(REVISION_ID, True, _comment(files)), _revision(OLD_REVISION_ID, False)]},
        {"DataSetId": DATA_SET_ID},
    )
    stubber.add_response(
        "get_revision",
        _revision(REVISION_ID, True, _comment(files), {"mesh:content-hash": files.content_hash}),
        {"DataSetId": DATA_SET_ID, "RevisionId": REVISION_ID},
    )
    asset = {
        "Arn": "arn:aws:dataexchange:asset",
        "AssetDetails": {},
        "AssetType": "S3_SNAPSHOT",
        "CreatedAt": T0,
        "DataSetId": DATA_SET_ID,
        "Id": "e" * 32,
        "Name": "adx/nav_history/h/nav_history.csv",
        "RevisionId": REVISION_ID,
        "UpdatedAt": T0,
    }
    stubber.add_response(
        "list_revision_assets", {"Assets": [asset]}, {"DataSetId": DATA_SET_ID, "RevisionId": REVISION_ID}
    )

    revisions = adx["exchange"].revisions(DATA_SET)

    assert [(r.revision_id, r.content_hash, r.asset_names) for r in revisions] == [
        (REVISION_ID, files.content_hash, ("adx/nav_history/h/nav_history.csv",))
    ]


def _grant_summary(grant_id: str, ends_at: dt.datetime | None) -> dict:
    summary = {
        "Name": f"grant {grant_id[:4]}",
        "SenderPrincipal": ACCOUNT,
        "ReceiverPrincipal": CLIENT_ACCOUNT,
        "AcceptanceState": "ACCEPTED",
        "DataSetId": "f" * 32,
        "SourceDataSetId": DATA_SET_ID,
        "Id": grant_id,
        "Arn": f"arn:aws:dataexchange:{REGION}:{ACCOUNT}:data-grants/{grant_id}",
        "CreatedAt": T0,
        "UpdatedAt": T0,
    }
    return {**summary, "EndsAt": ends_at} if ends_at else summary


def test_grants_are_listed_across_pages_with_data_set_names_and_expiry(adx):
    stubber = adx["stubber"]
    expired_id, open_id = "1" * 32, GRANT_ID
    stubber.add_response(
        "list_data_grants", {"DataGrantSummaries": [_grant_summary(expired_id, T0)], "NextToken": "next"}, {}
    )
    stubber.add_response(
        "list_data_grants", {"DataGrantSummaries": [_grant_summary(open_id, None)]}, {"NextToken": "next"}
    )
    _expect_data_sets(stubber)

    grants = adx["exchange"].list_grants()

    assert [(g.grant_id, g.data_set, g.receiver_account, g.expired) for g in grants] == [
        (expired_id, DATA_SET, CLIENT_ACCOUNT, True),
        (open_id, DATA_SET, CLIENT_ACCOUNT, False),
    ]


def test_create_grant_sends_the_exact_data_grant_request(adx):
    stubber = adx["stubber"]
    ends = dt.datetime(2025, 12, 31, 23, 59, 59, tzinfo=dt.UTC)
    _expect_data_sets(stubber)
    stubber.add_response(
        "create_data_grant",
        {
            **_grant_summary(GRANT_ID, ends),
            "Name": "C-0001 nav_history",
            "Description": "contract 800-0001",
            "AcceptanceState": "PENDING_RECEIVER_ACCEPTANCE",
            "GrantDistributionScope": "NONE",
        },
        {
            "Name": "C-0001 nav_history",
            "GrantDistributionScope": "NONE",
            "ReceiverPrincipal": CLIENT_ACCOUNT,
            "SourceDataSetId": DATA_SET_ID,
            "EndsAt": ends,
            "Description": "contract 800-0001",
        },
    )

    grant = adx["exchange"].create_grant(DATA_SET, CLIENT_ACCOUNT, "C-0001 nav_history", ends, "contract 800-0001")

    assert (grant.grant_id, grant.data_set, grant.ends_at, grant.acceptance_state, grant.expired) == (
        GRANT_ID,
        DATA_SET,
        ends,
        "PENDING_RECEIVER_ACCEPTANCE",
        False,
    )


def test_delete_grant_and_its_failure_naming_the_grant(adx):
    stubber = adx["stubber"]
    stubber.add_response("delete_data_grant", {}, {"DataGrantId": GRANT_ID})
    stubber.add_client_error(
        "delete_data_grant",
        service_error_code="ResourceNotFoundException",
        service_message="Data grant not found",
        http_status_code=404,
        expected_params={"DataGrantId": GRANT_ID},
    )

    adx["exchange"].delete_grant(GRANT_ID)
    with pytest.raises(AdxGrantError, match=rf"{GRANT_ID}.*Data grant not found"):
        adx["exchange"].delete_grant(GRANT_ID)


def test_a_grant_to_something_else_than_an_account_is_refused_before_any_call(adx):
    with pytest.raises(AdxGrantError, match="not a 12-digit AWS account id"):
        adx["exchange"].create_grant(DATA_SET, "arn:aws:iam::123456789012:root", "bad", None, "")

    assert adx["called"] == []
