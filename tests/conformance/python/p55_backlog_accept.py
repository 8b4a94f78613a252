from h import *
import socket
ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
ls.bind(('127.0.0.1', 0))
ls.listen(10)
addr = ls.getsockname()
cs = []
for i in range(4):
    c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    c.connect(addr)
    c.send('c%d' % i)
    cs.append(c)
tm = TaskManager()
def listener():
    for i in range(4):
        conn, peer = yield accept(ls)
        print 'accepted', i
        tm.add(handler(conn, i))
    try:
        yield accept(ls, timeout=0.02)
    except Timeout:
        print 'no more'
def handler(conn, i):
    data = yield recv(conn, 100)
    print 'handler', i, 'got', repr(data)
    yield send(conn, 'r' + data)
    conn.close()
def ticker():
    for i in range(10):
        print 'tick', i
        yield
tm.add(listener())
tm.add(ticker())
passes(tm)
for c in cs:
    print 'client', repr(c.recv(100))
