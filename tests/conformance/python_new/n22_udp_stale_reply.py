# A UDP client whose request times out before the (slow) reply comes; the
# late reply is then read by the next request, which checks the id and
# discards it; the server answers each request after a delay it is told.
from h import *
import socket
srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
srv.bind(('127.0.0.1', 0))
cli = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
cli.bind(('127.0.0.1', 0))
tm = TaskManager()
def server():
    while True:
        try:
            data, addr = yield multitask.recvfrom(srv, 100, timeout=0.3)
        except Timeout:
            print 'server idle'
            break
        rid, delay = data.split()
        print 'server got', rid
        tm.add(answer(rid, float(delay), addr))
def answer(rid, delay, addr):
    yield sleep(delay)
    yield multitask.sendto(srv, rid, addr)
    print 'server answered', rid
def request(rid, delay, timeout):
    yield multitask.sendto(cli, '%s %s' % (rid, delay), srv.getsockname())
    while True:
        try:
            data, addr = yield multitask.recvfrom(cli, 100, timeout=timeout)
        except Timeout:
            print 'request', rid, 'timed out'
            raise StopIteration(None)
        if data == rid:
            raise StopIteration(data)
        print 'request', rid, 'discards stale', data
def client():
    for rid, delay in [('q1', 0.08), ('q2', 0.0), ('q3', 0.01)]:
        r = yield request(rid, delay, 0.05)
        print 'client result', rid, r
tm.add(server())
tm.add(client())
passes(tm)
