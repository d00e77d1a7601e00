#!/usr/bin/python3
"""An independent client of the Cloud Ops API emulator: Debian's python3-grpcio and
python3-protobuf with the message code the build generated from its schema (`make python`), so that the
emulator is not only tested through the module's own conversion code.

usage: python_client.py --endpoint HOST:PORT --api-key KEY --reader-key KEY
                        [--slow-endpoint HOST:PORT --slow-key KEY]
The emulator must have seeded 7 namespaces, user rate limit 50/s, operations of < 2 s. The
slow one (optional) has the default limits (40 requests/s per user, 10 operations in flight)
and operations that outlast the checks made against it.
Prints one line per check and "ok N checks"; exits 1 at the first failed check.
"""
import argparse
import os
import sys
import time

import grpc

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
# The Python code of the schema the build used (`make python`, which `make test` runs first).
PYTHON_OUT = os.path.join(ROOT, "build", "python")
SERVICE = "/temporal.api.cloud.cloudservice.v1.CloudService/"
# The API version of the schema the build used.
with open(os.path.join(ROOT, "build", "schema", "VERSION")) as f:
    VERSION = f.read().strip()


def load_schema():
    """Puts the build's Python code of the schema (protoc --python_out, rpc_status included)
    first on the path."""
    if not os.path.exists(os.path.join(PYTHON_OUT, "rpc_status_pb2.py")):
        raise SystemExit("FAIL: %s holds no schema code: run `make python` first" % PYTHON_OUT)
    sys.path.insert(0, PYTHON_OUT)


