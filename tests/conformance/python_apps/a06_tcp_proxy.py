# A TCP proxy: a listener task accepts, connects to the upstream server with
# a direct (blocking) connect, and adds two pump tasks per connection; a pump
# shuts down its destination's write side at EOF and the second pump to end
# closes both sockets. The upstream is a multitask line server (one task per
# connection, accept in a loop). Two clients, one after the other; the second
# closes early, before the upstream has answered everything.
from h import *
import socket
def listen():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(('127.0.0.1', 0))
    s.listen(5)
    return s
up_ls, proxy_ls = listen(), listen()
tm = TaskManager()
def upstream():
    n = 0
    while True:
        try:
            conn, _ = yield accept(up_ls, timeout=0.5)
        except Timeout:
            print 'upstream idle'
            break
        n += 1
        tm.add(upstream_conn(conn, n))
def upstream_conn(conn, n):
    buf = ''
    while True:
        data = yield recv(conn, 8)
        if not data:
            break
        buf += data
        while '\n' in buf:
            line, buf = buf.split('\n', 1)
            print 'upstream', n, 'line', repr(line)
            yield send(conn, '%d:%s\n' % (n, line[::-1]))
    print 'upstream', n, 'eof, left', repr(buf)
    conn.close()
class Session(object):
    def __init__(self, n, a, b):
        self.n, self.a, self.b, self.live = n, a, b, 2
    def pump(self, name, src, dst):
        total = 0
        while True:
            data = yield recv(src, 16)
            if not data:
                break
            total += len(data)
            yield send(dst, data)
        print 'session', self.n, name, 'eof after', total
        dst.shutdown(socket.SHUT_WR)
        self.live -= 1
        if self.live == 0:
            self.a.close()
            self.b.close()
            print 'session', self.n, 'closed'
def proxy():
    n = 0
    while True:
        try:
            conn, _ = yield accept(proxy_ls, timeout=0.5)
        except Timeout:
            print 'proxy idle'
            break
        n += 1
        up = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        up.connect(up_ls.getsockname())
        print 'proxy session', n
        s = Session(n, conn, up)
        tm.add(s.pump('up', conn, up))
        tm.add(s.pump('down', up, conn))
def client(name, lines, want):
    c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    c.connect(proxy_ls.getsockname())
    for l in lines:
        yield send(c, l + '\n')
    got = ''
    while got.count('\n') < want:
        data = yield recv(c, 100)
        if not data:
            break
        got += data
    print name, 'got', repr(got)
    c.shutdown(socket.SHUT_WR)
    rest = ''
    while True:
        data = yield recv(c, 100)
        if not data:
            break
        rest += data
    print name, 'rest', repr(rest)
    c.close()
def clients():
    yield client('c1', ['hello', 'proxied world'], 2)
    yield client('c2', ['one', 'two', 'three'], 1)
tm.add(upstream())
tm.add(proxy())
tm.add(clients())
passes(tm, 400)
