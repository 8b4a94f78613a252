from h import *
q = Queue()
def getter(name):
    print name, 'wants'
    x = yield q.get()
    print name, 'got', x
def putter():
    for i in range(3):
        print 'put', i
        yield q.put(i)
        print 'put done', i
    print 'len', len(q)
tm = TaskManager()
tm.add(getter('g1'))
tm.add(getter('g2'))
tm.add(putter())
tm.add(getter('g3'))
tm.add(getter('g4'))
passes(tm)
print 'len', len(q), 'empty', q.empty(), 'full', q.full()
print 'runnable', tm.has_runnable(), 'io', tm.has_io_waits(), 'timeouts', tm.has_timeouts()
