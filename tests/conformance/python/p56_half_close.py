from h import *
import socket
ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
ls.bind(('127.0.0.1', 0))
ls.listen(5)
addr = ls.getsockname()
def server():
    conn, peer = yield accept(ls)
    total = ''
    while True:
        data = yield recv(conn, 3)
        if not data:
            break
        total += data
        print 'server chunk', repr(data)
    print 'server got all', repr(total)
    yield send(conn, 'len=%d' % len(total))
    conn.close()
    print 'server closed'
def client():
    c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    c.connect(addr)
    yield send(c, 'abcdefgh')
    c.shutdown(socket.SHUT_WR)
    print 'client half closed'
    while True:
        data = yield recv(c, 100)
        print 'client got', repr(data)
        if not data:
            break
    try:
        yield send(c, 'more')
        print 'client sent after shutdown?'
    except socket.error, e:
        print 'client send error', e.args[0]
tm = TaskManager()
tm.add(server())
tm.add(client())
passes(tm)
