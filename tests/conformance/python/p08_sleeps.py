from h import *
def sleeper(name, t):
    print name, 'sleeps'
    yield sleep(t)
    print name, 'woke'
def ticker():
    for i in range(3):
        print 'tick', i
        yield
tm = TaskManager()
tm.add(sleeper('s30', 0.03))
tm.add(sleeper('s10', 0.01))
tm.add(sleeper('s20', 0.02))
tm.add(sleeper('s10b', 0.01))
tm.add(sleeper('s20b', 0.02))
tm.add(ticker())
tm.run()
print 'end', tm.has_timeouts()
