from h import *
import socket
ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
ls.bind(('127.0.0.1', 0))
ls.listen(5)
addr = ls.getsockname()
tm = TaskManager()
def listener():
    for i in range(2):
        conn, peer = yield accept(ls)
        print 'accepted', i
        tm.add(handler(conn, i))
def handler(conn, i):
    try:
        data = yield recv(conn, 100)
        print 'handler', i, 'got', repr(data)
        if data == 'crash':
            raise RuntimeError('handler %d crashed' % i)
        yield send(conn, 'fine')
        print 'handler', i, 'replied'
    finally:
        conn.close()
def client(i, msg):
    yield sleep(0.02 * (i + 1))
    c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    c.connect(addr)
    yield send(c, msg)
    try:
        data = yield recv(c, 100, timeout=0.05)
        print 'client', i, 'got', repr(data)
    except Timeout:
        print 'client', i, 'timeout'
    c.close()
tm.add(listener())
tm.add(client(0, 'crash'))
tm.add(client(1, 'hello'))
passes(tm)
