from h import *
def a():
    for i in range(3):
        print 'a', i
        yield
def b():
    x = yield 5
    print 'b got', x
    y = yield 'str'
    print 'b got', y
    z = yield None
    print 'b got', z
def c(tm):
    print 'c start'
    tm.add(a())
    print 'c added'
    yield
    print 'c after yield'
tm = TaskManager()
tm.add(b())
tm.add(c(tm))
passes(tm)
