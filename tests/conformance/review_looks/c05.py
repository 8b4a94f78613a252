from h import *
import socket
a, b = socket.socketpair()
a.setblocking(0); b.setblocking(0)
a.send('x')
def t(label, op):
    try:
        yield op
        print label, 'ready'
    except Timeout:
        print label, 'timeout'
def main():
    yield readable(b)
    print 'registered'
    yield t('r0', readable(b, timeout=0))
    yield t('r0.01', readable(b, timeout=0.01))
    b.recv(100)
    print 'drained'
    yield t('r0 drained', readable(b, timeout=0))
    yield t('r0.01 drained', readable(b, timeout=0.01))
    yield t('w0', writable(b, timeout=0))
    n = 0
    while True:
        try:
            n += b.send('z' * 4096)
        except socket.error:
            break
    print 'filled'
    yield t('w0 full', writable(b, timeout=0))
    yield t('w0.01 full', writable(b, timeout=0.01))
    yield t('fd rw0 full+drained', multitask.FDReady(b, read=True, write=True, timeout=0))
    a.send('q')
    yield t('fd rw0 readable', multitask.FDReady(b, read=True, write=True, timeout=0))
def ticker():
    for i in range(16):
        print 'tick', i
        yield
tm = TaskManager(); tm.add(main()); tm.add(ticker())
passes(tm)
