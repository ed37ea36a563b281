"""--profile: where the device under test's CPU goes. Builds the DR lab, sets up one DR candidate as the
comparison does, offers it a steady load and samples DUT_CPU with `perf record`, then prints the samples
by thread, by object and by symbol (perf.data stays in the output directory)."""

import os
import re
import shutil
import sys
import threading
import time

from . import dr
from .harness import DUT_CPU, Lab, log, run
from .search import trial


def profile(args):
    """One DR candidate under a steady load while perf samples DUT_CPU; prints three views of the samples."""
    if not shutil.which("perf"):
        sys.exit("perf is needed (apt-get install linux-perf)")
    size, data = args.sizes[0], os.path.join(args.out, "perf.data")
    lab = Lab("lab_up", 2, generator=True)
    try:
        _, label, setup, teardown = next(c for c in dr.candidates(lab, ipv4=not args.profile.endswith("6"), ipv6=args.profile.endswith("6"))
                                   if c[0] == args.profile)
        path = setup()
        size = max(size, path.smallest_frame)
        try:
            trial(path, 1000, size, 1, args.flows)  # warm-up
            load = {}
            generator = threading.Thread(target=lambda: load.update(
                zip(("offered", "delivered"), trial(path, args.rate, size, args.seconds + 3, args.flows))))
            generator.start()
            time.sleep(1.5)  # let the load reach its steady rate before sampling
            run(["perf", "record", "-q", "-C", str(DUT_CPU), "-F", "1999", "-g", "-o", data, "--", "sleep", str(args.seconds)],
                timeout=args.seconds + 120)
            generator.join()
        finally:
            teardown()
    finally:
        lab.down()

    def report_lines(sort):
        out = run(["perf", "report", "-i", data, "--no-children", "--stdio", "--sort", sort], timeout=300, check=False)
        return out.splitlines()

    def shares(lines, header=False):
        """The lines with a share (and, with header, perf's "# ... Samples" lines), in perf's order."""
        return [line for line in lines if re.match(r"^\s+[0-9.]+%", line) or (header and re.match(r"^#.*Samples", line))]

    log(f"== {label}, {size}-byte frames at {args.rate} pps offered; CPU {DUT_CPU} (RPS + the forwarding path), {args.seconds} s sampled")
    log(f"   generator: {load.get('offered', 0)} frames offered, {load.get('delivered', 0)} delivered to the servers")
    log(f"== samples on CPU {DUT_CPU} by thread (swapper = idle)")
    log("\n".join(shares(report_lines("comm"), header=True)[:10]))
    log("== by object (kernel, libc, the JIT-compiled engine shows as perf-<pid>.map or [unknown])")
    log("\n".join(shares(report_lines("dso"))[:8]))
    log("== top symbols ([k] kernel, [.] user)")
    log("\n".join(shares(report_lines("symbol"))[:25]))
    log(f"perf data: {data}")
