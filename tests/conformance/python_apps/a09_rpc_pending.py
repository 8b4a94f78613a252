# RPC over one stream, as rtmplite's call() and _result: each call gets an id
# and a Queue in a pending table, the request goes out through the
# connection's write queue, and the caller waits on its queue with a timeout;
# a reader task dispatches each response to its pending queue (a response
# whose caller gave up is stray). The server spawns a task per request that
# sleeps for the time asked, so responses come back out of order.
from h import *
import socket
a, b = socket.socketpair()
tm = TaskManager()
pending = {}
outq, srvq = Queue(), Queue()
ids = [0]
def writer(name, sock, q):
    n = 0
    while True:
        m = yield q.get()
        if m is None:
            break
        yield send(sock, m + '\n')
        n += 1
    sock.shutdown(socket.SHUT_WR)
    print name, 'writer done after', n
def lines(sock, buf):
    while '\n' not in buf:
        data = yield recv(sock, 32)
        if not data:
            raise StopIteration((None, buf))
        buf += data
    line, buf = buf.split('\n', 1)
    raise StopIteration((line, buf))
def reader():
    buf = ''
    while True:
        line, buf = yield lines(a, buf)
        if line is None:
            break
        _, cid, result = line.split(' ', 2)
        q = pending.get(int(cid))
        if q is None:
            print 'stray response', cid, result
        else:
            yield q.put(result)
    print 'reader eof, pending', sorted(pending)
def call(method, arg, timeout):
    ids[0] += 1
    cid = ids[0]
    q = Queue()
    pending[cid] = q
    yield outq.put('C %d %s %s' % (cid, method, arg))
    try:
        result = yield q.get(timeout=timeout)
    except Timeout:
        print 'call', cid, method, 'timed out'
        result = None
    del pending[cid]
    raise StopIteration(result)
def caller(name, calls):
    for method, arg, timeout in calls:
        r = yield call(method, arg, timeout)
        print name, method, arg, '->', r
def server():
    buf = ''
    while True:
        line, buf = yield lines(b, buf)
        if line is None:
            break
        _, cid, method, arg = line.split(' ', 3)
        print 'server request', cid, method, arg
        tm.add(handle(cid, method, arg))
    print 'server eof'
    yield sleep(0.1)
    yield srvq.put(None)
def handle(cid, method, arg):
    if method == 'slow':
        yield sleep(float(arg))
        result = 'slept %s' % arg
    else:
        result = arg.upper()
    yield srvq.put('R %s %s' % (cid, result))
def main():
    tm.add(caller('c1', [('slow', '0.2', 0.3)]))
    tm.add(caller('c2', [('slow', '0.05', 0.3), ('echo', 'hi', 0.3)]))
    tm.add(caller('c3', [('slow', '0.3', 0.15), ('echo', 'again', 0.3)]))
    yield sleep(0.45)
    yield outq.put(None)
tm.add(writer('client', a, outq))
tm.add(writer('server', b, srvq))
tm.add(reader())
tm.add(server())
tm.add(main())
passes(tm, 300)
