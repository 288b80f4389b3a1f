#!/usr/bin/env python3
"""The crash loop of scripts/crash-loop.sh: sends OTPs through otpd to `otpd smsc-sim` while
killing otpd with SIGKILL at random moments, then checks that nothing accepted was lost.

Each round starts `otpd serve` on the same data directory, sends from several threads over the
Unix socket (a new recipient for every send), and kills the daemon with SIGKILL at a random
moment between its start and KILL_WINDOW later: some kills land in the start-up (store open,
leases released, SMPP bind), most in the middle of sends, submits and receipts.

A send is *accepted* when otpd answered 201; a send whose connection broke before an answer
is *unanswered* (it may or may not have been committed: either is correct). After the last
kill, one more daemon runs until every accepted verification's delivery has ended, or no
delivery has ended for a minute. Then:

- lost: an accepted verification that is unknown (404), or whose delivery has not ended (by
  `delivered`, or a failure state with an error) by the deadline;
- duplicates: messages the SMSC accepted beyond the first for a recipient (read from
  smsc-sim's --record file), which at-least-once submission allows after a kill between a
  submit and the record of its response. They are bounded by the messages in flight at each
  kill (the SMPP window, at most, per kill).

It prints one summary line per figure and exits 1 if anything was lost.
"""

import argparse
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


def call(sock, method, path, body=None, timeout=10):
    conn = UnixConnection(sock, timeout)
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        reply = conn.getresponse()
        return reply.status, json.loads(reply.read() or b"null")
    finally:
        conn.close()


class Numbers:
    """Tanzanian mobile numbers, +255713000000 onwards, one per send of the whole run."""

    def __init__(self):
        self.next = 0
        self.lock = threading.Lock()

    def take(self):
        with self.lock:
            n = self.next
            self.next += 1
        return f"+255713{n:06d}"


def start(otpd, config, log):
    return subprocess.Popen([otpd, "serve", "--config", config], stdout=subprocess.DEVNULL, stderr=log)


def wait_healthy(sock, proc, deadline):
    """True once the API answers /healthz; False if the process died or the deadline passed."""
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            if call(sock, "GET", "/healthz", timeout=1)[0] == 200:
                return True
        except OSError:
            pass
        time.sleep(0.005)
    return False


def sender(sock, numbers, accepted, unanswered, refused, stop):
    while not stop.is_set():
        to = numbers.take()
        try:
            status, body = call(sock, "POST", "/otp/send", {"recipient": to}, timeout=10)
        except (OSError, http.client.HTTPException):
            unanswered.append(to)
            return
        if status == 201:
            accepted.append((body["verification_id"], to))
        else:
            refused.append((status, body.get("code") if isinstance(body, dict) else body))


def round_of_sends(args, numbers, accepted, unanswered, refused, log):
    proc = start(args.otpd, args.config, log)
    kill_at = time.monotonic() + random.uniform(0, args.kill_window)
    stop = threading.Event()
    threads = []
    if wait_healthy(args.socket, proc, kill_at):
        for _ in range(args.threads):
            t = threading.Thread(target=sender, args=(args.socket, numbers, accepted, unanswered, refused, stop))
            t.start()
            threads.append(t)
    time.sleep(max(0.0, kill_at - time.monotonic()))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    stop.set()
    for t in threads:
        t.join()
    return proc.returncode


ENDED_BADLY = {"undelivered", "expired", "rejected", "unknown"}


