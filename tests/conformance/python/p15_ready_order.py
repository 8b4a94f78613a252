# recv on an already-readable socket: its completion is found by the next
# pass's poll, so it queues behind tasks that yielded after it in the same pass.
from h import *
import socket
a, b = socket.socketpair()
a.send('ready')
def reader():
    print 'reader yields recv'
    data = yield recv(b, 100)
    print 'reader got', repr(data)
def t(name, n):
    for i in range(n):
        print name, i
        yield
tm = TaskManager()
tm.add(reader())
tm.add(t('x', 3))
tm.add(t('y', 3))
passes(tm)
