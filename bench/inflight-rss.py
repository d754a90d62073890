"""RSS of the release server with N runs in flight (each a 10-second stream from the fake
provider), 4 s after the last start: `python3 bench/inflight-rss.py N`. Uses the release
binaries in the target directory (built by bench/run.sh). Ports 18900 and 18901."""
import json, os, subprocess, sys, tempfile, time, threading, urllib.request, signal
T=os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/promptlab/target")), "release")
D=tempfile.mkdtemp(prefix="promptlab-rss-")
print("dir", D)
N=int(sys.argv[1])
fake=subprocess.Popen([T+"/promptlab-fake-provider","127.0.0.1:18901"],stdout=subprocess.DEVNULL)
env=dict(os.environ, DATABASE_URL=f"sqlite://{D}/db.sqlite?mode=rwc", JWT_SECRET="benchmark-secret-0123456789abcdef0123456789",
 LEPTOS_SITE_ADDR="127.0.0.1:18900", LEPTOS_SITE_ROOT=os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "target", "site"), LEPTOS_OUTPUT_NAME="promptlab", AUTH_RATE_BURST="1000",
 RUST_LOG="warn", OPENAI_COMPAT_BASE_URL="http://127.0.0.1:18901/v1", RUN_CONCURRENCY=str(N+100), RUN_CACHE_TTL_SECS="0", RUN_LEASE_MS="60000")
cmd=[T+"/promptlab-server"]
srv=subprocess.Popen(cmd,env=env)
B="http://127.0.0.1:18900"
def req(m,p,body=None,tok=None,h=None):
    r=urllib.request.Request(B+p,method=m,data=json.dumps(body).encode() if body is not None else None,headers={"content-type":"application/json",**({"authorization":"Bearer "+tok} if tok else {})})
    return json.load(urllib.request.urlopen(r,timeout=120))
for i in range(600):
    try: urllib.request.urlopen(B+"/health/ready",timeout=1); break
    except Exception: time.sleep(0.2)
tok=req("POST","/api/v1/auth/register",{"email":"m@example.com","name":"M","password":"correct-horse-battery"})["token"]
pid=req("POST","/api/v1/prompts",{"name":"mem","content":{"messages":[{"role":"user","content":"Request {{ n }}"}],"params":{"provider":"openai_compat","model":"long:tokens=10,delay=1000"},"variables":[{"name":"n","kind":"string"}]}},tok)["id"]
def starter(k):
    for n in range(k,N,16):
        req("POST","/api/v1/runs",{"prompt_id":pid,"variables":{"n":str(n)}},tok)
ts=[threading.Thread(target=starter,args=(k,)) for k in range(16)]
t0=time.time(); [t.start() for t in ts]; [t.join() for t in ts]
print("started",N,"in",round(time.time()-t0,1),"s")
time.sleep(4)
st=open(f"/proc/{srv.pid}/status").read()
print([l for l in st.splitlines() if l.startswith(("VmRSS","VmHWM"))])
srv.send_signal(signal.SIGINT); srv.wait(timeout=120); fake.kill()
