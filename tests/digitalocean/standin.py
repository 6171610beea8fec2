#!/usr/bin/env python3
"""tests/digitalocean/standin.py - a stand-in for the DigitalOcean API v2, for the
tests of `dokkaacfg --provider=digitalocean`: it answers the calls the provider makes
as the documented API does, and can boot a test machine for each droplet.

    standin.py PORT [--token TOKEN] [--key NAME=PUBFILE]... [--keys FILE.json]
               [--boot CMD] [--seed-dir DIR] [--log FILE] [--no-capacity REGION]...

It listens on 127.0.0.1:PORT only (0: a free port; the first line on stdout says
which). Python 3 standard library only.

The API it answers (shapes, statuses and messages from DigitalOcean's documentation:
the OpenAPI specification github.com/digitalocean/openapi, commit 7c1300c, read for
this file - specification/description.yml (statuses, the error object, meta, links,
rate limits), shared/models/error.yml, shared/pages.yml, shared/meta.yml,
shared/headers.yml, shared/parameters.yml, shared/responses/*.yml,
resources/ssh_keys/sshKeys_list.yml and responses/sshKeys_all.yml,
resources/droplets/droplets_{create,list,get,destroy,destroy_byTag}.yml,
models/droplet{,_create,_single_create,_multi_create}.yml, models/network_v4.yml,
responses/examples.yml - rendered at https://docs.digitalocean.com/reference/api/intro/
and https://docs.digitalocean.com/reference/api/api-reference/):

  every call   "Authorization: Bearer TOKEN", else 401 {"id":"unauthorized",
               "message":"Unable to authenticate you"}; ratelimit-limit,
               -remaining, -reset headers; 5,000 requests an hour and 250 a
               minute, and GET /v2/account/keys 10 a minute, else 429
               {"id":"too_many_requests"} with retry-after
               (https://docs.digitalocean.com/notes/2023/api-rate-limit); every
               error body is {"id", "message", "request_id"}; unknown paths 404
               {"id":"not_found"}.
  GET    /v2/account/keys            {"ssh_keys": [...], "links", "meta": {"total"}},
                                     paged by page and per_page (default 20, max 200)
  POST   /v2/droplets                name or names[] (at most 10), size, image (slug
                                     or id), region (optional; a slug prefix such as
                                     "nyc" means any nyc*), ssh_keys (ids or
                                     fingerprints), tags, user_data (64 KiB), ipv6,
                                     monitoring, vpc_uuid...: 202 {"droplet"} or
                                     {"droplets"} with links.actions; 422
                                     {"id":"unprocessable_entity"} with the messages
                                     the API is reported to give: "You specified an
                                     invalid size|image|region for Droplet creation.",
                                     "Only valid hostname characters are allowed. (a-z,
                                     A-Z, 0-9, . and -)", "X are invalid key
                                     identifiers for Droplet creation.", and for a
                                     region given with --no-capacity "Region is not
                                     available" (github.com/digitalocean/api-v2/issues/41,
                                     renproject/darknode-cli#5, analogsea#180); 400
                                     {"id":"bad_request"} for a body that is not JSON.
  GET    /v2/droplets[?tag_name=T|name=N]   {"droplets", "links", "meta"}, paged
  GET    /v2/droplets/ID             {"droplet"}, or 404
  DELETE /v2/droplets/ID             204, or 404
  DELETE /v2/droplets?tag_name=T     204 (404 for a tag no droplet ever had)

A droplet starts "new" with no addresses and becomes "active" once booted. With
--boot CMD, booting is `CMD create ID NAME SEED_DIR` (CMD is split as a shell would,
without a shell): SEED_DIR holds the cloud-init NoCloud seed written for it,
`meta-data` (instance-id, local-hostname, and public-keys: the public keys of the
droplet's ssh_keys, which DigitalOcean's metadata service hands to cloud-init, see
https://docs.digitalocean.com/reference/api/metadata/droplet-properties/) and
`user-data` (the droplet's user_data verbatim, or "#cloud-config" alone), as
https://docs.cloud-init.io/en/latest/reference/datasources/nocloud.html describes;
the command prints the machine's IPv4 address (a second one, if printed, is the
private address; else the private address is the same). Deleting the droplet runs
`CMD delete ID NAME` before the DELETE is answered. Without --boot, a droplet is
active after --active-after seconds with fake addresses 10.87.0.200 and up (public)
and 10.87.1.200 and up (private), and no machine.

The log (--log FILE) has one line per request served, "METHOD PATH STATUS"; the token
is in no log. On SIGTERM or SIGINT it stops serving, deletes (runs the delete command
for) every droplet it still has, and exits 0: a test never leaves a machine behind.
"""

