# run() returns while a getter with no timeout waits (parked); the main
# program adds a putter and calls run() again; then a sleeping task, a
# getter with a timeout, and a third run().
from h import *
q = Queue()
def getter(name):
    print name, 'waits'
    x = yield q.get()
    print name, 'got', x
def putter(item):
    print 'putter puts', item
    yield q.put(item)
    print 'putter done', item
def tgetter():
    try:
        x = yield q.get(timeout=0.1)
        print 'tgetter got', x
    except Timeout:
        print 'tgetter timeout'
tm = TaskManager()
tm.add(getter('g1'))
tm.add(getter('g2'))
tm.run()
print 'run 1 returned', tm.has_runnable(), tm.has_io_waits(), tm.has_timeouts()
tm.add(putter('a'))
tm.run()
print 'run 2 returned', len(q)
tm.add(tgetter())
tm.add(putter('b'))
tm.add(putter('c'))
tm.run()
print 'run 3 returned', len(q)
tm.add(tgetter())
tm.run()
print 'run 4 returned', len(q)
