from h import *
import socket
s1 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s1.bind(('127.0.0.1', 0))
s2 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s2.bind(('127.0.0.1', 0))
def rx():
    for i in range(2):
        data, addr = yield multitask.recvfrom(s1, 100)
        print 'rx got', repr(data), addr == s2.getsockname()
    try:
        yield multitask.recvfrom(s1, 100, timeout=0.02)
    except Timeout:
        print 'rx timeout'
def tx():
    for m in ['one', 'two']:
        n = yield multitask.sendto(s2, m, s1.getsockname())
        print 'tx sent', n
tm = TaskManager()
tm.add(rx())
tm.add(tx())
passes(tm)
