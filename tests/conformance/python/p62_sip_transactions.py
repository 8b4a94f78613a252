from h import *
import socket
ua = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
ua.bind(('127.0.0.1', 0))
peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
peer.bind(('127.0.0.1', 0))
pending = {}
def dispatcher():
    while True:
        try:
            data, addr = yield multitask.recvfrom(ua, 200, timeout=0.2)
        except Timeout:
            print 'dispatcher idle'
            break
        tid, rest = data.split(' ', 1)
        q = pending.get(tid)
        if q is None:
            print 'stray', repr(data)
        else:
            yield q.put(rest)
def transaction(tid, retries):
    q = Queue()
    pending[tid] = q
    interval = 0.02
    for attempt in range(retries):
        yield multitask.sendto(ua, '%s INVITE' % tid, peer.getsockname())
        print tid, 'sent attempt', attempt
        try:
            resp = yield q.get(timeout=interval)
            print tid, 'response', resp
            break
        except Timeout:
            print tid, 'retransmit'
            interval *= 2
    else:
        print tid, 'gave up'
    del pending[tid]
def remote():
    count = {}
    while True:
        try:
            data, addr = yield multitask.recvfrom(peer, 200, timeout=0.3)
        except Timeout:
            break
        tid = data.split(' ')[0]
        count[tid] = count.get(tid, 0) + 1
        print 'remote got', repr(data), count[tid]
        if tid == 't1' and count[tid] == 2:
            yield multitask.sendto(peer, 't1 200 OK', addr)
        if tid == 't3':
            yield multitask.sendto(peer, 't3 180 Ringing', addr)
            yield multitask.sendto(peer, 't3 200 OK', addr)
    print 'remote counts', sorted(count.items())
def starter():
    yield transaction('t1', 4)
    yield transaction('t2', 2)
    yield transaction('t3', 3)
tm = TaskManager()
tm.add(dispatcher())
tm.add(remote())
tm.add(starter())
passes(tm)
