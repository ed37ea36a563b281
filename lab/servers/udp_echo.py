#!/usr/bin/python3
"""Lab UDP echo server (Python standard library only).

Runs in a real-server namespace next to nginx and the upload server:
    /usr/bin/python3 udp_echo.py --name rs1 [--port 5353] [--bind 0.0.0.0 | --bind ::] [--quiet]

Answers each datagram with "<name> <payload>" (the name, one space, the payload
bytes as received), sent back to the datagram's source address and port. The
reply leaves from the address the datagram was sent to (IP_PKTINFO, IPV6_PKTINFO),
so it also answers correctly on a VIP held on lo (DR), not only on its own address.
An IPv6 --bind (or --query) address makes it an IPv6-only socket.
One log line per datagram goes to stderr with the peer address and port
(none with --quiet, for load tests).

One-shot client, for checks and tests (exit 0 and the reply on stdout, or
exit 1 after the timeout):
    /usr/bin/python3 udp_echo.py --query 10.99.4.11 [--port 5353] [--payload hello] [--timeout 1]
Many flows, one datagram each, from source ports P, P+1, ... (so a later run can
repeat the same flows); one line per query on stdout, the answer or FAILED,
exit 0 either way:
    /usr/bin/python3 udp_echo.py --query 10.99.0.100 --count 90 --source-port 30000
"""

import argparse
import signal
import socket
import struct
import sys

IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)  # Linux value; not exported by every Python
IPV6_RECVPKTINFO = getattr(socket, "IPV6_RECVPKTINFO", 49)
IPV6_PKTINFO = getattr(socket, "IPV6_PKTINFO", 50)
MAX_DATAGRAM = 65535


def family(address):
    return socket.AF_INET6 if ":" in address else socket.AF_INET


def serve(name, bind, port, quiet):
    sock = socket.socket(family(bind), socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family(bind) == socket.AF_INET6:
        # IPv6 only, so an IPv4 instance can hold 0.0.0.0 on the same port beside it.
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVPKTINFO, 1)
    else:
        sock.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
    sock.bind((bind, port))
    prefix = name.encode() + b" "
    sys.stderr.write("%s listening on udp %s:%d\n" % (name, bind, port))
    sys.stderr.flush()
    while True:
        data, ancdata, _flags, peer = sock.recvmsg(MAX_DATAGRAM, socket.CMSG_SPACE(20))
        cmsgs = []
        for level, kind, value in ancdata:
            if level == socket.IPPROTO_IPV6 and kind == IPV6_PKTINFO and len(value) >= 20:
                # struct in6_pktinfo { in6_addr addr; int ifindex; }: answer from the address it was sent to.
                cmsgs.append((socket.IPPROTO_IPV6, IPV6_PKTINFO, value[:16] + b"\0\0\0\0"))
            if level == socket.IPPROTO_IP and kind == IP_PKTINFO and len(value) >= 12:
                # struct in_pktinfo { int ifindex; in_addr spec_dst; in_addr addr; }:
                # answer from the address the datagram was sent to, on any interface.
                _ifindex, _spec_dst, dst = struct.unpack("=I4s4s", value[:12])
                cmsgs.append((socket.IPPROTO_IP, IP_PKTINFO, struct.pack("=I4s4s", 0, dst, b"\0\0\0\0")))
        try:
            sock.sendmsg([prefix + data], cmsgs, 0, peer)
        except OSError as e:
            sys.stderr.write("%s %s:%d send failed: %s\n" % (name, peer[0], peer[1], e))
        if not quiet:
            sys.stderr.write("%s %s:%d %d bytes\n" % (name, peer[0], peer[1], len(data)))
            sys.stderr.flush()


def query(address, port, payload, timeout):
    sock = socket.socket(family(address), socket.SOCK_DGRAM)
    sock.settimeout(timeout)
    try:
        sock.sendto(payload.encode(), (address, port))
        data, _peer = sock.recvfrom(MAX_DATAGRAM)
    except OSError as e:  # socket.timeout is an OSError
        sys.stderr.write("no answer from %s:%d: %s\n" % (address, port, e))
        return 1
    finally:
        sock.close()
    sys.stdout.write(data.decode(errors="replace") + "\n")
    return 0


def query_many(address, port, payload, timeout, count, source_port):
    for i in range(count):
        sock = socket.socket(family(address), socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.settimeout(timeout)
        try:
            if source_port:
                sock.bind(("::" if family(address) == socket.AF_INET6 else "0.0.0.0", source_port + i))
            sock.sendto(("%s-%d" % (payload, i)).encode(), (address, port))
            data, _peer = sock.recvfrom(MAX_DATAGRAM)
            sys.stdout.write(data.decode(errors="replace") + "\n")
        except OSError:
            sys.stdout.write("FAILED\n")
        finally:
            sock.close()
        sys.stdout.flush()
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--name", help="server name put in front of each answer (server mode)")
    ap.add_argument("--port", type=int, default=5353)
    ap.add_argument("--bind", default="0.0.0.0")
    ap.add_argument("--quiet", action="store_true", help="no log line per datagram (server mode)")
    ap.add_argument("--query", metavar="ADDRESS", help="send one datagram to ADDRESS and print the answer")
    ap.add_argument("--payload", default="ping")
    ap.add_argument("--timeout", type=float, default=1.0)
    ap.add_argument("--count", type=int, default=1, help="queries, each from its own socket (query mode)")
    ap.add_argument("--source-port", type=int, default=0, help="first source port of --count queries")
    args = ap.parse_args()
    if args.query and (args.count > 1 or args.source_port):
        return query_many(args.query, args.port, args.payload, args.timeout, args.count, args.source_port)
    if args.query:
        return query(args.query, args.port, args.payload, args.timeout)
    if not args.name:
        ap.error("--name is required in server mode")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        serve(args.name, args.bind, args.port, args.quiet)
    except (KeyboardInterrupt, SystemExit):
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
