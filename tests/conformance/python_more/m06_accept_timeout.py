# accept with a timeout that expires, then a client connects (a direct,
# blocking connect from a task), then accept succeeds and the two talk.
from h import *
import socket
ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
ls.bind(('127.0.0.1', 0))
ls.listen(5)
def server():
    for i in range(3):
        try:
            conn, _ = yield accept(ls, timeout=0.1)
        except Timeout:
            print 'accept timeout', i
            continue
        print 'accepted', i
        data = yield recv(conn, 100)
        print 'server got', repr(data)
        yield send(conn, data[::-1])
        conn.close()
        break
    ls.close()
    print 'server done'
def client():
    yield sleep(0.15)
    c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    c.connect(ls.getsockname())
    print 'client connected'
    c.send('stressed')
    data = yield recv(c, 100)
    print 'client got', repr(data)
    data = yield recv(c, 100)
    print 'client eof', repr(data)
    c.close()
tm = TaskManager()
tm.add(server())
tm.add(client())
passes(tm)
