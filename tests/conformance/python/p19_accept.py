from h import *
import socket
ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
ls.bind(('127.0.0.1', 0))
ls.listen(5)
addr = ls.getsockname()
def server():
    print 'server accepting'
    conn, peer = yield accept(ls)
    print 'server accepted', peer[0]
    data = yield recv(conn, 100)
    print 'server got', repr(data)
    n = yield send(conn, data.upper())
    print 'server sent', n
    try:
        conn2, peer = yield accept(ls, timeout=0.02)
        print 'accepted?'
    except Timeout:
        print 'accept timeout'
    conn.close()
def client():
    yield sleep(0.02)
    c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    c.connect(addr)
    print 'client connected'
    yield sleep(0.02)
    n = yield send(c, 'ping')
    print 'client sent', n
    data = yield recv(c, 100)
    print 'client got', repr(data)
    data = yield recv(c, 100)
    print 'client eof', repr(data)
tm = TaskManager()
tm.add(server())
tm.add(client())
tm.run()
