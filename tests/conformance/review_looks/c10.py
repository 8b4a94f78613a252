from h import *
import socket
l = socket.socket(); l.bind(('127.0.0.1', 0)); l.listen(5)
c = socket.create_connection(l.getsockname()); s, _ = l.accept()
s.setblocking(0)
def t(label, op):
    try:
        yield op
        print label, 'ready'
    except Timeout:
        print label, 'timeout'
def main():
    yield t('x none', multitask.FDReady(s, exc=True, timeout=0.05))
    c.send('!', socket.MSG_OOB)
    print 'sent oob'
    yield t('x oob', multitask.FDReady(s, exc=True, timeout=0.5))
    yield t('x oob again', multitask.FDReady(s, exc=True, timeout=0.05))
    print 'oob', repr(s.recv(1, socket.MSG_OOB))
    yield t('x oob read', multitask.FDReady(s, exc=True, timeout=0.05))
    yield t('r after', readable(s, timeout=0.05))
tm = TaskManager(); tm.add(main())
passes(tm)
