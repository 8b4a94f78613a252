# rtmplite's shape: a listener task accepts and hands each connection, once
# its handshake is done, to the server's queue; the app task takes clients
# from it and adds a session per client. Per connection: a parse task
# (handshake, then framed messages, read-exactly over small recvs, raising
# ConnectionClosed from deep inside) and a writer task fed by a Queue (None
# ends it and closes the socket). Peers connect one after the other.
from h import *
import socket, struct
class ConnectionClosed(Exception): pass
ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
ls.bind(('127.0.0.1', 0))
ls.listen(5)
addr = ls.getsockname()
tm = TaskManager()
HS = 8
class Client(object):
    def __init__(self, sock, server, n):
        self.sock, self.server, self.n = sock, server, n
        self.buf = ''
        self.writeQueue = Queue()
        self.messages = Queue()
    def read(self, size):
        while len(self.buf) < size:
            data = yield recv(self.sock, 6)
            if not data:
                raise ConnectionClosed()
            self.buf += data
        data, self.buf = self.buf[:size], self.buf[size:]
        raise StopIteration(data)
    def handshake(self):
        c0c1 = yield self.read(1 + HS)
        print 'conn', self.n, 'C0C1', repr(c0c1)
        yield self.writeQueue.put('\x03' + 'S' * HS + c0c1[1:])
        c2 = yield self.read(HS)
        print 'conn', self.n, 'C2', repr(c2)
    def parse(self):
        try:
            yield self.handshake()
            yield self.server.queue.put(self)
            while True:
                hdr = yield self.read(3)
                typ, size = struct.unpack('>BH', hdr)
                body = yield self.read(size)
                print 'conn', self.n, 'msg', typ, repr(body)
                yield self.messages.put((typ, body))
        except ConnectionClosed:
            print 'conn', self.n, 'closed, buffered', len(self.buf)
            yield self.messages.put(None)
            yield self.writeQueue.put(None)
    def write(self):
        while True:
            data = yield self.writeQueue.get()
            if data is None:
                break
            n = yield send(self.sock, data)
            print 'conn', self.n, 'wrote', n
        self.sock.close()
        print 'conn', self.n, 'writer done'
    def writeMessage(self, typ, body):
        yield self.writeQueue.put(struct.pack('>BH', typ, len(body)) + body)
class Server(object):
    def __init__(self, sock):
        self.sock = sock
        self.queue = Queue()
    def run(self):
        n = 0
        while True:
            try:
                conn, remote = yield accept(self.sock, timeout=0.3)
            except Timeout:
                print 'listener idle'
                break
            n += 1
            print 'accepted', n
            c = Client(conn, self, n)
            tm.add(c.parse())
            tm.add(c.write())
def app(server):
    for i in range(2):
        client = yield server.queue.get()
        print 'app got conn', client.n
        tm.add(session(client))
    print 'app done'
def session(client):
    while True:
        m = yield client.messages.get()
        if m is None:
            print 'session', client.n, 'ends'
            break
        typ, body = m
        if typ == 20 and body == 'reject':
            yield client.writeMessage(20, '_error')
        elif typ == 20:
            yield client.writeMessage(20, '_result ' + body)
        else:
            yield client.writeMessage(typ, body.upper())
def read_reply(c, buf):
    while len(buf) < 3 or len(buf) < 3 + struct.unpack('>BH', buf[:3])[1]:
        data = yield recv(c, 100)
        if not data:
            raise ConnectionClosed()
        buf += data
    typ, size = struct.unpack('>BH', buf[:3])
    raise StopIteration((typ, buf[3:3 + size], buf[3 + size:]))
def peer(name, hs_parts, msgs):
    c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    c.connect(addr)
    for part in hs_parts:
        yield send(c, part)
    s = ''
    while len(s) < 1 + 2 * HS:
        s += yield recv(c, 100)
    print name, 'S0S1S2', repr(s)
    yield send(c, s[1:1 + HS])
    for typ, body in msgs:
        yield send(c, struct.pack('>BH', typ, len(body)) + body)
    buf = ''
    for i in range(len(msgs)):
        typ, body, buf = yield read_reply(c, buf)
        print name, 'reply', typ, repr(body)
        if body == '_error':
            break
    yield send(c, '\x12\x00')
    c.close()
    print name, 'closed'
def driver():
    yield peer('p1', ['\x03CCC', 'CCCCC'], [(20, 'app'), (18, 'hello'), (18, 'x')])
    yield peer('p2', ['\x03DDDDDDDD'], [(20, 'reject')])
server = Server(ls)
tm.add(server.run())
tm.add(app(server))
tm.add(driver())
passes(tm, 300)
