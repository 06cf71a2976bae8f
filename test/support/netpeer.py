#!/usr/bin/env python3
"""Tiny traffic endpoints for the end-to-end tests, run inside a VM's network namespace.

Every server binds dual-stack (IPv4 and IPv6 on one socket). Output is one event per line on
stdout, flushed at once, so the test can wait for it:

  tcp-server PORT[,PORT...]        LISTENING / ACCEPT <host> <port> <local port> / RECV <line> / CLOSED
                                   each stdin line is sent to every connected peer
  tcp-client HOST PORT [SPORT [SRC]]
                                   CONNECTED or FAIL <reason> / RECV <line> / CLOSED
                                   each stdin line is sent to the server
  tcp-connect HOST PORT [SPORT [TIMEOUT [SRC]]]
                                   CONNECTED (exit 0) / TIMEOUT (exit 2: no answer, a firewall
                                   drop) / REFUSED (exit 3: a RST came back, nobody listens) /
                                   RESET (exit 4) / UNREACHABLE (exit 5: no neighbour answered,
                                   or an ICMP unreachable came back) / FAIL <reason> (exit 1)
  udp-server PORT[,PORT...]        LISTENING / RECV <host> <port> <data>; replies "echo:<data>"
  udp-send HOST PORT DATA [SPORT [TIMEOUT [SRC]]]
                                   REPLY <data> (exit 0) / REFUSED (exit 3: an ICMP port
                                   unreachable came back) / TIMEOUT (exit 2)
SPORT 0 = any source port; SRC = source address to bind (e.g. an allowed address pair).
"""
import errno
import select
import socket
import sys
import threading


def out(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def family_of(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def dual_stack(kind, port):
    s = socket.socket(socket.AF_INET6, kind)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", port))
    return s


def plain(host):
    return host[7:] if host.startswith("::ffff:") else host


def client_socket(host, kind, sport, src=""):
    s = socket.socket(family_of(host), kind)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if sport or src:
        any_addr = "::" if family_of(host) == socket.AF_INET6 else "0.0.0.0"
        s.bind((src or any_addr, sport))
    return s


def stdin_lines(on_line):
    def loop():
        for line in sys.stdin:
            on_line(line.rstrip("\n"))

    threading.Thread(target=loop, daemon=True).start()


def reader(conn):
    buf = b""
    while True:
        try:
            data = conn.recv(4096)
        except OSError:
            data = b""
        if not data:
            out("CLOSED")
            return
        buf += data
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            out("RECV " + line.decode(errors="replace"))


def tcp_server(ports):
    peers = []
    lock = threading.Lock()

    def broadcast(line):
        with lock:
            for c in list(peers):
                try:
                    c.sendall((line + "\n").encode())
                except OSError:
                    pass

    def serve(srv, port):
        while True:
            conn, addr = srv.accept()
            with lock:
                peers.append(conn)
            out("ACCEPT %s %d %d" % (plain(addr[0]), addr[1], port))
            threading.Thread(target=reader, args=(conn,), daemon=True).start()

    stdin_lines(broadcast)
    for port in ports:
        srv = dual_stack(socket.SOCK_STREAM, port)
        srv.listen(64)
        threading.Thread(target=serve, args=(srv, port), daemon=True).start()
    out("LISTENING")
    threading.Event().wait()


def tcp_client(host, port, sport, src):
    s = client_socket(host, socket.SOCK_STREAM, sport, src)
    s.settimeout(2.0)
    try:
        s.connect((host, port))
    except OSError as e:
        out("FAIL %s" % e)
        return 1
    s.settimeout(None)
    out("CONNECTED")

    def send(line):
        try:
            s.sendall((line + "\n").encode())
        except OSError:
            pass

    stdin_lines(send)
    reader(s)
    return 0


def tcp_connect(host, port, sport, timeout, src):
    s = client_socket(host, socket.SOCK_STREAM, sport, src)
    s.settimeout(timeout)
    try:
        s.connect((host, port))
    except socket.timeout:
        out("TIMEOUT")
        return 2
    except ConnectionRefusedError:
        out("REFUSED")
        return 3
    except ConnectionResetError:
        out("RESET")
        return 4
    except OSError as e:
        if e.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
            out("UNREACHABLE")
            return 5
        out("FAIL %s" % e)
        return 1
    s.close()
    out("CONNECTED")
    return 0


def udp_server(ports):
    socks = [dual_stack(socket.SOCK_DGRAM, p) for p in ports]
    out("LISTENING")
    while True:
        ready, _, _ = select.select(socks, [], [])
        for s in ready:
            data, addr = s.recvfrom(65535)
            text = data.decode(errors="replace")
            out("RECV %s %d %s" % (plain(addr[0]), addr[1], text))
            s.sendto(("echo:" + text).encode(), addr)


def udp_send(host, port, data, sport, timeout, src):
    s = client_socket(host, socket.SOCK_DGRAM, sport, src)
    s.connect((host, port))
    try:
        s.send(data.encode())
    except ConnectionRefusedError:
        out("REFUSED")
        return 3
    r, _, _ = select.select([s], [], [], timeout)
    if not r:
        out("TIMEOUT")
        return 2
    try:
        reply = s.recv(65535)
    except ConnectionRefusedError:
        out("REFUSED")
        return 3
    out("REPLY " + reply.decode(errors="replace"))
    return 0


def main(argv):
    cmd = argv[0]
    if cmd == "tcp-server":
        return tcp_server([int(p) for p in argv[1].split(",")])
    if cmd == "tcp-client":
        sport = int(argv[3]) if len(argv) > 3 else 0
        return tcp_client(argv[1], int(argv[2]), sport, argv[4] if len(argv) > 4 else "")
    if cmd == "tcp-connect":
        sport = int(argv[3]) if len(argv) > 3 else 0
        timeout = float(argv[4]) if len(argv) > 4 else 1.0
        return tcp_connect(argv[1], int(argv[2]), sport, timeout, argv[5] if len(argv) > 5 else "")
    if cmd == "udp-server":
        return udp_server([int(p) for p in argv[1].split(",")])
    if cmd == "udp-send":
        sport = int(argv[4]) if len(argv) > 4 else 0
        timeout = float(argv[5]) if len(argv) > 5 else 1.0
        return udp_send(argv[1], int(argv[2]), argv[3], sport, timeout, argv[6] if len(argv) > 6 else "")
    sys.stderr.write("unknown command %s\n" % cmd)
    return 64


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]) or 0)
