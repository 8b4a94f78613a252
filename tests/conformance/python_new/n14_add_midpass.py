# Tasks added from inside others in the middle of a pass: by a task that then
# ends, by a child, by one that then waits on a queue, and a task that adds
# a task which adds another.
from h import *
q = Queue()
tm = TaskManager()
def leaf(name):
    print name, 'runs'
    yield
    print name, 'ends'
def chain(depth):
    print 'chain', depth
    if depth < 3:
        tm.add(chain(depth + 1))
    yield
    print 'chain', depth, 'again'
def ender():
    tm.add(leaf('from-ender'))
    print 'ender ends'
    return
    yield
def child_adder():
    yield
    tm.add(leaf('from-child'))
    print 'child added'
    raise StopIteration('cv')
def parent():
    v = yield child_adder()
    print 'parent got', v
    tm.add(leaf('from-parent'))
    x = yield q.get()
    print 'parent got item', x
def putter():
    yield
    yield
    tm.add(leaf('before-put'))
    yield q.put('it')
    tm.add(leaf('after-put'))
    print 'putter done'
def ticker(n):
    for i in range(n):
        print 'tick', i
        yield
tm.add(ticker(7))
tm.add(ender())
tm.add(parent())
tm.add(chain(1))
tm.add(putter())
passes(tm)
