from h import *
import socket
l = socket.socket(); l.bind(('127.0.0.1', 0)); l.listen(5)
c = socket.create_connection(l.getsockname()); s, _ = l.accept()
s2 = socket.fromfd(s.fileno(), socket.AF_INET, socket.SOCK_STREAM)
c2 = socket.fromfd(c.fileno(), socket.AF_INET, socket.SOCK_STREAM)
for x in (s, c, s2, c2): x.setblocking(0)
def reader(b):
    for i in range(3):
        data = yield recv(b, 100)
        print 'reader got', repr(data)
def setup():
    yield writable(c)
    yield writable(s2)
    s2.close()
def writer(a, delay):
    for i in range(delay):
        yield
    for m in ['one', 'two', 'three']:
        n = yield send(a, m)
        print 'writer sent', n
        yield
def ticker(n):
    for i in range(n):
        print 'tick', i
        yield
tm = TaskManager()
tm.add(reader(s)); tm.add(setup()); tm.add(writer(c2, 4)); tm.add(ticker(12))
passes(tm)
