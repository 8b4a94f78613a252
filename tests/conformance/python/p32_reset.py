from h import *
import socket, struct
ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
ls.bind(('127.0.0.1', 0))
ls.listen(5)
c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
c.connect(ls.getsockname())
conn, _ = ls.accept()
def server():
    try:
        data = yield recv(conn, 100)
        print 'server got', repr(data)
    except socket.error, e:
        print 'server recv errno', e.args[0]
    data = yield recv(conn, 100)
    print 'server got?', repr(data)
def resetter():
    yield
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
    c.close()
    print 'reset sent'
def t():
    for i in range(4):
        print 'tick', i
        yield
tm = TaskManager()
tm.add(server())
tm.add(resetter())
tm.add(t())
while tm.has_runnable() or tm.has_io_waits() or tm.has_timeouts():
    try:
        tm.run_next()
    except socket.error, e:
        print 'run_next raised errno', e.args[0]
    print '|'
