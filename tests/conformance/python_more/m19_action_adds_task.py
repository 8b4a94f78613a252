# An FDAction whose function adds a task to the manager (called in the
# manager's I/O step): the new task runs in that same run_next, ahead of
# the waiter; and a function that raises after adding.
from h import *
import socket
a, b = socket.socketpair()
tm = TaskManager()
def hello(name):
    print name, 'runs'
    yield
    print name, 'ends'
def act():
    tm.add(hello('added1'))
    print 'act called'
    return b.recv(100)
def bad():
    tm.add(hello('added2'))
    print 'bad called'
    raise ValueError('bad action')
def waiter():
    data = yield multitask.FDAction(b, act, read=True)
    print 'waiter got', repr(data)
    a.send('more')
    try:
        yield multitask.FDAction(b, bad, read=True)
    except ValueError, e:
        print 'waiter caught', e
    print 'waiter left', repr(b.recv(100))
def t(n):
    for i in range(n):
        print 'tick', i
        yield
a.send('data')
tm.add(waiter())
tm.add(t(5))
passes(tm)
