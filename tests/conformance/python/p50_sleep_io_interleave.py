from h import *
import socket
a, b = socket.socketpair()
def talker():
    for i in range(3):
        yield sleep(0.04)
        n = yield send(a, 'm%d' % i)
        print 'talker sent', i
        yield
        print 'talker after yield', i
def listener():
    for i in range(3):
        data = yield recv(b, 100)
        print 'listener got', repr(data)
        yield sleep(0.01)
        print 'listener slept', i
def ticker():
    for i in range(4):
        yield sleep(0.035)
        print 'tick', i
tm = TaskManager()
tm.add(talker())
tm.add(listener())
tm.add(ticker())
passes(tm)
