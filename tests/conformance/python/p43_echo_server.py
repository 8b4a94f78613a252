from h import *
import socket
ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
ls.bind(('127.0.0.1', 0))
ls.listen(5)
addr = ls.getsockname()
tm = TaskManager()
def listener():
    for i in range(3):
        conn, peer = yield accept(ls)
        print 'listener accepted', i
        tm.add(handler(conn, i))
    print 'listener done'
def handler(conn, i):
    while True:
        data = yield recv(conn, 1024)
        if not data:
            print 'handler', i, 'eof'
            break
        print 'handler', i, 'got', repr(data)
        n = yield send(conn, data.upper())
        print 'handler', i, 'sent', n
    conn.close()
def client(i, lines):
    yield sleep(0.03 * (i + 1))
    c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    c.connect(addr)
    print 'client', i, 'connected'
    for line in lines:
        yield send(c, line)
        reply = yield recv(c, 1024)
        print 'client', i, 'reply', repr(reply)
    c.close()
    print 'client', i, 'closed'
tm.add(listener())
tm.add(client(0, ['hello\n', 'bye\n']))
tm.add(client(1, ['abc\n']))
tm.add(client(2, ['x\n', 'y\n', 'z\n']))
passes(tm)
