# An HTTP/1.1-like server: a handler reads a request head up to a blank line,
# then a body of Content-Length bytes (read-until and read-exactly over one
# buffer, recv of 10 bytes), answers, and keeps the connection alive until a
# 'Connection: close' request; requests come pipelined in one send and split
# at odd bytes. The second client leaves in the middle of a request. The
# server shuts its socket down before closing it (see a08).
from h import *
import socket
class ConnectionClosed(Exception): pass
ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
ls.bind(('127.0.0.1', 0))
ls.listen(5)
tm = TaskManager()
class Buffered(object):
    def __init__(self, sock):
        self.sock, self.buf = sock, ''
    def fill(self):
        data = yield recv(self.sock, 10)
        if not data:
            raise ConnectionClosed()
        self.buf += data
    def read_until(self, delim):
        while delim not in self.buf:
            yield self.fill()
        out, self.buf = self.buf.split(delim, 1)
        raise StopIteration(out)
    def read_exactly(self, n):
        while len(self.buf) < n:
            yield self.fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        raise StopIteration(out)
def handler(conn, n):
    r = Buffered(conn)
    served = 0
    try:
        while True:
            head = yield r.read_until('\r\n\r\n')
            lines = head.split('\r\n')
            method, path, _ = lines[0].split(' ')
            headers = dict(l.split(': ', 1) for l in lines[1:])
            body = ''
            if 'Content-Length' in headers:
                body = yield r.read_exactly(int(headers['Content-Length']))
            print 'conn', n, method, path, repr(body)
            reply = '%s %s %s' % (method, path, body[::-1])
            yield send(conn, 'HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s' % (len(reply), reply))
            served += 1
            if headers.get('Connection') == 'close':
                break
    except ConnectionClosed:
        print 'conn', n, 'closed by peer, buffered', len(r.buf)
    print 'conn', n, 'served', served
    conn.shutdown(socket.SHUT_RDWR)
    conn.close()
def listener():
    n = 0
    while True:
        try:
            conn, _ = yield accept(ls, timeout=0.3)
        except Timeout:
            print 'listener idle'
            break
        n += 1
        tm.add(handler(conn, n))
def client(name, pieces, responses, wait_eof):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.connect(ls.getsockname())
    for p in pieces:
        yield send(s, p)
    r = Buffered(s)
    try:
        for i in range(responses):
            head = yield r.read_until('\r\n\r\n')
            size = int(head.split('Content-Length: ')[1])
            body = yield r.read_exactly(size)
            print name, 'response', repr(body)
        if wait_eof:
            yield r.fill()
            print name, 'extra', repr(r.buf)
    except ConnectionClosed:
        print name, 'eof'
    s.close()
    print name, 'closed'
def clients():
    req1 = 'GET /a HTTP/1.1\r\nHost: x\r\n\r\n'
    req2 = 'POST /echo HTTP/1.1\r\nContent-Length: 11\r\n\r\nhello world'
    req3 = 'PUT /z HTTP/1.1\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc'
    yield client('c1', [req1 + req2, req3[:7], req3[7:30], req3[30:]], 3, True)
    yield client('c2', ['GET /b HTTP/1.1\r\n\r\nPOST /c HTTP/1.1\r\nContent-Length: 9\r\n\r\nabc'], 1, False)
tm.add(listener())
tm.add(clients())
passes(tm, 300)