import argparse
import base64
import collections
import hashlib
import hmac
import http.server
import ipaddress
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid

# ---- the catalogue: regions, sizes and images a droplet may name ------------------

REGIONS = [  # slug, name (from the documentation's examples and region list)
    ("nyc1", "New York 1"), ("nyc3", "New York 3"), ("sfo2", "San Francisco 2"),
    ("sfo3", "San Francisco 3"), ("ams3", "Amsterdam 3"), ("sgp1", "Singapore 1"),
    ("lon1", "London 1"), ("fra1", "Frankfurt 1"), ("tor1", "Toronto 1"),
    ("blr1", "Bangalore 1"), ("syd1", "Sydney 1"), ("atl1", "Atlanta 1"),
]
SIZES = {  # slug: (memory MB, vcpus, disk GB, transfer TB, price monthly)
    "s-1vcpu-512mb-10gb": (512, 1, 10, 0.5, 4.0),
    "s-1vcpu-1gb": (1024, 1, 25, 1.0, 6.0),
    "s-1vcpu-2gb": (2048, 1, 50, 2.0, 12.0),
    "s-2vcpu-2gb": (2048, 2, 60, 3.0, 18.0),
    "s-2vcpu-4gb": (4096, 2, 80, 4.0, 24.0),
    "s-4vcpu-8gb": (8192, 4, 160, 5.0, 48.0),
    "s-8vcpu-16gb": (16384, 8, 320, 6.0, 96.0),
    "c-2": (4096, 2, 25, 4.0, 42.0),
    "g-2vcpu-8gb": (8192, 2, 25, 4.0, 63.0),
    "m-2vcpu-16gb": (16384, 2, 50, 4.0, 84.0),
}
IMAGES = [  # id, slug, distribution, name
    (153017583, "debian-12-x64", "Debian", "12 x64"),
    (139492245, "debian-11-x64", "Debian", "11 x64"),
    (160301324, "ubuntu-24-04-x64", "Ubuntu", "24.04 (LTS) x64"),
    (129211873, "ubuntu-22-04-x64", "Ubuntu", "22.04 (LTS) x64"),
    (63663980, "ubuntu-20-04-x64", "Ubuntu", "20.04 (LTS) x64"),
    (146451453, "fedora-40-x64", "Fedora", "40 x64"),
]
REGION_FEATURES = ["backups", "ipv6", "metadata", "install_agent", "storage", "image_transfer"]

NAME_RE = re.compile(r"^[a-zA-Z0-9]?[a-z0-9A-Z.\-]*[a-z0-9A-Z]$")  # droplet_single_create.yml
TAG_RE = re.compile(r"^[a-zA-Z0-9_\-:]+$")                         # tags.yml, at most 255
USER_DATA_MAX = 64 * 1024
NAMES_MAX = 10
PER_PAGE_DEFAULT, PER_PAGE_MAX = 20, 200
FIRST_DROPLET_ID = 3164444  # the documentation's example id

MSG_UNAUTHORIZED = "Unable to authenticate you"
MSG_NOT_FOUND = "The resource you were accessing could not be found."
MSG_RATE = "API Rate limit exceeded."
MSG_HOSTNAME = "Only valid hostname characters are allowed. (a-z, A-Z, 0-9, . and -)"
MSG_NO_CAPACITY = "Region is not available"
MSG_VALIDATION = "request payload validation failed"  # unprocessable_entity.yml's example


