from h import *
def leaf(name):
    print name, 'runs'
    yield
    print name, 'again'
def adder(tm):
    print 'adder 1'
    tm.add(leaf('L1'))
    tm.add(leaf('L2'))
    yield
    print 'adder 2'
    tm.add(leaf('L3'))
    x = yield 'v'
    print 'adder 3', x
    tm.add(leaf('L4'))
def other():
    for i in range(4):
        print 'other', i
        yield
tm = TaskManager()
tm.add(adder(tm))
tm.add(other())
passes(tm)
