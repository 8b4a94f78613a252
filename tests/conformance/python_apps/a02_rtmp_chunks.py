# rtmplite's chunk reader: messages split into chunks of chunk_size bytes,
# two chunk streams interleaved, fmt 0 headers then fmt 3 continuations, a
# set-chunk-size control message (sent with a direct sendall) that changes
# the size mid-stream; the reader's read-exactly loop recvs 5 bytes at a
# time and hands whole messages to a consumer through a Queue.
from h import *
import socket, struct
a, b = socket.socketpair()
class Reader(object):
    def __init__(self, sock):
        self.sock, self.buf, self.chunk_size, self.streams = sock, '', 8, {}
    def read(self, n):
        while len(self.buf) < n:
            data = yield recv(self.sock, 5)
            if not data:
                raise EOFError('eof with %d buffered' % len(self.buf))
            self.buf += data
        out, self.buf = self.buf[:n], self.buf[n:]
        raise StopIteration(out)
    def read_chunk(self):
        basic = ord((yield self.read(1)))
        fmt, csid = basic >> 6, basic & 0x3f
        if fmt == 0:
            h = yield self.read(7)
            ts = struct.unpack('>I', '\x00' + h[:3])[0]
            size = struct.unpack('>I', '\x00' + h[3:6])[0]
            self.streams[csid] = [ts, size, ord(h[6]), '']
        st = self.streams[csid]
        want = min(self.chunk_size, st[1] - len(st[3]))
        st[3] += yield self.read(want)
        if len(st[3]) == st[1]:
            msg = (csid, st[0], st[2], st[3])
            st[3] = ''
            raise StopIteration(msg)
    def messages(self, out):
        try:
            while True:
                msg = yield self.read_chunk()
                if msg is None:
                    continue
                csid, ts, typ, body = msg
                if typ == 1:
                    self.chunk_size = struct.unpack('>I', body)[0]
                    print 'chunk size now', self.chunk_size
                else:
                    print 'message cs', csid, 'ts', ts, 'type', typ, repr(body)
                    yield out.put(msg)
        except EOFError, e:
            print 'reader', e
            yield out.put(None)
def chunks(csid, ts, typ, body, size):
    out = [chr(csid) + struct.pack('>I', ts)[1:] + struct.pack('>I', len(body))[1:] + chr(typ) + body[:size]]
    for i in range(size, len(body), size):
        out.append(chr(0xc0 | csid) + body[i:i + size])
    return out
def writer():
    m1 = chunks(3, 100, 8, 'audio-frame-one!', 8)
    m2 = chunks(4, 200, 9, 'video-frame-number-one', 8)
    for c in [m2[0], m1[0], m2[1], m1[1], m2[2]]:
        yield send(a, c)
    print 'writer sent interleaved'
    a.sendall(chunks(2, 0, 1, struct.pack('>I', 16), 8)[0])
    print 'writer set chunk size'
    m3 = chunks(3, 300, 8, 'a' * 20 + 'b' * 10, 16)
    m4 = chunks(4, 400, 9, 'tiny', 16)
    for c in m3 + m4:
        yield send(a, c)
        yield sleep(0.05)
    yield send(a, '\x03\x00\x01')
    a.shutdown(socket.SHUT_WR)
    print 'writer done'
def consumer(q):
    n = 0
    while True:
        m = yield q.get()
        if m is None:
            break
        n += 1
        print 'consumer', n, m[0], len(m[3])
    print 'consumer done', n
tm = TaskManager()
q = Queue()
tm.add(Reader(b).messages(q))
tm.add(writer())
tm.add(consumer(q))
passes(tm, 300)
