from h import *
def ticker(n):
    for i in range(n):
        print 'tick', i
        yield
def grandchild():
    print 'gc start'
    yield
    print 'gc end'
    raise StopIteration('gcv')
def child():
    print 'child start'
    v = yield grandchild()
    print 'child got', v
    raise StopIteration(v + '!', 2)
def parent():
    print 'parent start'
    v = yield child()
    print 'parent got', v
tm = TaskManager()
tm.add(ticker(8))
tm.add(parent())
passes(tm)