class Client:
    """Hand-written stubs on grpc.unary_unary (Debian's grpc_tools is too old)."""

    def __init__(self, channel, rr, key, version=VERSION):
        self.channel, self.rr, self.key, self.version = channel, rr, key, version

    def call(self, method, retry=True, **fields):
        req_t = getattr(self.rr, method + "Request")
        resp_t = getattr(self.rr, method + "Response")
        stub = self.channel.unary_unary(SERVICE + method,
                                        request_serializer=req_t.SerializeToString,
                                        response_deserializer=resp_t.FromString)
        md = []
        if self.key is not None:
            md.append(("authorization", "Bearer " + self.key))
        if self.version is not None:
            md.append(("temporal-cloud-api-version", self.version))
        for attempt in range(20):
            try:
                return stub(req_t(**fields), metadata=md, timeout=10)
            except grpc.RpcError as e:
                if retry and e.code() == grpc.StatusCode.RESOURCE_EXHAUSTED:
                    time.sleep(0.1)
                    continue
                raise
        raise RuntimeError("still rate limited")

    def fails(self, code, method, **fields):
        try:
            self.call(method, retry=False, **fields)
        except grpc.RpcError as e:
            if e.code() != code:
                raise AssertionError("%s: expected %s, got %s: %s" % (method, code, e.code(), e.details()))
            return e
        raise AssertionError("%s: expected %s, got success" % (method, code))

    def wait(self, op):
        """Polls GetAsyncOperation, sleeping the operation's check_duration."""
        deadline = time.time() + 10
        while op.state in (1, 2):  # PENDING, IN_PROGRESS
            if time.time() > deadline:
                raise AssertionError("operation %s did not finish" % op.id)
            d = op.check_duration
            time.sleep(min(max(d.seconds + d.nanos / 1e9, 0.01), 1.0))
            op = self.call("GetAsyncOperation", async_operation_id=op.id).async_operation
        return op


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--api-key", required=True)
    ap.add_argument("--reader-key", required=True)
    ap.add_argument("--slow-endpoint")
    ap.add_argument("--slow-key")
    args = ap.parse_args()

    load_schema()
    from temporal.api.cloud.cloudservice.v1 import request_response_pb2 as rr
    from temporal.api.cloud.operation.v1 import message_pb2 as operation
    from temporal.api.cloud.resource.v1 import message_pb2 as resource
    from temporal.api.cloud.identity.v1 import message_pb2 as identity
    from google.protobuf import timestamp_pb2

    channel = grpc.insecure_channel(args.endpoint)
    c = Client(channel, rr, args.api_key)
    checks = [0]
    fulfilled = operation.AsyncOperation.STATE_FULFILLED
    active = resource.RESOURCE_STATE_ACTIVE

    def check(name, cond, detail=""):
        if not cond:
            print("FAIL", name, detail)
            sys.exit(1)
        checks[0] += 1
        print("ok", name)

    # identity and headers
    me = c.call("GetCurrentIdentity")
    check("current identity", me.user.spec.email == "owner@example.com", me)
    Client(channel, rr, "wrong-key").fails(grpc.StatusCode.UNAUTHENTICATED, "GetRegions")
    Client(channel, rr, args.api_key, version=None).fails(grpc.StatusCode.INVALID_ARGUMENT, "GetRegions")
    check("authentication and version header", True)

    # regions
    regions = c.call("GetRegions").regions
    check("regions", len(regions) >= 10 and c.call("GetRegion", region=regions[0].id).region.id == regions[0].id)

    # paging
    names, token, pages = [], "", 0
    while True:
        r = c.call("GetNamespaces", page_size=3, page_token=token)
        names += [n.namespace for n in r.namespaces]
        pages += 1
        token = r.next_page_token
        if not token:
            break
    check("paging", len(names) == 7 and pages == 3 and names == sorted(names), names)
    c.fails(grpc.StatusCode.INVALID_ARGUMENT, "GetNamespaces", page_size=1001)

    # a namespace through its async operation
    r = c.call("CreateNamespace", spec=dict(name="py-ns", replicas=[dict(region="aws-us-west-2")], retention_days=5,
                                            api_key_auth=dict(enabled=True),
                                            search_attributes={"Team": 2}))
    check("create namespace accepted", r.async_operation.state in (1, 2) and r.namespace == "py-ns.emu01")
    op = c.wait(r.async_operation)
    check("operation fulfilled", op.state == fulfilled and op.operation_type == "CreateNamespace", op)
    ns = c.call("GetNamespace", namespace=r.namespace).namespace
    check("namespace active", ns.state == active and ns.active_region == "aws-us-west-2", ns)

    # documented rules: the name begins with a letter; an update that changes nothing; a field
    # the request's API version no longer has
    e = c.fails(grpc.StatusCode.INVALID_ARGUMENT, "CreateNamespace", spec=dict(
        name="1abc", replicas=[dict(region="aws-us-west-2")], retention_days=5, api_key_auth=dict(enabled=True)))
    check("namespace name begins with a letter", "beginning with a letter" in e.details(), e.details())
    e = c.fails(grpc.StatusCode.INVALID_ARGUMENT, "UpdateNamespace", namespace=ns.namespace, spec=ns.spec,
                resource_version=ns.resource_version)
    check("no-op update", e.details().startswith("nothing to change"), e.details())
    e = c.fails(grpc.StatusCode.INVALID_ARGUMENT, "CreateNamespace", spec=dict(
        name="old-field", regions=["aws-us-west-2"], retention_days=5, api_key_auth=dict(enabled=True)))
    check("field ended before v0.19.1", "not supported after API version v0.15.0" in e.details()
          and "use replicas" in e.details(), e.details())
    old = Client(channel, rr, args.api_key, version="v0.15.0").call("GetNamespace", namespace=ns.namespace)
    check("older version reads its fields", old.namespace.region_status["aws-us-west-2"].state == 2
          and len(ns.region_status) == 0, old)

    # a version conflict
    stale = ns.resource_version
    spec = ns.spec
    spec.retention_days = 9
    op = c.call("UpdateNamespace", namespace=ns.namespace, spec=spec, resource_version=stale).async_operation
    c.wait(op)
    e = c.fails(grpc.StatusCode.FAILED_PRECONDITION, "UpdateNamespace", namespace=ns.namespace,
                spec=spec, resource_version=stale)
    check("version conflict", "resource_version" in e.details())

    # users and access
    u = c.call("CreateUser", spec=dict(email="py@example.com", access=dict(
        account_access=dict(role=identity.AccountAccess.ROLE_READ))))
    c.wait(u.async_operation)
    user = c.call("GetUser", user_id=u.user_id).user
    c.wait(c.call("SetUserNamespaceAccess", namespace=ns.namespace, user_id=user.id,
                  access=dict(permission=identity.NamespaceAccess.PERMISSION_WRITE),
                  resource_version=user.resource_version).async_operation)
    rows = c.call("GetUserNamespaceAssignments", namespace=ns.namespace).users
    check("users and namespace access", any(x.email == "py@example.com" and not x.inherited_access for x in rows))

    # groups and members
    g = c.call("CreateUserGroup", spec=dict(display_name="py-group", cloud_group=dict()))
    c.wait(g.async_operation)
    c.wait(c.call("AddUserGroupMember", group_id=g.group_id, member_id=dict(user_id=user.id)).async_operation)
    members = c.call("GetUserGroupMembers", group_id=g.group_id).members
    check("group members", [m.member_id.user_id for m in members] == [user.id])

    # service account and API key; the new key authenticates
    sa = c.call("CreateServiceAccount", spec=dict(name="py-sa", access=dict(
        account_access=dict(role=identity.AccountAccess.ROLE_ADMIN))))
    c.wait(sa.async_operation)
    expiry = timestamp_pb2.Timestamp(seconds=int(time.time()) + 86400)
    k = c.call("CreateApiKey", spec=dict(owner_id=sa.service_account_id, display_name="py-key",
                                         owner_type=identity.OWNER_TYPE_SERVICE_ACCOUNT, expiry_time=expiry))
    c.wait(k.async_operation)
    who = Client(channel, rr, k.token).call("GetCurrentIdentity")
    check("API key token", who.service_account.spec.name == "py-sa" and who.principal_api_key.id == k.key_id)

    # Nexus endpoint
    ep = c.call("CreateNexusEndpoint", spec=dict(name="py-endpoint", target_spec=dict(
        worker_target_spec=dict(namespace_id=ns.namespace, task_queue="tq"))))
    c.wait(ep.async_operation)
    found = c.call("GetNexusEndpoints", name="py-endpoint").endpoints
    check("nexus endpoint", len(found) == 1 and found[0].id == ep.endpoint_id and found[0].state == active)

    # connectivity rule and export sink
    cr = c.call("CreateConnectivityRule", spec=dict(public_rule=dict(enable_stable_ips=True)))
    c.wait(cr.async_operation)
    check("connectivity rule", c.call("GetConnectivityRule", connectivity_rule_id=cr.connectivity_rule_id)
          .connectivity_rule.spec.public_rule.enable_stable_ips)
    c.wait(c.call("CreateNamespaceExportSink", namespace=ns.namespace, spec=dict(name="py-sink", enabled=True,
        s3=dict(role_name="r", bucket_name="b", region="us-west-2", aws_account_id="123"))).async_operation)
    sinks = c.call("GetNamespaceExportSinks", namespace=ns.namespace).sinks
    check("export sink", len(sinks) == 1 and sinks[0].name == "py-sink" and sinks[0].state == active)

    # account, usage, audit logs
    acct = c.call("GetAccount").account
    check("account", acct.id == "emu01" and acct.state == active)
    usage = c.call("GetUsage").summaries
    check("usage", len(usage) >= 1 and len(usage[-1].record_groups) >= 7)
    logs = c.call("GetAuditLogs", page_size=1000).logs
    check("audit logs", any(l.operation == "CreateNamespaceAPI" and l.version == 2
                            and l.raw_details["namespace"] == ns.namespace
                            for l in logs))

    # every RPC is served: an empty request may be refused, but never as UNIMPLEMENTED
    names = sorted(n[:-len("Request")] for n in rr.DESCRIPTOR.message_types_by_name
                   if n.endswith("Request"))
    unserved = []
    for name in names:
        try:
            c.call(name)
        except grpc.RpcError as err:
            if err.code() in (grpc.StatusCode.UNIMPLEMENTED, grpc.StatusCode.INTERNAL):
                unserved.append(name)
    check("all %d RPCs served" % len(names), len(names) == 88 and not unserved, unserved)

    # projects: the Default Project, a new one, a namespace in it, roles on it
    from temporal.api.cloud.billing.v1 import message_pb2 as billing
    from temporal.api.cloud.account.v1 import message_pb2 as account
    projects = c.call("GetProjects").projects
    check("default project", len(projects) == 1 and projects[0].spec.lifecycle.enable_delete_protection)
    default_id = projects[0].id
    check("namespaces in the default project", ns.project_id == default_id, ns.project_id)
    pr = c.call("CreateProject", spec=dict(display_name="py-project"))
    c.wait(pr.async_operation)
    proj = c.call("GetProject", project_id=pr.project_id).project
    check("project", proj.state == active and proj.spec.display_name == "py-project")
    pn = c.call("CreateNamespace", project_id=proj.id, spec=dict(name="py-proj-ns", replicas=[dict(region="aws-us-east-1")],
                                                                 retention_days=3, api_key_auth=dict(enabled=True)))
    c.wait(pn.async_operation)
    listed = [n.namespace for n in c.call("GetNamespaces", project_id=proj.id).namespaces]
    check("project_id filter", listed == [pn.namespace], listed)
    user = c.call("GetUser", user_id=user.id).user
    c.wait(c.call("SetUserProjectAccess", project_id=proj.id, user_id=user.id,
                  access=dict(role=identity.ProjectAccess.PROJECT_ROLE_WRITE),
                  resource_version=user.resource_version).async_operation)
    rows = {r.email: r for r in c.call("GetUserProjectAssignments", project_id=proj.id).users}
    check("project assignments", rows["py@example.com"].project_access.role == identity.ProjectAccess.PROJECT_ROLE_WRITE
          and not rows["py@example.com"].inherited_access and rows["owner@example.com"].inherited_access, rows)
    psa = c.call("CreateServiceAccount", spec=dict(name="py-scoped", project_scoped_access=dict(
        project_id=proj.id, access=dict(role=identity.ProjectAccess.PROJECT_ROLE_READ))))
    c.wait(psa.async_operation)
    scoped = c.call("GetProjectScopedServiceAccounts", project_id=proj.id).service_accounts
    check("project-scoped service account", [x.id for x in scoped] == [psa.service_account_id])
    c.fails(grpc.StatusCode.FAILED_PRECONDITION, "DeleteProject", project_id=proj.id)

    # a custom role, given to a reader, lets it read the audit log
    cr = c.call("CreateCustomRole", spec=dict(name="py-auditor", permissions=[dict(
        resources=dict(resource_type="account", allow_all=True), actions=["cloud.auditlog.list"])]))
    c.wait(cr.async_operation)
    role = c.call("GetCustomRole", role_id=cr.role_id).custom_role
    check("custom role", role.state == active and list(role.spec.permissions[0].actions) == ["cloud.auditlog.list"])
    ru = c.call("CreateUser", spec=dict(email="py-reader@example.com", access=dict(account_access=dict(
        role=identity.AccountAccess.ROLE_READ, custom_roles=[cr.role_id]))))
    c.wait(ru.async_operation)
    rk = c.call("CreateApiKey", spec=dict(owner_id=ru.user_id, display_name="py-reader",
                                          owner_type=identity.OWNER_TYPE_USER, expiry_time=expiry))
    c.wait(rk.async_operation)
    as_reader = Client(channel, rr, rk.token)
    as_reader.call("GetAuditLogs")
    as_reader.fails(grpc.StatusCode.PERMISSION_DENIED, "GetAccountAuditLogSinks")
    check("custom role enforced", True)

    # a billing report of the current month, generated, with a CSV behind its URL
    today = time.gmtime()
    start = timestamp_pb2.Timestamp()
    start.FromJsonString("%04d-%02d-01T00:00:00Z" % (today.tm_year, today.tm_mon))
    end = timestamp_pb2.Timestamp()
    end.FromJsonString("%04d-%02d-01T00:00:00Z" % (today.tm_year + today.tm_mon // 12, today.tm_mon % 12 + 1))
    br = c.call("CreateBillingReport", spec=dict(start_time_inclusive=start, end_time_exclusive=end,
        granularity=billing.BillingReportSpec.BILLING_REPORT_GRANULARITY_DAILY))
    c.wait(br.async_operation)
    report = c.call("GetBillingReport", billing_report_id=br.billing_report_id).billing_report
    d = report.download_info[0]
    with open(d.url[len("file://"):], "rb") as f:
        body = f.read()
    check("billing report", report.state == billing.BillingReport.BILLING_REPORT_STATE_GENERATED
          and d.file_format == billing.BillingReport.Download.FILE_FORMAT_CSV and d.file_size_bytes == len(body)
          and body.startswith(b"BillingAccountID,") and d.url_expiration_time.seconds == report.generated_time.seconds + 300,
          report)
    c.fails(grpc.StatusCode.INVALID_ARGUMENT, "CreateBillingReport", spec=dict(start_time_inclusive=end,
                                                                              end_time_exclusive=start))

    # an account audit-log sink to Pub/Sub
    sink_spec = dict(name="py-sink", enabled=True, pub_sub_sink=dict(
        service_account_id="audit@py-project.iam.gserviceaccount.com", topic_name="audit", gcp_project_id="py-project"))
    c.call("ValidateAccountAuditLogSink", spec=sink_spec)
    c.wait(c.call("CreateAccountAuditLogSink", spec=sink_spec).async_operation)
    sink = c.call("GetAccountAuditLogSink", name="py-sink").sink
    check("audit log sink", sink.state == active and sink.health == account.AuditLogSink.HEALTH_OK
          and sink.last_succeeded_time.seconds > 0 and sink.spec.pub_sub_sink.topic_name == "audit", sink)
    c.wait(c.call("DeleteAccountAuditLogSink", name="py-sink", resource_version=sink.resource_version).async_operation)
    check("audit log sink deleted", len(c.call("GetAccountAuditLogSinks").sinks) == 0)

    # a rate-limit rejection, with RetryInfo in the status details
    reader = Client(channel, rr, args.reader_key)
    rejected = None
    for _ in range(80):
        try:
            reader.call("GetRegions", retry=False)
        except grpc.RpcError as err:
            if err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED:
                rejected = err
                break
            raise
    check("rate limit", rejected is not None and "rate limit exceeded" in rejected.details())
    try:
        import rpc_status_pb2 as status  # generated from proto/rpc_status.proto
    except ImportError:
        status = None
    if status is not None:
        bin_ = dict(rejected.trailing_metadata()).get("grpc-status-details-bin")
        st = status.Status.FromString(bin_)
        info = status.RetryInfo()
        check("retry info", st.code == 8 and st.details[0].Unpack(info) and info.retry_delay.nanos > 0, st)

    if args.slow_endpoint:
        slow = Client(grpc.insecure_channel(args.slow_endpoint), rr, args.slow_key)
        # 10 async operations in flight per account; the 11th mutation is refused, with a delay
        for i in range(10):
            slow.call("CreateUser", retry=False, spec=dict(email="slow%d@example.com" % i, access=dict(
                account_access=dict(role=identity.AccountAccess.ROLE_READ))))
        e = slow.fails(grpc.StatusCode.RESOURCE_EXHAUSTED, "CreateUser", spec=dict(email="slow10@example.com",
            access=dict(account_access=dict(role=identity.AccountAccess.ROLE_READ))))
        check("10 operations in flight", "limit is 10 per account" in e.details(), e.details())
        # 40 requests/s per user: a quick burst of 120 meets RESOURCE_EXHAUSTED
        refused = 0
        for _ in range(120):
            try:
                slow.call("GetRegions", retry=False)
            except grpc.RpcError as err:
                if err.code() != grpc.StatusCode.RESOURCE_EXHAUSTED:
                    raise
                refused += 1
                break
        check("40 requests/s per user", refused == 1)

    print("ok %d checks" % checks[0])


if __name__ == "__main__":
    main()
