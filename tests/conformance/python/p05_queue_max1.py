from h import *
q = Queue(maxsize=1)
def putter(name, items):
    for i in items:
        print name, 'put', i
        yield q.put(i)
        print name, 'put done', i, 'full', q.full()
def getter(name, n):
    for k in range(n):
        x = yield q.get()
        print name, 'got', x, 'len', len(q)
tm = TaskManager()
tm.add(putter('p1', [1, 2, 3]))
tm.add(putter('p2', [10, 20]))
tm.add(getter('g', 5))
passes(tm)
