from h import *
q = Queue(maxsize=1)
def child_get():
    x = yield q.get()
    print 'child got', x
    yield sleep(0.01)
    raise StopIteration(x * 2)
def parent():
    v = yield child_get()
    print 'parent got', v
def producer():
    yield q.put(21)
    print 'produced'
    yield q.put(22)
    print 'produced 2'
tm = TaskManager()
tm.add(parent())
tm.add(producer())
tm.run()
print 'len', len(q)