class ApiError(Exception):
    def __init__(self, status, err_id, message, headers=None):
        super().__init__(message)
        self.status, self.err_id, self.message = status, err_id, message
        self.headers = headers or {}


def unprocessable(message):
    return ApiError(422, "unprocessable_entity", message)


def utc_now():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def fingerprint(public_key):
    """The MD5 fingerprint DigitalOcean shows, "3b:16:e4:...", of an OpenSSH public key."""
    fields = public_key.split()
    if len(fields) < 2:
        raise ValueError("not an OpenSSH public key (\"type base64 [comment]\")")
    blob = base64.b64decode(fields[1], validate=True)
    digest = hashlib.md5(blob).hexdigest()
    return ":".join(digest[i:i + 2] for i in range(0, 32, 2))


def yaml_str(s):
    """A YAML scalar for any string: JSON's double-quoted strings are YAML's too."""
    return json.dumps(s)


# ---- the account ------------------------------------------------------------------

class Droplet:
    def __init__(self, droplet_id, name, region, size, image, keys, tags, user_data, body):
        self.id, self.name = droplet_id, name
        self.region, self.size, self.image = region, size, image
        self.keys, self.tags, self.user_data = keys, tags, user_data
        self.status = "new"
        self.public_ip = self.private_ip = None
        self.created_at = utc_now()
        self.features = [f for f, on in (("backups", body.get("backups")), ("ipv6", body.get("ipv6")),
                                         ("monitoring", body.get("monitoring")),
                                         ("private_networking", True)) if on]
        self.vpc_uuid = body.get("vpc_uuid") or str(uuid.uuid5(uuid.NAMESPACE_DNS, region[0] + ".vpc"))
        self.booted = threading.Event()  # the create hook is over (or there is none)
        self.seed = None                 # its NoCloud seed directory, once written

    def to_json(self):
        memory, vcpus, disk, transfer, price = SIZES[self.size]
        image_id, slug, distribution, image_name = self.image
        v4 = []
        if self.private_ip:
            v4.append({"ip_address": self.private_ip, "netmask": "255.255.0.0", "gateway": "nil",
                       "type": "private"})
        if self.public_ip:
            gateway = str(ipaddress.ip_network(self.public_ip + "/24", strict=False)[1])
            v4.append({"ip_address": self.public_ip, "netmask": "255.255.255.0", "gateway": gateway,
                       "type": "public"})
        region_slug, region_name = self.region
        return {
            "id": self.id, "name": self.name, "memory": memory, "vcpus": vcpus, "disk": disk,
            "disk_info": [{"type": "local", "size": {"amount": disk, "unit": "gib"}}],
            "locked": False, "status": self.status, "kernel": None, "created_at": self.created_at,
            "features": self.features, "backup_ids": [], "next_backup_window": None,
            "snapshot_ids": [],
            "image": {"id": image_id, "name": image_name, "distribution": distribution, "slug": slug,
                      "public": True, "regions": [r for r, _ in REGIONS],
                      "created_at": "2024-06-10T18:05:51Z", "type": "base", "min_disk_size": 7,
                      "size_gigabytes": 0.95, "description": "", "tags": [], "status": "available",
                      "error_message": ""},
            "volume_ids": [],
            "size": {"slug": self.size, "memory": memory, "vcpus": vcpus, "disk": disk,
                     "transfer": transfer, "price_monthly": price,
                     "price_hourly": round(price / 672, 5), "regions": [r for r, _ in REGIONS],
                     "available": True, "description": "Basic"},
            "size_slug": self.size,
            "networks": {"v4": v4, "v6": []},
            "region": {"name": region_name, "slug": region_slug, "features": REGION_FEATURES,
                       "available": True, "sizes": list(SIZES)},
            "tags": list(self.tags), "vpc_uuid": self.vpc_uuid,
        }


