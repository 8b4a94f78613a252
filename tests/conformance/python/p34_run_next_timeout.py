from h import *
q = Queue()
def g():
    try:
        yield q.get(timeout=0.3)
    except Timeout:
        print 'g timeout'
def s():
    yield sleep(0.1)
    print 's woke'
tm = TaskManager()
tm.add(g())
tm.add(s())
def st(label):
    print label, 'runnable', tm.has_runnable(), 'io', tm.has_io_waits(), 'timeouts', tm.has_timeouts()
tm.run_next(0.01)
st('after 1st')
tm.run_next(0.01)
st('after 2nd')
tm.run_next(0.5)
st('after 3rd')
tm.run_next(0.01)
st('after 4th')
tm.run_next(0.5)
st('after 5th')
tm.run_next(0.01)
st('after 6th')
