from h import *
import socket
ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
ls.bind(('127.0.0.1', 0))
ls.listen(5)
addr = ls.getsockname()
conns = []
def listener():
    conn, peer = yield accept(ls)
    conns.append(conn)
    print 'accepted'
    tm.add(handler(conn))
def handler(conn):
    try:
        data = yield recv(conn, 100)
        print 'handler got', repr(data)
        data = yield recv(conn, 100)
        print 'handler got?', repr(data)
    except socket.error, e:
        print 'handler error', e.args[0]
    print 'handler done'
def killer():
    yield sleep(0.05)
    print 'killer shuts down'
    conns[0].shutdown(socket.SHUT_RDWR)
    yield
    print 'killer after'
def client():
    c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    c.connect(addr)
    yield send(c, 'first')
    print 'client sent'
    data = yield recv(c, 100)
    print 'client got', repr(data)
    c.close()
tm = TaskManager()
tm.add(listener())
tm.add(client())
tm.add(killer())
passes(tm)