class Account:
    """Everything the API knows, behind one lock. Hooks run outside it."""

    def __init__(self, opts):
        self.opts = opts
        self.lock = threading.RLock()
        self.keys = []
        self.droplets = {}           # id -> Droplet
        self.tags = set()            # every tag a droplet ever had (tags outlive droplets)
        self.next_id = FIRST_DROPLET_ID
        self.next_action = 7515
        self.fake_ips = 0
        self.hour = collections.deque()   # times of requests served, for the rate limits
        self.key_reads = collections.deque()
        self.hooks = []              # threads running a hook: waited for at exit
        self.stopping = False

    # -- keys
    def add_key(self, name, public_key, key_id=None):
        public_key = public_key.strip()
        self.keys.append({"id": key_id or 512189 + len(self.keys), "fingerprint": fingerprint(public_key),
                          "public_key": public_key, "name": name})

    # -- rate limits (description.yml, "Rate Limit"): accepted requests count
    def rate_limit(self, is_key_read):
        now = time.time()
        with self.lock:
            while self.hour and self.hour[0] <= now - 3600:
                self.hour.popleft()
            while self.key_reads and self.key_reads[0] <= now - 60:
                self.key_reads.popleft()
            minute = sum(1 for t in self.hour if t > now - 60)
            limit = self.opts.rate_limit_hour
            reset = int(self.hour[0] + 3600) if self.hour else int(now)
            headers = {"ratelimit-limit": str(limit), "ratelimit-reset": str(reset)}
            over = None
            if len(self.hour) >= limit:
                over = self.hour[0] + 3600 - now
            elif minute >= self.opts.rate_limit_minute:
                over = next(t for t in self.hour if t > now - 60) + 60 - now
            elif is_key_read and len(self.key_reads) >= self.opts.key_reads_minute:
                over = self.key_reads[0] + 60 - now
            if over is not None:
                headers["ratelimit-remaining"] = "0"
                headers["retry-after"] = str(max(1, int(over + 0.999)))
                raise ApiError(429, "too_many_requests", MSG_RATE, headers)
            self.hour.append(now)
            if is_key_read:
                self.key_reads.append(now)
            headers["ratelimit-remaining"] = str(limit - len(self.hour))
            if len(self.hour) == 1:
                headers["ratelimit-reset"] = str(int(now + 3600))
            return headers

    # -- droplets
    def validate_create(self, body):
        if not isinstance(body, dict):
            raise unprocessable(MSG_VALIDATION)
        if "name" in body and "names" in body:
            raise unprocessable(MSG_VALIDATION)
        if "names" in body:
            names = body["names"]
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names) or not names:
                raise unprocessable(MSG_VALIDATION)
            if len(names) > NAMES_MAX:  # "Up to ten Droplets may be created this way at a time."
                raise unprocessable(f"You may only create up to {NAMES_MAX} Droplets at a time.")
        elif isinstance(body.get("name"), str):
            names = [body["name"]]
        else:
            raise unprocessable(MSG_HOSTNAME if "name" in body else MSG_VALIDATION)
        for n in names:
            if len(n) > 255 or not NAME_RE.match(n):
                raise unprocessable(MSG_HOSTNAME)
        for field, kind in (("size", str), ("region", str), ("user_data", str), ("vpc_uuid", str),
                            ("backups", bool), ("ipv6", bool), ("monitoring", bool),
                            ("private_networking", bool), ("with_droplet_agent", bool),
                            ("public_networking", bool)):
            if body.get(field) is not None and not isinstance(body[field], kind):
                raise unprocessable(MSG_VALIDATION)
        for field in ("ssh_keys", "tags", "volumes"):
            if body.get(field) is not None and not isinstance(body[field], list):
                raise unprocessable(MSG_VALIDATION)
        size = body.get("size")
        if size not in SIZES:
            raise unprocessable("You specified an invalid size for Droplet creation.")
        image = body.get("image")
        match = [i for i in IMAGES if (isinstance(image, str) and image == i[1]) or
                 (isinstance(image, int) and not isinstance(image, bool) and image == i[0])]
        if not match:
            raise unprocessable("You specified an invalid image for Droplet creation.")
        region = self.pick_region(body.get("region"))
        keys, bad = [], []
        for ident in body.get("ssh_keys") or []:
            found = [k for k in self.keys
                     if (isinstance(ident, int) and not isinstance(ident, bool) and ident == k["id"])
                     or (isinstance(ident, str) and ident in (k["fingerprint"], str(k["id"])))]
            (keys.extend(found[:1]) if found else bad.append(str(ident)))
        if bad:
            raise unprocessable(f"{', '.join(bad)} are invalid key identifiers for Droplet creation.")
        tags = body.get("tags") or []
        for t in tags:
            if not isinstance(t, str) or len(t) > 255 or not TAG_RE.match(t):
                raise unprocessable("Tags may contain letters, numbers, colons, dashes, and "
                                    "underscores, and at most 255 characters.")
        user_data = body.get("user_data")
        if user_data is not None and len(user_data.encode()) > USER_DATA_MAX:
            raise unprocessable("user_data may not exceed 64 KiB in size.")
        return names, size, match[0], region, keys, tags, user_data

    def pick_region(self, slug):
        known = dict(REGIONS)
        if slug is None:  # "the Droplet may deploy in any region"
            choices = [r for r in known if r not in self.opts.no_capacity]
        elif slug in known:
            choices = [slug]
        elif re.fullmatch(r"[a-z]+", slug) and any(r.startswith(slug) for r in known):
            choices = [r for r in known if r.startswith(slug) and r not in self.opts.no_capacity]
            choices = choices or [slug + "?"]  # every datacenter of it is full
        else:
            raise unprocessable("You specified an invalid region for Droplet creation.")
        if not choices or choices[0] in self.opts.no_capacity or choices[0].endswith("?"):
            raise unprocessable(MSG_NO_CAPACITY)
        return choices[0], known[choices[0]]

    def create(self, body):
        names, size, image, region, keys, tags, user_data = self.validate_create(body)
        with self.lock:
            made = []
            for name in names:
                d = Droplet(self.next_id, name, region, size, image, keys, tags, user_data, body)
                self.next_id += 1
                self.droplets[d.id] = d
                made.append(d)
            self.tags.update(tags)
            actions = []
            for d in made:
                actions.append({"id": self.next_action, "rel": "create",
                                "href": f"{self.opts.public_url}/v2/actions/{self.next_action}"})
                self.next_action += 1
            views = [d.to_json() for d in made]
        for d in made:
            self.start_hook(self.boot, d)
        if "names" in body:
            return {"droplets": views, "links": {"actions": actions}}
        return {"droplet": views[0], "links": {"actions": actions}}

    def start_hook(self, fn, d):
        t = threading.Thread(target=fn, args=(d,), name=f"hook-{d.id}", daemon=True)
        with self.lock:
            self.hooks = [h for h in self.hooks if h.is_alive()] + [t]
        t.start()
        return t

    def boot(self, d):
        try:
            if not self.opts.boot:
                time.sleep(self.opts.active_after)
                with self.lock:
                    n = self.fake_ips
                    self.fake_ips += 1
                    d.public_ip = str(ipaddress.ip_address("10.87.0.200") + n)
                    d.private_ip = str(ipaddress.ip_address("10.87.1.200") + n)
                    d.status = "active"
                return
            d.seed = self.write_seed(d)
            out = self.run_hook(["create", str(d.id), d.name, d.seed], d)
            addrs = []
            for word in (out or "").split():
                try:
                    addrs.append(str(ipaddress.IPv4Address(word)))
                except ValueError:
                    pass
            if not addrs:
                if out is not None:
                    say(f"droplet {d.id} ({d.name}): the boot command printed no IPv4 address; "
                        "it stays \"new\"")
                return
            with self.lock:
                d.public_ip, d.private_ip = addrs[0], addrs[1] if len(addrs) > 1 else addrs[0]
                d.status = "active"
            say(f"droplet {d.id} ({d.name}) is active at {d.public_ip}")
        finally:
            d.booted.set()

    def write_seed(self, d):
        seed = os.path.join(self.opts.seed_dir, str(d.id))
        os.makedirs(seed, exist_ok=True)
        lines = [f"instance-id: {yaml_str(str(d.id))}", f"local-hostname: {yaml_str(d.name)}"]
        if d.keys:
            lines.append("public-keys:")
            lines += [f"  - {yaml_str(k['public_key'])}" for k in d.keys]
        with open(os.path.join(seed, "meta-data"), "w") as f:
            f.write("\n".join(lines) + "\n")
        with open(os.path.join(seed, "user-data"), "w") as f:
            f.write(d.user_data if d.user_data is not None else "#cloud-config\n")
        return seed

    def run_hook(self, args, d):
        """Run the boot command with args; its stdout, or None if it failed."""
        argv = shlex.split(self.opts.boot) + args
        try:
            p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, timeout=self.opts.hook_timeout)
        except (OSError, subprocess.TimeoutExpired) as e:
            say(f"droplet {d.id} ({d.name}): {args[0]}: {e}")
            return None
        if p.returncode != 0:
            tail = (p.stderr.strip().splitlines() or [""])[-1]
            say(f"droplet {d.id} ({d.name}): {args[0]} exited {p.returncode}: {tail}")
            return None
        return p.stdout

    def destroy(self, droplets):
        """Delete the machines of droplets already taken out of the account, in
        parallel; returns when every one is gone."""
        threads = [self.start_hook(self.unboot, d) for d in droplets]
        for t in threads:
            t.join()

    def unboot(self, d):
        d.booted.wait()  # a machine half made is still removed, once its create is over
        if self.opts.boot:
            self.run_hook(["delete", str(d.id), d.name], d)
            if d.seed:
                shutil.rmtree(d.seed, ignore_errors=True)
            say(f"droplet {d.id} ({d.name}) deleted")

    def take(self, droplet_id=None, tag=None):
        with self.lock:
            if droplet_id is not None:
                d = self.droplets.pop(droplet_id, None)
                return [d] if d else []
            gone = [d for d in self.droplets.values() if tag is None or tag in d.tags]
            for d in gone:
                del self.droplets[d.id]
            return gone

    def shutdown(self):
        """Delete every droplet left, and wait for every hook; again while a request
        that was still being answered made more."""
        while True:
            gone = self.take()
            if gone:
                say(f"exiting: deleting {len(gone)} droplet(s)")
            self.destroy(gone)
            with self.lock:
                hooks = [h for h in self.hooks if h.is_alive()]
            for t in hooks:
                t.join(self.opts.hook_timeout)
            with self.lock:
                if not self.droplets and not any(h.is_alive() for h in self.hooks):
                    return


