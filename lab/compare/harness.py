"""What every part of the comparison runs on: bounded commands (in namespaces), nftables, a lab from
lab/lib/topology.sh, our engine pinned to the device under test's CPU, and the run's logs."""

import json
import os
import re
import secrets
import signal
import subprocess
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOPOLOGY = os.path.join(ROOT, "lab", "lib", "topology.sh")
LB_DLL = os.environ.get("LB_DLL", os.path.join(ROOT, "src", "LoadBalancer.Cli", "bin", "Release", "net10.0", "lb.dll"))

GEN_CPU, DUT_CPU = 0, 1
SEED = "0x5eed"
SINK_PORT = 9
LOG = None  # file object for everything the tools print
ENGINE_LOG = None  # where every engine's output goes (set by open_logs)


def open_logs(out):
    """compare.log (what log() prints, and the tools' stderr) and engine.log in the output directory."""
    global LOG, ENGINE_LOG
    LOG = open(os.path.join(out, "compare.log"), "a")
    ENGINE_LOG = os.path.join(out, "engine.log")


def log(message):
    print(message, flush=True)
    if LOG:
        LOG.write(message + "\n")
        LOG.flush()


def run(args, timeout=60, check=True, stdin=None):
    """Runs a command, bounded in time; returns stdout. Its stderr goes to the run's log."""
    r = subprocess.run(args, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout)
    if LOG and r.stderr:
        LOG.write(r.stderr)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} exited with {r.returncode}: {r.stderr.strip()[-500:]}")
    return r.stdout


def in_ns(ns, *args, timeout=60, check=True, stdin=None):
    return run(["ip", "netns", "exec", ns, *args], timeout=timeout, check=check, stdin=stdin)


def nft(ns, script):
    in_ns(ns, "nft", "-f", "-", stdin=script)


def read_int(ns, path):
    return int(in_ns(ns, "cat", path).strip())


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


# ---- labs ----------------------------------------------------------------------------------------

class Lab:
    """One lab from lab/lib/topology.sh, with its LAB_* variables; torn down by down()."""

    def __init__(self, builder, nodes, generator=False):
        self.prefix = "lc" + secrets.token_hex(3)
        env_file = f"/tmp/{self.prefix}.env"
        script = f"set -e; {builder} {self.prefix} {nodes}"
        if generator:
            script += f"; lab_add_generator {self.prefix}"
        script += f"; env -0 > {env_file}"
        log(f"== building {builder} {self.prefix}")
        try:
            self.sh(script, timeout=300)
            with open(env_file, "rb") as f:
                pairs = [p.split(b"=", 1) for p in f.read().split(b"\0") if b"=" in p]
        finally:
            if os.path.exists(env_file):
                os.remove(env_file)
        self.env = {k.decode(): v.decode() for k, v in pairs if k.startswith(b"LAB_")}

    def __getitem__(self, key):
        return self.env[key]

    @property
    def hosts(self):
        """(namespace, interface, address) per real server; in a CLUSTERIP lab the nodes (LAB_SERVER_* = LAB_NODE_*)."""
        return list(zip(*(self.env[k].split() for k in ("LAB_SERVER_NS", "LAB_SERVER_IFS", "LAB_SERVER_ADDRS"))))

    @property
    def hosts6(self):
        """(namespace, interface, IPv6 address) per real server of a dual-stack lab."""
        return list(zip(*(self.env[k].split() for k in ("LAB_SERVER_NS", "LAB_SERVER_IFS", "LAB_SERVER_ADDRS6"))))

    def sh(self, commands, timeout=60, check=True):
        """Runs bash commands with lab/lib/topology.sh sourced."""
        return run(["bash", "-c", f"source {TOPOLOGY}; {commands}"], timeout=timeout, check=check)

    def write_config(self, name, writer, *args):
        """An engine config from one of topology.sh's writers (they count the lab's hosts themselves)."""
        path = os.path.join(self["LAB_DIR"], name)
        self.sh(" ".join([writer, self.prefix, *map(str, args), path]))
        return path

    def down(self):
        self.sh(f"lab_down {self.prefix}", timeout=120, check=False)


def mac_of(ns, dev):
    return in_ns(ns, "cat", f"/sys/class/net/{dev}/address").strip()


def steer_receive_to_dut(ns, dev):
    """RPS: the device under test's receive processing on DUT_CPU."""
    in_ns(ns, "sh", "-c", f"echo {1 << DUT_CPU:x} > /sys/class/net/{dev}/queues/rx-0/rps_cpus")


# ---- our engine ----------------------------------------------------------------------------------

class Engine:
    """`lb run` in a namespace, pinned to DUT_CPU. The pid is the engine's own (ip netns exec and taskset exec)."""

    def __init__(self, ns, config):
        self.socket = control_socket(config)
        self.out = open(ENGINE_LOG, "a")
        self.proc = subprocess.Popen(["ip", "netns", "exec", ns, "taskset", "-c", str(DUT_CPU), "dotnet", LB_DLL, "run",
                                      "--config", config], stdout=self.out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def status(self):
        r = subprocess.run(["dotnet", LB_DLL, "status", "--socket", self.socket, "--json"], stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, text=True, timeout=20)
        return json.loads(r.stdout) if r.returncode == 0 else None

    def cpu_seconds(self):
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self):
        # SIGTERM, not SIGINT: a .NET process started from a non-interactive parent ignores SIGINT
        # (../shared/LAB.md item 8), and on SIGTERM the engine removes its ingress drops.
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.out.close()


def control_socket(config):
    with open(config) as f:
        return re.search(r"^control_socket:\s*(\S+)", f.read(), re.M).group(1)


def wait_for(what, predicate, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise RuntimeError(f"timed out after {timeout} s waiting for {what}")


def backends_active(engine):
    s = engine.status()
    return s is not None and all(b["state"] == "active" for svc in s["services"] for b in svc["backends"])
