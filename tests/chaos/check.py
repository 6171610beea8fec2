#!/usr/bin/env python3
"""tests/chaos/check.py: the fault campaign's checker (issue 12).

Reads etcd and every host's engine of a local cluster, and the campaign's own
records in its run directory, and says what the faults did:

  manifests lost       each manifest must be what the campaign wrote last (or, for
                       a write whose answer never came, what it had before or that
                       write); an app the campaign deleted must stay deleted
  instances            missing or above scale; duplicates (one instance running on
                       two hosts outside a handoff); strays (a copy that is not the
                       placed one: wrong host, a second container, a stopped one)
  orphans              containers of the cluster whose manifest does not exist
  dead announcements   a /services/ key whose container does not run on its host
  link ports           /links/ of an app that no longer exists, or of a link name
                       no manifest of the app names; one port held by two links
  requests             every client request that failed, each explained by a
                       fault active at the time or at most --window seconds
                       before; none may fail unexplained, and every client must
                       have been served after the settle

  check.py --run DIR [--cluster NAME --hosts N --etcd URLS --net N]
      prints the report; exits 0 when clean, 1 on a violation, 2 when etcd or
      an engine could not be read (nothing can be said then)
  check.py --converged ...
      exits 0 when the cluster matches its manifests (every instance runs once,
      where it is placed, at the manifest's revision, healthy and announced; no
      rollout under way; every host registered, every etcd member and
      ambassador answering), 1 otherwise with the reasons, one per line

The run directory holds, as tests/chaos/run.sh writes them:
  writes.log   TIME acked|unknown set|delete APP[/NAME] MANIFEST-JSON|-
  faults.log   inject ID TIME KIND TARGET... / repair ID TIME / close ID TIME HOW
  clients.log  ARRIVED CLIENT CONTAINER START END ok|FAIL CURL-ERROR
  started      the time the campaign began, every client served (what came before
               is the apps starting, and does not count)
  settled      the time the cluster was seen converged after the last fault
"""
import argparse
import base64
import collections
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request

ABSENT = "(absent)"


class Unreadable(Exception):
    pass


# ---------------------------------------------------------------- the sources

def read_etcd(endpoints):
    """Every key of etcd: {key: (value, lease)}."""
    env = dict(os.environ, ETCDCTL_API="3")
    try:
        out = subprocess.run(
            ["etcdctl", "--dial-timeout=2s", "--command-timeout=5s", "--endpoints=" + endpoints,
             "get", "", "--prefix", "-w", "json"],
            env=env, capture_output=True, text=True, timeout=15)
    except subprocess.TimeoutExpired:
        raise Unreadable("etcd: no answer within 15 s")
    if out.returncode != 0:
        raise Unreadable("etcd: " + (out.stderr.strip().splitlines() or ["etcdctl failed"])[-1])
    kvs = {}
    for kv in json.loads(out.stdout).get("kvs", []):
        key = base64.b64decode(kv["key"]).decode()
        kvs[key] = (base64.b64decode(kv.get("value", "")).decode(), kv.get("lease", 0))
    return kvs


class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=10)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(self.path)


def read_engine(cluster, host):
    """The cluster's containers on one host's engine, any state."""
    sock = f"/run/{cluster}/{host}/docker.sock"
    filters = json.dumps({"label": [f"dokkaa.cluster={cluster}"]})
    try:
        conn = UnixHTTP(sock)
        conn.request("GET", "/containers/json?all=1&filters=" + urllib.request.quote(filters))
        resp = conn.getresponse()
        body = resp.read()
        conn.close()
    except OSError as e:
        raise Unreadable(f"engine of {host}: {e}")
    if resp.status != 200:
        raise Unreadable(f"engine of {host}: HTTP {resp.status}")
    return json.loads(body)


NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def answers(url):
    try:
        with NO_PROXY.open(url, timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def decode(value):
    try:
        return json.loads(value)
    except ValueError:
        return None


# ---------------------------------------------------------------- the cluster

def container_name(app, name, i, nxt=False):
    base = f"{app}---{name}" + (f"---{i}" if i else "")
    return base + (".next" if nxt else "")


def analyze(args):
    """What is wrong with the cluster now: {category: [message]}."""
    kvs = read_etcd(args.etcd)
    hosts = [f"h{i}" for i in range(1, args.hosts + 1)]
    engines = {h: read_engine(args.cluster, h) for h in hosts}
    found = collections.defaultdict(list)

    manifests = {}   # (app, name) -> manifest
    placements = {}  # (app, name, i) -> placement
    rollouts = {}
    statuses = {}
    for key, (value, _) in kvs.items():
        p = key.split("/")
        if key.startswith("/apps/") and len(p) == 5 and p[4] == "manifest":
            manifests[(p[2], p[3])] = decode(value)
        elif key.startswith("/apps/") and len(p) == 6 and p[4] == "instances":
            placements[(p[2], p[3], int(p[5]))] = decode(value) or {}
        elif key.startswith("/apps/") and len(p) == 5 and p[4] == "rollout":
            rollouts[(p[2], p[3])] = decode(value) or {}
        elif key.startswith("/status/") and len(p) == 5:
            statuses[(p[2], p[3], int(p[4]))] = decode(value) or {}

    # every container, by instance
    copies = collections.defaultdict(list)  # (app, name, i) -> [(host, cname, state, hash)]
    for h, cs in engines.items():
        for c in cs:
            lab = c.get("Labels") or {}
            try:
                inst = (lab["dokkaa.app"], lab["dokkaa.name"], int(lab["dokkaa.instance"]))
            except (KeyError, ValueError):
                found["orphans"].append(f"{h}: {c['Names'][0][1:]} carries no instance labels")
                continue
            copies[inst].append((h, c["Names"][0][1:], c["State"], lab.get("dokkaa.hash", "")))

    registered = {k.split("/")[2] for k in kvs if k.startswith("/hosts/")}
    for h in hosts:
        if h not in registered:
            found["hosts"].append(f"{h} is not registered in /hosts/")

    for (app, name), m in sorted(manifests.items()):
        if m is None:
            found["manifests unreadable"].append(f"{app}/{name}: the manifest is not JSON")
            continue
        scale = m.get("scale", 1)
        ro = rollouts.get((app, name), {})
        if ro.get("state") == "rolling":
            found["rollouts under way"].append(f"{app}/{name}: revision {ro.get('revision')} still rolling")
        for i in range(scale):
            where = placements.get((app, name, i))
            if where is None:
                found["missing"].append(f"{app}/{name}/{i}: not placed")
                continue
            h = where.get("host")
            if "from" in where:
                found["handoffs under way"].append(f"{app}/{name}/{i}: from {where['from']} to {h}")
            running = [c for c in copies.get((app, name, i), []) if c[2] == "running"]
            on_hosts = sorted({c[0] for c in running})
            if len(on_hosts) > 1 and "from" not in where:
                found["duplicates"].append(f"{app}/{name}/{i}: runs on {', '.join(on_hosts)} "
                                           f"(placed on {h}, no handoff)")
            mine = [c for c in running if c[0] == h and c[1] == container_name(app, name, i)]
            if not mine:
                found["missing"].append(f"{app}/{name}/{i}: no {container_name(app, name, i)} runs on {h}"
                                        f" (running: {', '.join(c[0] + ':' + c[1] for c in running) or 'none'})")
            elif where.get("hash") and mine[0][3] != where["hash"]:
                found["old revisions"].append(f"{app}/{name}/{i}: {h} runs revision {mine[0][3][:12]},"
                                              f" placed {where['hash'][:12]}")
            st = statuses.get((app, name, i))
            if st is None or st.get("state") != "running" or st.get("host") != h:
                found["statuses"].append(f"{app}/{name}/{i}: status {json.dumps(st)} (placed on {h})")
            elif st.get("health") == "unhealthy":
                found["unhealthy"].append(f"{app}/{name}/{i} on {h}: {st.get('error', '')}")
            for svc in (m.get("services") or {}):
                k = f"/services/{app}/{svc}/{container_name(app, name, i)}@{h}"
                if k not in kvs:
                    found["not announced"].append(f"{app}/{name}/{i}: no {k}")
        for (a, n, i) in placements:
            if (a, n) == (app, name) and i >= scale:
                found["above scale"].append(f"{app}/{name}/{i}: placed, scale is {scale}")

    # every container must be the placed, running copy of an instance of a manifest
    for (app, name, i), cs in sorted(copies.items()):
        m = manifests.get((app, name))
        if m is None:
            for c in cs:
                found["orphans"].append(f"{c[0]}: {c[1]} ({c[2]}): no manifest {app}/{name}")
            continue
        scale = m.get("scale", 1) if isinstance(m, dict) else 0
        where = placements.get((app, name, i), {})
        for c in cs:
            if i >= scale:
                if c[2] == "running":
                    found["above scale"].append(f"{c[0]}: {c[1]} runs, scale is {scale}")
                else:
                    found["strays"].append(f"{c[0]}: {c[1]} ({c[2]}), scale is {scale}")
            elif c[2] != "running":
                found["strays"].append(f"{c[0]}: {c[1]} is {c[2]}")
            elif c[0] != where.get("host") and c[0] != where.get("from"):
                if len({x[0] for x in cs if x[2] == "running"}) < 2:  # else counted as a duplicate
                    found["strays"].append(f"{c[0]}: {c[1]} runs, placed on {where.get('host')}")
            elif c[1] != container_name(app, name, i) and "from" not in where:
                found["strays"].append(f"{c[0]}: {c[1]} runs beside the instance's own container")

    for (app, name, i), st in sorted(statuses.items()):
        m = manifests.get((app, name))
        if m is None or i >= (m.get("scale", 1) if isinstance(m, dict) else 0):
            found["stale statuses"].append(f"/status/{app}/{name}/{i}: {json.dumps(st)}")

    # announcements: the container in the key runs on the host in the key
    running_on = {(h, c["Names"][0][1:]) for h, cs in engines.items() for c in cs if c["State"] == "running"}
    for key in sorted(k for k in kvs if k.startswith("/services/")):
        cname, _, h = key.split("/")[-1].rpartition("@")
        if (h, cname) not in running_on:
            found["dead announcements"].append(f"{key}: {cname} does not run on {h}")

    # link ports
    ports = collections.defaultdict(list)
    for key in sorted(k for k in kvs if k.startswith("/links/")):
        _, _, app, svc = key.split("/")
        ports[(decode(kvs[key][0]) or {}).get("port")].append(key)
        mine = [m for (a, _), m in manifests.items() if a == app and isinstance(m, dict)]
        if not mine:
            found["link ports leaked"].append(f"{key}: app {app} has no manifest")
        elif not any(svc in (m.get("links") or []) for m in mine):
            found["link ports leaked"].append(f"{key}: no manifest of {app} links {svc}")
    for port, keys in ports.items():
        if len(keys) > 1:
            found["link ports shared"].append(f"port {port}: {', '.join(keys)}")

    if args.net is not None:
        for k, h in enumerate(hosts, 1):
            addr = f"10.88.{args.net}.{10 + k}"
            if k <= 3 and not answers(f"http://{addr}:2379/health"):
                found["daemons"].append(f"{h}: etcd member does not answer")
            if not answers(f"http://{addr}:4002/metrics"):
                found["daemons"].append(f"{h}: ambassador does not answer")
    return found, kvs, manifests, rollouts


# ---------------------------------------------------------------- the campaign's records

def expected_manifests(path):
    """(app, name) -> the manifests etcd may hold (ABSENT: none), and every
    manifest the campaign ever wrote there, from writes.log."""
    cands, ever = {}, collections.defaultdict(list)
    with open(path) as f:
        for line in f:
            _, how, op, key, value = line.rstrip("\n").split(" ", 4)
            if op == "set":
                app, name = key.split("/")
                m = json.loads(value)
                ever[(app, name)].append(m)
                cur = [m] if how == "acked" else cands.get((app, name), [ABSENT]) + [m]
                cands[(app, name)] = cur
            else:  # delete of a whole app
                for k in [k for k in cands if k[0] == key]:
                    cands[k] = [ABSENT] if how == "acked" else cands[k] + [ABSENT]
    return cands, ever


def read_faults(path, now):
    """[{id, kind, target, start, repair, end}] from faults.log; a fault not
    closed yet ends now."""
    faults = {}
    with open(path) as f:
        for line in f:
            p = line.split()
            if p[0] == "inject":
                faults[p[1]] = {"id": p[1], "start": float(p[2]), "kind": p[3], "target": " ".join(p[4:]),
                                "repair": None, "end": None, "how": ""}
            elif p[0] == "repair":
                faults[p[1]]["repair"] = float(p[2])
            elif p[0] == "close":
                faults[p[1]]["end"] = float(p[2])
                faults[p[1]]["how"] = p[3]
    for fl in faults.values():
        if fl["end"] is None:
            fl["end"] = now
    return sorted(faults.values(), key=lambda x: x["start"])


def read_requests(path):
    reqs = []
    if not os.path.exists(path):
        return reqs
    with open(path) as f:
        for line in f:
            p = line.rstrip("\n").split(" ", 6)
            if len(p) < 6:
                continue
            try:
                reqs.append({"client": p[1], "container": p[2], "t0": float(p[3]), "t1": float(p[4]),
                             "ok": p[5] == "ok", "error": p[6] if len(p) > 6 else ""})
            except ValueError:
                continue
    return reqs


# ---------------------------------------------------------------- the report

FATAL = ["etcd or engines unreadable", "manifests lost", "manifests resurrected", "manifests unreadable",
         "duplicates", "orphans", "strays", "missing", "above scale", "dead announcements",
         "link ports shared", "unexplained failed requests", "clients not served after the settle",
         "statuses", "not announced", "stale statuses", "rollouts under way", "handoffs under way",
         "old revisions", "unhealthy", "hosts", "daemons"]
NOTED = ["manifests rolled back", "link ports leaked", "failed only during a deploy"]


def curl_error(text):
    """curl's error, without its numbers: "(7) Failed to connect", "(28) timeout"."""
    m = re.search(r"\((\d+)\)_([A-Za-z_' ]+)", text or "")
    if not m:
        return text or "failed"
    words = m.group(2).replace("_", " ").split()
    for stop in ("after", "with", "port"):
        if stop in words:
            words = words[:words.index(stop)]
    return f"({m.group(1)}) {' '.join(words)}"


def fmt_t(t):
    return time.strftime("%H:%M:%S", time.localtime(t)) + f".{int(t * 10) % 10}"


def report(args):
    now = time.time()
    run = args.run
    try:
        found, kvs, manifests, rollouts = analyze(args)
    except Unreadable as e:
        print(f"chaos check: cannot read the cluster: {e}")
        return 2

    # manifests against what the campaign wrote
    cands, ever = expected_manifests(os.path.join(run, "writes.log"))
    for key, allowed in sorted(cands.items()):
        actual = manifests.get(key, ABSENT)
        if actual in allowed:
            continue
        label = "/".join(key)
        if actual == ABSENT:
            found["manifests lost"].append(f"{label}: gone; the campaign wrote it last as "
                                           f"{json.dumps(allowed[-1])}")
        elif allowed == [ABSENT]:
            found["manifests resurrected"].append(f"{label}: deleted by the campaign, back as {json.dumps(actual)}")
        elif rollouts.get(key, {}).get("rollback") and actual in ever[key]:
            found["manifests rolled back"].append(f"{label}: an automatic rollback to an earlier write "
                                                  f"({rollouts[key].get('reason', 'no reason given')})")
        else:
            found["manifests lost"].append(f"{label}: holds {json.dumps(actual)}, the campaign wrote "
                                           f"{json.dumps(allowed[-1])}")

    faults = read_faults(os.path.join(run, "faults.log"), now)
    started = 0.0
    if os.path.exists(os.path.join(run, "started")):
        started = float(open(os.path.join(run, "started")).read().split()[0])
    # the requests before the first fault, while the apps started, do not count
    reqs = [r for r in read_requests(os.path.join(run, "clients.log")) if r["t0"] >= started]
    settled = None
    if os.path.exists(os.path.join(run, "settled")):
        settled = float(open(os.path.join(run, "settled")).read().split()[0])

    # every failed request against the faults active in [t0 - window, t1]
    fails = [r for r in reqs if not r["ok"]]
    by_kind = collections.Counter()
    for r in fails:
        active = [fl for fl in faults if fl["start"] <= r["t1"] and fl["end"] + args.window >= r["t0"]]
        if not active:
            found["unexplained failed requests"].append(
                f"{fmt_t(r['t0'])} {r['client']} ({r['container']}): {r['error'] or 'failed'}; "
                f"no fault in the {args.window:g} s before")
            continue
        kinds = sorted({fl["kind"] for fl in active})
        by_kind[" + ".join(kinds)] += 1
        active[-1].setdefault("failed", collections.Counter())[r["client"].split("@")[0]] += 1
        if all(k in ("deploy", "scale") for k in kinds):
            found["failed only during a deploy"].append(
                f"{fmt_t(r['t0'])} {r['client']}: {r['error'] or 'failed'} (fault {active[-1]['id']}: "
                f"{active[-1]['kind']} {active[-1]['target']})")

    # every client instance of the manifests now must have been served after the settle
    for (app, name), m in sorted(manifests.items()):
        if not isinstance(m, dict) or "COLLECT" not in (m.get("env") or {}):
            continue
        for i in range(m.get("scale", 1)):
            ok = [r for r in reqs if r["ok"] and r["client"].startswith(f"{app}/{name}/{i}@")
                  and settled is not None and r["t0"] >= settled]
            if not ok:
                found["clients not served after the settle"].append(f"{app}/{name}/{i}: no request served"
                                                                    f" after the settle")

    # ---- print it
    kinds = collections.Counter(fl["kind"] for fl in faults)
    print(f"=== chaos check: cluster {args.cluster}, {args.hosts} hosts, run {run}")
    seed = open(os.path.join(run, "seed")).read().strip() if os.path.exists(os.path.join(run, "seed")) else "?"
    print(f"seed {seed}")
    print(f"faults injected: {len(faults)} ({', '.join(f'{k} {n}' for k, n in sorted(kinds.items()))})")
    rec = sorted(fl["end"] - (fl["repair"] or fl["start"]) for fl in faults if fl["how"] == "converged")
    if rec:
        print(f"recovery, repair to convergence: median {rec[len(rec) // 2]:.1f} s, max {rec[-1]:.1f} s "
              f"({len(rec)} faults waited for; "
              f"{sum(1 for fl in faults if fl['how'] == 'timeout')} did not converge within the bound)")
    print(f"manifests: {len(cands)} written by the campaign, {len(manifests)} in etcd")
    print(f"instances placed: {sum(1 for k in kvs if '/instances/' in k)}; containers: "
          f"{sum(1 for k in kvs if k.startswith('/status/'))} statuses")
    after = [r for r in reqs if settled is not None and r["t0"] >= settled]
    print(f"client requests: {len(reqs)}, {len(fails)} failed; after the settle "
          f"({fmt_t(settled) if settled else 'never settled'}): {len(after)}, "
          f"{sum(1 for r in after if not r['ok'])} failed")
    for k, n in by_kind.most_common():
        print(f"  failed while {k}: {n}")
    for fl in faults:
        if fl.get("failed"):
            print(f"  #{fl['id']} {fl['kind']} {fl['target']} ({fl['end'] - fl['start']:.0f} s to convergence): "
                  + ", ".join(f"{c} {n}" for c, n in sorted(fl["failed"].items())))
    errs = collections.Counter(curl_error(r["error"]) for r in fails)
    for e, n in errs.most_common(8):
        print(f"  curl: {e}: {n}")
    violations = 0
    for cat in FATAL + NOTED:
        items = found.get(cat, [])
        fatal = cat in FATAL
        violations += len(items) if fatal else 0
        if items or cat in ("manifests lost", "duplicates", "orphans", "dead announcements",
                            "unexplained failed requests", "link ports leaked"):
            print(f"{cat}: {len(items)}{'' if fatal or not items else ' (noted, not a violation)'}")
            for it in items[:args.max_lines]:
                print(f"  {it}")
            if len(items) > args.max_lines:
                print(f"  ... and {len(items) - args.max_lines} more")
    print("chaos check: " + ("CLEAN" if violations == 0 else f"{violations} VIOLATIONS"))
    return 0 if violations == 0 else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cluster", default=os.environ.get("CL_NAME", "dkc"))
    ap.add_argument("--hosts", type=int, default=int(os.environ.get("CL_HOSTS", "3")))
    ap.add_argument("--etcd", default=os.environ.get("CL_ETCD", ""))
    ap.add_argument("--net", type=int, default=int(os.environ["CL_NET"]) if os.environ.get("CL_NET") else None)
    ap.add_argument("--run", help="the campaign's run directory")
    ap.add_argument("--window", type=float, default=float(os.environ.get("CHAOS_WINDOW", "5")),
                    help="seconds after a fault in which a failed request counts as its doing")
    ap.add_argument("--converged", action="store_true")
    ap.add_argument("--max-lines", type=int, default=20)
    args = ap.parse_args()
    if not args.etcd:
        ap.error("--etcd (or CL_ETCD) is needed")
    if args.converged:
        try:
            found, *_ = analyze(args)
        except Unreadable as e:
            print(e)
            return 1
        bad = [f"{cat}: {it}" for cat, items in found.items() if cat in FATAL for it in items]
        print("\n".join(bad))
        return 0 if not bad else 1
    if not args.run:
        ap.error("--run DIR is needed")
    return report(args)


if __name__ == "__main__":
    sys.exit(main())