# ---- HTTP -------------------------------------------------------------------------

def say(msg):
    print(f"standin: {msg}", file=sys.stderr, flush=True)


def paged(items, query, base, path, empty_links):
    """One page of a collection (shared/pages.yml, description.yml "Links &
    Pagination"): the page's items, links.pages with only the links that make
    sense, meta.total."""
    def number(name, default):
        raw = query.get(name, [str(default)])[-1]
        if not re.fullmatch(r"[0-9]+", raw) or int(raw) < 1:
            raise ApiError(400, "bad_request", f"invalid {name}: {raw!r}")
        return int(raw)
    per_page = min(number("per_page", PER_PAGE_DEFAULT), PER_PAGE_MAX, OPTS.max_per_page)
    page = number("page", 1)
    last = max(1, -(-len(items) // per_page))
    keep = {k: v[-1] for k, v in query.items() if k not in ("page", "per_page")}

    def url(n):
        return f"{base}{path}?" + urllib.parse.urlencode({"page": n, "per_page": per_page, **keep})
    pages = {}
    if page > 1:
        pages.update(first=url(1), prev=url(min(page - 1, last)))
    if page < last:
        pages.update(last=url(last), next=url(page + 1))
    links = {"pages": pages} if pages else empty_links
    return items[(page - 1) * per_page: page * per_page], links, {"total": len(items)}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the client reuses its connection
    server_version = "standin/1"

    def log_message(self, fmt, *args):  # the request log is ours (--log), not stderr
        pass

    def do_GET(self):
        self.serve("GET")

    def do_POST(self):
        self.serve("POST")

    def do_DELETE(self):
        self.serve("DELETE")

    def do_PUT(self):
        self.serve("PUT")

    def do_PATCH(self):
        self.serve("PATCH")

    def serve(self, method):
        status, body, headers = 500, None, {}
        request_id = str(uuid.uuid4())
        try:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length > 0 else b""
            auth = self.headers.get("Authorization", "")
            scheme, _, token = auth.partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(),
                                                                      OPTS.token.encode()):
                raise ApiError(401, "unauthorized", MSG_UNAUTHORIZED)
            url = urllib.parse.urlsplit(self.path)
            is_key_read = method == "GET" and url.path.rstrip("/") == "/v2/account/keys"
            headers.update(ACCOUNT.rate_limit(is_key_read))
            status, body = self.route(method, url.path.rstrip("/"),
                                      urllib.parse.parse_qs(url.query, keep_blank_values=True), raw)
        except ApiError as e:
            status, body = e.status, {"id": e.err_id, "message": e.message, "request_id": request_id}
            headers.update(e.headers)
        except Exception as e:  # a bug of ours: answered as the API answers its own
            say(f"{method} {self.path}: {e!r}")
            status, body = 500, {"id": "server_error", "message": "Unexpected server-side error",
                                 "request_id": request_id}
        self.answer(status, body, headers, request_id)
        log(f"{method} {self.path} {status}")

    def answer(self, status, body, headers, request_id):
        data = b"" if body is None else (json.dumps(body) + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("x-request-id", request_id)
        for k, v in headers.items():
            self.send_header(k, v)
        if status != 204:
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if status != 204:
            self.wfile.write(data)

    def route(self, method, path, query, raw):
        base = OPTS.public_url
        if path == "/v2/account/keys" and method == "GET":
            with ACCOUNT.lock:
                keys = [dict(k) for k in ACCOUNT.keys]
            page, links, meta = paged(keys, query, base, path, {})
            return 200, {"ssh_keys": page, "links": links, "meta": meta}
        if path == "/v2/droplets" and method == "GET":
            tag, name = query.get("tag_name", [None])[-1], query.get("name", [None])[-1]
            with ACCOUNT.lock:
                views = [d.to_json() for _, d in sorted(ACCOUNT.droplets.items())
                         if (tag is None or tag in d.tags)
                         and (name is None or d.name.lower() == name.lower())]
            page, links, meta = paged(views, query, base, path, {"pages": {}})
            return 200, {"droplets": page, "links": links, "meta": meta}
        if path == "/v2/droplets" and method == "POST":
            try:
                body = json.loads(raw.decode() or "null")
            except (UnicodeDecodeError, json.JSONDecodeError):
                raise ApiError(400, "bad_request", "error parsing request body")
            return 202, ACCOUNT.create(body)
        if path == "/v2/droplets" and method == "DELETE":
            tag = query.get("tag_name", [None])[-1]
            if not tag:
                raise ApiError(400, "bad_request", "tag_name is required")
            with ACCOUNT.lock:
                if tag not in ACCOUNT.tags:
                    raise ApiError(404, "not_found", MSG_NOT_FOUND)
            ACCOUNT.destroy(ACCOUNT.take(tag=tag))
            return 204, None
        m = re.fullmatch(r"/v2/droplets/([0-9]+)", path)
        if m and method in ("GET", "DELETE"):
            droplet_id = int(m.group(1))
            if method == "GET":
                with ACCOUNT.lock:
                    d = ACCOUNT.droplets.get(droplet_id)
                    if d:
                        return 200, {"droplet": d.to_json()}
                raise ApiError(404, "not_found", MSG_NOT_FOUND)
            gone = ACCOUNT.take(droplet_id=droplet_id)
            if not gone:
                raise ApiError(404, "not_found", MSG_NOT_FOUND)
            ACCOUNT.destroy(gone)
            return 204, None
        raise ApiError(404, "not_found", MSG_NOT_FOUND)


LOG_LOCK = threading.Lock()


def log(line):
    if OPTS.log:
        with LOG_LOCK, open(OPTS.log, "a") as f:
            f.write(line + "\n")


# ---- main -------------------------------------------------------------------------

def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("port", type=int, help="port on 127.0.0.1 (0: any free one)")
    p.add_argument("--token", default=os.environ.get("DIGITALOCEAN_ACCESS_TOKEN"),
                   help="the one valid token (default: $DIGITALOCEAN_ACCESS_TOKEN)")
    p.add_argument("--key", action="append", default=[], metavar="NAME=PUBFILE",
                   help="an SSH key of the account, its public key read from PUBFILE")
    p.add_argument("--keys", metavar="FILE",
                   help="a JSON list of keys of the account: {\"name\", \"public_key\"[, \"id\"]}")
    p.add_argument("--fake-keys", type=int, default=0, metavar="N",
                   help="N more keys, fake-0..fake-N-1, with random ed25519 public keys")
    p.add_argument("--boot", metavar="CMD", help="boot and delete machines with CMD (see above)")
    p.add_argument("--seed-dir", metavar="DIR", help="where NoCloud seeds go (default: a temp dir)")
    p.add_argument("--hook-timeout", type=float, default=600, metavar="S",
                   help="seconds a boot command may take")
    p.add_argument("--active-after", type=float, default=1.0, metavar="S",
                   help="without --boot: seconds a droplet stays new")
    p.add_argument("--no-capacity", action="append", default=[], metavar="REGION",
                   help="a region that creates no droplet (\"Region is not available\")")
    p.add_argument("--log", metavar="FILE", help="append \"METHOD PATH STATUS\" per request")
    p.add_argument("--rate-limit-hour", type=int, default=5000, metavar="N")
    p.add_argument("--rate-limit-minute", type=int, default=250, metavar="N")
    p.add_argument("--key-reads-minute", type=int, default=10, metavar="N",
                   help="GET /v2/account/keys a minute (the API allows 10)")
    p.add_argument("--max-per-page", type=int, default=PER_PAGE_MAX, metavar="N",
                   help="for tests of paging: pages smaller than the API's 200 at most")
    opts = p.parse_args(argv)
    if not opts.token:
        p.error("no token: give --token or set DIGITALOCEAN_ACCESS_TOKEN")
    return opts


def fake_public_key(i):
    blob = b"\x00\x00\x00\x0bssh-ed25519\x00\x00\x00\x20" + secrets.token_bytes(32)
    return f"ssh-ed25519 {base64.b64encode(blob).decode()} fake-{i}"


def main(argv):
    global OPTS, ACCOUNT
    OPTS = parse_args(argv)
    ACCOUNT = Account(OPTS)
    try:
        for spec in OPTS.key:
            name, sep, path = spec.partition("=")
            if not sep or not name:
                raise ValueError(f"--key {spec}: NAME=PUBFILE")
            with open(path) as f:
                ACCOUNT.add_key(name, f.read())
        if OPTS.keys:
            with open(OPTS.keys) as f:
                for k in json.load(f):
                    ACCOUNT.add_key(k["name"], k["public_key"], k.get("id"))
        for i in range(OPTS.fake_keys):
            ACCOUNT.add_key(f"fake-{i}", fake_public_key(i))
    except (OSError, ValueError, KeyError, TypeError) as e:
        say(f"keys: {e}")
        return 2
    own_seed = OPTS.seed_dir is None
    OPTS.seed_dir = OPTS.seed_dir or tempfile.mkdtemp(prefix="do-standin-")

    server = http.server.ThreadingHTTPServer(("127.0.0.1", OPTS.port), Handler)
    server.daemon_threads = True
    OPTS.public_url = f"http://127.0.0.1:{server.server_address[1]}"
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    serving = threading.Thread(target=server.serve_forever, name="serve", daemon=True)
    serving.start()
    print(f"standin: listening on {OPTS.public_url}", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        server.shutdown()
        server.server_close()
        ACCOUNT.shutdown()
        if own_seed:
            shutil.rmtree(OPTS.seed_dir, ignore_errors=True)
    return 0


OPTS = ACCOUNT = None

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
