from h import *
import socket
a, b = socket.socketpair()
def r():
    print 'r waits'
    data = yield recv(b, 100)
    print 'r got', repr(data)
    data = yield recv(b, 100)
    print 'r got', repr(data)
def w():
    for i in range(3):
        n = yield send(b, 'w%d' % i)
        print 'w sent', n
def peer():
    for i in range(5):
        yield
        print 'peer', i
        if i == 2:
            data = a.recv(100)
            print 'peer read', repr(data)
            a.send('to-r')
        if i == 4:
            a.send('again')
tm = TaskManager()
tm.add(r())
tm.add(w())
tm.add(peer())
passes(tm)
