#!/usr/bin/env python3
"""tests/api/openapi_check.py - keeps src/builder/assets/openapi.json true.

    openapi_check.py --url http://10.88.N.11:4001 --token dk_... --spec openapi.json \
        [--etcd http://10.88.N.11:2379 [--scheduler]]

Against a running builder (standard library only):

 1. GET /api/v1/openapi.json is the file in the repository (same JSON).
 2. For every path and method the document lists, one valid request, with the
    fixtures it needs made first (two manifests that run, one linking the other,
    a token to revoke, an app to delete, and with --etcd the kept revisions of a
    manifest, written into etcd as the elected scheduler writes them, through
    etcd's JSON gateway): the status must be one the document lists
    for the operation (a 2xx), the Content-Type the documented one, and a JSON body
    must hold every `required` property of the documented schema ($ref and allOf
    resolved, recursively into objects and array items), each property present of
    the documented type (nullable honoured) and enum.
 3. For every documented error status that can be caused from outside (400 bad
    name or body, 401 no or invalid token, 403 read-only token, 404 no such thing,
    413 a body over 1 MiB), the request that causes it: same checks on the answer,
    and its Error code must be the one of the status.
 4. Conversely, the router answers no undocumented /api/v1 path (404) and no
    undocumented method on a documented path (404 or 405), with an Error body.
 5. Every documented operation was exercised (a new one in the document without a
    request here fails), and every documented status was, or is listed as one that
    cannot be caused from outside (e.g. 503 of /healthz).

Failures name path, method, status and property; exit status 1 when any.
"""
import argparse
import base64
import http.client
import json
import sys
import time
import urllib.parse

METHODS = ("get", "put", "post", "delete", "patch")
APP, DEL_APP = "oacheck", "oadel"
RUN_MANIFEST = {"image": "dockerfile/nginx", "scale": 1, "services": {"web": 80}}
LINK_MANIFEST = {"image": "dockerfile/ubuntu", "scale": 1,
                 "command": ["/bin/bash", "-c", "while true; do sleep 1; done"], "links": ["web"]}
CODE_OF = {400: "invalid", 401: "unauthorized", 403: "forbidden", 404: "not_found",
           409: "conflict", 413: "too_large", 503: "unavailable", 500: "internal"}
# Documented statuses no client can cause on a healthy cluster: listed as not
# exercised, with the reason.
UNREACHABLE_ANY = {"500": "an internal failure", "503": "etcd unavailable, or the builder stopping"}
UNREACHABLE = {("/api/v1/apps/{app}/{name}/scale", "put", "409"): "a concurrent writer between read and swap",
               ("/api/v1/apps/{app}/{name}/instances/{i}/logs", "get", "502"): "an unreachable host",
               ("/api/v1/apps/{app}/{name}/instances/{i}/logs", "get", "403"):
                   "a 403 passed through from the builder of the instance's host",
               ("/api/v1/tokens/{id}", "delete", "409"):
                   "the caller to be the cluster's only admin token, revoking itself (the suite holds several)"}


def unreachable(path, method, status):
    return UNREACHABLE.get((path, method, status)) or UNREACHABLE_ANY.get(status)
BAD_TOKEN = "dk_" + "0" * 48


