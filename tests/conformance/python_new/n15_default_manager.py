# The module-level add() and run() on the default manager: tasks added before
# run, from inside tasks, and after run returned; an error escaping run().
import sys, os
import multitask
from multitask import sleep, Queue
q = Queue()
def worker(name, n):
    for i in range(n):
        print name, i
        yield
    multitask.add(follower(name))
def follower(name):
    print 'follower of', name
    x = yield q.get(timeout=0.01)
    print 'follower got', x
def failing():
    yield sleep(0.02)
    raise ValueError('late failure')
def putter():
    yield sleep(0.005)
    yield q.put('one')
    print 'put one'
multitask.add(worker('w1', 2))
multitask.add(worker('w2', 1))
multitask.add(putter())
multitask.add(failing())
def run_all():
    while True:
        try:
            multitask.run()
            print 'run returned'
            break
        except Exception, e:
            print 'run raised', type(e).__name__, repr(str(e))
run_all()
tm = multitask.get_default_task_manager()
print 'state', tm.has_runnable(), tm.has_io_waits(), tm.has_timeouts()
multitask.add(worker('w3', 1))
run_all()
print 'second run done', tm is multitask.get_default_task_manager()
