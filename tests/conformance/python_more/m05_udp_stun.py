# A STUN-like UDP server with per-client state: each client sends a request
# and retransmits on timeout; the server drops the first request of client
# 'b' (a lost packet) and answers each request with a per-client counter.
from h import *
import socket
srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
srv.bind(('127.0.0.1', 0))
addr = srv.getsockname()
state = {}
def server():
    dropped = False
    while True:
        try:
            data, peer = yield multitask.recvfrom(srv, 100, timeout=0.4)
        except Timeout:
            print 'server idle'
            break
        name, txn = data.split()
        if name == 'b' and not dropped:
            dropped = True
            print 'server drops', data
            continue
        state[name] = state.get(name, 0) + 1
        print 'server answers', data, state[name]
        yield multitask.sendto(srv, 'ok %s %s %d' % (name, txn, state[name]), peer)
def client(name, delay):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(('127.0.0.1', 0))
    yield sleep(delay)
    for txn in ('t1', 't2'):
        tries = 0
        while True:
            tries += 1
            yield multitask.sendto(s, '%s %s' % (name, txn), addr)
            try:
                data, _ = yield multitask.recvfrom(s, 100, timeout=0.1)
            except Timeout:
                print name, txn, 'retransmit'
                continue
            print name, 'got', repr(data), 'tries', tries
            break
    s.close()
tm = TaskManager()
tm.add(server())
tm.add(client('a', 0.05))
tm.add(client('b', 0.15))
passes(tm)
print sorted(state.items())
