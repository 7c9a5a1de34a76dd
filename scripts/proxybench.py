#!/usr/bin/env python3
"""redis-benchmark through the proxy example, against redis-server direct
and HAProxy in TCP mode, in one run: req/s of SET and GET, and the proxy's
CPU time per request (user + system, from /proc).  A manual figure for
docs/bench.md, not a test: the numbers depend on the machine.

    scripts/proxybench.py [REQUESTS [ROUNDS [PLUGIN_DIR]]]

needs redis-server, redis-benchmark and haproxy on PATH, and proxy.so in
PLUGIN_DIR (default build-proxy: cmake -S examples/proxy -B build-proxy
against an installed netkit, or the example's Makefile).  Ports 16379-16381
on 127.0.0.1; every process it starts is stopped by its pid.
"""
import subprocess, time, os, re, socket, sys
def cpu(pid):
    f=open("/proc/%d/stat"%pid).read().rsplit(")",1)[1].split()
    return (int(f[11])+int(f[12]))/os.sysconf("SC_CLK_TCK")
def wait_port(p):
    for _ in range(200):
        try: socket.create_connection(("127.0.0.1",p),0.2).close(); return
        except OSError: time.sleep(0.05)
    raise SystemExit("no port %d"%p)
R,N,H=16379,16380,16381
redis=subprocess.Popen(["redis-server","--port",str(R),"--save","","--appendonly","no"],stdout=subprocess.DEVNULL)
nk=subprocess.Popen([os.environ.get("NETKIT", "build/netkit"),"serve","-L",sys.argv[3] if len(sys.argv)>3 else "build-proxy","-p","proxy","-P",str(N),"-H","127.0.0.1","-O","backend_port=%d"%R,"-q"],stderr=subprocess.DEVNULL,env=dict(os.environ,NETKIT_CONFIG="/dev/null"))
open("/tmp/netkit-proxybench-haproxy.cfg","w").write("""global
  maxconn 1000
defaults
  mode tcp
  timeout connect 5s
  timeout client 60s
  timeout server 60s
listen redis
  bind 127.0.0.1:%d
  server r1 127.0.0.1:%d
"""%(H,R))
hap=subprocess.Popen(["haproxy","-f","/tmp/netkit-proxybench-haproxy.cfg"],stdout=subprocess.DEVNULL,stderr=subprocess.DEVNULL)
try:
    for p in (R,N,H): wait_port(p)
except SystemExit:
    for p in (nk,hap,redis): p.terminate(); p.wait()
    raise
n=int(sys.argv[1]) if len(sys.argv)>1 else 200000
rows=[]
for rnd in range(int(sys.argv[2]) if len(sys.argv)>2 else 1):
  for name,port,pid in (("direct",R,None),("netkit proxy",N,nk.pid),("haproxy tcp",H,hap.pid)):
    c0=cpu(pid) if pid else 0
    out=subprocess.run(["redis-benchmark","-p",str(port),"-t","set,get","-n",str(n),"-c","50","-q"],capture_output=True,text=True).stdout
    c1=cpu(pid) if pid else 0
    rps=[float(x) for x in re.findall(r"([\d.]+) requests per second",out)]
    reqs=2*n
    rows.append((name,rps,(c1-c0), (c1-c0)/reqs*1e6 if pid else 0))
    print("%-13s SET %9.0f GET %9.0f req/s  proxy CPU %.2f s = %.2f us/req"%(name,rps[0],rps[1],c1-c0,(c1-c0)/reqs*1e6 if pid else 0),flush=True)
for p in (nk,hap,redis):
    p.terminate(); p.wait()