class Checker:
    def __init__(self, url, token, spec_path, etcd=None, scheduler=False):
        u = urllib.parse.urlsplit(url)
        self.host, self.port = u.hostname, u.port or 80
        self.token = token
        self.etcd = etcd
        self.scheduler = scheduler
        with open(spec_path) as f:
            self.spec = json.load(f)
        self.failures = []
        self.exercised = set()  # (path, method, status)
        self.readonly = None

    # ---- HTTP ---------------------------------------------------------------

    def request(self, method, path, body=None, token=None, raw=None, stream=False, timeout=15):
        """-> (status, content_type, body bytes). token: "admin", "ro", "bad" or None."""
        headers = {}
        tok = {"admin": self.token, "ro": self.readonly, "bad": BAD_TOKEN}.get(token)
        if tok:
            headers["Authorization"] = "Bearer " + tok
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        if data is not None:
            headers["Content-Type"] = "application/json"
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            conn.request(method.upper(), path, body=data, headers=headers)
            resp = conn.getresponse()
            ctype = resp.getheader("Content-Type", "")
            if stream:  # an event stream: the status and headers say enough
                return resp.status, ctype, b""
            return resp.status, ctype, resp.read()
        except (OSError, http.client.HTTPException) as e:
            return 0, "", str(e).encode()
        finally:
            conn.close()

    def fail(self, msg):
        self.failures.append(msg)
        print("FAIL: " + msg, flush=True)

    # ---- schemas ------------------------------------------------------------

    def resolve(self, node):
        while isinstance(node, dict) and "$ref" in node:
            ref = node["$ref"]
            assert ref.startswith("#/"), ref
            node = self.spec
            for part in ref[2:].split("/"):
                node = node[part]
        return node

    def check_value(self, schema, value, where, errors):
        schema = self.resolve(schema)
        if value is None and schema.get("nullable"):
            return  # also {"nullable": true, "allOf": [{"$ref": ...}]}
        if "allOf" in schema:
            for sub in schema["allOf"]:
                self.check_value(sub, value, where, errors)
        if value is None:
            if "type" in schema:
                errors.append("%s: null, but %s is not nullable" % (where, schema["type"]))
            return
        t = schema.get("type")
        ok = {"string": lambda v: isinstance(v, str),
              "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
              "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
              "boolean": lambda v: isinstance(v, bool),
              "array": lambda v: isinstance(v, list),
              "object": lambda v: isinstance(v, dict)}
        if t and not ok[t](value):
            errors.append("%s: expected %s, got %s" % (where, t, json.dumps(value)[:80]))
            return
        if "enum" in schema and value not in schema["enum"]:
            errors.append("%s: %s is not one of %s" % (where, json.dumps(value), schema["enum"]))
        if isinstance(value, dict):
            for prop in schema.get("required", []):
                if prop not in value:
                    errors.append("%s: required property \"%s\" missing" % (where, prop))
            for prop, sub in schema.get("properties", {}).items():
                if prop in value:
                    self.check_value(sub, value[prop], "%s.%s" % (where, prop), errors)
        if isinstance(value, list) and "items" in schema:
            for i, item in enumerate(value):
                self.check_value(schema["items"], item, "%s[%d]" % (where, i), errors)

    def responses(self, path, method):
        return self.spec["paths"][path][method]["responses"]

    def check(self, path, method, status, ctype, body, what="", expect=None):
        """Check one answer to an operation against the document; returns the parsed
        JSON body (or None)."""
        op = "%s %s%s" % (method.upper(), path, (" (" + what + ")") if what else "")
        responses = self.responses(path, method)
        if expect is not None and status != expect:
            self.fail("%s: status %d, expected %d; body %s" % (op, status, expect, body[:300]))
            if str(status) not in responses:
                return None
        if str(status) not in responses:
            self.fail("%s: status %d is not documented (documented: %s); body %s"
                      % (op, status, ", ".join(sorted(responses)), body[:300]))
            return None
        self.exercised.add((path, method, str(status)))
        resp = self.resolve(responses[str(status)])
        content = resp.get("content", {})
        if not content:
            return None
        mtype = ctype.split(";")[0].strip()
        if mtype not in content:
            self.fail("%s: status %d: Content-Type \"%s\", documented: %s"
                      % (op, status, ctype, ", ".join(content)))
            return None
        if mtype != "application/json":
            return None
        try:
            value = json.loads(body)
        except ValueError as e:
            self.fail("%s: status %d: body is not JSON (%s): %s" % (op, status, e, body[:200]))
            return None
        errors = []
        self.check_value(content[mtype]["schema"], value, "body", errors)
        if status >= 400 and isinstance(value, dict) and value.get("code") != CODE_OF.get(status):
            errors.append("body.code: %s, expected \"%s\" for status %d"
                          % (json.dumps(value.get("code")), CODE_OF.get(status), status))
        for e in errors:
            self.fail("%s: status %d: %s" % (op, status, e))
        return value

    def call(self, path, method, concrete, expect, body=None, token=None, raw=None, what="",
             stream=False):
        status, ctype, data = self.request(method, concrete, body, token, raw, stream)
        return self.check(path, method, status, ctype, data, what, expect)

    # ---- fixtures -----------------------------------------------------------

    def put_manifest(self, app, name, manifest):
        status, _, body = self.request("put", "/api/v1/apps/%s/%s" % (app, name), manifest, "admin")
        if status not in (200, 201):
            self.fail("fixture PUT /api/v1/apps/%s/%s: status %d: %s" % (app, name, status, body[:300]))
            return False
        return True

    def wait_running(self, app, names, seconds=90):
        deadline = time.time() + seconds
        while time.time() < deadline:
            status, _, body = self.request("get", "/api/v1/instances?app=" + app)
            try:
                inst = json.loads(body)["instances"] if status == 200 else []
            except (ValueError, KeyError, TypeError):
                inst = []
            running = {i.get("name") for i in inst if isinstance(i, dict) and i.get("state") == "running"}
            links = self.request("get", "/api/v1/links")
            if set(names) <= running and ('"%s"' % app).encode() in links[2]:
                return True
            time.sleep(0.3)
        self.fail("fixtures %s/%s did not run within %d s (GET /api/v1/instances?app=%s: %s)"
                  % (app, ",".join(names), seconds, app, body[:300]))
        return False

    def etcd_call(self, op, body):
        """POST etcd's JSON gateway /v3/kv/<op>; the answer, or None."""
        u = urllib.parse.urlsplit(self.etcd)
        conn = http.client.HTTPConnection(u.hostname, u.port or 2379, timeout=10)
        try:
            conn.request("POST", "/v3/kv/" + op, body=json.dumps(body).encode(),
                         headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            data = resp.read()
            return json.loads(data) if resp.status == 200 else None
        except (OSError, http.client.HTTPException, ValueError):
            return None
        finally:
            conn.close()

    @staticmethod
    def b64(text):
        return base64.b64encode(text.encode()).decode()

    def wait_rollout(self, app, name, hash_=None, seconds=30):
        """With --scheduler: until the scheduler has rolled out app/name's manifest (of
        hash_), so that its records do not land after the fixture's, nor after a delete."""
        if not self.scheduler:
            return True
        deadline = time.time() + seconds
        while time.time() < deadline:
            status, _, body = self.request("get", "/api/v1/apps/%s/%s/revisions" % (app, name))
            try:
                ro = json.loads(body)["rollout"] if status == 200 else None
            except (ValueError, KeyError, TypeError):
                ro = None
            if ro and ro.get("state") == "rolled-out" and (hash_ is None or ro.get("hash") == hash_):
                return True
            time.sleep(0.2)
        self.fail("the scheduler did not roll out %s/%s%s within %d s" % (app, name, " at " + hash_ if hash_ else "", seconds))
        return False

    def keep_revisions(self, app, name, older):
        """The kept revisions of app/name as the elected scheduler writes them (lib/keys.c
        encodes them in this field order): revision 7 the manifest older, revision 8 the
        current one (its hash from the author record the builder wrote), current. Numbers
        a scheduler of the cluster would not write at the same time: it starts at 1."""
        got = self.etcd_call("range", {"key": self.b64("/apps/%s/%s/author" % (app, name))})
        try:
            author = json.loads(base64.b64decode(got["kvs"][0]["value"]))
            cur = json.loads(base64.b64decode(self.etcd_call(
                "range", {"key": self.b64("/apps/%s/%s/manifest" % (app, name))})["kvs"][0]["value"]))
        except (TypeError, KeyError, IndexError, ValueError):
            self.fail("fixture: no author record of %s/%s in etcd (%s)" % (app, name, got))
            return False
        at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        records = {
            "/revisions/%s/%s/7" % (app, name): {
                "revision": 7, "hash": "0123456789abcdef", "by": "oacheck", "at": at,
                "outcome": "rolled-out", "manifest": json.dumps(older)},
            "/revisions/%s/%s/8" % (app, name): {
                "revision": 8, "hash": author["hash"], "by": author["by"], "at": at,
                "outcome": "rolled-out", "manifest": json.dumps(cur)},
            "/apps/%s/%s/rollout" % (app, name): {
                "revision": 8, "hash": author["hash"], "state": "rolled-out", "updated": 0,
                "failed": 0, "total": 0, "since": int(time.time())},
        }
        for key, rec in records.items():
            if self.etcd_call("put", {"key": self.b64(key),
                                      "value": self.b64(json.dumps(rec, separators=(",", ":")))}) is None:
                self.fail("fixture: etcd put %s failed (%s)" % (key, self.etcd))
                return False
        return True

    def make_token(self, role, name):
        status, _, body = self.request("post", "/api/v1/tokens", {"name": name, "role": role}, "admin")
        try:
            rec = json.loads(body)
            return rec["token"], rec["id"]
        except (ValueError, KeyError, TypeError):
            self.fail("fixture POST /api/v1/tokens (%s): status %d: %s" % (role, status, body[:300]))
            return None, None

    # ---- the checks ---------------------------------------------------------

    def check_served_document(self):
        status, ctype, body = self.request("get", "/api/v1/openapi.json")
        try:
            served = json.loads(body)
        except ValueError:
            served = None
        if status != 200 or served is None:
            self.fail("GET /api/v1/openapi.json: status %d, body not the document: %s" % (status, body[:200]))
        elif served != self.spec:
            diff = sorted(k for k in set(served) | set(self.spec) if served.get(k) != self.spec.get(k))
            paths = sorted(p for p in set(served.get("paths", {})) | set(self.spec["paths"])
                           if served.get("paths", {}).get(p) != self.spec["paths"].get(p))
            self.fail("GET /api/v1/openapi.json is not the repository's file: differs in %s%s"
                      % (", ".join(diff), (" (paths " + ", ".join(paths) + ")") if paths else ""))
        else:
            print("ok: GET /api/v1/openapi.json is the repository's file (%d bytes, %s)" % (len(body), ctype))

    def valid_requests(self, fx):
        """(path, method, concrete path, body, token, expected status, stream), in an
        order where each finds what it needs: reads, then writes, deletes last."""
        a, tid = APP, fx["token_id"]
        return [
            ("/healthz", "get", "/healthz", None, None, 200, False),
            ("/metrics", "get", "/metrics", None, None, 200, False),
            ("/api/v1/openapi.json", "get", "/api/v1/openapi.json", None, None, 200, False),
            ("/api/v1/whoami", "get", "/api/v1/whoami", None, "admin", 200, False),
            ("/api/v1/apps", "get", "/api/v1/apps", None, None, 200, False),
            ("/api/v1/apps/{app}", "get", "/api/v1/apps/" + a, None, None, 200, False),
            ("/api/v1/apps/{app}/{name}", "get", "/api/v1/apps/%s/web" % a, None, None, 200, False),
            ("/api/v1/apps/{app}/{name}/instances", "get", "/api/v1/apps/%s/web/instances" % a, None, None, 200, False),
            ("/api/v1/apps/{app}/{name}/instances/{i}/logs", "get",
             "/api/v1/apps/%s/web/instances/0/logs?tail=5" % a, None, None, 200, False),
            ("/api/v1/instances", "get", "/api/v1/instances?app=" + a, None, None, 200, False),
            ("/api/v1/hosts", "get", "/api/v1/hosts", None, None, 200, False),
            ("/api/v1/services", "get", "/api/v1/services", None, None, 200, False),
            ("/api/v1/links", "get", "/api/v1/links", None, None, 200, False),
            ("/api/v1/events", "get", "/api/v1/events", None, None, 200, True),
            ("/api/v1/tokens", "get", "/api/v1/tokens", None, "admin", 200, False),
            ("/api/v1/apps/{app}/{name}", "put", "/api/v1/apps/%s/web" % a, RUN_MANIFEST, "admin", 200, False),
            ("/api/v1/apps/{app}/{name}", "put", "/api/v1/apps/%s/extra" % DEL_APP,
             {"image": "dockerfile/nginx", "scale": 0}, "admin", 201, False),
            ("/api/v1/apps/{app}/{name}/scale", "put", "/api/v1/apps/%s/web/scale" % a, {"scale": 1}, "admin", 200, False),
            ("/api/v1/apps/{app}/{name}/revisions", "get", "/api/v1/apps/%s/gone/revisions" % DEL_APP, None, None, 200, False),
            ("/api/v1/apps/{app}/{name}/rollback", "post", "/api/v1/apps/%s/gone/rollback" % DEL_APP, {"revision": 7},
             "admin", 202, False),
            ("/api/v1/tokens", "post", "/api/v1/tokens", {"name": "oacheck-new", "role": "read-only"}, "admin", 201, False),
            ("/api/v1/tokens/{id}", "delete", "/api/v1/tokens/" + tid, None, "admin", 200, False),
            ("/api/v1/apps/{app}/{name}", "delete", "/api/v1/apps/%s/gone" % DEL_APP, None, "admin", 200, False),
            ("/api/v1/apps/{app}", "delete", "/api/v1/apps/" + DEL_APP, None, "admin", 200, False),
        ]

    def error_requests(self):
        """Requests that must fail with a documented error status."""
        a, bad = APP, "Bad--Name"
        big = b'{"image": "dockerfile/nginx", "command": ["' + b"x" * (1 << 20) + b'"]}'
        none = "000000000000"
        reqs = []
        for path, item in self.spec["paths"].items():
            for method in METHODS:
                if method not in item:
                    continue
                documented = set(item[method]["responses"])
                write = method != "get"
                concrete = (path.replace("{app}", a).replace("{name}", "web").replace("{i}", "0")
                            .replace("{id}", none))
                body = {"put": RUN_MANIFEST, "post": {"name": "x", "role": "admin"}}.get(method)
                if path.endswith("/scale"):
                    body = {"scale": 1}
                if path.endswith("/rollback"):
                    body = {}
                if path.endswith("/logs"):
                    concrete += "?tail=1"
                if "401" in documented:
                    if write:
                        reqs.append((path, method, concrete, body, None, 401, "no token"))
                    reqs.append((path, method, concrete, body, "bad", 401, "unknown token"))
                if "403" in documented and (write or path == "/api/v1/tokens"):
                    reqs.append((path, method, concrete, body, "ro", 403, "read-only token"))
                if "400" in documented:
                    if "{app}" in path:
                        reqs.append((path, method, path.replace("{app}", bad).replace("{name}", "web")
                                     .replace("{i}", "0"), body, "admin", 400, "app name " + bad))
                    elif path == "/api/v1/instances":
                        reqs.append((path, method, concrete + "?app=" + bad, None, None, 400, "app=" + bad))
                    elif path == "/api/v1/tokens":
                        reqs.append((path, method, concrete, {"name": "x", "role": "root"}, "admin", 400, "role root"))
                    elif path == "/api/v1/tokens/{id}":
                        reqs.append((path, method, "/api/v1/tokens/zz", None, "admin", 400, "id zz"))
                    if path.endswith("/logs"):
                        reqs.append((path, method, "/api/v1/apps/%s/web/instances/x/logs" % a, None, None,
                                     400, "instance x"))
                    if path == "/api/v1/apps/{app}/{name}" and method == "put":
                        reqs.append((path, method, concrete, {"image": "dockerfile/nginx", "scale": "3"},
                                     "admin", 400, "scale \"3\""))
                    if path.endswith("/scale"):
                        reqs.append((path, method, concrete, {"scale": -1}, "admin", 400, "scale -1"))
                    if path.endswith("/rollback"):
                        reqs.append((path, method, concrete, {"revision": "1"}, "admin", 400, "revision \"1\""))
                if "409" in documented and path.endswith("/rollback"):
                    # the fixture's only revision is the one it runs
                    reqs.append((path, method, concrete, {}, "admin", 409, "nothing to roll back to"))
                if "404" in documented:
                    if "{app}" in path:
                        reqs.append((path, method, path.replace("{app}", "oanone").replace("{name}", "web")
                                     .replace("{i}", "0"), body, "admin", 404, "no such app"))
                    else:
                        reqs.append((path, method, concrete, body, "admin", 404, "no such token"))
                if "413" in documented:
                    reqs.append((path, method, concrete, None, "admin", 413, "body of 1 MiB + 42"))
                    reqs[-1] = reqs[-1][:3] + (big,) + reqs[-1][4:]
        return reqs

    def check_undocumented(self):
        """Undocumented paths and methods. Failures of one kind are reported once, with
        every operation that shows it."""
        issues = {}  # the issue without its body -> [(operation, body)]
        real_fail = self.fail

        def collect(msg):
            op, issue = msg.split(": ", 1)
            issue, _, body = issue.partition("; body ")
            issues.setdefault(issue, []).append((op, body))
        self.fail = collect
        try:
            self._check_undocumented()
        finally:
            self.fail = real_fail
        for issue, ops in issues.items():
            self.fail("%s: %s%s" % ("; ".join(op for op, _ in ops), issue,
                                    ("; body (of the first) " + ops[0][1][:160]) if ops[0][1] else ""))

    def _check_undocumented(self):
        for p in ("/api/v1/nope", "/api/v1", "/api/v1/", "/api/v1/apps/%s/web/nope" % APP,
                  "/api/v1/apps/%s/web/instances/0" % APP, "/api/v1/apps/%s/web/instances/0/logs/x" % APP,
                  "/api/v1/hosts/h1", "/api/v1/tokens/x/y", "/api/v2/apps", "/api/v1/apps/%s/web/scale/x" % APP):
            status, ctype, body = self.request("get", p, token="admin")
            self.check_error_answer("GET " + p, status, ctype, body, (404,), "undocumented path")
        for path, item in self.spec["paths"].items():
            concrete = (path.replace("{app}", APP).replace("{name}", "web").replace("{i}", "0")
                        .replace("{id}", "000000000000"))
            for method in METHODS:
                if method in item:
                    continue
                status, ctype, body = self.request(method, concrete, {"scale": 1} if method != "get" else None, "admin")
                self.check_error_answer("%s %s" % (method.upper(), path), status, ctype, body, (404, 405),
                                        "undocumented method")

    def check_error_answer(self, op, status, ctype, body, allowed, what):
        if status not in allowed:
            self.fail("%s: %s: status %d, expected %s; body %s"
                      % (op, what, status, " or ".join(map(str, allowed)), body[:200]))
            return
        errors = []
        try:
            self.check_value({"$ref": "#/components/schemas/Error"}, json.loads(body), "body", errors)
        except ValueError:
            errors.append("body is not JSON: %s" % body[:200])
        for e in errors:
            self.fail("%s: %s: status %d: %s" % (op, what, status, e))

    def run(self):
        self.check_served_document()
        # fixtures: a service, a client linking it, an app to delete, tokens
        ok = (self.put_manifest(APP, "web", RUN_MANIFEST) and self.put_manifest(APP, "client", LINK_MANIFEST)
              and self.put_manifest(DEL_APP, "gone", {"image": "dockerfile/nginx", "scale": 0}))
        if ok and self.etcd:
            ok = (self.wait_rollout(DEL_APP, "gone") and
                  self.keep_revisions(DEL_APP, "gone", {"image": "dockerfile/nginx", "scale": 0, "env": {"V": "1"}}))
        self.readonly, _ = self.make_token("read-only", "oacheck-ro")
        _, revoke_id = self.make_token("read-only", "oacheck-revoke")
        if not ok or not self.readonly or not revoke_id or not self.wait_running(APP, ["web", "client"]):
            return self.finish()
        fx = {"token_id": revoke_id}
        seen_ops = set()
        for path, method, concrete, body, token, expect, stream in self.valid_requests(fx):
            seen_ops.add((path, method))
            if path.endswith("/rollback") and not self.etcd:
                UNREACHABLE[(path, method, str(expect))] = "kept revisions: --etcd to write them"
                continue
            value = self.call(path, method, concrete, expect, body, token, stream=stream)
            if value is not None:
                print("ok: %s %s -> %d" % (method.upper(), concrete, expect))
            if path.endswith("/rollback") and isinstance(value, dict):
                self.wait_rollout(DEL_APP, "gone", value.get("hash"))
        for path, method, concrete, body, token, expect, what in self.error_requests():
            raw = body if isinstance(body, bytes) else None
            value = self.call(path, method, concrete, expect, None if raw else body, token, raw, what)
            if value is not None:
                print("ok: %s %s (%s) -> %d %s" % (method.upper(), concrete[:60], what, expect,
                                                   json.dumps(value.get("error", ""))[:100]))
        self.check_undocumented()
        # every operation and status the document lists was exercised
        for path, item in self.spec["paths"].items():
            for method in METHODS:
                if method not in item:
                    continue
                if (path, method) not in seen_ops:
                    self.fail("%s %s: documented, but this checker makes no request for it" % (method.upper(), path))
                for status in item[method]["responses"]:
                    if (path, method, status) in self.exercised:
                        continue
                    why = unreachable(path, method, status)
                    if why:
                        print("not exercised: %s %s %s (needs %s)" % (method.upper(), path, status, why))
                    else:
                        self.fail("%s %s: documented status %s was not exercised" % (method.upper(), path, status))
        # cleanup: the fixture app and the read-only token
        self.request("delete", "/api/v1/apps/" + APP, token="admin")
        st, _, body = self.request("get", "/api/v1/tokens", token="admin")
        try:
            for t in json.loads(body)["tokens"]:
                if t.get("name", "").startswith("oacheck"):
                    self.request("delete", "/api/v1/tokens/" + t["id"], token="admin")
        except (ValueError, KeyError, TypeError):
            pass
        return self.finish()

    def finish(self):
        print("%d operations exercised with %d statuses; %d failure(s)"
              % (len({(p, m) for p, m, _ in self.exercised}), len(self.exercised), len(self.failures)))
        return 1 if self.failures else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", required=True)
    ap.add_argument("--token", required=True, help="an admin token")
    ap.add_argument("--spec", required=True, help="the repository's openapi.json")
    ap.add_argument("--etcd", help="an etcd endpoint (http://...:2379), to write the kept "
                    "revisions a rollback needs; without it, a rollback's 202 is not exercised")
    ap.add_argument("--scheduler", action="store_true", help="the cluster's conductors record "
                    "revisions: wait for them to roll a fixture's write out before going on")
    args = ap.parse_args()
    sys.exit(Checker(args.url, args.token, args.spec, args.etcd, args.scheduler).run())


if __name__ == "__main__":
    main()