def settle(args, accepted, log):
    """Runs a last daemon until every accepted verification's delivery has ended."""
    proc = start(args.otpd, args.config, log)
    try:
        if not wait_healthy(args.socket, proc, time.monotonic() + 30):
            sys.exit("crash loop: the last daemon did not start; see " + args.log)
        # The deadline moves while deliveries end: it is for a daemon that stopped making
        # progress, not for a slow machine.
        deadline = time.monotonic() + args.settle
        open_ids = {vid for vid, _ in accepted}
        states = {}
        while open_ids and time.monotonic() < deadline:
            before = len(open_ids)
            for vid in list(open_ids):
                status, body = call(args.socket, "GET", f"/otp/status?verification_id={vid}")
                if status != 200:
                    states[vid] = (f"http {status}", None)
                    open_ids.discard(vid)
                    continue
                d = body["delivery"]
                states[vid] = (d["state"], d["error"])
                if d["state"] == "delivered" or (d["state"] in ENDED_BADLY and d["error"]):
                    open_ids.discard(vid)
            if len(open_ids) < before:
                deadline = time.monotonic() + args.settle
            if open_ids:
                time.sleep(0.2)
        return states
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--otpd", required=True)
    p.add_argument("--config", required=True)
    p.add_argument("--socket", required=True)
    p.add_argument("--record", required=True, help="smsc-sim's --record file")
    p.add_argument("--log", required=True, help="where the daemons' logs go")
    p.add_argument("--kills", type=int, default=60)
    p.add_argument("--threads", type=int, default=8)
    p.add_argument("--kill-window", type=float, default=1.0, help="seconds after start")
    p.add_argument("--settle", type=float, default=60.0,
                   help="seconds the last daemon gets without a delivery ending")
    p.add_argument("--window", type=int, default=10, help="the SMPP window, for the bound")
    p.add_argument("--seed", type=int, default=None)
    args = p.parse_args()
    seed = args.seed if args.seed is not None else int(time.time())
    random.seed(seed)

    numbers = Numbers()
    accepted, unanswered, refused = [], [], []
    started = time.monotonic()
    with open(args.log, "ab") as log:
        for _ in range(args.kills):
            rc = round_of_sends(args, numbers, accepted, unanswered, refused, log)
            if rc != -signal.SIGKILL:
                sys.exit(f"crash loop: a daemon exited by itself ({rc}) before its kill; see {args.log}")
        looped = time.monotonic() - started
        states = settle(args, accepted, log)

    at_smsc = Counter()
    with open(args.record) as f:
        for line in f:
            at_smsc["+" + json.loads(line)["destination"].lstrip("+")] += 1
    accepted_numbers = {to for _, to in accepted}
    outcome = Counter(state for state, _ in states.values())
    reasons = Counter(f"{state}: {error}" for state, error in states.values() if state != "delivered")
    def ended(vid):
        state, error = states.get(vid, ("missing", None))
        return state == "delivered" or (state in ENDED_BADLY and error)

    lost = [vid for vid, _ in accepted if not ended(vid)]
    delivered_without_message = [vid for vid, to in accepted
                                 if states.get(vid, ("",))[0] == "delivered" and at_smsc[to] == 0]
    duplicates = sum(n - 1 for to, n in at_smsc.items() if n > 1)
    dup_recipients = sum(1 for n in at_smsc.values() if n > 1)
    unanswered_at_smsc = sum(1 for to in unanswered if at_smsc[to] > 0)

    print(f"seed {seed}: {args.kills} SIGKILLs in {looped:.0f} s, {args.threads} sending threads, "
          f"SMPP window {args.window}")
    print(f"accepted (201): {len(accepted)}; unanswered when killed: {len(unanswered)} "
          f"({unanswered_at_smsc} of them reached the SMSC anyway); refused: {len(refused)} {Counter(refused).most_common(3)}")
    print(f"after the last restart: {dict(outcome)}")
    if reasons:
        print(f"ended without delivery, with reasons: {dict(reasons)}")
    print(f"lost: {len(lost)}; delivered but never seen at the SMSC: {len(delivered_without_message)}")
    print(f"duplicates at the SMSC: {duplicates} extra messages to {dup_recipients} recipients "
          f"(bound: window x kills = {args.window * args.kills}); messages at the SMSC: "
          f"{sum(at_smsc.values())} to {len(at_smsc)} recipients, of them {len(accepted_numbers & set(at_smsc))} accepted")
    if lost or delivered_without_message:
        print("FAILED: " + ", ".join(lost[:10] + delivered_without_message[:10]))
        sys.exit(1)
    if duplicates > args.window * args.kills:
        print("FAILED: more duplicates than the bound")
        sys.exit(1)


if __name__ == "__main__":
    main()
