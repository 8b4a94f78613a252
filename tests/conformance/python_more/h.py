import sys, os
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import multitask
from multitask import TaskManager, Queue, Timeout, sleep, readable, writable, recv, send, read, write, readline, accept

def passes(tm, limit=100):
    # one '|' per run_next
    n = 0
    while tm.has_runnable() or tm.has_io_waits() or tm.has_timeouts():
        try:
            tm.run_next()
        except Exception, e:
            print 'ERR %s: %s' % (type(e).__name__, e)
        print '|'
        n += 1
        if n >= limit:
            print 'LIMIT'
            break
