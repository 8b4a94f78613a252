# b drained behind the manager's back (stale ready); in one pass: readable(b) and a send on a (to b)
from h import *
import socket, sys
order = sys.argv[1]
a, b = socket.socketpair()
a.setblocking(0); b.setblocking(0)
a.send('x')
def looker():
    yield readable(b)
    print 'look 1', repr(b.recv(100))
    yield readable(b)
    print 'look 2', repr(b.recv(100))
def sender():
    yield readable(b)
    print 'sender first'
    n = yield send(a, 'yz')
    print 'sent', n
def ticker():
    for i in range(4):
        print 'tick', i
        yield
tm = TaskManager()
if order == 'ls':
    tm.add(looker()); tm.add(sender())
else:
    tm.add(sender()); tm.add(looker())
tm.add(ticker())
passes(tm)
