# Tasks that yield a plain value, then a child, then a sleep, in a loop;
# the children yield values and bare yields too.
from h import *
def child(name, i):
    x = yield i * 10
    print name, 'child got', x
    yield
    raise StopIteration(x + 1)
def task(name, delay, n):
    for i in range(n):
        v = yield 'v%d' % i
        print name, 'value', v
        c = yield child(name, i)
        print name, 'child returned', c
        yield sleep(delay)
        print name, 'slept', i
def t(n):
    for i in range(n):
        print 'tick', i
        yield
tm = TaskManager()
tm.add(task('A', 0.05, 2))
tm.add(task('B', 0.12, 2))
tm.add(t(6))
passes(tm)
