from h import *
def t():
    try:
        yield sleep(0)
    except ValueError, e:
        print 'ValueError'
    try:
        yield sleep(-1)
    except ValueError, e:
        print 'ValueError'
    try:
        yield multitask.FDReady(0)
    except ValueError, e:
        print 'ValueError'
    print 't done'
def ticker():
    for i in range(3):
        print 'tick', i
        yield
tm = TaskManager()
tm.add(t())
tm.add(ticker())
passes(tm)
