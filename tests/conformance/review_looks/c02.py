# b known ready (data there); in one pass: readable(b) and recv(b) due, both orders
from h import *
import socket, sys
order = sys.argv[1]
a, b = socket.socketpair()
a.send('hello')
def looker():
    yield readable(b)
    print 'look 1'
    yield readable(b)
    print 'look 2'
def receiver():
    yield readable(b)
    print 'recv ready'
    data = yield recv(b, 100)
    print 'recv got', repr(data)
tm = TaskManager()
if order == 'lr':
    tm.add(looker()); tm.add(receiver())
else:
    tm.add(receiver()); tm.add(looker())
passes(tm)
