# Generators yielding plain values (numbers, strings, tuples, None, a queue
# object, a dict) mixed with children and child values.
from h import *
def kid(x):
    v = yield x
    print 'kid own value', v
    raise StopIteration(v * 2)
def empty_kid():
    return
    yield
def pair_kid():
    yield
    raise StopIteration(1, 'two')
def t1():
    a = yield 1
    print 't1 got', a
    b = yield kid(a + 1)
    print 't1 kid', b
    c = yield (b, b)
    print 't1 got', c
    d = yield empty_kid()
    print 't1 empty', d
    e = yield pair_kid()
    print 't1 pair', e
    f = yield {'k': e[1]}
    print 't1 dict', f
def t2():
    x = yield 'a'
    print 't2 got', x
    y = yield kid(x + 'b')
    print 't2 kid', y
    z = yield None
    print 't2 none', z
    w = yield kid((1,))
    print 't2 kid tuple', w
tm = TaskManager()
tm.add(t1())
tm.add(t2())
passes(tm)
