# A task that runs the manager itself (a "blocking" helper that spins
# run_next until a flag is set), with other tasks queued.
from h import *
q = Queue()
state = {'done': False}
def worker():
    yield
    print 'worker puts'
    yield q.put('w')
    print 'worker put done'
    state['done'] = True
def spinner():
    print 'spinner starts'
    n = 0
    while not state['done']:
        tm.run_next()
        n += 1
        print 'spinner inner pass', n
    print 'spinner done after', n
    yield
    print 'spinner resumed'
def ticker(name, n):
    for i in range(n):
        print name, i
        yield
def getter():
    x = yield q.get()
    print 'getter got', x
tm = TaskManager()
tm.add(ticker('a', 4))
tm.add(getter())
tm.add(worker())
tm.add(ticker('b', 4))
tm.add(spinner())
tm.add(ticker('c', 4))
passes(tm)
