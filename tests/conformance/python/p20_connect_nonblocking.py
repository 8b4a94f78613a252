# 0.2.0 has no connect: a non-blocking connect_ex, then writable()
from h import *
import socket, errno
ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
ls.bind(('127.0.0.1', 0))
ls.listen(5)
addr = ls.getsockname()
def client():
    c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    c.setblocking(0)
    err = c.connect_ex(addr)
    print 'connect_ex inprogress', err in (0, errno.EINPROGRESS)
    yield writable(c)
    print 'client writable, SO_ERROR', c.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    n = yield send(c, 'hi')
    print 'client sent', n
    data = yield recv(c, 100)
    print 'client got', repr(data)
def server():
    yield sleep(0.05)
    print 'server accepting'
    conn, peer = yield accept(ls)
    print 'server accepted'
    data = yield recv(conn, 100)
    print 'server got', repr(data)
    yield send(conn, data + '!')
tm = TaskManager()
tm.add(client())
tm.add(server())
tm.run()
