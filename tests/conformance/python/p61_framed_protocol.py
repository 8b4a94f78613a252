from h import *
import socket, struct
a, b = socket.socketpair()
class Conn(object):
    def __init__(self, sock):
        self.sock = sock
        self.buf = ''
    def read(self, n):
        while len(self.buf) < n:
            data = yield recv(self.sock, 7)
            if not data:
                raise EOFError('closed')
            self.buf += data
        out, self.buf = self.buf[:n], self.buf[n:]
        raise StopIteration(out)
    def read_msg(self):
        hdr = yield self.read(3)
        typ, size = struct.unpack('>BH', hdr)
        body = yield self.read(size)
        raise StopIteration((typ, body))
    def write_msg(self, typ, body):
        yield send(self.sock, struct.pack('>BH', typ, len(body)) + body)
def server():
    c = Conn(b)
    while True:
        try:
            typ, body = yield c.read_msg()
        except EOFError, e:
            print 'server', e
            break
        print 'server msg', typ, repr(body)
        if typ == 1:
            yield c.write_msg(2, body[::-1])
        elif typ == 3:
            yield c.write_msg(4, str(len(body)))
def client():
    c = Conn(a)
    yield c.write_msg(1, 'hello world')
    yield c.write_msg(3, 'x' * 20)
    for i in range(2):
        typ, body = yield c.read_msg()
        print 'client msg', typ, repr(body)
    yield c.write_msg(1, '')
    typ, body = yield c.read_msg()
    print 'client msg', typ, repr(body)
    a.shutdown(socket.SHUT_WR)
tm = TaskManager()
tm.add(server())
tm.add(client())
passes(tm)
