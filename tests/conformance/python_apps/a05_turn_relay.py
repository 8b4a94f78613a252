# A TURN-like relay over UDP: ALLOCATE makes a relay socket and adds a relay
# task for it (its recvfrom timeout is the allocation's lifetime); SEND
# indications go out of the relay socket to a peer, and what peers send to
# the relay address comes back to the client as DATA, but only from peers
# with a permission; a REFRESH extends the lifetime once; without one the
# allocation expires, its socket closes and the client is told.
from h import *
import socket
def udp():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(('127.0.0.1', 0))
    return s
srv, cli = udp(), udp()
peers = {'p1': udp(), 'p2': udp()}
names = dict((s.getsockname(), n) for n, s in peers.items())
allocs = {}
relay_addr = []
tm = TaskManager()
class Allocation(object):
    def __init__(self, client):
        self.client, self.relay, self.perms, self.refreshed = client, udp(), set(), False
def server():
    while True:
        try:
            data, addr = yield multitask.recvfrom(srv, 200, timeout=0.6)
        except Timeout:
            print 'server idle, allocations', len(allocs)
            break
        cmd = data.split(' ', 2)
        print 'server got', cmd[0]
        a = allocs.get(addr)
        if cmd[0] == 'ALLOCATE':
            a = allocs[addr] = Allocation(addr)
            relay_addr[:] = [a.relay.getsockname()]
            tm.add(relay(a))
            yield multitask.sendto(srv, 'ALLOCATED', addr)
        elif a is None:
            yield multitask.sendto(srv, 'ERROR no allocation', addr)
        elif cmd[0] == 'PERMIT':
            a.perms.add(peers[cmd[1]].getsockname())
            yield multitask.sendto(srv, 'PERMITTED ' + cmd[1], addr)
        elif cmd[0] == 'SEND':
            n = yield multitask.sendto(a.relay, cmd[2], peers[cmd[1]].getsockname())
            print 'relayed', n, 'to', cmd[1]
        elif cmd[0] == 'REFRESH':
            a.refreshed = True
            yield multitask.sendto(srv, 'REFRESHED', addr)
def relay(a):
    while True:
        try:
            data, addr = yield multitask.recvfrom(a.relay, 200, timeout=0.2)
        except Timeout:
            if a.refreshed:
                a.refreshed = False
                print 'lifetime extended'
                continue
            print 'allocation expired'
            a.relay.close()
            del allocs[a.client]
            yield multitask.sendto(srv, 'EXPIRED', a.client)
            break
        if addr in a.perms:
            yield multitask.sendto(srv, 'DATA %s %s' % (names[addr], data), a.client)
        else:
            print 'relay drops from', names[addr]
def peer(name, s):
    while True:
        try:
            data, addr = yield multitask.recvfrom(s, 200, timeout=1.0)
        except Timeout:
            print name, 'idle'
            break
        print name, 'got', repr(data), 'from relay', addr == relay_addr[0]
        yield multitask.sendto(s, data.upper(), addr)
def request(msg, timeout=0.3):
    yield multitask.sendto(cli, msg, srv.getsockname())
    try:
        data, addr = yield multitask.recvfrom(cli, 200, timeout=timeout)
    except Timeout:
        print 'client: no answer to', msg.split()[0]
        return
    print 'client got', repr(data)
def client():
    yield request('ALLOCATE')
    yield request('PERMIT p1')
    yield request('SEND p1 hello')
    yield request('SEND p2 hi', 0.1)
    yield request('REFRESH')
    yield sleep(0.2)
    yield request('SEND p1 again')
    data, addr = yield multitask.recvfrom(cli, 200, timeout=0.5)
    print 'client got', repr(data)
    yield request('SEND p1 late')
    print 'client done'
tm.add(server())
for n in sorted(peers):
    tm.add(peer(n, peers[n]))
tm.add(client())
passes(tm, 300)
