# Several clients connect in the same pass (each a task), an accept loop adds
# a handler per connection; each client sends at once and waits for a reply.
from h import *
import socket
ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
ls.bind(('127.0.0.1', 0))
ls.listen(10)
addr = ls.getsockname()
tm = TaskManager()
def listener():
    for i in range(3):
        conn, peer = yield accept(ls)
        print 'accepted', i
        tm.add(handler(conn, i))
    try:
        yield accept(ls, timeout=0.05)
        print 'accepted?'
    except Timeout:
        print 'listener done'
def handler(conn, i):
    data = yield recv(conn, 100)
    print 'handler', i, 'got', repr(data)
    yield send(conn, 'reply %d to %s' % (i, data))
    conn.close()
def client(name):
    c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    c.connect(addr)
    print name, 'connected'
    yield send(c, name)
    print name, 'sent'
    data = yield recv(c, 100)
    print name, 'got', repr(data)
    data = yield recv(c, 100)
    print name, 'eof', repr(data)
    c.close()
def starter():
    yield
    for name in ['ca', 'cb', 'cc']:
        tm.add(client(name))
    print 'starter added clients'
tm.add(listener())
tm.add(starter())
passes(tm)
