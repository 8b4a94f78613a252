# A UDP server that spawns a task per request (tm.add from inside a task);
# each handler sleeps for the time the request asks, then answers.
from h import *
import socket
srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
srv.bind(('127.0.0.1', 0))
cli = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
cli.bind(('127.0.0.1', 0))
tm = TaskManager()
def server():
    n = 0
    while True:
        try:
            data, addr = yield multitask.recvfrom(srv, 100, timeout=0.25)
        except Timeout:
            print 'server idle'
            break
        n += 1
        print 'server request', n, repr(data)
        tm.add(handler(n, data, addr))
        print 'server added', n
def handler(n, data, addr):
    print 'handler', n, 'starts'
    delay = float(data.split()[1])
    if delay > 0:
        yield sleep(delay)
    k = yield multitask.sendto(srv, 'done ' + data, addr)
    print 'handler', n, 'sent', k
def client():
    for req in ['r1 0.06', 'r2 0.02', 'r3 0', 'r4 0.1']:
        yield multitask.sendto(cli, req, srv.getsockname())
        print 'client sent', req
    while True:
        try:
            data, addr = yield multitask.recvfrom(cli, 100, timeout=0.3)
        except Timeout:
            print 'client timeout'
            break
        print 'client got', repr(data)
tm.add(server())
tm.add(client())
passes(tm)
