import signal, time
fired = []
signal.signal(signal.SIGALRM, lambda s, f: fired.append(s))
signal.alarm(1)
time.sleep(3)
print("alarm fired", fired)
signal.setitimer(signal.ITIMER_REAL, 0.05, 0.05)
n = 0
while len(fired) < 4: time.sleep(0.01)
signal.setitimer(signal.ITIMER_REAL, 0)
print("interval fired", len(fired) >= 4)
